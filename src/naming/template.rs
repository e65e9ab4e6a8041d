//! `--name` templates: parsing and rendering.

use std::fmt;
use std::str::FromStr;

use super::clean::{FIELD_MAX_BYTES, NAME_MAX_BYTES, PLACEHOLDER, clean, truncate_utf8};

/// The default: modality, series number, series description and volume id, all readable and
/// none about the patient (e.g. `CT_3_Thorax_1.0_B31f_0.mp4`).
pub const DEFAULT_TEMPLATE: &str = "{modality}_{series_number}_{series_description}_{volume}";

/// One field of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Modality,
    SeriesNumber,
    SeriesDescription,
    Volume,
    Slice,
    StudyUid,
    SeriesUid,
    StudyDescription,
    Protocol,
    BodyPart,
}

/// Every field, as written between braces.
const FIELDS: [(&str, Field); 10] = [
    ("modality", Field::Modality),
    ("series_number", Field::SeriesNumber),
    ("series_description", Field::SeriesDescription),
    ("volume", Field::Volume),
    ("slice", Field::Slice),
    ("study_uid", Field::StudyUid),
    ("series_uid", Field::SeriesUid),
    ("study_description", Field::StudyDescription),
    ("protocol", Field::Protocol),
    ("body_part", Field::BodyPart),
];

/// The names of the fields a template may use, as written between braces.
pub fn field_names() -> impl Iterator<Item = &'static str> {
    FIELDS.iter().map(|(name, _)| *name)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(Field),
}

/// A parsed `--name` template: text with `{field}`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameTemplate {
    source: String,
    parts: Vec<Part>,
}

/// Why a template cannot be used (the message lists the fields).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameTemplateError {
    #[error(
        "unknown field {{{field}}} in name template {template:?}; fields: {}",
        field_list()
    )]
    UnknownField { field: String, template: String },
    #[error(
        "unbalanced brace in name template {template:?} (fields are written {{field}}); fields: {}",
        field_list()
    )]
    Unbalanced { template: String },
}

fn field_list() -> String {
    field_names()
        .map(|f| format!("{{{f}}}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for NameTemplate {
    type Err = NameTemplateError;

    fn from_str(template: &str) -> Result<NameTemplate, NameTemplateError> {
        let unbalanced = || NameTemplateError::Unbalanced {
            template: template.to_string(),
        };
        let mut parts = Vec::new();
        let mut rest = template;
        while !rest.is_empty() {
            let open = rest.find('{');
            let text_end = open.unwrap_or(rest.len());
            if rest[..text_end].contains('}') {
                return Err(unbalanced());
            }
            if text_end > 0 {
                parts.push(Part::Text(rest[..text_end].to_string()));
            }
            let Some(open) = open else { break };
            let after = &rest[open + 1..];
            let close = after.find('}').ok_or_else(unbalanced)?;
            let name = &after[..close];
            if name.contains('{') {
                return Err(unbalanced());
            }
            let (_, field) = FIELDS.iter().find(|(f, _)| *f == name).ok_or_else(|| {
                NameTemplateError::UnknownField {
                    field: name.to_string(),
                    template: template.to_string(),
                }
            })?;
            parts.push(Part::Field(*field));
            rest = &after[close + 1..];
        }
        Ok(NameTemplate {
            source: template.to_string(),
            parts,
        })
    }
}

impl Default for NameTemplate {
    fn default() -> Self {
        DEFAULT_TEMPLATE
            .parse()
            .expect("the default template parses")
    }
}

impl fmt::Display for NameTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// The header values a name may show (never patient data).
#[derive(Debug, Clone, Copy, Default)]
pub struct NameFields<'a> {
    pub modality: Option<&'a str>,
    pub series_number: Option<i64>,
    pub series_description: Option<&'a str>,
    /// Volume id within the series (`0` for a series of one volume).
    pub volume: &'a str,
    pub study_uid: &'a str,
    pub series_uid: &'a str,
    pub study_description: Option<&'a str>,
    pub protocol: Option<&'a str>,
    pub body_part: Option<&'a str>,
}

/// What is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A volume shown as one video: `{slice}` does not apply.
    Video,
    /// Slice `slice` (0-based) of a volume of `slices` slices shown as images; when the volume
    /// has more than one slice and the template places no `{slice}`, `_{slice}` is appended
    /// (and kept when the name is cut to its bound).
    Image { slice: usize, slices: usize },
    /// A whole series (payloads with one item per series): `{volume}` and `{slice}` do not
    /// apply.
    Series,
}

impl NameTemplate {
    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The name of `target`, ending in `extension` (e.g. `.mp4`; empty for none): each field
    /// cleaned and at most [`FIELD_MAX_BYTES`] long, empty fields [`PLACEHOLDER`], the whole
    /// cleaned again and at most [`NAME_MAX_BYTES`] long with its extension. A field that does
    /// not apply to `target` is left out together with the separator text just before it (or
    /// after it, when it comes first).
    pub fn render(&self, fields: &NameFields, target: Target, extension: &str) -> String {
        let applies = |field: Field| {
            !matches!(
                (field, target),
                (Field::Slice, Target::Video | Target::Series) | (Field::Volume, Target::Series)
            )
        };
        let mut parts: Vec<&Part> = Vec::with_capacity(self.parts.len() + 2);
        let mut skip_separator = false;
        for part in &self.parts {
            match part {
                Part::Field(field) if !applies(*field) => {
                    if matches!(parts.last(), Some(Part::Text(t)) if is_separator(t)) {
                        parts.pop();
                    } else if parts.is_empty() {
                        skip_separator = true;
                    }
                }
                Part::Text(text) if skip_separator && is_separator(text) => skip_separator = false,
                part => {
                    skip_separator = false;
                    parts.push(part);
                }
            }
        }
        let append_slice = matches!(target, Target::Image { slices, .. } if slices > 1)
            && !self.parts.contains(&Part::Field(Field::Slice));
        let mut stem = String::new();
        for part in parts {
            match part {
                Part::Text(text) => stem.push_str(text),
                Part::Field(field) => stem.push_str(&field_value(*field, fields, target)),
            }
        }
        // An appended slice goes after any cut, so that a long name keeps it.
        let tail = match append_slice {
            true => format!("_{}{extension}", field_value(Field::Slice, fields, target)),
            false => extension.to_string(),
        };
        with_extension(&stem, &tail)
    }
}

/// `stem` cleaned and bounded so that it fits [`NAME_MAX_BYTES`] with `extension`.
pub(super) fn with_extension(stem: &str, extension: &str) -> String {
    let budget = NAME_MAX_BYTES.saturating_sub(extension.len());
    let mut stem = clean(stem, budget);
    if stem.is_empty() {
        stem = PLACEHOLDER.to_string();
    }
    format!("{}{extension}", truncate_utf8(&stem, budget))
}

/// Text made only of separators (no letter or digit), which a left-out field takes with it.
fn is_separator(text: &str) -> bool {
    !text.chars().any(char::is_alphanumeric)
}

/// The cleaned value of `field`, or [`PLACEHOLDER`].
fn field_value(field: Field, fields: &NameFields, target: Target) -> String {
    let raw = match field {
        Field::Modality => fields.modality.map(str::to_string),
        Field::SeriesNumber => fields.series_number.map(|n| n.to_string()),
        Field::SeriesDescription => fields.series_description.map(str::to_string),
        Field::Volume => Some(fields.volume.to_string()),
        Field::Slice => match target {
            Target::Image { slice, .. } => Some(format!("{slice:05}")),
            Target::Video | Target::Series => None,
        },
        Field::StudyUid => Some(fields.study_uid.to_string()),
        Field::SeriesUid => Some(fields.series_uid.to_string()),
        Field::StudyDescription => fields.study_description.map(str::to_string),
        Field::Protocol => fields.protocol.map(str::to_string),
        Field::BodyPart => fields.body_part.map(str::to_string),
    };
    let value = clean(raw.as_deref().unwrap_or(""), FIELD_MAX_BYTES);
    if value.is_empty() {
        PLACEHOLDER.to_string()
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> NameFields<'static> {
        NameFields {
            modality: Some("CT"),
            series_number: Some(3),
            series_description: Some("Thorax 1.0 B31f"),
            volume: "0",
            study_uid: "1.2.3",
            series_uid: "1.2.3.4",
            study_description: Some("CT Chest"),
            protocol: Some("Routine"),
            body_part: Some("CHEST"),
        }
    }

    fn render(template: &str, fields: &NameFields, target: Target, ext: &str) -> String {
        template
            .parse::<NameTemplate>()
            .unwrap()
            .render(fields, target, ext)
    }

    #[test]
    fn the_default_names_modality_series_description_and_volume() {
        let t = NameTemplate::default();
        assert_eq!(t.as_str(), DEFAULT_TEMPLATE);
        assert_eq!(
            t.render(&fields(), Target::Video, ".mp4"),
            "CT_3_Thorax_1.0_B31f_0.mp4"
        );
        assert_eq!(
            t.render(&fields(), Target::Series, ""),
            "CT_3_Thorax_1.0_B31f"
        );
    }

    #[test]
    fn every_field_renders() {
        let all: Vec<String> = field_names().map(|f| format!("{{{f}}}")).collect();
        let all = all.join("~");
        let name = render(
            &all,
            &fields(),
            Target::Image {
                slice: 7,
                slices: 9,
            },
            ".png",
        );
        assert_eq!(
            name,
            "CT_3_Thorax_1.0_B31f_0_00007_1.2.3_1.2.3.4_CT_Chest_Routine_CHEST.png"
        );
    }

    #[test]
    fn images_of_a_volume_get_their_slice() {
        let t = NameTemplate::default();
        let slice = |slice, slices| t.render(&fields(), Target::Image { slice, slices }, ".png");
        assert_eq!(slice(12, 40), "CT_3_Thorax_1.0_B31f_0_00012.png");
        assert_eq!(slice(0, 1), "CT_3_Thorax_1.0_B31f_0.png");
        let placed = render(
            "s{slice}-{modality}",
            &fields(),
            Target::Image {
                slice: 2,
                slices: 5,
            },
            ".png",
        );
        assert_eq!(placed, "s00002-CT.png");
    }

    #[test]
    fn fields_that_do_not_apply_leave_with_their_separator() {
        let f = fields();
        assert_eq!(render("{volume}_{modality}", &f, Target::Series, ""), "CT");
        assert_eq!(
            render("{modality} - {volume}", &f, Target::Series, ""),
            "CT"
        );
        assert_eq!(
            render(
                "{modality}_{slice}_{series_number}",
                &f,
                Target::Video,
                ".mp4"
            ),
            "CT_3.mp4"
        );
        assert_eq!(render("{slice}", &f, Target::Video, ".mp4"), "unknown.mp4");
    }

    #[test]
    fn empty_fields_get_a_placeholder() {
        let f = NameFields {
            volume: "0",
            study_uid: "",
            ..NameFields::default()
        };
        assert_eq!(
            NameTemplate::default().render(&f, Target::Video, ".mp4"),
            "unknown_unknown_unknown_0.mp4"
        );
        let blank = NameFields {
            series_description: Some(" / "),
            ..f
        };
        assert_eq!(
            render("{series_description}", &blank, Target::Video, ".mp4"),
            "unknown.mp4"
        );
        assert_eq!(render("{study_uid}", &blank, Target::Series, ""), "unknown");
    }

    #[test]
    fn hostile_values_stay_one_safe_name() {
        let long = "x".repeat(1000);
        for description in [
            "../../etc/passwd",
            "a/b\\c",
            "..",
            "nul\0byte\nnewline\u{1b}[31m",
            long.as_str(),
            "脳 MRI 🧠 T2*",
            ".hidden",
        ] {
            let f = NameFields {
                series_description: Some(description),
                ..fields()
            };
            let name = NameTemplate::default().render(&f, Target::Video, ".mp4");
            assert!(name.len() <= NAME_MAX_BYTES, "{name}");
            assert!(name.ends_with(".mp4"), "{name}");
            assert!(!name.starts_with('.') && !name.contains(".."), "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_alphanumeric() || "-_.".contains(c)),
                "{name:?}"
            );
        }
        let f = NameFields {
            series_description: Some(&long),
            ..fields()
        };
        let name = render("{series_description}", &f, Target::Video, ".mp4");
        assert_eq!(name, format!("{}.mp4", "x".repeat(FIELD_MAX_BYTES)));
        let whole = render(
            "{series_description}{series_description}{series_description}",
            &f,
            Target::Video,
            ".mp4",
        );
        assert_eq!(whole.len(), NAME_MAX_BYTES);
        assert!(whole.ends_with("x.mp4"));
        let sliced = render(
            "{series_description}{series_description}",
            &f,
            Target::Image {
                slice: 7,
                slices: 9,
            },
            ".png",
        );
        assert_eq!(sliced.len(), NAME_MAX_BYTES);
        assert!(sliced.ends_with("x_00007.png"), "{sliced}");
    }

    #[test]
    fn unsafe_template_text_is_replaced_too() {
        assert_eq!(
            render("../{modality}/x", &fields(), Target::Video, ".mp4"),
            "CT_x.mp4"
        );
    }

    #[test]
    fn bad_templates_list_the_fields() {
        for (bad, wanted) in [
            ("{patient_name}", "unknown field {patient_name}"),
            ("{modality", "unbalanced brace"),
            ("modality}", "unbalanced brace"),
            ("{{modality}}", "unbalanced brace"),
            ("{}", "unknown field {}"),
        ] {
            let err = bad.parse::<NameTemplate>().unwrap_err().to_string();
            assert!(err.contains(wanted), "{bad}: {err}");
            assert!(
                err.contains("{series_description}") && err.contains("{body_part}"),
                "{err}"
            );
        }
        assert!("plain".parse::<NameTemplate>().is_ok());
    }
}

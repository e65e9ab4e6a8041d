//! `index.html`: a static page over a conversion (no server, no script), written beside the
//! manifest. Per series and volume: thumbnail, contact sheet, video, header facts, window,
//! split reason and the order diagnostics in words and as a plot; then every skipped and
//! failed input. Pure code: the caller writes the pages through the sink.
//!
//! Only keys the manifest names are linked, relative to the page (the page sits at the root of
//! the destination), so the page works from a local folder and from a bucket over HTTPS. No
//! patient data: the page shows what the manifest holds (UIDs, series number and description,
//! modality, sizes) and file paths of skipped and failed inputs. Every string is escaped.

mod words;

use std::collections::HashMap;
use std::fmt::Write;

use crate::contract::FileIssue;
use crate::contract::manifest::{BurnedIn, Item, ItemKind, Manifest};

mod slides;
use crate::contract::order_report::{OrderReport, SeriesReport, VolumeReport};
pub use slides::{VIEWER_JS, VIEWER_KEY, shows_slides};
pub use words::{diagnostics_in_words, position_plot};

/// Volumes per page: past this, the page is split into `index.html`, `index-2.html`, …
pub const DEFAULT_PAGE_SIZE: usize = 200;
/// Image items shown per volume (a volume converted `--as images` has one per slice).
const MAX_IMAGES_PER_VOLUME: usize = 16;

/// Key of page `number` (1-based).
pub fn page_key(number: usize) -> String {
    if number <= 1 {
        "index.html".into()
    } else {
        format!("index-{number}.html")
    }
}

/// The pages over `manifest`, with `order` (planned with diagnostics) for the per-volume facts:
/// `(key, html)` in page order, `page_size` volumes per page (at least one page).
pub fn render_pages(
    manifest: &Manifest,
    order: &OrderReport,
    page_size: usize,
) -> Vec<(String, String)> {
    let mut items: HashMap<(&str, &str), Vec<&Item>> = HashMap::new();
    for item in &manifest.items {
        // A NIfTI-only item shows under every volume (time point) its file holds.
        let volumes: Vec<&str> = match (&item.kind, &item.nifti) {
            (ItemKind::Volume, Some(nifti)) => nifti.volumes.iter().map(String::as_str).collect(),
            _ => vec![item.volume.as_str()],
        };
        for volume in volumes {
            items
                .entry((&item.series_instance_uid, volume))
                .or_default()
                .push(item);
        }
    }
    let volumes: Vec<(&SeriesReport, &VolumeReport)> = order
        .series
        .iter()
        .flat_map(|s| s.volumes.iter().map(move |v| (s, v)))
        .collect();
    let chunks: Vec<&[(&SeriesReport, &VolumeReport)]> = if volumes.is_empty() {
        vec![&[]]
    } else {
        volumes.chunks(page_size.max(1)).collect()
    };
    let pages = chunks.len();
    chunks
        .iter()
        .enumerate()
        .map(|(at, chunk)| {
            let number = at + 1;
            let mut body = String::new();
            if number == 1 {
                slides::slides_section(&mut body, &manifest.items);
            }
            let mut current: Option<&str> = None;
            for (series, volume) in chunk.iter() {
                if current != Some(series.series_instance_uid.as_str()) {
                    if current.is_some() {
                        body.push_str("</section>\n");
                    }
                    series_header(&mut body, series);
                    current = Some(&series.series_instance_uid);
                }
                let key = (series.series_instance_uid.as_str(), volume.id.as_str());
                let found = items.get(&key).map(Vec::as_slice).unwrap_or(&[]);
                volume_section(&mut body, volume, Some(found));
            }
            if current.is_some() {
                body.push_str("</section>\n");
            }
            if number == pages {
                issues(&mut body, "Skipped inputs", &manifest.skipped);
                issues(&mut body, "Failed inputs", &manifest.failed);
            }
            let html = page(&summary(manifest), volumes.len(), number, pages, &body);
            (page_key(number), html)
        })
        .collect()
}

/// `text` safe in HTML text and in quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A key as a relative URL: characters outside `A-Za-z0-9._-/` percent-encoded (so `?`, `#`
/// and spaces stay part of the path), then escaped for an attribute.
pub fn href(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for byte in key.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-' | b'/' => {
                out.push(char::from(byte))
            }
            _ => {
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
    // A leading `/` or `//` would leave the destination; a key never starts with one.
    let trimmed = out.trim_start_matches('/');
    escape(&format!("./{trimmed}"))
}

/// The page of `dicomprep order --html`: the same per-volume facts, diagnostics and plots as
/// the conversion's page, without images (nothing is rendered), on one page.
pub fn render_order_page(order: &OrderReport) -> String {
    let mut body = String::new();
    for series in &order.series {
        series_header(&mut body, series);
        for volume in &series.volumes {
            volume_section(&mut body, volume, None);
        }
        body.push_str("</section>\n");
    }
    issues(&mut body, "Skipped inputs", &order.skipped);
    issues(&mut body, "Failed inputs", &order.failed);
    let volumes = order.volumes().count();
    let summary = format!(
        "<p>Order of {}: {} series, {volumes} volumes, {} slices, rule {}; {} inputs skipped, {} failed.</p>",
        escape(&order.source),
        order.series.len(),
        order.slice_count(),
        escape(&order.rule),
        order.skipped.len(),
        order.failed.len()
    );
    page(&summary, volumes, 1, 1, &body)
}

/// The opening paragraph of a conversion's page.
fn summary(manifest: &Manifest) -> String {
    let frames: usize = manifest.items.iter().map(|i| i.frames.len()).sum();
    format!(
        r#"<p>{items} items ({frames} frames); {skipped} inputs skipped, {failed} failed.
Records: <a href="./manifest.json">manifest.json</a> (every item and key), <a href="./report.json">report.json</a> (every input). Settings: items {kind}, window {window}, rule {rule}, names <code>{name}</code>.</p>"#,
        items = manifest.items.len(),
        skipped = manifest.skipped.len(),
        failed = manifest.failed.len(),
        kind = escape(&manifest.settings.item_kind),
        window = escape(&manifest.settings.window),
        rule = escape(&manifest.settings.rule),
        name = escape(&manifest.settings.name),
    )
}

fn page(summary: &str, volumes: usize, number: usize, pages: usize, body: &str) -> String {
    let mut nav = String::new();
    if pages > 1 {
        nav.push_str("<nav>Pages:");
        for n in 1..=pages {
            if n == number {
                let _ = write!(nav, " <strong>{n}</strong>");
            } else {
                let _ = write!(nav, r#" <a href="{}">{n}</a>"#, href(&page_key(n)));
            }
        }
        nav.push_str("</nav>\n");
    }
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dicomprep: {volumes} volumes (page {number} of {pages})</title>
<style>
body{{font:14px/1.4 system-ui,sans-serif;margin:1em 2em;color:#222}}
section.series{{border-top:2px solid #888;margin-top:1.5em}}
article.volume{{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start;border-top:1px solid #ddd;padding:.6em 0}}
.media{{display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start}} .media figure{{margin:0}}
.media img,.media video{{display:block;width:240px;height:240px;object-fit:contain;background:#000;image-rendering:pixelated}}
figcaption{{font-size:12px;color:#555}}
.swatch{{display:inline-block;width:.8em;height:.8em;border:1px solid #555;margin:0 .2em 0 .5em}}
.facts{{min-width:260px;max-width:520px}} .facts dt{{font-weight:600;float:left;clear:left;width:9em}} .facts dd{{margin-left:9.5em}}
.viewer{{width:640px;height:420px;background:#222}}
.failed,.burned-in{{color:#a00}} table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}}
</style></head>
<body>
<h1>dicomprep: {volumes} volumes</h1>
{summary}
{nav}{body}{nav}</body></html>
"#
    )
}

fn series_header(body: &mut String, series: &SeriesReport) {
    let number = series
        .series_number
        .map_or_else(|| "?".to_string(), |n| n.to_string());
    let _ = writeln!(
        body,
        "<section class=\"series\"><h2>Series {number}: {} ({})</h2><p><small>series UID {}</small></p>",
        escape(
            series
                .series_description
                .as_deref()
                .unwrap_or("no description")
        ),
        escape(series.modality.as_deref().unwrap_or("modality unknown")),
        escape(&series.series_instance_uid),
    );
}

/// One volume; `items` are its manifest items (`None` on the page of `order`, which renders
/// nothing).
fn volume_section(body: &mut String, volume: &VolumeReport, items: Option<&[&Item]>) {
    let converted = items.is_some();
    let items = items.unwrap_or(&[]);
    let _ = write!(body, "<article class=\"volume\"><div class=\"media\">");
    let video = items.iter().find(|i| i.kind == ItemKind::Video);
    if let Some(item) = video {
        image(body, &item.thumbnail_key, "thumbnail");
        if let Some(sheet) = &item.contact_sheet {
            let _ = write!(
                body,
                r#"<figure><a href="{0}"><img src="{0}" loading="lazy" width="{1}" height="{2}" alt="contact sheet"></a><figcaption>contact sheet: frames {3}</figcaption></figure>"#,
                href(&sheet.key),
                sheet.width,
                sheet.height,
                sheet
                    .frames
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
            );
        }
        if let Some(entry) = &item.video {
            let _ = write!(
                body,
                r#"<figure><video controls preload="metadata" src="{}" width="{}" height="{}" data-duration="{}"></video><figcaption>video</figcaption></figure>"#,
                href(&item.storage_key),
                entry.width,
                entry.height,
                entry.duration
            );
        }
    }
    for item in items
        .iter()
        .filter(|i| i.kind == ItemKind::Image)
        .take(MAX_IMAGES_PER_VOLUME)
    {
        let _ = write!(
            body,
            r#"<figure><a href="{}"><img src="{}" loading="lazy" alt="image"></a><figcaption>{}</figcaption></figure>"#,
            href(&item.storage_key),
            href(&item.thumbnail_key),
            escape(&item.name)
        );
    }
    for item in items
        .iter()
        .filter(|i| i.label_sheet.is_some())
        .take(MAX_IMAGES_PER_VOLUME)
    {
        label_figure(body, item);
    }
    if let Some(nifti) = items.iter().find_map(|i| i.nifti.as_ref()) {
        let _ = write!(
            body,
            r#"<p class="nifti">NIfTI: <a href="{}">{}</a>"#,
            href(&nifti.image),
            escape(&nifti.image)
        );
        for (label, key) in [
            ("sidecar", &nifti.sidecar),
            ("bval", &nifti.bval),
            ("bvec", &nifti.bvec),
        ] {
            if let Some(key) = key {
                let _ = write!(body, r#" · <a href="{}">{label}</a>"#, href(key));
            }
        }
        let [x, y, z, t] = nifti.dims;
        let _ = write!(body, " ({x} x {y} x {z} x {t})");
        for note in &nifti.notes {
            let _ = write!(body, "; {}", escape(note));
        }
        body.push_str("</p>");
    }
    if let Some(note) = burned_in_note(items) {
        let _ = write!(body, r#"<p class="burned-in">{}</p>"#, escape(&note));
    }
    body.push_str("</div><dl class=\"facts\">");
    let mut fact = |name: &str, value: &str| {
        let _ = write!(body, "<dt>{name}</dt><dd>{value}</dd>");
    };
    fact("volume", &escape(&volume.id));
    fact("slices", &volume.slices.len().to_string());
    if let (Some(rows), Some(columns)) = (volume.rows, volume.columns) {
        fact("size", &format!("{columns} x {rows}"));
    }
    match items.first() {
        None if !converted => {}
        None => fact(
            "converted",
            "<span class=\"failed\">no: see the failed inputs below</span>",
        ),
        Some(first) => {
            let kind = match first.kind {
                ItemKind::Video => "video item",
                ItemKind::Image => "image item(s)",
                ItemKind::Volume => "NIfTI volume(s)",
                ItemKind::Slide => "slide",
            };
            fact("converted", &format!("{} {kind}", items.len()));
            if let Some(video) = video {
                fact("name", &escape(&video.name));
            }
            if let Some(video) = video.and_then(|v| v.video.as_ref()) {
                fact(
                    "video",
                    &format!(
                        "{} frames at {} fps, {:.1} s, {} x {}",
                        video.frame_count, video.fps, video.duration, video.width, video.height
                    ),
                );
            }
            match &first.window {
                Some(window) => {
                    let mut text = format!(
                        "center {} width {} ({})",
                        window.center,
                        window.width,
                        escape(&window.source)
                    );
                    if let Some(chosen_by) = &window.chosen_by {
                        let _ = write!(text, "; chosen by: {}", escape(chosen_by));
                    }
                    fact("window", &text);
                }
                None => fact("window", "per image"),
            }
        }
    }
    fact(
        "split reason",
        &escape(volume.split_reason.as_deref().unwrap_or("not split")),
    );
    if let Some(diagnostics) = &volume.diagnostics {
        let text = diagnostics_in_words(diagnostics)
            .iter()
            .map(|line| escape(line))
            .collect::<Vec<_>>()
            .join("<br>");
        fact("order", &text);
    }
    body.push_str("</dl>");
    let positions: Vec<Option<f64>> = volume.slices.iter().map(|s| s.position).collect();
    if let Some(svg) = position_plot(&positions) {
        body.push_str(&svg);
    }
    body.push_str("</article>\n");
}

/// The label sheet of `item`: its labelled frames with the outlines, and what each colour is.
/// What the page says about the burned-in text of a volume's items, if anything.
fn burned_in_note(items: &[&Item]) -> Option<String> {
    let item = items.iter().find(|i| i.burned_in.is_some())?;
    Some(match (item.burned_in?, item.crop) {
        (BurnedIn::Cropped, Some(c)) => format!(
            "cropped to the ultrasound regions: {} x {} from ({}, {}); the text band outside them is left out",
            c.width, c.height, c.x, c.y
        ),
        (BurnedIn::Cropped, None) => "cropped to the ultrasound regions".into(),
        (BurnedIn::Kept, _) => {
            "declares burned-in annotation: kept whole (--burned-in keep); the patient's name may be in its pixels".into()
        }
        (BurnedIn::Undeclared, _) => "may contain burned-in text (not declared)".into(),
    })
}

fn label_figure(body: &mut String, item: &Item) {
    let Some(sheet) = &item.label_sheet else {
        return;
    };
    let frames: Vec<String> = sheet.frames.iter().map(u32::to_string).collect();
    let _ = write!(
        body,
        r#"<figure class="labels"><a href="{0}"><img src="{0}" loading="lazy" width="{1}" height="{2}" alt="label outlines"></a><figcaption>labels on frames {3}:"#,
        href(&sheet.key),
        sheet.width,
        sheet.height,
        frames.join(", "),
    );
    for label in &item.labels {
        for segment in &label.segments {
            let _ = write!(
                body,
                r#" <span class="swatch" style="background:{}"></span>{} <small>({} {})</small>"#,
                escape(&segment.color),
                escape(&segment.name),
                escape(&label.kind),
                escape(label.source.rsplit('/').next().unwrap_or(&label.source)),
            );
        }
    }
    body.push_str("</figcaption></figure>");
}

fn image(body: &mut String, key: &str, alt: &str) {
    let _ = write!(
        body,
        r#"<figure><img src="{}" loading="lazy" alt="{alt}"><figcaption>{alt}</figcaption></figure>"#,
        href(key)
    );
}

fn issues(body: &mut String, title: &str, list: &[FileIssue]) {
    let _ = writeln!(body, "<h2>{title} ({})</h2>", list.len());
    if list.is_empty() {
        return;
    }
    body.push_str("<table><tr><th>input</th><th>reason</th></tr>\n");
    for issue in list {
        let _ = writeln!(
            body,
            "<tr><td>{}</td><td>{}</td></tr>",
            escape(&issue.path),
            escape(&issue.reason)
        );
    }
    body.push_str("</table>\n");
}

#[cfg(test)]
mod tests;

//! The slides on the report page: each whole-slide item with its thumbnail, links to its
//! pyramid, Deep Zoom descriptor and picture, and its levels.

use std::fmt::Write;

use super::{escape, href};
use crate::contract::manifest::{Item, ItemKind};

/// The "Slides" section over `items` (nothing when none is a slide).
pub(super) fn slides_section(body: &mut String, items: &[Item]) {
    let slides: Vec<&Item> = items.iter().filter(|i| i.kind == ItemKind::Slide).collect();
    if slides.is_empty() {
        return;
    }
    let _ = writeln!(
        body,
        "<section class=\"series\"><h2>Slides ({})</h2>",
        slides.len()
    );
    for item in slides {
        let Some(slide) = &item.slide else { continue };
        let _ = write!(
            body,
            r#"<article class="volume slide"><div class="media"><figure><a href="{}"><img src="{}" loading="lazy" alt="slide"></a><figcaption>{}</figcaption></figure>"#,
            href(&slide.hq_key),
            href(&slide.thumbnail_key),
            escape(&item.name)
        );
        for associated in &slide.associated {
            let _ = write!(
                body,
                r#"<figure><a href="{0}"><img src="{0}" loading="lazy" alt="{1}"></a><figcaption>{1}</figcaption></figure>"#,
                href(&associated.key),
                escape(&associated.kind)
            );
        }
        let _ = write!(
            body,
            r#"<p>Pyramid: <a href="{}">slide.tif</a> · Deep Zoom: <a href="{}">slide.dzi</a> ({} tiles) · picture: <a href="{}">slide.png</a></p></div><dl class="facts">"#,
            href(&slide.pyramid_key),
            href(&slide.dzi_key),
            slide.dzi_tiles,
            href(&slide.hq_key)
        );
        let mut fact = |name: &str, value: String| {
            let _ = write!(body, "<dt>{name}</dt><dd>{}</dd>", escape(&value));
        };
        fact("size", format!("{} x {}", slide.width, slide.height));
        let levels: Vec<String> = slide
            .levels
            .iter()
            .map(|l| format!("{} x {} (1/{:.3})", l.width, l.height, l.downsample))
            .collect();
        fact("levels", levels.join(", "));
        if let Some(mpp) = slide.mpp {
            fact("microns per pixel", format!("{mpp}"));
        }
        if let Some(power) = slide.objective_power {
            fact("objective", format!("{power}x"));
        }
        if slide.missing_tiles > 0 {
            fact(
                "missing tiles",
                format!("{} (background)", slide.missing_tiles),
            );
        }
        body.push_str("</dl></article>\n");
    }
    body.push_str("</section>\n");
}

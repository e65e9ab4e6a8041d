//! The slides on the report page: each whole-slide item in a Deep Zoom viewer (a vendored
//! OpenSeadragon, `vendor/openseadragon/`), with its thumbnail, links to its pyramid, Deep Zoom
//! descriptor and picture, and its levels.

use std::fmt::Write;

use super::{escape, href};
use crate::contract::manifest::{Item, ItemKind};

/// Where a run with slides writes the viewer, beside the pages.
pub const VIEWER_KEY: &str = "assets/openseadragon.min.js";
/// OpenSeadragon 6.1.1 (BSD-3-Clause, licence beside it).
pub const VIEWER_JS: &[u8] = include_bytes!("../../vendor/openseadragon/openseadragon.min.js");

/// Whether the pages over `items` show a slide in the viewer (and need [`VIEWER_KEY`]).
pub fn shows_slides(items: &[Item]) -> bool {
    items
        .iter()
        .filter_map(|i| i.slide.as_ref())
        .any(|s| s.dzi_key.is_some())
}

/// A string as a JavaScript literal inside a `<script>` element.
fn js_string(text: &str) -> String {
    serde_json::to_string(text)
        .unwrap_or_default()
        .replace("</", "<\\/")
}

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
    if shows_slides(items) {
        let _ = writeln!(body, "<script src=\"{}\"></script>", href(VIEWER_KEY));
    }
    for (n, item) in slides.into_iter().enumerate() {
        let Some(slide) = &item.slide else { continue };
        body.push_str(r#"<article class="volume slide">"#);
        if let Some(dzi) = &slide.dzi_key {
            // The Deep Zoom descriptor inline: tiles load as images, from file:// too; the
            // canvas drawer, as WebGL cannot take tiles from file://. Each tile drawn is counted
            // on the element (`data-tiles`), to see whether the viewer works.
            let tiles = dzi.trim_end_matches(".dzi").to_string() + "_files/";
            let _ = write!(
                body,
                r#"<div class="viewer" id="slide-viewer-{n}" data-dzi="{dzi}" data-tiles="0"></div><script>(function(){{var e=document.getElementById("slide-viewer-{n}");OpenSeadragon({{element:e,drawer:"canvas",showNavigationControl:false,tileSources:{{Image:{{xmlns:"http://schemas.microsoft.com/deepzoom/2008",Url:{url},Format:"jpg",Overlap:"1",TileSize:"254",Size:{{Width:"{w}",Height:"{h}"}}}}}}}}).addHandler("tile-loaded",function(){{e.dataset.tiles=+e.dataset.tiles+1;}});}})();</script>"#,
                dzi = href(dzi),
                url = js_string(&href(&tiles)),
                w = slide.width,
                h = slide.height,
            );
        }
        let _ = write!(
            body,
            r#"<div class="media"><figure><a href="{}"><img src="{}" loading="lazy" alt="slide"></a><figcaption>{}</figcaption></figure>"#,
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
            r#"<p>Pyramid: <a href="{}">slide.tif</a>"#,
            href(&slide.pyramid_key)
        );
        if let Some(dzi) = &slide.dzi_key {
            let _ = write!(
                body,
                r#" · Deep Zoom: <a href="{}">slide.dzi</a> ({} tiles)"#,
                href(dzi),
                slide.dzi_tiles
            );
        }
        let _ = write!(
            body,
            r#" · picture: <a href="{}">slide.png</a></p></div><dl class="facts">"#,
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

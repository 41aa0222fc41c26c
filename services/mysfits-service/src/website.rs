//! The website: one embedded page (HTML + JS, no build step, no external assets) that lists the
//! mysfits, filters them, likes and adopts, and shows which region served it; plus the pictures
//! the catalogue refers to, drawn here as SVG so that no artwork ships with the service.

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use service_common::{ApiError, mysfit_id};

const INDEX: &str = include_str!("../assets/index.html");

pub async fn index() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            // The page must pick up a new deployment at once; it is small.
            (CACHE_CONTROL, "no-cache"),
        ],
        INDEX,
    )
}

/// `/images/{thumb|profile}/{id}.svg`: a badge with the mysfit's initial on a colour derived
/// from its id, the same on every task and in every region.
pub async fn picture(
    Path((size, file)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let pixels = match size.as_str() {
        "thumb" => 160,
        "profile" => 480,
        _ => {
            return Err(ApiError::not_found(format!(
                "no picture size {size:?}: use thumb or profile"
            )));
        }
    };
    let id = file.strip_suffix(".svg").ok_or_else(|| {
        ApiError::not_found(format!("no picture {file:?}: pictures are named ID.svg"))
    })?;
    mysfit_id::check(id)?;
    Ok((
        [
            (CONTENT_TYPE, "image/svg+xml"),
            (CACHE_CONTROL, "public, max-age=86400"),
        ],
        badge(id, pixels),
    ))
}

fn badge(id: &str, pixels: u32) -> String {
    // FNV-1a: a stable hash (std's hasher is randomly seeded per process).
    let hash = id.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    let hue = hash % 360;
    let initial = id
        .chars()
        .next()
        .map(|character| character.to_ascii_uppercase())
        .unwrap_or('?');
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{pixels}" height="{pixels}" viewBox="0 0 100 100" role="img" aria-label="{id}">
<rect width="100" height="100" rx="12" fill="hsl({hue},55%,88%)"/>
<circle cx="50" cy="50" r="34" fill="hsl({hue},50%,45%)"/>
<circle cx="38" cy="42" r="5" fill="#fff"/><circle cx="62" cy="42" r="5" fill="#fff"/>
<text x="50" y="72" font-family="sans-serif" font-size="22" text-anchor="middle" fill="#fff">{initial}</text>
</svg>"##
    )
}

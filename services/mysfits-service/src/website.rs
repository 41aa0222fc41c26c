//! The website: one embedded page (HTML + JS, no build step, no external assets) that lists the
//! mysfits, filters them, likes and adopts, and shows which region served it; plus the pictures
//! the catalogue refers to, drawn here as SVG so that no artwork ships with the service.

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use service_common::{ApiError, echo, mysfit_id};

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
                "no picture size{}: use thumb or profile",
                echo::quoted(&size)
            )));
        }
    };
    let id = file
        .strip_suffix(".svg")
        .ok_or_else(|| ApiError::not_found("no such picture: pictures are named ID.svg"))?;
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use super::INDEX;

    /// The page's `<style>` block.
    fn style() -> &'static str {
        let start = INDEX.find("<style>").unwrap();
        let end = INDEX.find("</style>").unwrap();
        &INDEX[start..end]
    }

    /// The colours the page declares in `:root` (`--name: #rrggbb;`), by name.
    fn palette() -> BTreeMap<String, [u8; 3]> {
        let declaration = regex_lite::Regex::new(r"--([a-z-]+): #([0-9a-f]{6});").unwrap();
        declaration
            .captures_iter(style())
            .map(|captures| {
                let hex = &captures[2];
                let channel = |at: usize| u8::from_str_radix(&hex[at..at + 2], 16).unwrap();
                (
                    captures[1].to_string(),
                    [channel(0), channel(2), channel(4)],
                )
            })
            .collect()
    }

    /// WCAG 2.x relative luminance of an sRGB colour.
    fn luminance(colour: [u8; 3]) -> f64 {
        let linear = |channel: u8| {
            let value = f64::from(channel) / 255.0;
            if value <= 0.040_45 {
                value / 12.92
            } else {
                ((value + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * linear(colour[0]) + 0.7152 * linear(colour[1]) + 0.0722 * linear(colour[2])
    }

    fn contrast(one: [u8; 3], other: [u8; 3]) -> f64 {
        let (light, dark) = {
            let (a, b) = (luminance(one), luminance(other));
            if a > b { (a, b) } else { (b, a) }
        };
        (light + 0.05) / (dark + 0.05)
    }

    /// Every foreground/background pair the page's CSS puts together, with its contrast ratio
    /// rounded to two decimals.
    const PAIRS: [(&str, &str, f64); 11] = [
        ("ink", "paper", 14.47),
        ("ink", "card", 15.91),
        ("ink", "badge", 12.96),
        ("ink", "button", 15.24),
        ("muted", "card", 7.46),
        ("error", "paper", 6.21),
        ("adopted", "card", 6.25),
        ("disabled-ink", "disabled", 5.75),
        ("border", "button", 5.5),
        ("focus", "paper", 6.5),
        ("focus", "card", 7.14),
    ];

    #[test]
    fn every_colour_pair_has_a_contrast_of_at_least_4_5() {
        let palette = palette();
        for (foreground, background, pinned) in PAIRS {
            let ratio = contrast(palette[foreground], palette[background]);
            let rounded = (ratio * 100.0).round() / 100.0;
            assert_eq!(rounded, pinned, "{foreground} on {background}");
            assert!(ratio >= 4.5, "{foreground} on {background}: {ratio:.2}");
        }
        let paired: std::collections::BTreeSet<&str> = PAIRS
            .iter()
            .flat_map(|(foreground, background, _)| [*foreground, *background])
            .collect();
        let declared: std::collections::BTreeSet<&str> =
            palette.keys().map(String::as_str).collect();
        assert_eq!(
            declared, paired,
            "every declared colour is in a checked pair"
        );
    }

    #[test]
    fn colours_come_only_from_the_palette() {
        let root_end = style().find("}").unwrap();
        let rules = &style()[root_end..];
        let literal =
            regex_lite::Regex::new(r"#[0-9a-fA-F]{3,8}\b|\b(?:black|white|red|gray|grey)\b")
                .unwrap();
        let found: Vec<&str> = literal
            .find_iter(rules)
            .map(|found| found.as_str())
            .collect();
        assert_eq!(found, Vec::<&str>::new(), "use a var(--name) from :root");
    }

    #[test]
    fn the_page_has_an_inline_favicon_and_a_noscript_notice() {
        assert!(INDEX.contains(r#"<link rel="icon" href="data:image/svg+xml,"#));
        assert!(INDEX.contains(
            "<noscript><p>This page needs JavaScript to list, like and adopt the mysfits."
        ));
    }
}

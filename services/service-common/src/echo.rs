//! What an error message may repeat of the caller's input. Ids and request ids come from anyone:
//! echoed as they are, a megabyte of id or a forged log line would be handed back (and logged)
//! verbatim. So a value is echoed only when it is a short token, and left out otherwise.

/// Longest value echoed back; the catalogue's ids and a UUID request id are well below it.
pub const MAX_LENGTH: usize = 64;

/// True when `text` is 1 to [`MAX_LENGTH`] ASCII letters, digits, '-' or '_'.
pub fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_LENGTH
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

/// ` "text"` (with the leading space, ready to follow a noun) when `text` is a token, else "":
/// `format!("unknown filter{}: ...", quoted(name))`.
pub fn quoted(text: &str) -> String {
    if is_token(text) {
        format!(" {text:?}")
    } else {
        String::new()
    }
}

/// Longest request path repeated in "no such endpoint" messages.
pub const MAX_PATH_LENGTH: usize = 128;

/// A request path as an error message repeats it: cut at [`MAX_PATH_LENGTH`] characters. The
/// path of a parsed URI is already percent-encoded: no spaces, quotes or control characters.
pub fn path(path: &str) -> String {
    match path.char_indices().nth(MAX_PATH_LENGTH) {
        Some((end, _)) => format!("{}…", &path[..end]),
        None => path.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_tokens_are_echoed() {
        assert_eq!(quoted("bramble"), " \"bramble\"");
        assert_eq!(quoted("Good_Evil-2"), " \"Good_Evil-2\"");
        assert_eq!(quoted(&"a".repeat(64)), format!(" \"{}\"", "a".repeat(64)));
        for rejected in [
            String::new(),
            "a".repeat(65),
            "not an id".to_string(),
            "a/b".to_string(),
            "x\"y".to_string(),
            "line\nbreak".to_string(),
            "é".to_string(),
        ] {
            assert_eq!(quoted(&rejected), "", "{rejected:?} must not be echoed");
        }
    }

    #[test]
    fn long_paths_are_cut() {
        assert_eq!(path("/nothing-here"), "/nothing-here");
        let long = format!("/{}", "x".repeat(200));
        assert_eq!(path(&long), format!("/{}…", "x".repeat(127)));
    }
}

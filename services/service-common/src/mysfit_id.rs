//! The shape of a mysfit id in a URL, checked before anything is sent to DynamoDB or upstream, so
//! that junk gets a 400 that says why instead of a lookup (or a 500). A rejected id is not echoed
//! back (see [`crate::echo`]): whatever it is, it is not a short token.

use crate::ApiError;
use crate::echo;

/// Longest id accepted; the catalogue's ids are short slugs.
pub const MAX_LENGTH: usize = echo::MAX_LENGTH;

pub fn check(id: &str) -> Result<(), ApiError> {
    if echo::is_token(id) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "the mysfit id in the path is not valid: use 1 to {MAX_LENGTH} letters, digits, '-' or '_'"
        )))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_id_is_rejected_without_being_echoed() {
        assert_eq!(check("bramble"), Ok(()));
        for id in ["", "not an id", "<script>", &"a".repeat(65)] {
            assert_eq!(
                check(id).unwrap_err().message,
                "the mysfit id in the path is not valid: use 1 to 64 letters, digits, '-' or '_'"
            );
        }
    }
}

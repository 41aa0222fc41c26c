//! The shape of a mysfit id in a URL, checked before anything is sent to DynamoDB or upstream, so
//! that junk gets a 400 that says why instead of a lookup (or a 500).

use crate::ApiError;

/// Longest id accepted; the catalogue's ids are short slugs.
pub const MAX_LENGTH: usize = 64;

pub fn check(id: &str) -> Result<(), ApiError> {
    let well_formed = !id.is_empty()
        && id.len() <= MAX_LENGTH
        && id.chars().all(|character| {
            character.is_ascii_alphanumeric() || character == '-' || character == '_'
        });
    if well_formed {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "mysfit id {id:?} is not valid: use 1 to {MAX_LENGTH} letters, digits, '-' or '_'"
        )))
    }
}

//! [`RegionName`]: a region of the app as a small `Copy` key, so that plan steps, teardown steps
//! and per-region maps are keyed by the region itself rather than by a role.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Mutex, OnceLock};

use serde::{Serialize, Serializer};

/// Global Accelerator's control plane exists only in us-west-2, whatever the app's regions are.
pub const GLOBAL_ACCELERATOR_REGION: &str = "us-west-2";

/// The word the app has always used for a region's standing (the stack tag `mysfits:role`,
/// labels, the dashboard): `primary` for home, `secondary` for every other region. Only a word:
/// which region serves is the entry point's traffic split.
pub fn standing(home: bool) -> &'static str {
    if home { "primary" } else { "secondary" }
}

/// An AWS region name (e.g. `us-east-1`), interned: each distinct name is stored once for the life
/// of the process (there are a few dozen regions), which makes the key `Copy` and cheap to compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegionName(&'static str);

impl RegionName {
    /// The key for `name`. Callers pass validated region names ([`crate::config`]).
    pub fn new(name: &str) -> RegionName {
        static NAMES: OnceLock<Mutex<BTreeSet<&'static str>>> = OnceLock::new();
        let mut names = NAMES
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(known) = names.get(name) {
            return RegionName(known);
        }
        let stored: &'static str = Box::leak(name.to_string().into_boxed_str());
        names.insert(stored);
        RegionName(stored)
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl fmt::Display for RegionName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.0)
    }
}

impl Serialize for RegionName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

impl PartialEq<str> for RegionName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for RegionName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_name_is_the_same_key() {
        let first = RegionName::new("us-east-1");
        assert_eq!(first, RegionName::new(&String::from("us-east-1")));
        assert!(std::ptr::eq(
            first.as_str(),
            RegionName::new("us-east-1").as_str()
        ));
        assert_ne!(first, RegionName::new("us-west-2"));
        assert_eq!(first, "us-east-1");
        assert_eq!(
            serde_json::to_string(&first).expect("json"),
            "\"us-east-1\""
        );
    }
}

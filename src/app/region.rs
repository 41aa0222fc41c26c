//! [`RegionName`]: a region of the app as a small `Copy` key, so that plan steps, teardown steps
//! and per-region maps are keyed by the region itself rather than by a role.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Mutex, OnceLock};

use serde::{Serialize, Serializer};

/// Global Accelerator's control plane exists only in us-west-2, whatever the app's regions are.
pub const GLOBAL_ACCELERATOR_REGION: &str = "us-west-2";

/// AWS's commercial regions (the `aws` partition) with the location AWS names for each: what
/// shell completions offer for every region flag. Taken from the partition table the AWS SDK
/// resolves endpoints with (aws-sdk-sts 1.124, the regions of "Regions and Availability Zones").
/// Only a list to choose from: [`crate::config`] checks a region's form, not this list, so a region
/// opened after this table was written still works.
pub const KNOWN_REGIONS: &[(&str, &str)] = &[
    ("us-east-1", "US East (N. Virginia)"),
    ("us-east-2", "US East (Ohio)"),
    ("us-west-1", "US West (N. California)"),
    ("us-west-2", "US West (Oregon)"),
    ("af-south-1", "Africa (Cape Town)"),
    ("ap-east-1", "Asia Pacific (Hong Kong)"),
    ("ap-east-2", "Asia Pacific (Taipei)"),
    ("ap-northeast-1", "Asia Pacific (Tokyo)"),
    ("ap-northeast-2", "Asia Pacific (Seoul)"),
    ("ap-northeast-3", "Asia Pacific (Osaka)"),
    ("ap-south-1", "Asia Pacific (Mumbai)"),
    ("ap-south-2", "Asia Pacific (Hyderabad)"),
    ("ap-southeast-1", "Asia Pacific (Singapore)"),
    ("ap-southeast-2", "Asia Pacific (Sydney)"),
    ("ap-southeast-3", "Asia Pacific (Jakarta)"),
    ("ap-southeast-4", "Asia Pacific (Melbourne)"),
    ("ap-southeast-5", "Asia Pacific (Malaysia)"),
    ("ap-southeast-6", "Asia Pacific (New Zealand)"),
    ("ap-southeast-7", "Asia Pacific (Thailand)"),
    ("ca-central-1", "Canada (Central)"),
    ("ca-west-1", "Canada West (Calgary)"),
    ("eu-central-1", "Europe (Frankfurt)"),
    ("eu-central-2", "Europe (Zurich)"),
    ("eu-north-1", "Europe (Stockholm)"),
    ("eu-south-1", "Europe (Milan)"),
    ("eu-south-2", "Europe (Spain)"),
    ("eu-west-1", "Europe (Ireland)"),
    ("eu-west-2", "Europe (London)"),
    ("eu-west-3", "Europe (Paris)"),
    ("il-central-1", "Israel (Tel Aviv)"),
    ("me-central-1", "Middle East (UAE)"),
    ("me-south-1", "Middle East (Bahrain)"),
    ("mx-central-1", "Mexico (Central)"),
    ("sa-east-1", "South America (Sao Paulo)"),
];

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

    #[test]
    fn the_known_regions_are_well_formed_and_listed_once() {
        let mut seen = BTreeSet::new();
        for (name, location) in KNOWN_REGIONS {
            assert!(seen.insert(*name), "{name} listed twice");
            assert!(!location.is_empty(), "{name} has no location");
            crate::config::validate_region(name, "--region").expect("a region name config takes");
        }
        for recent in ["mx-central-1", "ap-southeast-7", "ap-east-2", "ca-west-1"] {
            assert!(seen.contains(recent), "{recent} missing");
        }
    }
}

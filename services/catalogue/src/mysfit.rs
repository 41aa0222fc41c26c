//! A mysfit as the API shows it (the workshop's JSON field names, so its clients keep working) and
//! as DynamoDB stores it (attribute names of the table contract: `MysfitId`, `GoodEvil`, ...).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

pub const ID: &str = "MysfitId";
pub const NAME: &str = "Name";
pub const SPECIES: &str = "Species";
pub const DESCRIPTION: &str = "Description";
pub const AGE: &str = "Age";
pub const GOOD_EVIL: &str = "GoodEvil";
pub const LAW_CHAOS: &str = "LawChaos";
pub const THUMB_IMAGE_URI: &str = "ThumbImageUri";
pub const PROFILE_IMAGE_URI: &str = "ProfileImageUri";
pub const LIKES: &str = "Likes";
pub const ADOPTED: &str = "Adopted";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mysfit {
    #[serde(rename = "mysfitId")]
    pub id: String,
    pub name: String,
    pub species: String,
    pub description: String,
    pub age: u32,
    #[serde(rename = "goodevil")]
    pub good_evil: String,
    #[serde(rename = "lawchaos")]
    pub law_chaos: String,
    #[serde(rename = "thumbImageUri")]
    pub thumb_image_uri: String,
    #[serde(rename = "profileImageUri")]
    pub profile_image_uri: String,
    pub likes: u64,
    pub adopted: bool,
}

/// An item in the table that does not have the shape of a mysfit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedItem {
    pub id: String,
    pub problem: String,
}

impl Mysfit {
    pub fn to_item(&self) -> HashMap<String, AttributeValue> {
        let text = |value: &str| AttributeValue::S(value.to_string());
        HashMap::from([
            (ID.to_string(), text(&self.id)),
            (NAME.to_string(), text(&self.name)),
            (SPECIES.to_string(), text(&self.species)),
            (DESCRIPTION.to_string(), text(&self.description)),
            (AGE.to_string(), AttributeValue::N(self.age.to_string())),
            (GOOD_EVIL.to_string(), text(&self.good_evil)),
            (LAW_CHAOS.to_string(), text(&self.law_chaos)),
            (THUMB_IMAGE_URI.to_string(), text(&self.thumb_image_uri)),
            (PROFILE_IMAGE_URI.to_string(), text(&self.profile_image_uri)),
            (LIKES.to_string(), AttributeValue::N(self.likes.to_string())),
            (ADOPTED.to_string(), AttributeValue::Bool(self.adopted)),
        ])
    }

    /// Reads an item. Only `MysfitId` is required: items written before `Likes` or `Adopted`
    /// existed read as 0 likes and not adopted. An attribute of the wrong type is an error.
    pub fn from_item(item: &HashMap<String, AttributeValue>) -> Result<Mysfit, MalformedItem> {
        let id = match item.get(ID) {
            Some(AttributeValue::S(id)) => id.clone(),
            _ => {
                return Err(MalformedItem {
                    id: "?".into(),
                    problem: format!("{ID} is missing or not a string"),
                });
            }
        };
        let malformed = |attribute: &str, expected: &str| MalformedItem {
            id: id.clone(),
            problem: format!("{attribute} is not {expected}"),
        };
        let text = |attribute: &str| match item.get(attribute) {
            None => Ok(String::new()),
            Some(AttributeValue::S(value)) => Ok(value.clone()),
            Some(_) => Err(malformed(attribute, "a string")),
        };
        let number = |attribute: &str| match item.get(attribute) {
            None => Ok(0),
            Some(AttributeValue::N(value)) => value
                .parse::<u64>()
                .map_err(|_| malformed(attribute, "a whole number ≥ 0")),
            Some(_) => Err(malformed(attribute, "a number")),
        };
        let adopted = match item.get(ADOPTED) {
            None => false,
            Some(AttributeValue::Bool(value)) => *value,
            Some(_) => return Err(malformed(ADOPTED, "a boolean")),
        };
        Ok(Mysfit {
            name: text(NAME)?,
            species: text(SPECIES)?,
            description: text(DESCRIPTION)?,
            age: u32::try_from(number(AGE)?).map_err(|_| malformed(AGE, "a plausible age"))?,
            good_evil: text(GOOD_EVIL)?,
            law_chaos: text(LAW_CHAOS)?,
            thumb_image_uri: text(THUMB_IMAGE_URI)?,
            profile_image_uri: text(PROFILE_IMAGE_URI)?,
            likes: number(LIKES)?,
            adopted,
            id,
        })
    }
}

/// The two alignments a list can be filtered by, each with its index (hash key = the attribute,
/// range key MysfitId).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alignment {
    GoodEvil,
    LawChaos,
}

impl Alignment {
    pub const ALL: [Alignment; 2] = [Alignment::GoodEvil, Alignment::LawChaos];

    /// The name in `?filter=` and the item attribute.
    pub fn attribute(self) -> &'static str {
        match self {
            Alignment::GoodEvil => GOOD_EVIL,
            Alignment::LawChaos => LAW_CHAOS,
        }
    }

    pub fn index(self) -> &'static str {
        match self {
            Alignment::GoodEvil => "GoodEvilIndex",
            Alignment::LawChaos => "LawChaosIndex",
        }
    }

    pub fn values(self) -> [&'static str; 3] {
        match self {
            Alignment::GoodEvil => ["Good", "Neutral", "Evil"],
            Alignment::LawChaos => ["Lawful", "Neutral", "Chaotic"],
        }
    }

    pub fn from_name(name: &str) -> Option<Alignment> {
        Alignment::ALL
            .into_iter()
            .find(|alignment| alignment.attribute().eq_ignore_ascii_case(name))
    }

    /// The stored spelling of `value` (`evil` → `Evil`), if it is one of this alignment's values.
    pub fn canonical_value(self, value: &str) -> Option<&'static str> {
        self.values()
            .into_iter()
            .find(|known| known.eq_ignore_ascii_case(value))
    }
}

/// `?filter=GoodEvil&value=Evil`, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filter {
    pub alignment: Alignment,
    pub value: &'static str,
}

//! The seed catalogue: twelve mysfits of our own, and an idempotent loader. `mysfits deploy` runs
//! the loader after the table exists; running it again inserts nothing and overwrites nothing
//! (likes and adoptions made since stay), because every put is conditional on the id being new.
//! It reads first, so that a rerun on a complete catalogue makes no write calls at all.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_smithy_types::error::display::DisplayErrorContext;
use tokio::task::JoinSet;

use crate::mysfit::{self, Mysfit};

/// What a seeding run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedCounts {
    pub inserted: usize,
    pub already_present: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("seeding mysfit {id:?} into table {table} failed: {message}")]
pub struct SeedError {
    pub table: String,
    pub id: String,
    pub message: String,
}

/// (id, name, species, age, good/evil, law/chaos, description)
const CATALOGUE: [(&str, &str, &str, u32, &str, &str, &str); 12] = [
    (
        "bramble",
        "Bramble",
        "Hedge Wyrm",
        112,
        "Good",
        "Chaotic",
        "Grows a new thorn for every secret it hears and sheds them all each spring. Happiest in an untidy garden with someone who talks too much.",
    ),
    (
        "cinder",
        "Cinder",
        "Ember Moth",
        3,
        "Neutral",
        "Chaotic",
        "Drawn to every candle in the house, and to no good end. Needs a fireproof room, a patient owner and a very long bedtime story.",
    ),
    (
        "quillon",
        "Quillon",
        "Ink Kraken",
        41,
        "Evil",
        "Lawful",
        "Signs everything in triplicate and reads the small print aloud. Will manage your paperwork beautifully and, in time, you.",
    ),
    (
        "tumble",
        "Tumble",
        "Dust Bunny Giant",
        7,
        "Good",
        "Neutral",
        "Lives under the biggest bed it can find and keeps the floor spotless by rolling over it. Sneezes politely, but often.",
    ),
    (
        "gloam",
        "Gloam",
        "Lantern Owl",
        58,
        "Good",
        "Lawful",
        "Lights the way home for anyone lost after dark, then insists on seeing them all the way to the door. Sleeps through breakfast.",
    ),
    (
        "mirelda",
        "Mirelda",
        "Bog Sprite",
        230,
        "Evil",
        "Chaotic",
        "Swaps the left boots of every visitor for the right boots of the last one. Collects spoons. Will not say why.",
    ),
    (
        "pemberton",
        "Sir Pemberton",
        "Tin Gryphon",
        89,
        "Good",
        "Lawful",
        "A knight of a kingdom nobody else remembers, still on patrol. Polishes himself nightly and challenges the vacuum cleaner to duels.",
    ),
    (
        "sprocket",
        "Sprocket",
        "Clockwork Imp",
        15,
        "Neutral",
        "Lawful",
        "Winds every clock in the house to exactly the same second and gets upset when you are late. Runs on tea and routine.",
    ),
    (
        "velvet",
        "Velvet",
        "Shade Cat",
        9,
        "Evil",
        "Neutral",
        "Visible only in the corner of your eye. Knocks things off shelves to see whether you are paying attention. You are not.",
    ),
    (
        "barnacle",
        "Old Barnacle",
        "Reef Troll",
        300,
        "Neutral",
        "Neutral",
        "Has seen every tide for three centuries and has opinions on all of them. Needs a deep bath and a good listener.",
    ),
    (
        "pollen",
        "Pollen",
        "Meadow Djinn",
        27,
        "Good",
        "Chaotic",
        "Grants wishes, but only about flowers, and only in the wrong season. Leaves a trail of daisies on the carpet.",
    ),
    (
        "grimsby",
        "Grimsby",
        "Gutter Goblin",
        19,
        "Evil",
        "Lawful",
        "Keeps a ledger of every coin that ever rolled into a drain and means to collect. Surprisingly good with children's pocket money.",
    ),
];

/// The twelve mysfits, not yet liked or adopted. Their pictures are drawn by the website itself
/// (`/images/thumb/{id}.svg`, `/images/profile/{id}.svg`), so the catalogue carries no artwork.
pub fn seed_items() -> Vec<Mysfit> {
    CATALOGUE
        .iter()
        .map(
            |&(id, name, species, age, good_evil, law_chaos, description)| Mysfit {
                id: id.into(),
                name: name.into(),
                species: species.into(),
                description: description.into(),
                age,
                good_evil: good_evil.into(),
                law_chaos: law_chaos.into(),
                thumb_image_uri: format!("/images/thumb/{id}.svg"),
                profile_image_uri: format!("/images/profile/{id}.svg"),
                likes: 0,
                adopted: false,
            },
        )
        .collect()
}

/// Puts every seed mysfit that is not in `table` yet (conditional puts, concurrently); existing
/// items are left as they are and counted as already present.
pub async fn seed_catalogue(client: &Client, table: &str) -> Result<SeedCounts, SeedError> {
    let present = present_ids(client, table).await?;
    let mut counts = SeedCounts {
        already_present: present.len(),
        ..SeedCounts::default()
    };
    let mut puts = JoinSet::new();
    for item in seed_items()
        .into_iter()
        .filter(|item| !present.contains(&item.id))
    {
        let client = client.clone();
        let table = table.to_string();
        puts.spawn(async move {
            let result = client
                .put_item()
                .table_name(&table)
                .set_item(Some(item.to_item()))
                .condition_expression("attribute_not_exists(#id)")
                .expression_attribute_names("#id", mysfit::ID)
                .send()
                .await;
            match result {
                Ok(_) => Ok(true),
                Err(SdkError::ServiceError(failure))
                    if failure.err().is_conditional_check_failed_exception() =>
                {
                    Ok(false)
                }
                Err(error) => Err(SeedError {
                    table,
                    id: item.id,
                    message: DisplayErrorContext(&error).to_string(),
                }),
            }
        });
    }
    let mut first_error = None;
    while let Some(joined) = puts.join_next().await {
        match joined {
            Ok(Ok(true)) => counts.inserted += 1,
            Ok(Ok(false)) => counts.already_present += 1,
            Ok(Err(error)) => {
                first_error.get_or_insert(error);
            }
            Err(panic) => {
                first_error.get_or_insert(SeedError {
                    table: table.to_string(),
                    id: "?".into(),
                    message: format!("the put task failed: {panic}"),
                });
            }
        }
    }
    match first_error {
        Some(error) => Err(error),
        None => Ok(counts),
    }
}

/// The seed ids already in `table` (one BatchGetItem of the ids only). Keys DynamoDB leaves
/// unprocessed count as absent: their conditional put still keeps existing items intact.
async fn present_ids(client: &Client, table: &str) -> Result<HashSet<String>, SeedError> {
    let keys = seed_items()
        .into_iter()
        .map(|item| HashMap::from([(mysfit::ID.to_string(), AttributeValue::S(item.id))]))
        .collect();
    let request = KeysAndAttributes::builder()
        .set_keys(Some(keys))
        .projection_expression("#id")
        .expression_attribute_names("#id", mysfit::ID)
        .build()
        .map_err(|error| SeedError {
            table: table.to_string(),
            id: "(all)".into(),
            message: error.to_string(),
        })?;
    let response = client
        .batch_get_item()
        .request_items(table, request)
        .send()
        .await
        .map_err(|error| SeedError {
            table: table.to_string(),
            id: "(all)".into(),
            message: DisplayErrorContext(&error).to_string(),
        })?;
    Ok(response
        .responses()
        .and_then(|responses| responses.get(table))
        .into_iter()
        .flatten()
        .filter_map(|item| match item.get(mysfit::ID) {
            Some(AttributeValue::S(id)) => Some(id.clone()),
            _ => None,
        })
        .collect())
}

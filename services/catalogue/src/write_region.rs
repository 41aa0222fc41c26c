//! The write region: the one region whose table takes every adoption and like, so that their
//! conditions are checked in one place although the table is a global table whose replicas
//! accept writes everywhere (and would let two regions each adopt the same mysfit, or lose a
//! like to "last writer wins").
//!
//! A control item in the catalogue table itself says which region that is, under which epoch,
//! and whether a move is under way: `{WriteRegion, Epoch, State: active|moving}`. It replicates
//! with the catalogue. Every write is one `TransactWriteItems` in the write region's table: a
//! `ConditionCheck` that the control item there still names that region, epoch and `active`,
//! plus the mysfit's own conditional update. A move (the `mysfits` CLI) first sets `moving` in
//! the old write region, so from then on no write commits there, waits until the new region's
//! replica has caught up, then makes the new region active under the next epoch.
//!
//! The control item's key cannot be a mysfit's: ids in URLs are letters, digits, `-` and `_`
//! (`service_common::mysfit_id`), and this key starts with `#`. It has none of the index key
//! attributes, so it is in no index, and the catalogue's reads skip it.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use tokio::time::Instant;

use crate::mysfit;

/// The control item's `MysfitId`.
pub const CONTROL_ID: &str = "#write-region";
pub const WRITE_REGION: &str = "WriteRegion";
pub const EPOCH: &str = "Epoch";
pub const STATE: &str = "State";
/// Incremented by every write of a mysfit: a move compares it between the two regions' replicas
/// to know that the new write region has every write the old one acknowledged.
pub const VERSION: &str = "Version";

/// How long the service trusts its view of the control item before reading it again.
pub const VIEW_TIME_TO_LIVE: Duration = Duration::from_secs(1);
/// What `Retry-After` tells a client whose write was refused during a move, in seconds.
pub const RETRY_AFTER_SECONDS: u64 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlState {
    /// Writes commit in the write region.
    Active,
    /// A move is under way: no write commits anywhere until the next epoch is active.
    Moving,
}

impl ControlState {
    pub fn as_str(self) -> &'static str {
        match self {
            ControlState::Active => "active",
            ControlState::Moving => "moving",
        }
    }

    pub fn parse(text: &str) -> Option<ControlState> {
        match text {
            "active" => Some(ControlState::Active),
            "moving" => Some(ControlState::Moving),
            _ => None,
        }
    }
}

impl std::fmt::Display for ControlState {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// The control item's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Control {
    pub write_region: String,
    pub epoch: u64,
    pub state: ControlState,
}

impl Control {
    /// The control item's key, for GetItem, UpdateItem and ConditionCheck.
    pub fn key() -> HashMap<String, AttributeValue> {
        HashMap::from([(mysfit::ID.to_string(), AttributeValue::S(CONTROL_ID.into()))])
    }

    pub fn to_item(&self) -> HashMap<String, AttributeValue> {
        let mut item = Control::key();
        item.insert(
            WRITE_REGION.into(),
            AttributeValue::S(self.write_region.clone()),
        );
        item.insert(EPOCH.into(), AttributeValue::N(self.epoch.to_string()));
        item.insert(STATE.into(), AttributeValue::S(self.state.as_str().into()));
        item
    }

    pub fn from_item(item: &HashMap<String, AttributeValue>) -> Result<Control, String> {
        let text = |name: &str| match item.get(name) {
            Some(AttributeValue::S(value)) => Ok(value.clone()),
            _ => Err(format!("{name} is missing or not a string")),
        };
        let epoch = match item.get(EPOCH) {
            Some(AttributeValue::N(value)) => value
                .parse::<u64>()
                .map_err(|_| format!("{EPOCH} {value:?} is not a whole number"))?,
            _ => return Err(format!("{EPOCH} is missing or not a number")),
        };
        let state = text(STATE)?;
        Ok(Control {
            write_region: text(WRITE_REGION)?,
            epoch,
            state: ControlState::parse(&state)
                .ok_or_else(|| format!("{STATE} {state:?} is neither active nor moving"))?,
        })
    }
}

/// Whether an item read from the table is the control item (which no catalogue read returns).
pub fn is_control_item(item: &HashMap<String, AttributeValue>) -> bool {
    matches!(item.get(mysfit::ID), Some(AttributeValue::S(id)) if id == CONTROL_ID)
}

/// What a write is checked against: the control item as this task last read it from its own
/// region's replica, or none yet (then the home region takes writes, and the check is that no
/// control item exists there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteTarget {
    Seeded(Control),
    Unseeded { home_region: String },
}

impl WriteTarget {
    pub fn region(&self) -> &str {
        match self {
            WriteTarget::Seeded(control) => &control.write_region,
            WriteTarget::Unseeded { home_region } => home_region,
        }
    }
}

/// One DynamoDB client per region, made from the local one on first use and kept: the same
/// credentials, timeouts, retries and endpoint override (`AWS_ENDPOINT_URL` for an emulator),
/// only the region differs.
pub struct RegionClients {
    local_region: String,
    local: Client,
    others: Mutex<HashMap<String, Client>>,
}

impl RegionClients {
    pub fn new(local: Client) -> RegionClients {
        let local_region = local
            .config()
            .region()
            .map(|region| region.to_string())
            .unwrap_or_default();
        RegionClients {
            local_region,
            local,
            others: Mutex::new(HashMap::new()),
        }
    }

    pub fn local_region(&self) -> &str {
        &self.local_region
    }

    pub fn local(&self) -> &Client {
        &self.local
    }

    /// Uses `client` for `region` instead of one derived from the local client.
    pub fn insert(&self, region: &str, client: Client) {
        self.others
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(region.to_string(), client);
    }

    pub fn client(&self, region: &str) -> Client {
        if region == self.local_region {
            return self.local.clone();
        }
        self.others
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(region.to_string())
            .or_insert_with(|| {
                let config = self
                    .local
                    .config()
                    .to_builder()
                    .region(aws_sdk_dynamodb::config::Region::new(region.to_string()))
                    .build();
                Client::from_conf(config)
            })
            .clone()
    }
}

/// The task's view of the control item, kept for [`VIEW_TIME_TO_LIVE`] and dropped at once when
/// a write finds it out of date.
pub struct ControlView {
    home_region: String,
    kept: Mutex<Option<(Instant, WriteTarget)>>,
}

impl ControlView {
    pub fn new(home_region: impl Into<String>) -> ControlView {
        ControlView {
            home_region: home_region.into(),
            kept: Mutex::new(None),
        }
    }

    pub fn home_region(&self) -> &str {
        &self.home_region
    }

    pub fn current(&self) -> Option<WriteTarget> {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        kept.as_ref()
            .filter(|(at, _)| at.elapsed() < VIEW_TIME_TO_LIVE)
            .map(|(_, target)| target.clone())
    }

    /// Keeps what was read: `None` is "no control item in the local replica".
    pub fn keep(&self, control: Option<Control>) -> WriteTarget {
        let target = match control {
            Some(control) => WriteTarget::Seeded(control),
            None => WriteTarget::Unseeded {
                home_region: self.home_region.clone(),
            },
        };
        *self.kept.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((Instant::now(), target.clone()));
        target
    }

    pub fn forget(&self) {
        *self.kept.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_control_item_reads_back_and_cannot_be_a_mysfit_id() {
        let control = Control {
            write_region: "us-west-2".into(),
            epoch: 7,
            state: ControlState::Moving,
        };
        let item = control.to_item();
        assert_eq!(Control::from_item(&item).unwrap(), control);
        assert!(is_control_item(&item));
        assert!(service_common::mysfit_id::check(CONTROL_ID).is_err());
        for index_key in [mysfit::GOOD_EVIL, mysfit::LAW_CHAOS] {
            assert!(!item.contains_key(index_key), "in no index");
        }
        let mut broken = item.clone();
        broken.insert(STATE.into(), AttributeValue::S("paused".into()));
        assert_eq!(
            Control::from_item(&broken).unwrap_err(),
            "State \"paused\" is neither active nor moving"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_view_is_kept_for_its_time_to_live_and_dropped_on_demand() {
        let view = ControlView::new("us-east-1");
        assert_eq!(view.current(), None);
        assert_eq!(
            view.keep(None),
            WriteTarget::Unseeded {
                home_region: "us-east-1".into()
            }
        );
        tokio::time::advance(VIEW_TIME_TO_LIVE - Duration::from_millis(1)).await;
        assert!(view.current().is_some());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(view.current(), None, "read again after the time to live");
        view.keep(None);
        view.forget();
        assert_eq!(view.current(), None);
    }

    #[tokio::test]
    async fn a_client_per_region_keeps_the_local_settings() {
        let local = Client::from_conf(
            aws_sdk_dynamodb::Config::builder()
                .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
                .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
                .endpoint_url("http://127.0.0.1:9")
                .build(),
        );
        let clients = RegionClients::new(local);
        assert_eq!(clients.local_region(), "us-east-1");
        let west = clients.client("us-west-2");
        assert_eq!(west.config().region().unwrap().as_ref(), "us-west-2");
        // The endpoint override carried over is checked over moto (tests/service/regions.rs).
    }
}

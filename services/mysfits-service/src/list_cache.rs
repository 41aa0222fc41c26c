//! The serialized answers of `GET /mysfits`, per filter, kept for a short time: the catalogue is
//! read far more often than it changes, and a list costs a Scan or Query plus its JSON both
//! ways, while a kept answer costs a copy of a reference. Writes this task makes (adopt, like)
//! drop every kept answer, so a client never reads its own write stale from the same task; a
//! write through another task (or region) shows here within the time to live.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::mysfit::Filter;

pub struct ListCache {
    time_to_live: Duration,
    kept: Mutex<Kept>,
}

#[derive(Default)]
struct Kept {
    /// Bumped by every write: an answer read before a write is not kept after it.
    generation: u64,
    answers: Vec<(Option<Filter>, Instant, Bytes)>,
}

impl ListCache {
    /// `Duration::ZERO` keeps nothing.
    pub fn new(time_to_live: Duration) -> ListCache {
        ListCache {
            time_to_live,
            kept: Mutex::new(Kept::default()),
        }
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The answer for `filter` if one younger than the time to live is kept.
    pub fn get(&self, filter: Option<Filter>) -> Option<Bytes> {
        if self.time_to_live.is_zero() {
            return None;
        }
        let now = Instant::now();
        self.kept()
            .answers
            .iter()
            .find(|(kept, at, _)| *kept == filter && now.duration_since(*at) < self.time_to_live)
            .map(|(_, _, body)| body.clone())
    }

    /// Take before reading the table; hand to [`ListCache::keep`] with the answer.
    pub fn generation(&self) -> u64 {
        self.kept().generation
    }

    /// Keeps `body` for `filter`, unless a write happened since `generation` was taken.
    pub fn keep(&self, filter: Option<Filter>, generation: u64, body: Bytes) {
        if self.time_to_live.is_zero() {
            return;
        }
        let mut kept = self.kept();
        if kept.generation != generation {
            return;
        }
        kept.answers.retain(|(other, _, _)| *other != filter);
        kept.answers.push((filter, Instant::now(), body));
    }

    /// After a write: nothing kept is current any more.
    pub fn forget(&self) {
        let mut kept = self.kept();
        kept.generation += 1;
        kept.answers.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mysfit::Alignment;

    const EVIL: Option<Filter> = Some(Filter {
        alignment: Alignment::GoodEvil,
        value: "Evil",
    });

    #[tokio::test(start_paused = true)]
    async fn an_answer_is_kept_per_filter_for_its_time_to_live_and_dropped_by_a_write() {
        let cache = ListCache::new(Duration::from_secs(1));
        let generation = cache.generation();
        cache.keep(None, generation, Bytes::from_static(b"all"));
        cache.keep(EVIL, generation, Bytes::from_static(b"evil"));
        assert_eq!(cache.get(None).as_deref(), Some(&b"all"[..]));
        assert_eq!(cache.get(EVIL).as_deref(), Some(&b"evil"[..]));
        tokio::time::advance(Duration::from_millis(999)).await;
        assert!(cache.get(None).is_some());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(cache.get(None).is_none(), "gone at the time to live");

        let generation = cache.generation();
        cache.keep(None, generation, Bytes::from_static(b"all"));
        cache.forget();
        assert!(cache.get(None).is_none(), "a write drops what is kept");
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_read_before_a_write_is_not_kept_after_it() {
        let cache = ListCache::new(Duration::from_secs(1));
        let before_the_write = cache.generation();
        cache.forget();
        cache.keep(None, before_the_write, Bytes::from_static(b"stale"));
        assert!(cache.get(None).is_none());
    }

    #[test]
    fn a_zero_time_to_live_keeps_nothing() {
        let cache = ListCache::new(Duration::ZERO);
        cache.keep(None, cache.generation(), Bytes::from_static(b"all"));
        assert!(cache.get(None).is_none());
    }
}

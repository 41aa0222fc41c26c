//! The one poller of every wait the app does itself: a stack settling, a change set ready, a
//! replica ACTIVE, an accelerator DEPLOYED, services scaled, interfaces released, a refused call
//! accepted. Where the SDK generates a waiter for what is awaited (a stack deleted, a table gone,
//! ECS services INACTIVE), that waiter is used instead, bounded by [`waiter_limit`].
//!
//! Everything runs on tokio's clock, so that a test with a paused clock drives the delays and the
//! limit at once. [`Backoff`] says how; [`poll`] looks until something is done, [`retry`] sends
//! until a refusal stops, and [`Pacing`] is the pause between two looks both use (and a loop whose
//! end at the limit is not an error).

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// How often and how long to look: quick first looks (an emulator answers at once), then slower
/// (AWS takes minutes), up to a limit after which the wait gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay after the first look.
    pub first: Duration,
    /// Each next delay is this percentage of the one before (200 doubles), up to `max`.
    pub growth_percent: u32,
    pub max: Duration,
    /// How long to look before giving up; the last look is at the limit.
    pub limit: Duration,
}

impl Backoff {
    /// Delays from `first` doubling up to `max`, for at most `limit`.
    pub const fn doubling(first: Duration, max: Duration, limit: Duration) -> Backoff {
        Backoff {
            first,
            growth_percent: 200,
            max,
            limit,
        }
    }

    /// The same delays for at most `limit`.
    pub const fn with_limit(self, limit: Duration) -> Backoff {
        Backoff { limit, ..self }
    }

    /// The delay after `current`.
    pub fn next_delay(&self, current: Duration) -> Duration {
        (current.saturating_mul(self.growth_percent) / 100).min(self.max)
    }
}

/// The pauses of one wait, from its start: each [`Pacing::pause`] sleeps the next delay, never
/// past the limit.
#[derive(Debug)]
pub struct Pacing {
    backoff: Backoff,
    started: Instant,
    delay: Duration,
}

impl Pacing {
    pub fn start(backoff: Backoff) -> Pacing {
        Pacing {
            backoff,
            started: Instant::now(),
            delay: backoff.first,
        }
    }

    /// How long since the start.
    pub fn waited(&self) -> Duration {
        self.started.elapsed()
    }

    /// Sleeps until the next look: true, or false at once when the limit has passed (the look
    /// just made was the last).
    pub async fn pause(&mut self) -> bool {
        let waited = self.waited();
        if waited >= self.backoff.limit {
            return false;
        }
        tokio::time::sleep(self.delay.min(self.backoff.limit - waited)).await;
        self.delay = self.backoff.next_delay(self.delay);
        true
    }
}

/// Calls `check` until it answers `Some`, pausing with `backoff` in between; an error from
/// `check` ends the wait at once. Past the limit, fails with `timeout(waited)` (each wait says
/// what it waited for and what to do). `check` may emit progress (a stack's new events, say) and
/// keep state between looks in a `Mutex` it borrows. (Not an `AsyncFnMut`: the futures of those
/// cannot be proven `Send`, which the plan executor's tasks must be.)
pub async fn poll<T, E, Fut>(
    backoff: Backoff,
    mut check: impl FnMut() -> Fut,
    timeout: impl FnOnce(Duration) -> E,
) -> Result<T, E>
where
    Fut: Future<Output = Result<Option<T>, E>>,
{
    let mut pacing = Pacing::start(backoff);
    loop {
        if let Some(done) = check().await? {
            return Ok(done);
        }
        if !pacing.pause().await {
            return Err(timeout(pacing.waited()));
        }
    }
}

/// Sends until the answer is not an error that `refused` says is worth retrying (a change still
/// being applied, a resource still in use), pausing with `backoff` in between. Answers what the
/// last send answered: past the limit, that is the last refusal.
pub async fn retry<T, E, Fut>(
    backoff: Backoff,
    mut send: impl FnMut() -> Fut,
    refused: impl Fn(&E) -> bool,
) -> Result<T, E>
where
    Fut: Future<Output = Result<T, E>>,
{
    let mut pacing = Pacing::start(backoff);
    loop {
        match send().await {
            Err(error) if refused(&error) && pacing.pause().await => continue,
            answer => return answer,
        }
    }
}

/// Runs an SDK waiter's future with `limit` on tokio's clock: the waiter itself measures its
/// `max_wait` with the SDK's time source (the system clock), which a paused test clock does not
/// move; the waiter's sleeps do run on tokio. `None` when the limit passed.
pub async fn waiter_limit<T>(limit: Duration, waiter: impl Future<Output = T>) -> Option<T> {
    tokio::time::timeout(limit, waiter).await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use std::sync::atomic::{AtomicU32, Ordering};

    const BACKOFF: Backoff = Backoff::doubling(
        Duration::from_millis(100),
        Duration::from_secs(1),
        Duration::from_secs(10),
    );

    #[tokio::test(start_paused = true)]
    async fn polls_until_the_check_is_done() {
        let started = Instant::now();
        let looks = AtomicU32::new(0);
        let done = poll(
            BACKOFF,
            || async {
                let look = looks.fetch_add(1, Ordering::SeqCst) + 1;
                Ok::<_, Error>((look == 3).then_some(look))
            },
            |_| Error::internal("no timeout expected"),
        )
        .await
        .expect("done at the third look");
        assert_eq!(done, 3);
        assert_eq!(started.elapsed(), Duration::from_millis(100 + 200));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_at_the_limit_with_the_callers_error() {
        let started = Instant::now();
        let error = poll(
            BACKOFF,
            || async { Ok(None::<()>) },
            |waited| Error::Timeout {
                what: "nothing".into(),
                waited,
                fix: "wait longer".into(),
            },
        )
        .await
        .expect_err("the limit passes");
        assert!(
            matches!(error, Error::Timeout { waited, .. } if waited == BACKOFF.limit),
            "{error:?}"
        );
        assert_eq!(started.elapsed(), BACKOFF.limit, "no sleep past the limit");
    }

    #[tokio::test(start_paused = true)]
    async fn an_error_from_the_check_ends_the_wait_at_once() {
        let started = Instant::now();
        let looks = AtomicU32::new(0);
        let error = poll(
            BACKOFF,
            || async {
                looks.fetch_add(1, Ordering::SeqCst);
                Err::<Option<()>, _>(Error::internal("broken"))
            },
            |_| Error::internal("no timeout expected"),
        )
        .await
        .expect_err("the check fails");
        assert!(error.to_string().contains("broken"), "{error}");
        assert_eq!(looks.load(Ordering::SeqCst), 1);
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn delays_grow_to_the_max() {
        let mut pacing = Pacing::start(BACKOFF);
        let mut delays = Vec::new();
        let mut before = Instant::now();
        while delays.len() < 6 && pacing.pause().await {
            delays.push(before.elapsed());
            before = Instant::now();
        }
        let millis = |ms: &[u64]| {
            ms.iter()
                .map(|&ms| Duration::from_millis(ms))
                .collect::<Vec<_>>()
        };
        assert_eq!(delays, millis(&[100, 200, 400, 800, 1000, 1000]));

        let slower = Backoff {
            growth_percent: 160,
            ..BACKOFF
        };
        assert_eq!(
            slower.next_delay(Duration::from_millis(100)),
            Duration::from_millis(160)
        );
        assert_eq!(slower.next_delay(Duration::from_millis(900)), slower.max);
    }

    #[tokio::test(start_paused = true)]
    async fn the_last_pause_ends_at_the_limit() {
        let short = BACKOFF.with_limit(Duration::from_millis(250));
        let mut pacing = Pacing::start(short);
        assert!(pacing.pause().await, "100 ms");
        assert!(pacing.pause().await, "200 ms would pass the limit: 150 ms");
        assert_eq!(pacing.waited(), short.limit);
        assert!(!pacing.pause().await, "the limit has passed");
        assert_eq!(pacing.waited(), short.limit);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_refusals_and_answers_the_last_one_at_the_limit() {
        let sends = AtomicU32::new(0);
        let accepted = retry(
            BACKOFF,
            || async {
                let send = sends.fetch_add(1, Ordering::SeqCst) + 1;
                if send < 3 { Err("busy") } else { Ok(send) }
            },
            |error| *error == "busy",
        )
        .await;
        assert_eq!(accepted, Ok(3));

        let started = Instant::now();
        let refused = retry(
            BACKOFF,
            || async { Err::<(), _>("busy") },
            |error| *error == "busy",
        )
        .await;
        assert_eq!(refused, Err("busy"));
        assert_eq!(started.elapsed(), BACKOFF.limit);

        let sends = AtomicU32::new(0);
        let failed = retry(
            BACKOFF,
            || async {
                sends.fetch_add(1, Ordering::SeqCst);
                Err::<(), _>("denied")
            },
            |error| *error == "busy",
        )
        .await;
        assert_eq!((failed, sends.load(Ordering::SeqCst)), (Err("denied"), 1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_past_its_limit_is_none() {
        let finished = waiter_limit(Duration::from_secs(1), async { 7 }).await;
        assert_eq!(finished, Some(7));
        let stuck = waiter_limit(
            Duration::from_secs(1),
            tokio::time::sleep(Duration::from_secs(60)),
        )
        .await;
        assert_eq!(stuck, None);
    }
}

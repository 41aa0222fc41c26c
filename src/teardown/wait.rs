//! Waiting in teardown. Where the SDK generates a waiter for what is awaited (a stack deleted, a
//! table gone, ECS services INACTIVE), that waiter is used, bounded by [`waiter_limit`] so that
//! the limit runs on tokio's clock like everything else here. Where none exists (a backup
//! AVAILABLE, a replica removed, a stack settling, Global Accelerator releasing its interfaces,
//! a refused change accepted), [`poll`] is the one poller: exponential backoff on tokio::time,
//! so that a paused test clock drives it.

use std::future::Future;
use std::time::Duration;

use crate::error::{Error, Result};

/// How often and how long to poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay; each next one doubles, up to `max`.
    pub first: Duration,
    pub max: Duration,
    /// How long to poll before giving up.
    pub limit: Duration,
}

/// Calls `check` until it returns `Some`, sleeping with [`Backoff`] in between. Past the limit,
/// the error `timeout(waited)` builds (each wait says what it waited for and what to do).
pub async fn poll<T, Check, Fut>(
    backoff: Backoff,
    mut check: Check,
    timeout: impl FnOnce(Duration) -> Error,
) -> Result<T>
where
    Check: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let started = tokio::time::Instant::now();
    let mut delay = backoff.first;
    loop {
        if let Some(done) = check().await? {
            return Ok(done);
        }
        let waited = started.elapsed();
        if waited >= backoff.limit {
            return Err(timeout(waited));
        }
        tokio::time::sleep(delay.min(backoff.limit - waited)).await;
        delay = (delay * 2).min(backoff.max);
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
    use std::sync::atomic::{AtomicU32, Ordering};

    const BACKOFF: Backoff = Backoff {
        first: Duration::from_millis(100),
        max: Duration::from_secs(1),
        limit: Duration::from_secs(10),
    };

    #[tokio::test(start_paused = true)]
    async fn polls_until_the_check_is_done() {
        let calls = AtomicU32::new(0);
        let done = poll(
            BACKOFF,
            || async {
                let call = calls.fetch_add(1, Ordering::SeqCst) + 1;
                Ok((call == 3).then_some(call))
            },
            |_| Error::internal("no timeout expected"),
        )
        .await
        .expect("done at the third call");
        assert_eq!(done, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_at_the_limit_with_the_callers_error() {
        let started = tokio::time::Instant::now();
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
        assert!(matches!(error, Error::Timeout { waited, .. } if waited >= BACKOFF.limit));
        assert!(started.elapsed() < BACKOFF.limit + BACKOFF.max);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_check_ends_the_wait() {
        let error = poll(
            BACKOFF,
            || async { Err::<Option<()>, _>(Error::internal("broken")) },
            |_| Error::internal("no timeout expected"),
        )
        .await
        .expect_err("the check fails");
        assert!(error.to_string().contains("broken"), "{error}");
    }
}

//! The one poller of the stack code (and of the table's replica wait): adaptive delays, a limit,
//! and a timeout error that says what to do.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Adaptive polling: quick first looks (an emulator answers at once), then slower (AWS takes
/// minutes), bounded by a limit after which the wait gives up with an actionable error.
#[derive(Debug, Clone, Copy)]
pub struct Poll {
    pub first: Duration,
    pub max: Duration,
    pub limit: Duration,
}

impl Poll {
    pub const STACK: Poll = Poll {
        first: Duration::from_millis(200),
        max: Duration::from_secs(5),
        limit: Duration::from_secs(60 * 60),
    };
    pub const CHANGE_SET: Poll = Poll {
        first: Duration::from_millis(100),
        max: Duration::from_secs(3),
        limit: Duration::from_secs(10 * 60),
    };

    pub(crate) fn next_delay(&self, current: Duration) -> Duration {
        (current.mul_f32(1.6)).min(self.max)
    }

    /// Calls `look` until it answers `Some`, sleeping between looks; an error from `look` ends
    /// the wait at once. After `limit`, fails with `timeout(waited)`.
    pub async fn until<T, Fut>(
        &self,
        mut look: impl FnMut() -> Fut,
        timeout: impl FnOnce(Duration) -> Error,
    ) -> Result<T>
    where
        Fut: Future<Output = Result<Option<T>>>,
    {
        let started = Instant::now();
        let mut delay = self.first;
        loop {
            if let Some(done) = look().await? {
                return Ok(done);
            }
            if started.elapsed() > self.limit {
                return Err(timeout(started.elapsed()));
            }
            tokio::time::sleep(delay).await;
            delay = self.next_delay(delay);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn looks_until_done_and_gives_up_at_the_limit() {
        let poll = Poll {
            first: Duration::from_millis(10),
            max: Duration::from_millis(40),
            limit: Duration::from_secs(1),
        };
        let mut looks = 0;
        let done = poll
            .until(
                || {
                    looks += 1;
                    let answer = (looks == 3).then_some(looks);
                    async move { Ok(answer) }
                },
                |_| Error::internal("never"),
            )
            .await
            .expect("done on the third look");
        assert_eq!(done, 3);
        let error = poll
            .until(
                || async { Ok(None::<()>) },
                |waited| Error::internal(format!("waited {waited:?}")),
            )
            .await
            .expect_err("times out");
        assert!(error.to_string().contains("waited"), "{error}");
    }
}

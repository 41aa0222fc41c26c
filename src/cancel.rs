//! Ctrl-C for one command run: [`Cancellation`], shared by the signal listener, the plan executor
//! and the steps (a stack deploy deep inside a step sees it through [`Cancellation::current`]).
//! Its own module so that the stack code and the executor both use it without depending on each
//! other.

use tokio_util::sync::CancellationToken;

use crate::error::EXIT_INTERRUPTED;
use crate::progress::Events;

/// The Ctrl-C state of one command run, shared by the signal listener, the executor and steps:
/// a thin wrapper around tokio-util's [`CancellationToken`] that adds the plan step's own
/// cancellation ([`Cancellation::current`]) and the Ctrl-C listener.
#[derive(Debug, Clone, Default)]
pub struct Cancellation {
    token: CancellationToken,
}

tokio::task_local! {
    /// The cancellation of the plan step running on this task (set by the executor), so that a
    /// step deep inside (a stack deploy) sees Ctrl-C without every layer passing it along.
    pub(crate) static CURRENT: Cancellation;
}

impl Cancellation {
    pub fn new() -> Cancellation {
        Cancellation::default()
    }

    /// The cancellation of the plan step this code runs in; outside a plan, one that never fires.
    pub fn current() -> Cancellation {
        CURRENT
            .try_with(Cancellation::clone)
            .unwrap_or_else(|_| Cancellation::new())
    }

    pub fn cancel(&self) {
        self.token.cancel();
    }

    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Completes once the run is cancelled.
    pub async fn cancelled(&self) {
        self.token.cancelled().await;
    }

    /// The underlying token, for code that composes with tokio-util (child tokens, `run_until_cancelled`).
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Listens for Ctrl-C (SIGINT): the first cancels this run, the second ends the process at
    /// once with exit code 130. Why exit here rather than return: after a second Ctrl-C the user
    /// wants out now, and unwinding would wait for the very calls they gave up on.
    ///
    /// Listening stops when the returned guard is dropped; drop it before waiting for the
    /// progress renderer, which ends only when every [`Events`] clone (this one too) is gone.
    pub fn on_ctrl_c(&self, events: &Events, command: &str) -> CtrlCListener {
        let cancellation = self.clone();
        let events = events.clone();
        let command = command.to_string();
        // Registered here, before any step starts: `tokio::signal::ctrl_c()` registers only when
        // the spawned task is first polled, and a Ctrl-C before that would kill the process.
        let mut interrupts = interrupt_signals();
        let task = tokio::spawn(async move {
            if !interrupts.next().await {
                return;
            }
            cancellation.cancel();
            events.note(
                &command,
                "Ctrl-C: stopping; no new steps start, in-flight stack changes are cancelled or \
                 rolled back (press Ctrl-C again to exit at once)",
            );
            if interrupts.next().await {
                eprintln!(
                    "interrupted again: exiting now; changes already sent to AWS go on by themselves. \
                     Run `mysfits {command}` again to resume."
                );
                std::process::exit(i32::from(EXIT_INTERRUPTED));
            }
        });
        CtrlCListener { task }
    }
}

/// SIGINT as a stream, listening from the moment it is made.
struct InterruptSignals {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

fn interrupt_signals() -> InterruptSignals {
    InterruptSignals {
        #[cfg(unix)]
        signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok(),
    }
}

impl InterruptSignals {
    /// Waits for the next Ctrl-C; false when none can be received.
    async fn next(&mut self) -> bool {
        #[cfg(unix)]
        {
            match &mut self.signal {
                Some(signal) => signal.recv().await.is_some(),
                None => false,
            }
        }
        #[cfg(not(unix))]
        {
            tokio::signal::ctrl_c().await.is_ok()
        }
    }
}

/// The Ctrl-C listener of one command run; stops listening when dropped.
#[derive(Debug)]
pub struct CtrlCListener {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CtrlCListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

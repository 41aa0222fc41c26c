//! Progress: the engine emits [`Event`]s, a renderer draws them. The two never know each other's
//! details, so the same deploy can be shown as a live tree, as plain lines, or not at all.

mod render;

pub(crate) use render::first_line;
pub use render::{Renderer, RendererKind, line, terminal_styling};

use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;

/// Something that happened during a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    StepStarted {
        step: String,
    },
    StepFinished {
        step: String,
        summary: String,
        elapsed_ms: u64,
    },
    StepFailed {
        step: String,
        error: String,
    },
    /// A CloudFormation resource changed status.
    Resource {
        step: String,
        logical_id: String,
        resource_type: String,
        status: String,
        reason: Option<String>,
        description: Option<String>,
    },
    /// Anything the user should know (a recovery action, a skipped call).
    Note {
        step: String,
        message: String,
    },
    /// How far a long step has got (cargo's crates): the step's status line on a terminal.
    Progress {
        step: String,
        message: String,
    },
    /// An AWS call failed and the SDK tries it again (`attempt` is the one about to start).
    Retry {
        operation: String,
        region: String,
        attempt: u32,
        max_attempts: u32,
        reason: String,
    },
}

/// A command's live progress: events rendered on stderr (tree on a terminal, lines otherwise)
/// until [`Progress::finish`].
pub struct Progress {
    pub events: Events,
    renderer: tokio::task::JoinHandle<()>,
}

impl Progress {
    pub fn start() -> Progress {
        let (events, receiver) = Events::channel();
        set_sdk_events(Some(events.clone()));
        Progress {
            events,
            renderer: tokio::spawn(Renderer::run(RendererKind::detect(), receiver)),
        }
    }

    /// Waits until everything sent is rendered. Every clone of `events` (contexts, Ctrl-C
    /// listeners) must be dropped first: the renderer ends when the last sender goes.
    pub async fn finish(self) {
        set_sdk_events(None);
        drop(self.events);
        let _ = self.renderer.await;
    }
}

/// Where events go. Cheap to clone; sending never blocks and never fails the command.
#[derive(Debug, Clone)]
pub struct Events {
    sender: Option<mpsc::UnboundedSender<Event>>,
}

impl Events {
    pub fn channel() -> (Events, mpsc::UnboundedReceiver<Event>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (
            Events {
                sender: Some(sender),
            },
            receiver,
        )
    }

    /// A sink that drops everything (for tests and library callers that do not render).
    pub fn discard() -> Events {
        Events { sender: None }
    }

    pub fn emit(&self, event: Event) {
        if let Some(sender) = &self.sender {
            let _ = sender.send(event);
        }
    }

    pub fn note(&self, step: &str, message: impl Into<String>) {
        self.emit(Event::Note {
            step: step.to_string(),
            message: message.into(),
        });
    }
}

/// Where events from inside SDK calls go (retries, see `aws::retries`): the SDK's interceptors
/// get no handle of their own, so the live [`Progress`] registers its events here.
static SDK_EVENTS: std::sync::Mutex<Option<Events>> = std::sync::Mutex::new(None);

/// Routes events from inside SDK calls to `events` (`None`: back to plain lines on stderr).
/// [`Progress`] does this itself; library callers and tests that render differently call it.
pub fn route_sdk_events(events: Option<Events>) {
    set_sdk_events(events);
}

fn set_sdk_events(events: Option<Events>) {
    if let Ok(mut sink) = SDK_EVENTS.lock() {
        *sink = events;
    }
}

/// Sends an event from inside an SDK call to the live progress, or, when no command shows
/// progress (status, logs), writes its line on stderr, so a retry is never a silent wait.
pub fn sdk_event(event: Event) {
    let live = SDK_EVENTS.lock().ok().and_then(|sink| sink.clone());
    match live {
        Some(events) => events.emit(event),
        None => {
            use std::io::Write;
            let _ = writeln!(std::io::stderr().lock(), "{}", render::line(&event));
        }
    }
}

pub fn elapsed_ms(elapsed: Duration) -> u64 {
    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
}

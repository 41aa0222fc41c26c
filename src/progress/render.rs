//! Renderers: a live tree on a terminal (indicatif), plain lines otherwise. Both write to stderr.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc;

use super::Event;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RendererKind {
    /// A live tree: one line per step, the latest resource changes under each stack.
    Tree,
    /// One line per event, for logs and CI.
    Lines,
}

impl RendererKind {
    /// The tree on a terminal, lines everywhere else (pipes, CI, NO_COLOR terminals too).
    pub fn detect() -> RendererKind {
        if std::io::stderr().is_terminal() && std::env::var_os("CI").is_none() {
            RendererKind::Tree
        } else {
            RendererKind::Lines
        }
    }
}

/// Consumes events until every sender is gone.
pub struct Renderer;

/// How many resource lines a stack shows at once in the tree, so a big stack stays readable.
const RESOURCE_ROWS_PER_STEP: usize = 6;

impl Renderer {
    pub async fn run(kind: RendererKind, mut events: mpsc::UnboundedReceiver<Event>) {
        match kind {
            RendererKind::Lines => {
                while let Some(event) = events.recv().await {
                    let mut stderr = std::io::stderr().lock();
                    let _ = writeln!(stderr, "{}", line(&event));
                }
            }
            RendererKind::Tree => tree(&mut events).await,
        }
    }
}

/// The plain-text form of an event.
pub fn line(event: &Event) -> String {
    match event {
        Event::StepStarted { step } => format!("[{step}] started"),
        Event::StepFinished {
            step,
            summary,
            elapsed_ms,
        } => format!(
            "[{step}] done in {:.1}s: {summary}",
            *elapsed_ms as f64 / 1000.0
        ),
        Event::StepFailed { step, error } => format!("[{step}] FAILED: {}", first_line(error)),
        Event::Resource {
            step,
            logical_id,
            resource_type,
            status,
            reason,
            description,
        } => {
            let label = description.as_deref().unwrap_or(resource_type);
            match reason {
                Some(reason) if !reason.is_empty() => {
                    format!("[{step}]   {status:<20} {logical_id} ({label}): {reason}")
                }
                _ => format!("[{step}]   {status:<20} {logical_id} ({label})"),
            }
        }
        Event::Note { step, message } => format!("[{step}] note: {message}"),
    }
}

/// The first line of a (maybe multi-line) message.
pub(crate) fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

struct StepRows {
    bar: ProgressBar,
    resources: Vec<(String, ProgressBar)>,
}

async fn tree(events: &mut mpsc::UnboundedReceiver<Event>) {
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
    let step_style =
        ProgressStyle::with_template("{spinner} {prefix:.bold} {wide_msg} {elapsed:>4}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let resource_style = ProgressStyle::with_template("    {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let mut steps: HashMap<String, StepRows> = HashMap::new();
    while let Some(event) = events.recv().await {
        match &event {
            Event::StepStarted { step } => {
                let bar = multi.add(ProgressBar::new_spinner().with_style(step_style.clone()));
                bar.set_prefix(step.clone());
                bar.set_message("working");
                bar.enable_steady_tick(Duration::from_millis(120));
                steps.insert(
                    step.clone(),
                    StepRows {
                        bar,
                        resources: Vec::new(),
                    },
                );
            }
            Event::StepFinished { step, summary, .. } => {
                if let Some(rows) = steps.get_mut(step) {
                    for (_, resource) in rows.resources.drain(..) {
                        resource.finish_and_clear();
                    }
                    rows.bar.finish_with_message(format!("✓ {summary}"));
                }
            }
            Event::StepFailed { step, error } => {
                if let Some(rows) = steps.get_mut(step) {
                    rows.bar
                        .finish_with_message(format!("✗ {}", first_line(error)));
                }
            }
            Event::Resource {
                step,
                logical_id,
                status,
                reason,
                description,
                resource_type,
            } => {
                let Some(rows) = steps.get_mut(step) else {
                    continue;
                };
                let label = description.as_deref().unwrap_or(resource_type);
                let message = match reason {
                    Some(reason) if status.ends_with("FAILED") => {
                        format!("{status:<20} {label}: {reason}")
                    }
                    _ => format!("{status:<20} {label}"),
                };
                if let Some((_, resource)) = rows.resources.iter().find(|(id, _)| id == logical_id)
                {
                    resource.set_message(message);
                } else {
                    if rows.resources.len() >= RESOURCE_ROWS_PER_STEP {
                        let (_, oldest) = rows.resources.remove(0);
                        oldest.finish_and_clear();
                    }
                    let resource = multi.insert_after(
                        rows.resources
                            .last()
                            .map(|(_, bar)| bar)
                            .unwrap_or(&rows.bar),
                        ProgressBar::new_spinner().with_style(resource_style.clone()),
                    );
                    resource.set_message(message);
                    rows.resources.push((logical_id.clone(), resource));
                }
            }
            Event::Note { .. } => {
                let _ = multi.println(line(&event));
            }
        }
    }
    for rows in steps.values() {
        if !rows.bar.is_finished() {
            rows.bar.abandon();
        }
    }
}

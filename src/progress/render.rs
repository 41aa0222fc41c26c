//! Renderers: a live tree on a terminal (indicatif), plain lines otherwise. Both write to stderr.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

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
        if terminal_styling(std::io::stderr().is_terminal()) && std::env::var_os("CI").is_none() {
            RendererKind::Tree
        } else {
            RendererKind::Lines
        }
    }
}

/// Whether colours and cursor control may be written to a stream: only to a terminal, and never
/// when `NO_COLOR` is set to anything (<https://no-color.org>).
pub fn terminal_styling(is_terminal: bool) -> bool {
    is_terminal && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

/// Consumes events until every sender is gone.
pub struct Renderer;

/// How often plain lines show a step's progress.
const LINES_PROGRESS_INTERVAL: Duration = Duration::from_secs(10);

/// How many resource lines a stack shows at once in the tree, so a big stack stays readable.
const RESOURCE_ROWS_PER_STEP: usize = 6;

impl Renderer {
    pub async fn run(kind: RendererKind, mut events: mpsc::UnboundedReceiver<Event>) {
        match kind {
            RendererKind::Lines => {
                let mut progress_shown: HashMap<String, Instant> = HashMap::new();
                while let Some(event) = events.recv().await {
                    if let Event::Progress { step, .. } = &event {
                        // A log gets a progress line now and then, not one per crate.
                        let now = Instant::now();
                        match progress_shown.get(step) {
                            Some(shown) if now - *shown < LINES_PROGRESS_INTERVAL => continue,
                            _ => progress_shown.insert(step.clone(), now),
                        };
                    }
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
        Event::Progress { step, message } => format!("[{step}] {message}"),
        Event::Retry {
            operation,
            region,
            attempt,
            max_attempts,
            reason,
        } => format!(
            "retrying {operation} in {region} (attempt {attempt} of {max_attempts}): {reason}"
        ),
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
    let mut tree = Tree::new(ProgressDrawTarget::stderr());
    while let Some(event) = events.recv().await {
        tree.show(&event);
    }
    tree.abandon_unfinished();
}

/// The live tree: a spinner row per step and, under each, its latest resource rows.
struct Tree {
    multi: MultiProgress,
    step_style: ProgressStyle,
    resource_style: ProgressStyle,
    steps: HashMap<String, StepRows>,
}

impl Tree {
    fn new(target: ProgressDrawTarget) -> Tree {
        Tree {
            multi: MultiProgress::with_draw_target(target),
            step_style: ProgressStyle::with_template(
                "{spinner} {prefix:.bold} {wide_msg} {elapsed:>4}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            resource_style: ProgressStyle::with_template("    {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            steps: HashMap::new(),
        }
    }

    fn show(&mut self, event: &Event) {
        match event {
            Event::StepStarted { step } => self.step_started(step),
            Event::StepFinished { step, summary, .. } => {
                if let Some(rows) = self.steps.get_mut(step) {
                    for (_, resource) in rows.resources.drain(..) {
                        resource.finish_and_clear();
                    }
                    rows.bar.finish_with_message(format!("✓ {summary}"));
                }
            }
            Event::StepFailed { step, error } => {
                if let Some(rows) = self.steps.get_mut(step) {
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
                let label = description.as_deref().unwrap_or(resource_type);
                let message = resource_message(status, label, reason.as_deref());
                self.resource_changed(step, logical_id, message);
            }
            Event::Note { .. } | Event::Retry { .. } => {
                let _ = self.multi.println(line(event));
            }
            Event::Progress { step, message } => {
                if let Some(rows) = self.steps.get(step) {
                    rows.bar.set_message(message.clone());
                }
            }
        }
    }

    fn step_started(&mut self, step: &str) {
        let bar = self
            .multi
            .add(ProgressBar::new_spinner().with_style(self.step_style.clone()));
        bar.set_prefix(step.to_string());
        bar.set_message("working");
        bar.enable_steady_tick(Duration::from_millis(120));
        self.steps.insert(
            step.to_string(),
            StepRows {
                bar,
                resources: Vec::new(),
            },
        );
    }

    /// Updates the resource's row under its step, or adds one below the step's last row; beyond
    /// [`RESOURCE_ROWS_PER_STEP`] the oldest row goes.
    fn resource_changed(&mut self, step: &str, logical_id: &str, message: String) {
        let Some(rows) = self.steps.get_mut(step) else {
            return;
        };
        if let Some((_, resource)) = rows.resources.iter().find(|(id, _)| id == logical_id) {
            resource.set_message(message);
            return;
        }
        if rows.resources.len() >= RESOURCE_ROWS_PER_STEP {
            let (_, oldest) = rows.resources.remove(0);
            oldest.finish_and_clear();
        }
        let below = rows
            .resources
            .last()
            .map(|(_, bar)| bar)
            .unwrap_or(&rows.bar);
        let resource = self.multi.insert_after(
            below,
            ProgressBar::new_spinner().with_style(self.resource_style.clone()),
        );
        resource.set_message(message);
        rows.resources.push((logical_id.to_string(), resource));
    }

    /// Steps still running when the events end (the run was interrupted) stay visible as they were.
    fn abandon_unfinished(&self) {
        for rows in self.steps.values() {
            if !rows.bar.is_finished() {
                rows.bar.abandon();
            }
        }
    }
}

/// A resource row: its status and label, with the reason only when it failed.
fn resource_message(status: &str, label: &str, reason: Option<&str>) -> String {
    match reason {
        Some(reason) if status.ends_with("FAILED") => format!("{status:<20} {label}: {reason}"),
        _ => format!("{status:<20} {label}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(step: &str, logical_id: &str, status: &str) -> Event {
        Event::Resource {
            step: step.into(),
            logical_id: logical_id.into(),
            resource_type: "AWS::EC2::Subnet".into(),
            status: status.into(),
            reason: Some("Resource creation Initiated".into()),
            description: None,
        }
    }

    fn rows(tree: &Tree, step: &str) -> Vec<(String, String)> {
        tree.steps[step]
            .resources
            .iter()
            .map(|(id, bar)| (id.clone(), bar.message()))
            .collect()
    }

    #[test]
    fn a_step_shows_its_latest_resources_each_on_one_row_and_clears_them_when_done() {
        let mut tree = Tree::new(ProgressDrawTarget::hidden());
        tree.show(&Event::StepStarted {
            step: "app stack".into(),
        });
        for number in 0..=RESOURCE_ROWS_PER_STEP {
            tree.show(&resource(
                "app stack",
                &format!("Subnet{number}"),
                "CREATE_IN_PROGRESS",
            ));
        }
        tree.show(&resource("app stack", "Subnet3", "CREATE_COMPLETE"));
        let shown = rows(&tree, "app stack");
        assert_eq!(shown.len(), RESOURCE_ROWS_PER_STEP, "{shown:?}");
        assert_eq!(shown[0].0, "Subnet1", "the oldest row went: {shown:?}");
        assert_eq!(
            shown[2].1,
            format!("{:<20} AWS::EC2::Subnet", "CREATE_COMPLETE")
        );
        tree.show(&resource("other step", "Ignored", "CREATE_IN_PROGRESS"));
        assert!(!tree.steps.contains_key("other step"));
        tree.show(&Event::StepFinished {
            step: "app stack".into(),
            summary: "created".into(),
            elapsed_ms: 10,
        });
        assert!(rows(&tree, "app stack").is_empty());
        assert!(tree.steps["app stack"].bar.is_finished());
        assert_eq!(tree.steps["app stack"].bar.message(), "✓ created");
    }

    #[test]
    fn a_resource_row_names_the_reason_only_when_it_failed() {
        assert_eq!(
            resource_message("CREATE_FAILED", "Subnet", Some("quota")),
            format!("{:<20} Subnet: quota", "CREATE_FAILED")
        );
        assert_eq!(
            resource_message("CREATE_IN_PROGRESS", "Subnet", Some("Initiated")),
            format!("{:<20} Subnet", "CREATE_IN_PROGRESS")
        );
    }
}

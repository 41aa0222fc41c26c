//! When each step of a run started and ended, and the chain of steps that bounded the run's wall
//! time: from the step that finished last, back through the dependency that finished latest at
//! each point. Shortening any other step would not have made the run end sooner.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use super::Node;
use crate::progress::elapsed_ms;

/// When a step ran, as offsets from the start of its run (on tokio's clock, so that a test with
/// a paused clock drives it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepSpan {
    pub started: Duration,
    pub ended: Duration,
}

impl StepSpan {
    pub fn duration(&self) -> Duration {
        self.ended.saturating_sub(self.started)
    }
}

/// The chain that bounded a run: the step that ended last, then at each point the dependency
/// that ended latest (the one the step was really waiting for), back to a step with none.
///
/// Ties (a step ending last together with another, two dependencies ending at the same instant)
/// go to the one listed first in the plan, so the answer is the same on every run. Steps that
/// never ended (failed before starting, skipped) are not in `spans` and never in the chain.
pub fn bounding_chain<Id: Copy + Ord>(
    nodes: &[Node<Id>],
    spans: &BTreeMap<Id, StepSpan>,
) -> Vec<Id> {
    let last = nodes
        .iter()
        .filter_map(|node| spans.get(&node.id).map(|span| (node, span.ended)))
        // `max_by_key` keeps the last of equal maxima: reversed, that is the first in the plan.
        .rev()
        .max_by_key(|(_, ended)| *ended);
    let Some((mut node, _)) = last else {
        return Vec::new();
    };
    let mut chain = vec![node.id];
    loop {
        let latest = node
            .depends_on
            .iter()
            .filter_map(|dependency| spans.get(dependency).map(|span| (*dependency, span.ended)))
            .rev()
            .max_by_key(|(_, ended)| *ended);
        let Some((dependency, _)) = latest else {
            break;
        };
        let Some(next) = nodes.iter().find(|candidate| candidate.id == dependency) else {
            break;
        };
        chain.push(dependency);
        node = next;
    }
    chain.reverse();
    chain
}

/// A run's steps in time, for the deploy report (`--output json` carries it whole).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timeline {
    pub wall_ms: u64,
    /// Every step that ended, in plan order.
    pub steps: Vec<TimedStep>,
    /// The chain that bounded the wall time, first step first.
    pub bounded_by: Vec<TimedStep>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimedStep {
    pub label: String,
    pub started_ms: u64,
    pub ended_ms: u64,
}

impl TimedStep {
    fn duration(&self) -> Duration {
        Duration::from_millis(self.ended_ms.saturating_sub(self.started_ms))
    }
}

impl Timeline {
    pub fn new<Id: Copy + Ord>(
        nodes: &[Node<Id>],
        spans: &BTreeMap<Id, StepSpan>,
        wall: Duration,
    ) -> Timeline {
        let timed = |node: &Node<Id>| {
            spans.get(&node.id).map(|span| TimedStep {
                label: node.label.clone(),
                started_ms: elapsed_ms(span.started),
                ended_ms: elapsed_ms(span.ended),
            })
        };
        let bounded_by = bounding_chain(nodes, spans)
            .into_iter()
            .filter_map(|id| nodes.iter().find(|node| node.id == id).and_then(timed))
            .collect();
        Timeline {
            wall_ms: elapsed_ms(wall),
            steps: nodes.iter().filter_map(timed).collect(),
            bounded_by,
        }
    }

    /// "bounded by: build service images 12s -> app stack us-east-1 5m02s (total 5m14s of
    /// 5m20s wall)": the total is the chain's own work, the rest of the wall time is waiting
    /// between its steps.
    pub fn bounded_by_line(&self) -> Option<String> {
        if self.bounded_by.is_empty() {
            return None;
        }
        let mut line = String::from("bounded by: ");
        let mut total = Duration::ZERO;
        for (index, step) in self.bounded_by.iter().enumerate() {
            if index > 0 {
                line.push_str(" -> ");
            }
            let _ = write!(line, "{} {}", step.label, human(step.duration()));
            total += step.duration();
        }
        let _ = write!(
            line,
            " (total {} of {} wall)",
            human(total),
            human(Duration::from_millis(self.wall_ms))
        );
        Some(line)
    }
}

/// 0.2s, 12s, 5m02s.
pub fn human(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if seconds < 10 {
        format!("{:.1}s", duration.as_secs_f64())
    } else if seconds < 60 {
        format!("{seconds}s")
    } else {
        format!("{}m{:02}s", seconds / 60, seconds % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::OnCancel;

    fn node(id: u8, depends_on: Vec<u8>) -> Node<u8> {
        Node {
            id,
            label: format!("step {id}"),
            depends_on,
            on_cancel: OnCancel::Abort,
        }
    }

    fn spans(timings: &[(u8, u64, u64)]) -> BTreeMap<u8, StepSpan> {
        timings
            .iter()
            .map(|(id, started, ended)| {
                (
                    *id,
                    StepSpan {
                        started: Duration::from_secs(*started),
                        ended: Duration::from_secs(*ended),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn the_chain_follows_the_dependency_that_ended_latest_not_the_longest_step() {
        // 1 build (0-12) and 2 registry (0-20) feed 3 push (20-23); 4 app (23-325); 5 replica
        // waits on 4 (325-400); 6 entry waits on 4 and 2 (325-395). The run ends with 5.
        let nodes = vec![
            node(1, vec![]),
            node(2, vec![]),
            node(3, vec![1, 2]),
            node(4, vec![3]),
            node(5, vec![4]),
            node(6, vec![4, 2]),
        ];
        let timings = spans(&[
            (1, 0, 12),
            (2, 0, 20),
            (3, 20, 23),
            (4, 23, 325),
            (5, 325, 400),
            (6, 325, 395),
        ]);
        assert_eq!(bounding_chain(&nodes, &timings), vec![2, 3, 4, 5]);
    }

    #[test]
    fn ties_go_to_the_step_listed_first() {
        let nodes = vec![
            node(1, vec![]),
            node(2, vec![]),
            node(3, vec![2, 1]),
            node(4, vec![]),
        ];
        // 1 and 2 end together: 3 lists 2 first. 3 and 4 end together: 3 is first in the plan.
        let timings = spans(&[(1, 0, 10), (2, 0, 10), (3, 10, 30), (4, 0, 30)]);
        assert_eq!(bounding_chain(&nodes, &timings), vec![2, 3]);
    }

    #[test]
    fn steps_that_never_ended_are_not_in_the_chain() {
        let nodes = vec![node(1, vec![]), node(2, vec![1]), node(3, vec![2])];
        let timings = spans(&[(1, 0, 5)]);
        assert_eq!(bounding_chain(&nodes, &timings), vec![1]);
        assert!(bounding_chain(&nodes, &BTreeMap::new()).is_empty());
    }

    #[test]
    fn the_line_names_each_step_with_its_time_and_the_total_against_the_wall() {
        let nodes = vec![node(1, vec![]), node(2, vec![1]), node(3, vec![])];
        let timings = spans(&[(1, 0, 12), (2, 15, 317), (3, 0, 4)]);
        let timeline = Timeline::new(&nodes, &timings, Duration::from_secs(320));
        assert_eq!(
            timeline.bounded_by_line().as_deref(),
            Some("bounded by: step 1 12s -> step 2 5m02s (total 5m14s of 5m20s wall)")
        );
        assert_eq!(timeline.steps.len(), 3);
        assert_eq!(timeline.bounded_by[1].started_ms, 15_000);
        assert_eq!(human(Duration::from_millis(200)), "0.2s");
    }
}

//! Runs a [`Plan`]: every step whose dependencies are done starts at once (so the two regions
//! proceed in parallel), outputs of finished steps are handed to later ones, and the first failure
//! stops new steps from starting while the running ones finish.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinSet;

use super::{Plan, StepId};
use crate::error::{Error, Result};
use crate::progress::{Event, Events, elapsed_ms};

/// What a finished step hands on: its output and a one-line summary for the progress view.
pub type StepResult<O> = Result<(O, String)>;

/// Runs `plan`, calling `run_step(id, outputs_so_far)` for each step once its dependencies are done.
pub async fn execute<O, F, Fut>(
    plan: &Plan,
    events: &Events,
    run_step: F,
) -> Result<BTreeMap<StepId, O>>
where
    O: Clone + Send + Sync + 'static,
    F: Fn(StepId, Arc<BTreeMap<StepId, O>>) -> Fut,
    Fut: Future<Output = StepResult<O>> + Send + 'static,
{
    plan.validate()?;
    let mut outputs: BTreeMap<StepId, O> = BTreeMap::new();
    let mut started: Vec<StepId> = Vec::new();
    let mut running = JoinSet::new();
    let mut failures: Vec<Error> = Vec::new();
    loop {
        if failures.is_empty() {
            for step in &plan.steps {
                let ready = !started.contains(&step.id)
                    && step
                        .depends_on
                        .iter()
                        .all(|dependency| outputs.contains_key(dependency));
                if !ready {
                    continue;
                }
                started.push(step.id);
                events.emit(Event::StepStarted {
                    step: step.label.clone(),
                });
                let future = run_step(step.id, Arc::new(outputs.clone()));
                let id = step.id;
                let label = step.label.clone();
                running.spawn(async move {
                    let clock = Instant::now();
                    (id, label, future.await, clock.elapsed())
                });
            }
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        let (id, label, result, elapsed) = joined.map_err(|error| {
            Error::config(
                format!("a deploy step crashed: {error}"),
                "this is a bug in mysfits; run again with -v and report the output",
            )
        })?;
        match result {
            Ok((output, summary)) => {
                events.emit(Event::StepFinished {
                    step: label,
                    summary,
                    elapsed_ms: elapsed_ms(elapsed),
                });
                outputs.insert(id, output);
            }
            Err(error) => {
                events.emit(Event::StepFailed {
                    step: label,
                    error: error.to_string(),
                });
                failures.push(error);
            }
        }
    }
    match failures.len() {
        0 => Ok(outputs),
        1 => Err(failures.remove(0)),
        _ => Err(Error::Many(failures)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;
    use crate::plan::Step;

    fn step(id: StepId, depends_on: Vec<StepId>) -> Step {
        Step {
            id,
            label: format!("{id:?}"),
            region: None,
            depends_on,
        }
    }

    const A: StepId = StepId::BuildImages;
    const B: StepId = StepId::SeedTable;
    const C: StepId = StepId::PushImages {
        role: crate::config::Role::Primary,
    };

    #[tokio::test]
    async fn independent_steps_overlap_and_dependents_see_outputs() {
        let plan = Plan {
            steps: vec![step(A, vec![]), step(B, vec![]), step(C, vec![A, B])],
        };
        let in_flight = Arc::new(Mutex::new((0usize, 0usize)));
        let outputs = execute(
            &plan,
            &Events::discard(),
            |id, done: Arc<BTreeMap<StepId, u32>>| {
                let in_flight = in_flight.clone();
                async move {
                    {
                        let mut counts = in_flight.lock().expect("lock");
                        counts.0 += 1;
                        counts.1 = counts.1.max(counts.0);
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    in_flight.lock().expect("lock").0 -= 1;
                    let value = match id {
                        C => done[&A] + done[&B],
                        A => 1,
                        _ => 2,
                    };
                    Ok((value, String::new()))
                }
            },
        )
        .await
        .expect("plan runs");
        assert_eq!(outputs[&C], 3);
        assert_eq!(
            in_flight.lock().expect("lock").1,
            2,
            "A and B must run at the same time"
        );
    }

    #[tokio::test]
    async fn a_failure_stops_dependents_and_is_reported() {
        let plan = Plan {
            steps: vec![step(A, vec![]), step(C, vec![A])],
        };
        let ran = Arc::new(Mutex::new(Vec::new()));
        let result = execute(
            &plan,
            &Events::discard(),
            |id, _done: Arc<BTreeMap<StepId, ()>>| {
                let ran = ran.clone();
                async move {
                    ran.lock().expect("lock").push(id);
                    Err(Error::config("build broke", "fix it"))
                }
            },
        )
        .await;
        assert!(
            result
                .expect_err("fails")
                .to_string()
                .contains("build broke")
        );
        assert_eq!(*ran.lock().expect("lock"), vec![A]);
    }
}

//! Group commit of likes. A like waits in this queue while a write of earlier likes is under
//! way; when that write ends, every like that waits meanwhile goes in the next one: one
//! `TransactWriteItems` (the control check once, `ADD Likes n` per mysfit) and one read back for
//! them all. An idle service writes a like at once, alone, as before; a busy one writes fewer,
//! larger transactions, so the CPU and the DynamoDB calls per like fall as the load rises
//! instead of requests queueing behind one write each (scripts/bench-services).
//!
//! One write at a time per task: likes of this task never conflict with one another on the
//! control item. A like is answered only once the write that counts it is done (or failed), with
//! that write's outcome: exactly what it would have been alone.

use std::collections::VecDeque;
use std::sync::Mutex;

use service_common::telemetry::RequestContext;
use tokio::sync::oneshot;

use crate::mysfit::Mysfit;
use crate::table::StoreError;

/// Mysfits per write: a transaction takes at most 100 actions, and one is the control check
/// (no two actions may be on the same item, so a mysfit liked several times is one `ADD`).
pub const MYSFITS_PER_WRITE: usize = 99;

/// The likes waiting for a write, and whether a writer is at work on them.
#[derive(Default)]
pub struct LikeQueue {
    state: Mutex<QueueState>,
}

#[derive(Default)]
struct QueueState {
    writing: bool,
    waiting: VecDeque<Waiter>,
}

/// One like waiting for its write.
pub struct Waiter {
    id: String,
    reply: oneshot::Sender<Result<Mysfit, StoreError>>,
    request: RequestContext,
}

impl Waiter {
    /// A like of mysfit `id` by the request being handled, and where its answer will arrive.
    pub fn new(id: &str) -> (Waiter, oneshot::Receiver<Result<Mysfit, StoreError>>) {
        let (reply, answer) = oneshot::channel();
        let waiter = Waiter {
            id: id.to_string(),
            reply,
            request: RequestContext::current(),
        };
        (waiter, answer)
    }
}

/// The likes of one write, grouped by mysfit in the order they came.
pub struct Batch {
    groups: Vec<(String, Vec<Waiter>)>,
}

impl Batch {
    /// Each mysfit of the write with how many likes it gets.
    pub fn likes(&self) -> Vec<(String, u64)> {
        self.groups
            .iter()
            .map(|(id, waiters)| (id.clone(), waiters.len() as u64))
            .collect()
    }

    /// The request the write is traced under: the first recorded one, else the first.
    pub fn request(&self) -> RequestContext {
        let mut requests = self
            .groups
            .iter()
            .flat_map(|(_, waiters)| waiters.iter().map(|waiter| &waiter.request));
        let first = self
            .groups
            .first()
            .and_then(|(_, waiters)| waiters.first())
            .map(|waiter| waiter.request.clone())
            .unwrap_or_else(RequestContext::current);
        requests
            .find(|request| request.is_recorded())
            .cloned()
            .unwrap_or(first)
    }

    /// Answers every like: `outcomes` are per mysfit, in the order of [`Batch::likes`]. A like
    /// whose request has gone (its caller hung up) is dropped quietly.
    pub fn answer(self, outcomes: Vec<Result<Mysfit, StoreError>>) {
        debug_assert_eq!(outcomes.len(), self.groups.len());
        for ((_, waiters), outcome) in self.groups.into_iter().zip(outcomes) {
            for waiter in waiters {
                let _ = waiter.reply.send(outcome.clone());
            }
        }
    }
}

impl LikeQueue {
    /// Queues a like; true when no writer is at work, so the caller must start one (which then
    /// takes batches with [`LikeQueue::next_batch`] until none is left).
    pub fn push(&self, waiter: Waiter) -> bool {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.waiting.push_back(waiter);
        !std::mem::replace(&mut state.writing, true)
    }

    /// The likes of the next write (at most [`MYSFITS_PER_WRITE`] mysfits, the earliest likes
    /// first), or `None` when nothing waits: the writer then stops, and the next like starts one.
    pub fn next_batch(&self) -> Option<Batch> {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.waiting.is_empty() {
            state.writing = false;
            return None;
        }
        let mut groups: Vec<(String, Vec<Waiter>)> = Vec::new();
        let mut later = VecDeque::new();
        for waiter in state.waiting.drain(..) {
            match groups.iter().position(|(id, _)| *id == waiter.id) {
                Some(group) => groups[group].1.push(waiter),
                None if groups.len() < MYSFITS_PER_WRITE => {
                    groups.push((waiter.id.clone(), vec![waiter]));
                }
                None => later.push_back(waiter),
            }
        }
        state.waiting = later;
        Some(Batch { groups })
    }

    /// Ends the writer without an answer for what waits (its task is going away: a panic): those
    /// likes fail as "outcome unknown" and the next like starts a new writer.
    pub fn abandon(&self) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.waiting.clear();
        state.writing = false;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn waiter(
        queue: &LikeQueue,
        id: &str,
    ) -> (bool, oneshot::Receiver<Result<Mysfit, StoreError>>) {
        let (waiter, answer) = Waiter::new(id);
        (queue.push(waiter), answer)
    }

    #[test]
    fn the_first_like_starts_the_writer_and_the_writer_stops_when_nothing_waits() {
        let queue = LikeQueue::default();
        let (starts, _a) = waiter(&queue, "gloam");
        assert!(starts);
        let (starts, _b) = waiter(&queue, "gloam");
        assert!(!starts, "a writer is at work");
        let batch = queue.next_batch().unwrap();
        assert_eq!(batch.likes(), vec![("gloam".to_string(), 2)]);
        assert!(queue.next_batch().is_none());
        let (starts, _c) = waiter(&queue, "gloam");
        assert!(starts, "the writer stopped, so the next like starts one");
    }

    #[test]
    fn likes_group_by_mysfit_in_order_and_a_write_holds_at_most_99_mysfits() {
        let queue = LikeQueue::default();
        let mut answers = Vec::new();
        for round in 0..2 {
            for index in 0..120 {
                let (_, answer) = waiter(&queue, &format!("m{index:03}"));
                answers.push((round, index, answer));
            }
        }
        let first = queue.next_batch().unwrap();
        let likes = first.likes();
        assert_eq!(likes.len(), MYSFITS_PER_WRITE);
        assert_eq!(likes[0], ("m000".to_string(), 2));
        assert_eq!(likes[98], ("m098".to_string(), 2));
        let second = queue.next_batch().unwrap();
        assert_eq!(second.likes().len(), 21);
        assert_eq!(second.likes()[0], ("m099".to_string(), 2));
        assert!(queue.next_batch().is_none());
    }

    #[tokio::test]
    async fn every_like_of_a_mysfit_gets_its_mysfits_outcome() {
        let queue = LikeQueue::default();
        let (_, first) = waiter(&queue, "gloam");
        let (_, second) = waiter(&queue, "nobody");
        let (_, third) = waiter(&queue, "gloam");
        let batch = queue.next_batch().unwrap();
        let gloam = Mysfit {
            likes: 7,
            ..crate::catalogue::seed_items()
                .into_iter()
                .find(|mysfit| mysfit.id == "gloam")
                .unwrap()
        };
        batch.answer(vec![
            Ok(gloam.clone()),
            Err(StoreError::NotFound {
                id: "nobody".into(),
            }),
        ]);
        assert_eq!(first.await.unwrap(), Ok(gloam.clone()));
        assert_eq!(
            second.await.unwrap(),
            Err(StoreError::NotFound {
                id: "nobody".into()
            })
        );
        assert_eq!(third.await.unwrap(), Ok(gloam));
    }

    #[test]
    fn an_abandoned_writer_fails_what_waits_and_lets_the_next_like_start_one() {
        let queue = LikeQueue::default();
        let (_, mut answer) = waiter(&queue, "gloam");
        queue.abandon();
        assert!(
            answer.try_recv().is_err(),
            "no answer: the like's outcome is unknown"
        );
        let (starts, _) = waiter(&queue, "gloam");
        assert!(starts);
    }
}

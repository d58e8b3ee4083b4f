//! The work queue of every controller, as client-go's (`util/workqueue`: the plain queue with
//! its dirty and processing sets, and the delaying queue behind `AddAfter`):
//!
//! - keys are served first in, first out;
//! - a key added while it waits is not queued twice;
//! - a key added while its sync runs is queued again once that sync is done, at the back: no
//!   key is synced twice at once, and none is passed over by keys that came after it;
//! - `add_after` queues a key once its delay is over; of several delays for the same key the
//!   one that ends first wins, and an `add` in the meantime does not cancel it.
//!
//! kube-runtime's Controller, which minik8s used before, hands out the keys that became due
//! while all its workers were busy in the order of a hash set. Under load a few objects then
//! waited several rounds while others were served again and again: the endpoints benchmark's
//! long tail at the client's rate limit.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

pub struct WorkQueue<T> {
    state: Mutex<State<T>>,
    /// Wakes workers waiting in [`WorkQueue::get`].
    queued: Notify,
    /// Wakes [`WorkQueue::run_timers`] when a delay that ends sooner is added, or at shutdown.
    timers_changed: Notify,
}

struct State<T> {
    queue: VecDeque<T>,
    /// Keys to be synced: those in `queue`, and those added again while their sync runs.
    dirty: HashSet<T>,
    /// Keys whose sync runs.
    processing: HashSet<T>,
    /// Delayed keys by when they are due (the sequence number keeps equal instants apart),
    /// and each delayed key's entry there.
    timers: BTreeMap<(Instant, u64), T>,
    delayed: HashMap<T, (Instant, u64)>,
    sequence: u64,
    shutting_down: bool,
}

impl<T: Clone + Eq + Hash> Default for WorkQueue<T> {
    fn default() -> Self {
        Self {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                dirty: HashSet::new(),
                processing: HashSet::new(),
                timers: BTreeMap::new(),
                delayed: HashMap::new(),
                sequence: 0,
                shutting_down: false,
            }),
            queued: Notify::new(),
            timers_changed: Notify::new(),
        }
    }
}

impl<T: Clone + Eq + Hash> WorkQueue<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        self.state.lock().expect("work queue lock")
    }

    /// Queues `key` unless it is queued already (client-go `Add`).
    pub fn add(&self, key: T) {
        if self.lock().add(key) {
            self.queued.notify_one();
        }
    }

    /// Queues `key` once `delay` is over (client-go `AddAfter`).
    pub fn add_after(&self, key: T, delay: Duration) {
        if delay.is_zero() {
            return self.add(key);
        }
        let due = Instant::now() + delay;
        let mut state = self.lock();
        if state.shutting_down {
            return;
        }
        if let Some(&(already, sequence)) = state.delayed.get(&key) {
            if already <= due {
                return;
            }
            state.timers.remove(&(already, sequence));
        }
        state.sequence += 1;
        let entry = (due, state.sequence);
        state.timers.insert(entry, key.clone());
        state.delayed.insert(key, entry);
        let soonest = state.timers.first_key_value().map(|(at, _)| *at) == Some(entry);
        drop(state);
        if soonest {
            self.timers_changed.notify_one();
        }
    }

    /// The next key to sync, marked as being processed until [`WorkQueue::done`]; None once
    /// the queue is shut down (client-go `Get`).
    pub async fn get(&self) -> Option<T> {
        loop {
            let notified = self.queued.notified();
            tokio::pin!(notified);
            // Registered before the state is read, so that an add in between is not missed.
            notified.as_mut().enable();
            {
                let mut state = self.lock();
                if state.shutting_down {
                    return None;
                }
                if let Some(key) = state.queue.pop_front() {
                    state.dirty.remove(&key);
                    state.processing.insert(key.clone());
                    return Some(key);
                }
            }
            notified.await;
        }
    }

    /// The sync of `key` has ended: if it was added meanwhile, it is queued again.
    pub fn done(&self, key: &T) {
        let mut state = self.lock();
        state.processing.remove(key);
        if state.dirty.contains(key) && !state.shutting_down {
            state.queue.push_back(key.clone());
            drop(state);
            self.queued.notify_one();
        }
    }

    /// Keys waiting to be synced (client-go's `workqueue_depth`).
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops handing out keys: workers waiting in `get` and those that ask later get None;
    /// syncs that run may finish. Delayed keys are dropped.
    pub fn shut_down(&self) {
        let mut state = self.lock();
        state.shutting_down = true;
        state.timers.clear();
        state.delayed.clear();
        drop(state);
        self.queued.notify_waiters();
        self.timers_changed.notify_one();
    }

    /// Queues delayed keys as their delays end, until the queue is shut down.
    pub async fn run_timers(&self) {
        loop {
            let next = {
                let mut state = self.lock();
                if state.shutting_down {
                    return;
                }
                let now = Instant::now();
                let mut queued = 0;
                while let Some(entry) = state.timers.first_entry() {
                    if entry.key().0 > now {
                        break;
                    }
                    let key = entry.remove();
                    state.delayed.remove(&key);
                    queued += usize::from(state.add(key));
                }
                for _ in 0..queued {
                    self.queued.notify_one();
                }
                state.timers.first_key_value().map(|((at, _), _)| *at)
            };
            match next {
                Some(at) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = self.timers_changed.notified() => {}
                    }
                }
                None => self.timers_changed.notified().await,
            }
        }
    }
}

impl<T: Clone + Eq + Hash> State<T> {
    /// Returns whether `key` went into the queue (a worker may take it).
    fn add(&mut self, key: T) -> bool {
        if self.shutting_down || self.dirty.contains(&key) {
            return false;
        }
        self.dirty.insert(key.clone());
        if self.processing.contains(&key) {
            return false;
        }
        self.queue.push_back(key);
        true
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn drain(queue: &WorkQueue<&'static str>) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut state = queue.lock();
        while let Some(key) = state.queue.pop_front() {
            state.dirty.remove(&key);
            out.push(key);
        }
        out
    }

    #[tokio::test]
    async fn keys_are_served_in_the_order_they_came_and_queued_once() {
        let queue = WorkQueue::default();
        for key in ["c", "a", "b", "a", "c", "d"] {
            queue.add(key);
        }
        assert_eq!(queue.len(), 4);
        assert_eq!(drain(&queue), ["c", "a", "b", "d"]);
    }

    #[tokio::test]
    async fn a_key_added_during_its_sync_waits_for_it_then_goes_to_the_back() {
        let queue = WorkQueue::default();
        queue.add("a");
        queue.add("b");
        let a = queue.get().await.unwrap();
        queue.add("a");
        queue.add("c");
        // "a" is not handed to a second worker while its sync runs.
        assert_eq!(queue.get().await, Some("b"));
        assert_eq!(queue.get().await, Some("c"));
        queue.done(&a);
        assert_eq!(queue.get().await, Some("a"));
        queue.done(&"a");
        assert!(queue.is_empty());
        // Done without a new add: the key is not queued again.
        queue.add("d");
        let d = queue.get().await.unwrap();
        queue.done(&d);
        assert!(queue.is_empty());
    }

    #[tokio::test]
    async fn a_waiting_worker_is_woken_by_an_add() {
        let queue = Arc::new(WorkQueue::default());
        let worker = tokio::spawn({
            let queue = queue.clone();
            async move { queue.get().await }
        });
        tokio::task::yield_now().await;
        queue.add("a");
        assert_eq!(worker.await.unwrap(), Some("a"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_delayed_key_comes_when_its_earliest_delay_ends() {
        let queue = Arc::new(WorkQueue::default());
        let timers = tokio::spawn({
            let queue = queue.clone();
            async move { queue.run_timers().await }
        });
        let start = Instant::now();
        queue.add_after("a", Duration::from_secs(10));
        queue.add_after("a", Duration::from_secs(3));
        queue.add_after("a", Duration::from_secs(5));
        queue.add_after("b", Duration::from_secs(4));
        assert_eq!(queue.get().await, Some("a"));
        assert_eq!(start.elapsed(), Duration::from_secs(3));
        assert_eq!(queue.get().await, Some("b"));
        assert_eq!(start.elapsed(), Duration::from_secs(4));
        // The later delays of "a" were dropped for the earliest one.
        queue.done(&"a");
        tokio::time::sleep(Duration::from_secs(20)).await;
        assert!(queue.is_empty());
        queue.shut_down();
        timers.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn an_add_does_not_cancel_a_delay() {
        let queue = Arc::new(WorkQueue::default());
        tokio::spawn({
            let queue = queue.clone();
            async move { queue.run_timers().await }
        });
        let start = Instant::now();
        queue.add_after("a", Duration::from_secs(2));
        queue.add("a");
        assert_eq!(queue.get().await, Some("a"));
        queue.done(&"a");
        assert_eq!(queue.get().await, Some("a"));
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test]
    async fn shutting_down_releases_waiting_workers_and_refuses_keys() {
        let queue = Arc::new(WorkQueue::<&str>::default());
        let worker = tokio::spawn({
            let queue = queue.clone();
            async move { queue.get().await }
        });
        tokio::task::yield_now().await;
        queue.shut_down();
        assert_eq!(worker.await.unwrap(), None);
        queue.add("a");
        assert_eq!(queue.get().await, None);
    }
}

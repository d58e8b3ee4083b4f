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
//! A queue made with [`WorkQueue::named`] keeps client-go's `workqueue_*` metrics under that
//! name, with client-go's meaning: depth counts the keys added and not yet taken (one added
//! again while its sync runs included), the queue duration runs from a key's add to a worker
//! taking it, the work duration from then to `done`, and retries count `add_rate_limited`.
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

use crate::runtime::metrics::QueueMetrics;

pub struct WorkQueue<T> {
    state: Mutex<State<T>>,
    metrics: Option<QueueMetrics>,
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
    /// When each dirty key was added, and when each key's sync began (for the metrics).
    added_at: HashMap<T, Instant>,
    started_at: HashMap<T, Instant>,
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
                added_at: HashMap::new(),
                started_at: HashMap::new(),
            }),
            metrics: None,
            queued: Notify::new(),
            timers_changed: Notify::new(),
        }
    }
}

impl<T: Clone + Eq + Hash> WorkQueue<T> {
    /// A queue whose `workqueue_*` metrics carry `name`.
    pub fn named(name: &str) -> Self {
        Self {
            metrics: Some(crate::runtime::metrics::global().work_queue(name)),
            ..Self::default()
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        self.state.lock().expect("work queue lock")
    }

    /// Queues `key` unless it is queued already (client-go `Add`).
    pub fn add(&self, key: T) {
        if self.lock().add(key, self.metrics.as_ref()) {
            self.queued.notify_one();
        }
    }

    /// Queues `key` again after a failed sync, once `delay` is over (client-go
    /// `AddRateLimited`, the delay being the caller's backoff).
    pub fn add_rate_limited(&self, key: T, delay: Duration) {
        if let Some(metrics) = &self.metrics {
            metrics.retries.inc();
        }
        self.add_after(key, delay);
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
                    if let Some(metrics) = &self.metrics {
                        let now = Instant::now();
                        metrics.depth.dec();
                        if let Some(added) = state.added_at.remove(&key) {
                            metrics.queue_seconds.observe((now - added).as_secs_f64());
                        }
                        state.started_at.insert(key.clone(), now);
                    }
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
        if let (Some(metrics), Some(started)) = (&self.metrics, state.started_at.remove(key)) {
            metrics
                .work_seconds
                .observe(started.elapsed().as_secs_f64());
        }
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
                    queued += usize::from(state.add(key, self.metrics.as_ref()));
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
    fn add(&mut self, key: T, metrics: Option<&QueueMetrics>) -> bool {
        if self.shutting_down || self.dirty.contains(&key) {
            return false;
        }
        if let Some(metrics) = metrics {
            metrics.adds.inc();
            metrics.depth.inc();
            self.added_at
                .entry(key.clone())
                .or_insert_with(Instant::now);
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

    /// A sample of the process's metrics text, as a number.
    fn sample(line_start: &str) -> f64 {
        let text = crate::runtime::metrics::global().encode();
        text.lines()
            .find_map(|l| l.strip_prefix(line_start)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {line_start} in\n{text}"))
    }

    /// client-go's `workqueue_*` metrics: adds and depth count keys, not repeated adds; taking
    /// a key observes its wait, `done` its work; a rate-limited add is a retry.
    #[tokio::test]
    async fn a_named_queue_keeps_client_gos_metrics() {
        let queue = WorkQueue::named("queue-metrics-test");
        let name = r#"{name="queue-metrics-test"}"#;
        queue.add("a");
        queue.add("a");
        queue.add("b");
        assert_eq!(sample(&format!("workqueue_adds_total{name}")), 2.0);
        assert_eq!(sample(&format!("workqueue_depth{name}")), 2.0);
        let key = queue.get().await.unwrap();
        assert_eq!(sample(&format!("workqueue_depth{name}")), 1.0);
        assert_eq!(
            sample(&format!("workqueue_queue_duration_seconds_count{name}")),
            1.0
        );
        // Added again while its sync runs: it counts as waiting until taken again.
        queue.add(key);
        assert_eq!(sample(&format!("workqueue_depth{name}")), 2.0);
        queue.done(&key);
        assert_eq!(
            sample(&format!("workqueue_work_duration_seconds_count{name}")),
            1.0
        );
        queue.add_rate_limited("c", Duration::from_secs(60));
        assert_eq!(sample(&format!("workqueue_retries_total{name}")), 1.0);
        assert_eq!(sample(&format!("workqueue_adds_total{name}")), 3.0);
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

    /// A batch period (`driver::Watch::delay_triggers`): the triggers of one key within it
    /// are served by one sync after it, and the next trigger opens a new one.
    #[tokio::test(start_paused = true)]
    async fn within_a_batch_period_a_keys_triggers_are_served_once_after_it() {
        let queue = Arc::new(WorkQueue::default());
        tokio::spawn({
            let queue = queue.clone();
            async move { queue.run_timers().await }
        });
        let period = Duration::from_millis(100);
        queue.add_after("web", period);
        tokio::time::sleep(Duration::from_millis(60)).await;
        queue.add_after("web", period);
        queue.add_after("web", period);
        tokio::time::sleep(Duration::from_millis(39)).await;
        assert!(queue.is_empty(), "nothing before the period ends");
        tokio::time::sleep(Duration::from_millis(2)).await;
        assert_eq!(drain(&queue), ["web"], "one sync for the three triggers");
        // The next trigger opens a new period.
        queue.add_after("web", period);
        tokio::time::sleep(Duration::from_millis(101)).await;
        assert_eq!(drain(&queue), ["web"]);
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

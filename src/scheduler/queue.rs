//! The scheduling queue (upstream `internal/queue.PriorityQueue`), pure: time is passed in.
//!
//! - activeQ: pods ready to be tried, highest priority first, then the longest waiting
//!   (upstream's PrioritySort).
//! - backoffQ: pods that failed, until their backoff (1 s doubling per attempt, at most
//!   10 s) has passed.
//! - unschedulable pods: pods no node fitted, until a cluster event may have made room
//!   ([`Queue::move_all`]) or they have waited 5 minutes ([`Queue::flush_unschedulable`]).
//!   A pod that failed while such an event happened during its attempt goes to backoffQ
//!   instead, so that the event is not missed.

use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::pod::Pod;

pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Upstream `podMaxInUnschedulablePodsDuration`.
pub const MAX_UNSCHEDULABLE: Duration = Duration::from_secs(300);

/// A pod in the queue, as an attempt gets it.
#[derive(Clone, Debug)]
pub struct QueuedPod {
    pub pod: Arc<Pod>,
    /// `namespace/name`
    pub key: String,
    /// Attempts so far.
    pub attempts: u32,
    /// When it entered activeQ last (PrioritySort's tiebreak).
    pub timestamp: Instant,
    /// When it was first queued.
    pub initial: Instant,
    /// Until when it backs off, after a failure.
    pub backoff_until: Option<Instant>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Active,
    Backoff,
    Unschedulable(Instant),
    /// Popped for an attempt that has not finished.
    InFlight,
}

/// Ordering key of activeQ: priority (higher first), then timestamp (earlier first), then
/// key for a stable order.
type ActiveKey = (Reverse<i32>, Instant, String);

#[derive(Default)]
pub struct Queue {
    pods: HashMap<String, (QueuedPod, Place)>,
    active: BTreeSet<ActiveKey>,
    backoff: BTreeSet<(Instant, String)>,
    /// The unschedulable pods' keys, so that an event costs what waits, not every pod.
    waiting: BTreeSet<String>,
    /// Attempts started (upstream `schedulingCycle`).
    cycle: u64,
    /// The cycle during which the last move request came (upstream `moveRequestCycle`).
    move_request_cycle: u64,
}

pub fn priority(pod: &Pod) -> i32 {
    pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)
}

/// Upstream `calculateBackoffDuration`: 1 s, doubled per attempt after the first, at most
/// 10 s.
pub fn backoff_for(attempts: u32) -> Duration {
    let mut backoff = INITIAL_BACKOFF;
    for _ in 1..attempts {
        backoff = backoff.saturating_mul(2);
        if backoff >= MAX_BACKOFF {
            return MAX_BACKOFF;
        }
    }
    backoff
}

impl Queue {
    fn active_key(entry: &QueuedPod) -> ActiveKey {
        (
            Reverse(priority(&entry.pod)),
            entry.timestamp,
            entry.key.clone(),
        )
    }

    fn place(&mut self, mut entry: QueuedPod, place: Place) {
        match place {
            Place::Active => {
                self.active.insert(Self::active_key(&entry));
            }
            Place::Backoff => {
                let until = entry.backoff_until.get_or_insert(entry.timestamp);
                self.backoff.insert((*until, entry.key.clone()));
            }
            Place::Unschedulable(_) => {
                self.waiting.insert(entry.key.clone());
            }
            Place::InFlight => {}
        }
        self.pods.insert(entry.key.clone(), (entry, place));
    }

    fn unplace(&mut self, key: &str) -> Option<(QueuedPod, Place)> {
        let (entry, place) = self.pods.remove(key)?;
        match place {
            Place::Active => {
                self.active.remove(&Self::active_key(&entry));
            }
            Place::Backoff => {
                if let Some(until) = entry.backoff_until {
                    self.backoff.remove(&(until, entry.key.clone()));
                }
            }
            Place::Unschedulable(_) => {
                self.waiting.remove(&entry.key);
            }
            Place::InFlight => {}
        }
        Some((entry, place))
    }

    /// A new pending pod (upstream `Add`).
    pub fn add(&mut self, key: String, pod: Arc<Pod>, now: Instant) {
        if self.pods.contains_key(&key) {
            self.update(&key, pod, now);
            return;
        }
        let entry = QueuedPod {
            pod,
            key,
            attempts: 0,
            timestamp: now,
            initial: now,
            backoff_until: None,
        };
        self.place(entry, Place::Active);
    }

    /// A pending pod changed (upstream `Update`): the new version is kept; an unschedulable
    /// pod whose spec changed is tried again (it may fit now).
    pub fn update(&mut self, key: &str, pod: Arc<Pod>, now: Instant) {
        let Some((mut entry, place)) = self.unplace(key) else {
            self.add(key.to_string(), pod, now);
            return;
        };
        let spec_changed =
            entry.pod.spec != pod.spec || entry.pod.metadata.labels != pod.metadata.labels;
        entry.pod = pod;
        let place = match place {
            Place::Unschedulable(_) if spec_changed => self.after_wait(&mut entry, now),
            other => other,
        };
        self.place(entry, place);
    }

    /// The pod was deleted or bound by someone else.
    pub fn delete(&mut self, key: &str) {
        self.unplace(key);
    }

    /// Where a pod leaving the unschedulable pods goes: backoffQ while it backs off, else
    /// activeQ.
    fn after_wait(&self, entry: &mut QueuedPod, now: Instant) -> Place {
        match entry.backoff_until {
            Some(until) if until > now => Place::Backoff,
            _ => {
                entry.timestamp = now;
                Place::Active
            }
        }
    }

    /// Moves pods whose backoff has passed to activeQ.
    fn flush_backoff(&mut self, now: Instant) {
        while let Some((until, key)) = self.backoff.first().cloned() {
            if until > now {
                break;
            }
            self.backoff.remove(&(until, key.clone()));
            if let Some((entry, place)) = self.pods.get_mut(&key) {
                *place = Place::Active;
                entry.timestamp = until;
                let active = Self::active_key(entry);
                self.active.insert(active);
            }
        }
    }

    /// The next pod to try, if any is ready (upstream `Pop`). It stays known to the queue
    /// until [`Queue::done`], [`Queue::unschedulable`] or [`Queue::failed`].
    pub fn pop(&mut self, now: Instant) -> Option<QueuedPod> {
        self.flush_backoff(now);
        let first = self.active.pop_first()?;
        let (entry, place) = self.pods.get_mut(&first.2)?;
        *place = Place::InFlight;
        entry.attempts += 1;
        self.cycle += 1;
        Some(entry.clone())
    }

    /// The attempt number of the last pop (upstream `SchedulingCycle`).
    pub fn cycle(&self) -> u64 {
        self.cycle
    }

    /// The pod was placed (or is being bound): the queue forgets it.
    pub fn done(&mut self, key: &str) {
        if matches!(self.pods.get(key), Some((_, Place::InFlight))) {
            self.pods.remove(key);
        }
    }

    /// No node fitted in the attempt of `cycle` (upstream `AddUnschedulableIfNotPresent`).
    pub fn unschedulable(&mut self, key: &str, cycle: u64, now: Instant) {
        if !matches!(self.pods.get(key), Some((_, Place::InFlight))) {
            return;
        }
        let Some((mut entry, _)) = self.pods.remove(key) else {
            return;
        };
        entry.backoff_until = Some(now + backoff_for(entry.attempts));
        entry.timestamp = now;
        let place = if self.move_request_cycle >= cycle {
            Place::Backoff
        } else {
            Place::Unschedulable(now)
        };
        self.place(entry, place);
    }

    /// The attempt failed for another reason (an API error while binding): retried after
    /// its backoff.
    pub fn failed(&mut self, key: &str, now: Instant) {
        if !matches!(self.pods.get(key), Some((_, Place::InFlight))) {
            return;
        }
        let Some((mut entry, _)) = self.pods.remove(key) else {
            return;
        };
        entry.backoff_until = Some(now + backoff_for(entry.attempts));
        entry.timestamp = now;
        self.place(entry, Place::Backoff);
    }

    /// A cluster event that may make unschedulable pods fit (a node added or changed, a pod
    /// deleted or moved): every unschedulable pod is tried again (upstream
    /// `MoveAllToActiveOrBackoffQueue`).
    pub fn move_all(&mut self, now: Instant) {
        self.move_request_cycle = self.cycle;
        let waiting = std::mem::take(&mut self.waiting);
        for key in waiting {
            if let Some((mut entry, _)) = self.pods.remove(&key) {
                let place = self.after_wait(&mut entry, now);
                self.place(entry, place);
            }
        }
    }

    /// Pods unschedulable for 5 minutes are tried again (upstream
    /// `flushUnschedulablePodsLeftover`).
    pub fn flush_unschedulable(&mut self, now: Instant) {
        let stale: Vec<String> = self
            .waiting
            .iter()
            .filter(|key| {
                matches!(self.pods.get(*key), Some((_, Place::Unschedulable(since))) if now.duration_since(*since) >= MAX_UNSCHEDULABLE)
            })
            .cloned()
            .collect();
        for key in stale {
            self.waiting.remove(&key);
            if let Some((mut entry, _)) = self.pods.remove(&key) {
                let place = self.after_wait(&mut entry, now);
                self.place(entry, place);
            }
        }
    }

    /// When the next backoff ends, to wake up for it.
    pub fn next_backoff(&self) -> Option<Instant> {
        self.backoff.first().map(|(until, _)| *until)
    }

    /// (active, backoff, unschedulable) counts, for metrics and tests.
    pub fn lengths(&self) -> (usize, usize, usize) {
        (self.active.len(), self.backoff.len(), self.waiting.len())
    }

    pub fn contains(&self, key: &str) -> bool {
        self.pods.contains_key(key)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(name: &str, priority: i32) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": "ns"},
                "spec": {"containers": [], "priority": priority}
            }))
            .unwrap(),
        )
    }

    fn key(name: &str) -> String {
        format!("ns/{name}")
    }

    #[test]
    fn higher_priority_first_then_the_longest_waiting() {
        let t = Instant::now();
        let mut q = Queue::default();
        q.add(key("low"), pod("low", 0), t);
        q.add(key("high"), pod("high", 10), t + Duration::from_millis(2));
        q.add(key("low2"), pod("low2", 0), t + Duration::from_millis(1));
        let order: Vec<String> = std::iter::from_fn(|| q.pop(t + Duration::from_secs(1)))
            .map(|p| p.key)
            .collect();
        assert_eq!(order, [key("high"), key("low"), key("low2")]);
    }

    /// Upstream `TestBackOffFlow`: 1 s, 2 s, 4 s, 8 s, then 10 s.
    #[test]
    fn backoff_doubles_to_ten_seconds() {
        let got: Vec<u64> = (1..=6).map(|a| backoff_for(a).as_secs()).collect();
        assert_eq!(got, [1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn an_unschedulable_pod_waits_for_an_event_then_its_backoff() {
        let t = Instant::now();
        let mut q = Queue::default();
        q.add(key("a"), pod("a", 0), t);
        let popped = q.pop(t).unwrap();
        q.unschedulable(&popped.key, q.cycle(), t);
        assert_eq!(q.lengths(), (0, 0, 1));
        assert!(
            q.pop(t + Duration::from_secs(30)).is_none(),
            "waits for an event"
        );
        // An event within the backoff: to backoffQ, out after 1 s.
        q.move_all(t + Duration::from_millis(500));
        assert_eq!(q.lengths(), (0, 1, 0));
        assert!(q.pop(t + Duration::from_millis(900)).is_none());
        let again = q.pop(t + Duration::from_millis(1000)).unwrap();
        assert_eq!(again.attempts, 2);
    }

    #[test]
    fn an_event_during_the_attempt_is_not_missed() {
        let t = Instant::now();
        let mut q = Queue::default();
        q.add(key("a"), pod("a", 0), t);
        let popped = q.pop(t).unwrap();
        let cycle = q.cycle();
        q.move_all(t); // a node was added while the pod was being tried
        q.unschedulable(&popped.key, cycle, t);
        assert_eq!(q.lengths(), (0, 1, 0));
    }

    #[test]
    fn unschedulable_pods_are_retried_after_five_minutes() {
        let t = Instant::now();
        let mut q = Queue::default();
        q.add(key("a"), pod("a", 0), t);
        q.pop(t).unwrap();
        q.unschedulable(&key("a"), q.cycle(), t);
        q.flush_unschedulable(t + Duration::from_secs(299));
        assert_eq!(q.lengths(), (0, 0, 1));
        q.flush_unschedulable(t + MAX_UNSCHEDULABLE);
        assert_eq!(q.lengths(), (1, 0, 0));
    }

    #[test]
    fn a_changed_unschedulable_pod_is_tried_again_and_a_deleted_one_forgotten() {
        let t = Instant::now();
        let mut q = Queue::default();
        q.add(key("a"), pod("a", 0), t);
        q.pop(t).unwrap();
        q.unschedulable(&key("a"), q.cycle(), t);
        q.update(&key("a"), pod("a", 5), t + Duration::from_secs(2));
        assert_eq!(q.lengths(), (1, 0, 0));
        q.delete(&key("a"));
        assert_eq!(q.lengths(), (0, 0, 0));
        assert!(!q.contains(&key("a")));
    }

    #[test]
    fn a_failed_binding_backs_off() {
        let t = Instant::now();
        let mut q = Queue::default();
        q.add(key("a"), pod("a", 0), t);
        q.pop(t).unwrap();
        q.failed(&key("a"), t);
        assert_eq!(q.next_backoff(), Some(t + INITIAL_BACKOFF));
        assert!(q.pop(t + INITIAL_BACKOFF).is_some());
        q.done(&key("a"));
        assert_eq!(q.lengths(), (0, 0, 0));
    }
}

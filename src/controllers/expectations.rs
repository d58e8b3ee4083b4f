//! Expectations: what a controller has asked the API server to do and not yet seen in its
//! informer cache. The cache lags behind the controller's own writes; without this guard the
//! next sync would see stale counts and create or delete pods twice.
//!
//! As upstream (`UIDTrackingControllerExpectations`): creations are counted, deletions are
//! tracked by pod key so each one is observed once, whether it shows up as a
//! deletionTimestamp or as the delete event. An expectation older than five minutes is
//! considered satisfied, so a lost event cannot wedge a controller.
//!
//! An owner's entry lives until the owner is gone: as upstream's `DeleteExpectations` in the
//! ReplicaSet delete handler, the controller drops it when it sees the deletion, when a sync
//! finds the owner gone, and after a relist for owners that vanished unseen.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus_client::metrics::gauge::Gauge;

/// How long an unfulfilled expectation blocks its owner (upstream `ExpectationsTimeout`).
pub const TIMEOUT: Duration = Duration::from_secs(5 * 60);

#[derive(Debug)]
struct Expectation {
    adds: i64,
    deletes: HashSet<String>,
    set_at: Instant,
}

/// Expectations of every owner, keyed by `namespace/name`.
#[derive(Debug, Default)]
pub struct Expectations {
    owners: Mutex<HashMap<String, Expectation>>,
    /// Moved by every entry added or dropped (a detached gauge unless
    /// [`Expectations::reported_as`]).
    entries: Gauge,
}

impl Expectations {
    /// Expectations whose entries are counted in `controller`'s gauge in /metrics.
    pub fn reported_as(controller: &str) -> Self {
        Self {
            owners: Mutex::default(),
            entries: crate::runtime::metrics::global().expectations_entries(controller),
        }
    }

    /// True when the owner may create or delete pods again: nothing pending, or the
    /// expectation expired.
    pub fn satisfied(&self, owner: &str, now: Instant) -> bool {
        let owners = self.owners.lock().expect("expectations lock");
        owners.get(owner).is_none_or(|e| {
            (e.adds <= 0 && e.deletes.is_empty()) || now.duration_since(e.set_at) > TIMEOUT
        })
    }

    /// About to create `count` pods: replaces the owner's expectations.
    pub fn expect_creations(&self, owner: &str, count: usize, now: Instant) {
        self.set(owner, count as i64, HashSet::new(), now);
    }

    /// About to delete these pods (keys `namespace/name`): replaces the owner's expectations.
    pub fn expect_deletions(
        &self,
        owner: &str,
        pods: impl IntoIterator<Item = String>,
        now: Instant,
    ) {
        self.set(owner, 0, pods.into_iter().collect(), now);
    }

    fn set(&self, owner: &str, adds: i64, deletes: HashSet<String>, now: Instant) {
        let mut owners = self.owners.lock().expect("expectations lock");
        let previous = owners.insert(
            owner.to_owned(),
            Expectation {
                adds,
                deletes,
                set_at: now,
            },
        );
        if previous.is_none() {
            self.entries.inc();
        }
    }

    /// A pod of the owner appeared, or a creation was abandoned.
    pub fn creation_observed(&self, owner: &str) {
        let mut owners = self.owners.lock().expect("expectations lock");
        if let Some(e) = owners.get_mut(owner) {
            e.adds -= 1;
        }
    }

    /// A pod of the owner is gone or going. Counts only for pods the owner is waiting for.
    pub fn deletion_observed(&self, owner: &str, pod: &str) {
        let mut owners = self.owners.lock().expect("expectations lock");
        if let Some(e) = owners.get_mut(owner) {
            e.deletes.remove(pod);
        }
    }

    /// The owner is gone (upstream `DeleteExpectations`).
    pub fn forget(&self, owner: &str) {
        let removed = self.owners.lock().expect("expectations lock").remove(owner);
        if removed.is_some() {
            self.entries.dec();
        }
    }

    /// Keeps only the owners that `live` accepts (after a relist, which may have hidden
    /// deletions).
    pub fn retain(&self, live: impl Fn(&str) -> bool) {
        let mut owners = self.owners.lock().expect("expectations lock");
        let before = owners.len();
        owners.retain(|owner, _| live(owner));
        self.entries.dec_by((before - owners.len()) as i64);
    }

    /// Number of owners with an entry.
    pub fn len(&self) -> usize {
        self.owners.lock().expect("expectations lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for Expectations {
    /// The gauge adds up every instance: take this one's entries out of it.
    fn drop(&mut self) {
        let left = self.owners.get_mut().map_or(0, |o| o.len());
        self.entries.dec_by(left as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_owners_are_satisfied() {
        assert!(Expectations::default().satisfied("ns/rs", Instant::now()));
    }

    #[test]
    fn creations_are_counted_down() {
        let e = Expectations::default();
        let now = Instant::now();
        e.expect_creations("ns/rs", 2, now);
        assert!(!e.satisfied("ns/rs", now));
        e.creation_observed("ns/rs");
        assert!(!e.satisfied("ns/rs", now));
        e.creation_observed("ns/rs");
        assert!(e.satisfied("ns/rs", now));
        // Extra observations (a pod adopted, say) never make it unsatisfied again.
        e.creation_observed("ns/rs");
        assert!(e.satisfied("ns/rs", now));
    }

    #[test]
    fn each_deletion_counts_once_and_only_for_expected_pods() {
        let e = Expectations::default();
        let now = Instant::now();
        e.expect_deletions("ns/rs", ["ns/a".to_string(), "ns/b".to_string()], now);
        e.deletion_observed("ns/rs", "ns/a");
        e.deletion_observed("ns/rs", "ns/a"); // deletionTimestamp, then the delete event
        e.deletion_observed("ns/rs", "ns/other");
        assert!(!e.satisfied("ns/rs", now));
        e.deletion_observed("ns/rs", "ns/b");
        assert!(e.satisfied("ns/rs", now));
    }

    #[test]
    fn expectations_expire_after_five_minutes() {
        let e = Expectations::default();
        let then = Instant::now();
        e.expect_creations("ns/rs", 1, then);
        assert!(!e.satisfied("ns/rs", then + TIMEOUT));
        assert!(e.satisfied("ns/rs", then + TIMEOUT + Duration::from_millis(1)));
    }

    #[test]
    fn setting_replaces_and_forget_clears() {
        let e = Expectations::default();
        let now = Instant::now();
        e.expect_creations("ns/rs", 3, now);
        e.expect_deletions("ns/rs", ["ns/a".to_string()], now);
        e.deletion_observed("ns/rs", "ns/a");
        assert!(e.satisfied("ns/rs", now), "the creations were replaced");
        e.expect_creations("ns/rs", 1, now);
        e.forget("ns/rs");
        assert!(e.satisfied("ns/rs", now));
    }

    #[test]
    fn entries_of_gone_owners_are_dropped_and_counted() {
        let e = Expectations::default();
        let now = Instant::now();
        for owner in ["uid-a", "uid-b", "uid-c"] {
            e.expect_creations(owner, 1, now);
            e.expect_deletions(owner, ["ns/p".to_string()], now);
        }
        assert_eq!((e.len(), e.entries.get()), (3, 3));
        e.forget("uid-a");
        e.forget("uid-a");
        e.forget("uid-never-seen");
        assert_eq!((e.len(), e.entries.get()), (2, 2));
        e.retain(|owner| owner == "uid-b");
        assert_eq!((e.len(), e.entries.get()), (1, 1));
        // Observations of a forgotten owner (its pods going away) create nothing.
        e.creation_observed("uid-c");
        e.deletion_observed("uid-c", "ns/p");
        assert_eq!(e.len(), 1);
    }

    #[test]
    fn churn_leaves_no_entries() {
        let e = Expectations::default();
        let now = Instant::now();
        for i in 0..10_000 {
            let owner = format!("uid-{i}");
            e.expect_creations(&owner, 1, now);
            e.creation_observed(&owner);
            e.forget(&owner);
        }
        assert!(e.is_empty());
        assert_eq!(e.entries.get(), 0);
    }

    #[test]
    fn the_process_gauge_adds_up_instances_and_drops_with_them() {
        let gauge = crate::runtime::metrics::global().expectations_entries("expectations-unit");
        let one = Expectations::reported_as("expectations-unit");
        let two = Expectations::reported_as("expectations-unit");
        let now = Instant::now();
        one.expect_creations("uid-a", 1, now);
        two.expect_creations("uid-a", 1, now);
        two.expect_creations("uid-b", 1, now);
        assert_eq!(gauge.get(), 3);
        drop(two);
        assert_eq!(gauge.get(), 1);
        one.forget("uid-a");
        assert_eq!(gauge.get(), 0);
    }
}

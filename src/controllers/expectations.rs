//! Expectations: what a controller has asked the API server to do and not yet seen in its
//! informer cache. The cache lags behind the controller's own writes; without this guard the
//! next sync would see stale counts and create or delete pods twice.
//!
//! As upstream (`UIDTrackingControllerExpectations`): creations are counted, deletions are
//! tracked by pod key so each one is observed once, whether it shows up as a
//! deletionTimestamp or as the delete event. An expectation older than five minutes is
//! considered satisfied, so a lost event cannot wedge a controller.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
}

impl Expectations {
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
        owners.insert(
            owner.to_owned(),
            Expectation {
                adds,
                deletes,
                set_at: now,
            },
        );
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

    /// The owner is gone.
    pub fn forget(&self, owner: &str) {
        self.owners.lock().expect("expectations lock").remove(owner);
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
}

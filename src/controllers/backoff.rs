//! Per-object exponential backoff after failed syncs (client-go's default item rate limiter:
//! 5 ms doubling to 1000 s), reset by a successful sync. As client-go's work queue forgets a
//! key's history on success, the entry of an object is also dropped when the object is gone,
//! so the map only holds objects that exist and last failed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::metrics::gauge::Gauge;

const BASE: Duration = Duration::from_millis(5);
const MAX: Duration = Duration::from_secs(1000);

#[derive(Debug, Default)]
pub struct Backoff {
    failures: Mutex<HashMap<String, u32>>,
    /// Moved by every entry added or dropped (a detached gauge unless [`Backoff::reported_as`]).
    entries: Gauge,
}

impl Backoff {
    /// A backoff whose entries are counted in `controller`'s gauge in /metrics.
    pub fn reported_as(controller: &str) -> Self {
        Self {
            failures: Mutex::default(),
            entries: crate::runtime::metrics::global().backoff_entries(controller),
        }
    }

    /// Records a failure of `key` and returns how long to wait before retrying it.
    pub fn failed(&self, key: &str) -> Duration {
        let mut failures = self.failures.lock().expect("backoff lock");
        let count = failures.entry(key.to_owned()).or_insert_with(|| {
            self.entries.inc();
            0
        });
        let delay = BASE.saturating_mul(2u32.saturating_pow(*count)).min(MAX);
        *count = count.saturating_add(1);
        delay
    }

    /// A sync of `key` succeeded: its next failure starts from the base delay again.
    pub fn succeeded(&self, key: &str) {
        self.forget(key);
    }

    /// `key` is gone (client-go's `Forget`).
    pub fn forget(&self, key: &str) {
        if self
            .failures
            .lock()
            .expect("backoff lock")
            .remove(key)
            .is_some()
        {
            self.entries.dec();
        }
    }

    /// Keeps only the entries whose key `live` accepts (after a relist, which may have hidden
    /// deletions).
    pub fn retain(&self, live: impl Fn(&str) -> bool) {
        let mut failures = self.failures.lock().expect("backoff lock");
        let before = failures.len();
        failures.retain(|key, _| live(key));
        self.entries.dec_by((before - failures.len()) as i64);
    }

    /// Number of objects with a failure count.
    pub fn len(&self) -> usize {
        self.failures.lock().expect("backoff lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for Backoff {
    /// The gauge adds up every instance: take this one's entries out of it.
    fn drop(&mut self) {
        let left = self.failures.get_mut().map_or(0, |f| f.len());
        self.entries.dec_by(left as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_5ms_up_to_1000s_and_resets() {
        let b = Backoff::default();
        let delays: Vec<_> = (0..4).map(|_| b.failed("k")).collect();
        assert_eq!(delays, [5, 10, 20, 40].map(Duration::from_millis));
        for _ in 0..40 {
            b.failed("k");
        }
        assert_eq!(b.failed("k"), MAX);
        assert_eq!(b.failed("other"), BASE);
        b.succeeded("k");
        assert_eq!(b.failed("k"), BASE);
    }

    #[test]
    fn entries_of_gone_objects_are_dropped_and_counted() {
        let b = Backoff::default();
        for key in ["ns/a", "ns/b", "ns/c", "ns/d"] {
            b.failed(key);
            b.failed(key);
        }
        assert_eq!((b.len(), b.entries.get()), (4, 4));
        b.forget("ns/a");
        b.forget("ns/a");
        b.succeeded("ns/b");
        assert_eq!((b.len(), b.entries.get()), (2, 2));
        b.retain(|key| key == "ns/c");
        assert_eq!((b.len(), b.entries.get()), (1, 1));
        assert_eq!(b.failed("ns/d"), BASE, "a forgotten key starts over");
    }

    #[test]
    fn churn_leaves_no_entries() {
        let b = Backoff::default();
        for i in 0..10_000 {
            let key = format!("ns/rs-{i}");
            b.failed(&key);
            b.forget(&key);
        }
        assert!(b.is_empty());
        assert_eq!(b.entries.get(), 0);
    }

    #[test]
    fn the_process_gauge_adds_up_instances_and_drops_with_them() {
        let gauge = crate::runtime::metrics::global().backoff_entries("backoff-unit-test");
        let (one, two) = (
            Backoff::reported_as("backoff-unit-test"),
            Backoff::reported_as("backoff-unit-test"),
        );
        one.failed("ns/a");
        two.failed("ns/a");
        two.failed("ns/b");
        assert_eq!(gauge.get(), 3);
        drop(two);
        assert_eq!(gauge.get(), 1);
        one.forget("ns/a");
        assert_eq!(gauge.get(), 0);
    }
}

//! Which generation of each EndpointSlice this controller last wrote (upstream
//! `k8s.io/endpointslice/util.EndpointSliceTracker`).
//!
//! The slice informer lags behind the controller's own writes. The tracker tells a sync when
//! the cache is older than what it wrote (a slice at a lower generation, one it created and
//! the cache does not have yet, one it deleted that the cache still holds), so the sync
//! waits instead of planning from stale slices; and it tells the slice handlers which events
//! are the echo of the controller's own writes (nothing to do) and which are somebody else's
//! (sync the service again to repair them).

use std::collections::HashMap;
use std::sync::Mutex;

use k8s_openapi::api::discovery::v1::EndpointSlice;

use super::reconciler::LABEL_SERVICE_NAME;

/// The generation recorded for a slice this controller deleted.
const DELETION_EXPECTED: i64 = -1;

/// (namespace, Service name)
pub type ServiceKey = (String, String);

#[derive(Debug, Default)]
pub struct EndpointSliceTracker {
    /// Per Service, the generation of each of its slices by UID.
    generations: Mutex<HashMap<ServiceKey, HashMap<String, i64>>>,
}

/// The Service a slice belongs to, by its `kubernetes.io/service-name` label.
pub fn service_of(slice: &EndpointSlice) -> ServiceKey {
    let name = slice
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(LABEL_SERVICE_NAME))
        .cloned()
        .unwrap_or_default();
    (slice.metadata.namespace.clone().unwrap_or_default(), name)
}

fn uid(slice: &EndpointSlice) -> String {
    slice.metadata.uid.clone().unwrap_or_default()
}

fn generation(slice: &EndpointSlice) -> i64 {
    slice.metadata.generation.unwrap_or_default()
}

impl EndpointSliceTracker {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ServiceKey, HashMap<String, i64>>> {
        self.generations.lock().expect("tracker lock")
    }

    /// Whether the slice is tracked.
    pub fn has(&self, slice: &EndpointSlice) -> bool {
        self.lock()
            .get(&service_of(slice))
            .is_some_and(|g| g.contains_key(&uid(slice)))
    }

    /// Whether a watched slice is news: not tracked, or newer than what this controller wrote.
    pub fn should_sync(&self, slice: &EndpointSlice) -> bool {
        match self
            .lock()
            .get(&service_of(slice))
            .and_then(|g| g.get(&uid(slice)))
        {
            Some(written) => generation(slice) > *written,
            None => true,
        }
    }

    /// Whether `slices` (the cache's, for the Service `service`) are older than what this
    /// controller wrote: a tracked slice at a lower generation or expected to be deleted, or
    /// a tracked slice missing.
    pub fn stale_slices(&self, service: &ServiceKey, slices: &[&EndpointSlice]) -> bool {
        let generations = self.lock();
        let Some(tracked) = generations.get(service) else {
            return false;
        };
        let mut provided = std::collections::HashSet::new();
        for slice in slices {
            provided.insert(uid(slice));
            if let Some(&written) = tracked.get(&uid(slice))
                && (written == DELETION_EXPECTED || written > generation(slice))
            {
                return true;
            }
        }
        tracked
            .iter()
            .any(|(uid, &g)| g != DELETION_EXPECTED && !provided.contains(uid))
    }

    /// Records a slice as this controller wrote it (the API server's answer).
    pub fn update(&self, slice: &EndpointSlice) {
        self.lock()
            .entry(service_of(slice))
            .or_default()
            .insert(uid(slice), generation(slice));
    }

    /// Records that this controller deleted the slice.
    pub fn expect_deletion(&self, slice: &EndpointSlice) {
        self.lock()
            .entry(service_of(slice))
            .or_default()
            .insert(uid(slice), DELETION_EXPECTED);
    }

    /// A watched deletion: forgets the slice, and returns whether it was expected (false: the
    /// controller did not delete it, so the Service must be synced again).
    pub fn handle_deletion(&self, slice: &EndpointSlice) -> bool {
        let mut generations = self.lock();
        match generations.get_mut(&service_of(slice)) {
            Some(tracked) => {
                !matches!(tracked.remove(&uid(slice)), Some(g) if g != DELETION_EXPECTED)
            }
            None => true,
        }
    }

    /// The Service is gone: nothing of it is tracked any more.
    pub fn delete_service(&self, service: &ServiceKey) {
        self.lock().remove(service);
    }

    /// Keeps only the Services `keep` says exist.
    pub fn retain(&self, mut keep: impl FnMut(&ServiceKey) -> bool) {
        self.lock().retain(|key, _| keep(key));
    }

    /// Number of tracked Services.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Upstream's `endpointslice_tracker_test.go`.
#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn slice(namespace: &str, uid: &str, service: &str, generation: i64) -> EndpointSlice {
        serde_json::from_value(json!({
            "metadata": {"name": "example-1", "namespace": namespace, "uid": uid,
                         "generation": generation,
                         "labels": {LABEL_SERVICE_NAME: service}},
            "addressType": "IPv4", "endpoints": [],
        }))
        .unwrap()
    }

    fn key(namespace: &str, name: &str) -> ServiceKey {
        (namespace.into(), name.into())
    }

    fn generation_of(tracker: &EndpointSliceTracker, uid: &str) -> Option<i64> {
        tracker
            .lock()
            .get(&key("ns1", "svc1"))
            .and_then(|g| g.get(uid))
            .copied()
    }

    fn original() -> EndpointSlice {
        slice("ns1", "original", "svc1", 1)
    }

    #[test]
    fn update() {
        // (checked slice, has, should sync)
        let cases = [
            ("same slice", original(), true, false),
            (
                "different namespace",
                slice("ns2", "diff-ns", "svc1", 1),
                false,
                true,
            ),
            (
                "different service",
                slice("ns1", "diff-svc", "svc2", 1),
                false,
                true,
            ),
            (
                "newer generation",
                slice("ns1", "original", "svc1", 2),
                true,
                true,
            ),
        ];
        for (name, checked, has, should_sync) in cases {
            let tracker = EndpointSliceTracker::default();
            tracker.update(&original());
            assert_eq!(tracker.has(&checked), has, "{name}: has");
            assert_eq!(tracker.should_sync(&checked), should_sync, "{name}");
            assert_eq!(generation_of(&tracker, "original"), Some(1), "{name}");
        }
    }

    #[test]
    fn stale_slices() {
        let svc = key("ns1", "svc1");
        let (original, newer) = (original(), slice("ns1", "original", "svc1", 2));
        // (tracked generation of "original", slices in the cache, stale)
        let cases: [(&str, Option<i64>, Vec<&EndpointSlice>, bool); 7] = [
            ("empty tracker", None, vec![], false),
            ("matching slices", Some(1), vec![&original], false),
            ("newer slice in tracker", Some(2), vec![&original], true),
            ("newer slice in params", Some(1), vec![&newer], false),
            (
                "slice in params is expected to be deleted",
                Some(DELETION_EXPECTED),
                vec![&original],
                true,
            ),
            ("slice in tracker but not in params", Some(1), vec![], true),
            (
                "deleted slice neither tracked as live nor listed",
                Some(DELETION_EXPECTED),
                vec![],
                false,
            ),
        ];
        for (name, tracked, slices, stale) in cases {
            let tracker = EndpointSliceTracker::default();
            if let Some(g) = tracked {
                tracker
                    .lock()
                    .entry(svc.clone())
                    .or_default()
                    .insert("original".into(), g);
            }
            assert_eq!(tracker.stale_slices(&svc, &slices), stale, "{name}");
        }
        let tracker = EndpointSliceTracker::default();
        tracker.lock().insert(svc.clone(), HashMap::new());
        assert!(!tracker.stale_slices(&svc, &[]), "empty slices");
    }

    #[test]
    fn deletion() {
        let other_ns = slice("ns2", "diff-ns", "svc1", 1);
        let other_svc = slice("ns1", "diff-svc", "svc2", 1);
        let newer = slice("ns1", "original", "svc1", 2);
        // (expected deletion, checked, has, should sync, deletion of "original" expected)
        let cases = [
            ("same slice", &original(), &original(), true, true, true),
            (
                "different namespace",
                &other_ns,
                &other_ns,
                true,
                true,
                false,
            ),
            (
                "different namespace, check original ep slice",
                &other_ns,
                &original(),
                true,
                false,
                false,
            ),
            (
                "different service",
                &other_svc,
                &other_svc,
                true,
                true,
                false,
            ),
            (
                "expectDelete different service, check original ep slice, delete original",
                &other_svc,
                &original(),
                true,
                false,
                false,
            ),
            ("different generation", &newer, &newer, true, true, true),
            (
                "expectDelete different generation, check original ep slice, delete original",
                &newer,
                &original(),
                true,
                true,
                true,
            ),
        ];
        for (name, expected, checked, has, should_sync, handled) in cases {
            let tracker = EndpointSliceTracker::default();
            tracker.update(&original());
            tracker.expect_deletion(expected);
            assert_eq!(tracker.has(checked), has, "{name}: has");
            assert_eq!(tracker.should_sync(checked), should_sync, "{name}: sync");
            assert_eq!(tracker.handle_deletion(&original()), handled, "{name}");
            assert!(!tracker.has(&original()), "{name}: forgotten");
        }
    }

    #[test]
    fn delete_service() {
        let tracked = slice("ns1", "", "svc1", 1);
        // (deleted service, has, should sync)
        let cases = [
            ("same service", key("ns1", "svc1"), false, true),
            ("different namespace", key("ns2", "svc1"), true, false),
            ("different service", key("ns1", "svc2"), true, false),
        ];
        for (name, deleted, has, should_sync) in cases {
            let tracker = EndpointSliceTracker::default();
            tracker.update(&tracked);
            tracker.delete_service(&deleted);
            assert_eq!(tracker.has(&tracked), has, "{name}: has");
            assert_eq!(tracker.should_sync(&tracked), should_sync, "{name}");
        }
    }
}

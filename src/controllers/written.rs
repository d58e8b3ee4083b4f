//! What a controller last wrote of each object, until its cache has caught up (client-go's
//! `MutationCache` as `NewIntegerResourceVersionMutationCache` makes it, kept for the objects a
//! sync writes itself).
//!
//! A sync reads its object from the informer cache. When the previous sync of the same key has
//! just written it, the cache may not have seen that write yet, and the next sync would start
//! from the copy before it: its conditional write then fails with a conflict and the key goes
//! to the back of the backoff queue. This happened to minik8s three times as often as to
//! kube-controller-manager (1,033 against 338 conflicting deployment status writes while 20
//! Deployments of 50 rolled; docs/api-calls.md). Starting from the copy the API server
//! returned for the last write, while the cache still holds an older one, is starting from
//! what the cache will show a moment later; nothing else changes.
//!
//! Which copy is newer is decided as client-go's integer mutation cache decides it: by the
//! resourceVersions read as numbers. The cache may be more than one write behind (two syncs
//! in a row, each writing, while the watch delivers neither yet); the last write still wins
//! until the cache shows it or something later.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kube::{Resource, ResourceExt};

pub struct Written<K> {
    /// uid → the object as last written.
    entries: Mutex<HashMap<String, Arc<K>>>,
}

impl<K> Default for Written<K> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

/// A resourceVersion as a number; None for one that is not (then the cache is trusted).
fn version<K: Resource>(object: &K) -> Option<u64> {
    object.meta().resource_version.as_deref()?.parse().ok()
}

impl<K: Resource + Clone> Written<K> {
    /// `cached`, or the copy last written if it is newer than `cached`.
    pub fn freshest(&self, cached: &K) -> K {
        self.newer_than(cached)
            .map_or_else(|| cached.clone(), |written| (*written).clone())
    }

    /// [`Self::freshest`] for a shared copy: `cached` itself unless a write is newer.
    pub fn freshest_shared(&self, cached: &Arc<K>) -> Arc<K> {
        self.newer_than(cached).unwrap_or_else(|| cached.clone())
    }

    /// The copy last written, if it is newer than `cached`.
    fn newer_than(&self, cached: &K) -> Option<Arc<K>> {
        let uid = cached.uid().unwrap_or_default();
        let mut entries = self.entries.lock().unwrap();
        let written = entries.get(&uid)?;
        match (version(cached), version(&**written)) {
            (Some(cached_version), Some(written_version)) if cached_version < written_version => {
                Some(written.clone())
            }
            _ => {
                // The cache shows this write or something later: it is the truth again.
                entries.remove(&uid);
                None
            }
        }
    }

    /// Records that a sync which started from `read` left the object as `written` (nothing
    /// when it wrote nothing, or an older copy than one already recorded).
    pub fn record(&self, read: &K, written: &K) {
        if read.resource_version() == written.resource_version() {
            return;
        }
        let mut entries = self.entries.lock().unwrap();
        let uid = written.uid().unwrap_or_default();
        let newer = entries
            .get(&uid)
            .is_none_or(|recorded| version(&**recorded) < version(written));
        if newer {
            entries.insert(uid, Arc::new(written.clone()));
        }
    }

    pub fn forget(&self, uid: &str) {
        self.entries.lock().unwrap().remove(uid);
    }

    pub fn retain(&self, keep: impl Fn(&str) -> bool) {
        self.entries.lock().unwrap().retain(|uid, _| keep(uid));
    }

    pub fn entries(&self) -> usize {
        self.entries.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;
    use serde_json::json;

    use super::*;

    fn object(rv: &str, data: &str) -> ConfigMap {
        serde_json::from_value(json!({
            "metadata": {"name": "a", "uid": "u1", "resourceVersion": rv},
            "data": {"v": data}
        }))
        .unwrap()
    }

    #[test]
    fn the_written_copy_stands_in_for_the_one_it_replaced_until_the_cache_moves_on() {
        let written = Written::default();
        let read = object("1", "old");
        written.record(&read, &object("2", "new"));
        // The cache still has 1: the write is the freshest.
        assert_eq!(written.freshest(&read).data.unwrap()["v"], "new");
        // The cache saw the write (or anything later): it wins and the entry goes.
        assert_eq!(
            written.freshest(&object("3", "other")).data.unwrap()["v"],
            "other"
        );
        assert_eq!(written.entries(), 0);
        assert_eq!(written.freshest(&read).data.unwrap()["v"], "old");
    }

    #[test]
    fn a_cache_two_writes_behind_still_gets_the_last_write() {
        // Sync 1 read 1 and wrote 2; sync 2 started from 2 (the written copy) and wrote 3;
        // the cache has only just shown 2, or still shows 1.
        let written = Written::default();
        written.record(&object("1", "a"), &object("2", "b"));
        written.record(&object("2", "b"), &object("3", "c"));
        assert_eq!(written.freshest(&object("1", "a")).data.unwrap()["v"], "c");
        assert_eq!(written.freshest(&object("2", "b")).data.unwrap()["v"], "c");
        assert_eq!(written.entries(), 1);
        assert_eq!(written.freshest(&object("3", "c")).data.unwrap()["v"], "c");
        assert_eq!(written.entries(), 0);
    }

    #[test]
    fn a_write_older_than_the_one_recorded_is_not_kept() {
        // Two writers of one object (say a status and a scale) answered out of order.
        let written = Written::default();
        written.record(&object("1", "a"), &object("5", "late"));
        written.record(&object("1", "a"), &object("4", "early"));
        assert_eq!(
            written.freshest(&object("1", "a")).data.unwrap()["v"],
            "late"
        );
    }

    #[test]
    fn a_version_that_is_not_a_number_trusts_the_cache() {
        let written = Written::default();
        written.record(&object("1", "a"), &object("x2", "b"));
        assert_eq!(written.freshest(&object("1", "a")).data.unwrap()["v"], "a");
        assert_eq!(written.entries(), 0);
    }

    #[test]
    fn a_sync_that_wrote_nothing_records_nothing() {
        let written = Written::default();
        written.record(&object("1", "x"), &object("1", "x"));
        assert_eq!(written.entries(), 0);
        written.record(&object("1", "x"), &object("2", "y"));
        written.forget("u1");
        assert_eq!(written.entries(), 0);
    }
}

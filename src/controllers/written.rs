//! What a controller last wrote of each object, until its cache has caught up (client-go's
//! `MutationCache`, kept for the objects a sync writes itself).
//!
//! A sync reads its object from the informer cache. When the previous sync of the same key has
//! just written it, the cache may not have seen that write yet, and the next sync would start
//! from the copy before it: its conditional write then fails with a conflict and the key goes
//! to the back of the backoff queue. This happened to minik8s three times as often as to
//! kube-controller-manager (1,033 against 338 conflicting deployment status writes while 20
//! Deployments of 50 rolled; docs/api-calls.md). Starting from the copy the API server
//! returned for the last write, while the cache still holds the copy that write replaced, is
//! starting from what the cache will show a moment later; nothing else changes.

use std::collections::HashMap;
use std::sync::Mutex;

use kube::{Resource, ResourceExt};

pub struct Written<K> {
    /// uid → (resourceVersion the write replaced, the object as written).
    entries: Mutex<HashMap<String, (String, K)>>,
}

impl<K> Default for Written<K> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Resource + Clone> Written<K> {
    /// `cached`, or the copy last written if the cache still holds the one it replaced.
    pub fn freshest(&self, cached: &K) -> K {
        let uid = cached.uid().unwrap_or_default();
        let mut entries = self.entries.lock().unwrap();
        match entries.get(&uid) {
            Some((replaced, written)) if cached.resource_version().as_ref() == Some(replaced) => {
                written.clone()
            }
            Some(_) => {
                // The cache has moved on (this write or a later change): it is the truth again.
                entries.remove(&uid);
                cached.clone()
            }
            None => cached.clone(),
        }
    }

    /// Records that a sync which started from `read` left the object as `written`.
    pub fn record(&self, read: &K, written: &K) {
        let (Some(replaced), Some(now)) = (read.resource_version(), written.resource_version())
        else {
            return;
        };
        if replaced != now {
            self.entries.lock().unwrap().insert(
                written.uid().unwrap_or_default(),
                (replaced, written.clone()),
            );
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
    fn a_sync_that_wrote_nothing_records_nothing() {
        let written = Written::default();
        written.record(&object("1", "x"), &object("1", "x"));
        assert_eq!(written.entries(), 0);
        written.record(&object("1", "x"), &object("2", "y"));
        written.forget("u1");
        assert_eq!(written.entries(), 0);
    }
}

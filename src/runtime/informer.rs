//! A shared informer: one watch of a kind, a cache indexed by namespace, and event handlers
//! that see the old object on updates and every deletion — what client-go's shared informers
//! give the built-in controllers.
//!
//! kube's reflector stores objects but its shared streams carry neither deletions nor the
//! previous version of an object; controllers need both (expectations count observed
//! deletions; a pod whose labels changed must wake the owner that no longer selects it).
//!
//! Objects are decoded one by one (`DeserializeGuard`): an object this build cannot decode is
//! skipped — reported once per version in the log, in /metrics and as a Warning event on the
//! object — while the rest of the list and watch goes on, so one bad object cannot keep the
//! cache from syncing. The cache keeps the last version it could decode, if any: dropping
//! it would look like a deletion, and a controller would replace an object that still exists.

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use futures::StreamExt;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::core::DeserializeGuard;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;

use super::events::EventRecorder;
use super::watch_backoff::WatchBackoff;

/// Receives the changes of an informer's kind. Called on the informer's task: keep it cheap
/// (record an observation, enqueue a key).
pub trait EventHandler<K>: Send + Sync {
    fn on_add(&self, object: &Arc<K>);
    fn on_update(&self, old: &Arc<K>, new: &Arc<K>);
    fn on_delete(&self, object: &Arc<K>);
}

type Objects<K> = HashMap<String, Arc<K>>;

/// The informer's cache: objects by namespace, then by name.
pub struct Cache<K> {
    namespaces: RwLock<HashMap<String, Objects<K>>>,
    synced: AtomicBool,
    synced_notify: Notify,
}

impl<K> Cache<K> {
    fn new() -> Self {
        Self {
            namespaces: RwLock::default(),
            synced: AtomicBool::new(false),
            synced_notify: Notify::new(),
        }
    }

    /// Every object of `namespace`.
    pub fn list(&self, namespace: &str) -> Vec<Arc<K>> {
        let namespaces = self.namespaces.read().expect("cache lock");
        namespaces
            .get(namespace)
            .map(|objects| objects.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Every object of every namespace.
    pub fn list_all(&self) -> Vec<Arc<K>> {
        let namespaces = self.namespaces.read().expect("cache lock");
        namespaces
            .values()
            .flat_map(|objects| objects.values().cloned())
            .collect()
    }

    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<K>> {
        let namespaces = self.namespaces.read().expect("cache lock");
        namespaces.get(namespace)?.get(name).cloned()
    }

    /// Number of cached objects.
    pub fn len(&self) -> usize {
        let namespaces = self.namespaces.read().expect("cache lock");
        namespaces.values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True once the first full list has been stored.
    pub fn is_synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }

    /// Completes once the first full list has been stored.
    pub async fn wait_synced(&self) {
        loop {
            let notified = self.synced_notify.notified();
            if self.is_synced() {
                return;
            }
            notified.await;
        }
    }
}

impl<K: Resource> Cache<K> {
    fn insert(&self, object: Arc<K>) -> Option<Arc<K>> {
        let mut namespaces = self.namespaces.write().expect("cache lock");
        namespaces
            .entry(object.meta().namespace.clone().unwrap_or_default())
            .or_default()
            .insert(object.meta().name.clone().unwrap_or_default(), object)
    }

    fn remove(&self, (namespace, name): &(String, String)) -> Option<Arc<K>> {
        let mut namespaces = self.namespaces.write().expect("cache lock");
        let objects = namespaces.get_mut(namespace)?;
        let removed = objects.remove(name);
        if objects.is_empty() {
            namespaces.remove(namespace);
        }
        removed
    }

    fn replace(&self, objects: Vec<Arc<K>>) -> Vec<Arc<K>> {
        let mut fresh: HashMap<String, Objects<K>> = HashMap::new();
        for object in objects {
            fresh
                .entry(object.meta().namespace.clone().unwrap_or_default())
                .or_default()
                .insert(object.meta().name.clone().unwrap_or_default(), object);
        }
        let mut namespaces = self.namespaces.write().expect("cache lock");
        std::mem::replace(&mut *namespaces, fresh)
            .into_values()
            .flat_map(HashMap::into_values)
            .collect()
    }

    fn mark_synced(&self) {
        self.synced.store(true, Ordering::Release);
        self.synced_notify.notify_waiters();
    }
}

/// One watch of kind `K`, shared by every registered handler.
pub struct Informer<K> {
    api: Api<DeserializeGuard<K>>,
    config: watcher::Config,
    cache: Arc<Cache<K>>,
    handlers: Vec<Arc<dyn EventHandler<K>>>,
    events: Option<EventRecorder>,
    /// Applied to each object as it arrives, before it is cached (client-go's
    /// `SetTransform`): drops what no consumer of this informer reads.
    transform: Option<fn(&mut K)>,
    /// Objects whose current version cannot be decoded, with that version: each bad version
    /// is reported once, however often a relist shows it again.
    undecodable: Mutex<HashMap<(String, String), String>>,
}

impl<K> Informer<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    pub fn new(api: Api<DeserializeGuard<K>>, config: watcher::Config) -> Self {
        Self {
            api,
            config,
            cache: Arc::new(Cache::new()),
            handlers: Vec::new(),
            events: None,
            transform: None,
            undecodable: Mutex::default(),
        }
    }

    /// Applies `transform` to every object before it is cached and handed to the handlers.
    pub fn transform(mut self, transform: fn(&mut K)) -> Self {
        self.transform = Some(transform);
        self
    }

    /// Records a Warning event on each object the informer cannot decode.
    pub fn report_to(mut self, events: EventRecorder) -> Self {
        self.events = Some(events);
        self
    }

    /// The cache, filled once `run` has listed.
    pub fn cache(&self) -> Arc<Cache<K>> {
        self.cache.clone()
    }

    /// True when a handler is registered or someone keeps the cache: only then is it worth
    /// running.
    pub fn is_used(&self) -> bool {
        !self.handlers.is_empty() || Arc::strong_count(&self.cache) > 1
    }

    /// Registers a handler. All handlers must be added before `run`, so none misses events.
    pub fn add_handler(&mut self, handler: Arc<dyn EventHandler<K>>) {
        self.handlers.push(handler);
    }

    /// Lists and watches until the process stops, retrying with backoff on errors.
    pub async fn run(self) {
        let kind = K::kind(&());
        let mut relist: Option<Relist<K>> = None;
        let mut events = watcher::watcher(self.api.clone(), self.config.clone())
            .backoff(WatchBackoff::default())
            .boxed();
        while let Some(event) = events.next().await {
            match event {
                Ok(event) => self.apply(event, &mut relist),
                Err(error) => tracing::warn!(%kind, %error, "watch failed; retrying with backoff"),
            }
        }
    }

    fn apply(&self, event: Event<DeserializeGuard<K>>, relist: &mut Option<Relist<K>>) {
        self.apply_event(event, relist);
        super::metrics::global().cached(&K::kind(&()), self.cache.len());
    }

    fn apply_event(&self, event: Event<DeserializeGuard<K>>, relist: &mut Option<Relist<K>>) {
        let transform = self.transform;
        let event = event.modify(|object| {
            strip_managed_fields(object);
            if let (Some(transform), Ok(object)) = (transform, &mut object.0) {
                transform(object);
            }
        });
        match event {
            Event::Init => *relist = Some(Relist::default()),
            Event::InitApply(object) => {
                let relist = relist.get_or_insert_with(Relist::default);
                let key = key(&object);
                match self.decoded(object) {
                    Some(object) => relist.objects.push(Arc::new(object)),
                    None => {
                        // Kept at the last version that could be read, if there is one.
                        relist.objects.extend(self.cache.get(&key.0, &key.1));
                        relist.undecodable.insert(key);
                    }
                }
            }
            Event::InitDone => {
                let relist = relist.take().unwrap_or_default();
                self.undecodable
                    .lock()
                    .expect("undecodable lock")
                    .retain(|key, _| relist.undecodable.contains(key));
                self.finish_relist(relist.objects);
            }
            Event::Apply(object) => {
                let Some(object) = self.decoded(object) else {
                    return;
                };
                let object = Arc::new(object);
                match self.cache.insert(object.clone()) {
                    Some(old) => self
                        .handlers
                        .iter()
                        .for_each(|h| h.on_update(&old, &object)),
                    None => self.handlers.iter().for_each(|h| h.on_add(&object)),
                }
            }
            Event::Delete(object) => {
                let key = key(&object);
                self.undecodable
                    .lock()
                    .expect("undecodable lock")
                    .remove(&key);
                let last = match self.cache.remove(&key) {
                    Some(last) => last,
                    // Never cached: tell the handlers if the final version can be read.
                    None => match object.0 {
                        Ok(object) => Arc::new(object),
                        Err(_) => return,
                    },
                };
                self.handlers.iter().for_each(|h| h.on_delete(&last));
            }
        }
    }

    /// The object, or None (reported once per version) when it cannot be decoded.
    fn decoded(&self, object: DeserializeGuard<K>) -> Option<K> {
        let key = key(&object);
        let mut undecodable = self.undecodable.lock().expect("undecodable lock");
        let invalid = match object.0 {
            Ok(object) => {
                undecodable.remove(&key);
                return Some(object);
            }
            Err(invalid) => invalid,
        };
        let meta = &invalid.metadata;
        let version = meta.resource_version.clone().unwrap_or_default();
        let first = undecodable
            .insert(key, version.clone())
            .is_none_or(|reported| reported != version);
        drop(undecodable);
        if first {
            let kind = K::kind(&());
            let (namespace, name) = (
                meta.namespace.as_deref().unwrap_or_default(),
                meta.name.as_deref().unwrap_or_default(),
            );
            tracing::warn!(%kind, namespace, name, error = %invalid.error, "skipping an object that cannot be decoded; fix it and it will be read again");
            super::metrics::global().undecodable(&kind);
            if let Some(events) = &self.events {
                events.warning(
                    &ObjectReference {
                        api_version: Some(K::api_version(&()).into_owned()),
                        kind: Some(kind.into_owned()),
                        namespace: meta.namespace.clone(),
                        name: meta.name.clone(),
                        uid: meta.uid.clone(),
                        resource_version: meta.resource_version.clone(),
                        ..Default::default()
                    },
                    "FailedDecode",
                    format!(
                        "minik8s cannot read this object and ignores it: {}",
                        invalid.error
                    ),
                );
            }
        }
        None
    }

    /// Swaps in a full list and tells handlers what changed since the previous one, deletions
    /// included (a watch gap can hide them).
    fn finish_relist(&self, listed: Vec<Arc<K>>) {
        let previous: HashMap<(String, String), Arc<K>> = self
            .cache
            .replace(listed.clone())
            .into_iter()
            .map(|object| (key(&*object), object))
            .collect();
        let mut previous = previous;
        for object in &listed {
            match previous.remove(&key(&**object)) {
                Some(old) if old.resource_version() == object.resource_version() => {}
                Some(old) => self.handlers.iter().for_each(|h| h.on_update(&old, object)),
                None => self.handlers.iter().for_each(|h| h.on_add(object)),
            }
        }
        for gone in previous.values() {
            self.handlers.iter().for_each(|h| h.on_delete(gone));
        }
        if !self.cache.is_synced() {
            tracing::info!(kind = %K::kind(&()), objects = listed.len(), "informer synced");
        }
        self.cache.mark_synced();
    }
}

/// A full list being received.
struct Relist<K> {
    objects: Vec<Arc<K>>,
    /// Keys of the listed objects that could not be decoded.
    undecodable: HashSet<(String, String)>,
}

impl<K> Default for Relist<K> {
    fn default() -> Self {
        Self {
            objects: Vec::new(),
            undecodable: HashSet::new(),
        }
    }
}

/// Managed fields are often the largest part of an object and no controller reads them;
/// dropping them roughly halves the cache (kube-controller-manager trims them too).
fn strip_managed_fields<K: Resource>(object: &mut K) {
    object.meta_mut().managed_fields = None;
}

fn key<K: Resource>(object: &K) -> (String, String) {
    (
        object.meta().namespace.clone().unwrap_or_default(),
        object.meta().name.clone().unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use k8s_openapi::api::core::v1::Pod;
    use serde_json::json;

    use super::*;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl EventHandler<Pod> for Recorder {
        fn on_add(&self, pod: &Arc<Pod>) {
            self.0
                .lock()
                .unwrap()
                .push(format!("add {}", pod.name_any()));
        }
        fn on_update(&self, old: &Arc<Pod>, new: &Arc<Pod>) {
            let (a, b) = (
                old.resource_version().unwrap(),
                new.resource_version().unwrap(),
            );
            self.0
                .lock()
                .unwrap()
                .push(format!("update {} {a}->{b}", new.name_any()));
        }
        fn on_delete(&self, pod: &Arc<Pod>) {
            self.0
                .lock()
                .unwrap()
                .push(format!("delete {}", pod.name_any()));
        }
    }

    fn pod(name: &str, version: &str) -> DeserializeGuard<Pod> {
        serde_json::from_value(json!({"metadata": {
            "name": name, "namespace": "ns", "resourceVersion": version,
            "managedFields": [{"manager": "kubectl", "operation": "Apply"}]
        }}))
        .unwrap()
    }

    /// A pod this build cannot decode (the API server would not serve one; a newer or
    /// older schema of a custom resource can).
    fn bad_pod(name: &str, version: &str) -> DeserializeGuard<Pod> {
        let pod: DeserializeGuard<Pod> = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "ns", "resourceVersion": version},
            "spec": {"containers": "not-a-list"}
        }))
        .unwrap();
        assert!(pod.0.is_err());
        pod
    }

    /// An informer whose client is never called: `apply` is driven by hand.
    fn informer() -> (Informer<Pod>, Arc<Recorder>) {
        let never = tower::service_fn(|_: http::Request<kube::client::Body>| async {
            Err::<http::Response<kube::client::Body>, std::io::Error>(std::io::Error::other(
                "no API server in unit tests",
            ))
        });
        let client = kube::Client::new(never, "default");
        let mut informer = Informer::new(
            Api::<DeserializeGuard<Pod>>::all(client),
            watcher::Config::default(),
        );
        let recorder = Arc::new(Recorder::default());
        informer.add_handler(recorder.clone());
        (informer, recorder)
    }

    fn take(recorder: &Recorder) -> Vec<String> {
        std::mem::take(&mut *recorder.0.lock().unwrap())
    }

    #[tokio::test]
    async fn watch_events_reach_handlers_with_the_old_object() {
        let (informer, recorder) = informer();
        let mut relist = None;
        informer.apply(Event::Apply(pod("a", "1")), &mut relist);
        informer.apply(Event::Apply(pod("a", "2")), &mut relist);
        informer.apply(Event::Delete(pod("a", "3")), &mut relist);
        assert_eq!(take(&recorder), ["add a", "update a 1->2", "delete a"]);
        assert!(informer.cache().is_empty());
    }

    #[tokio::test]
    async fn a_relist_reports_what_changed_including_deletions() {
        let (informer, recorder) = informer();
        let mut relist = None;
        informer.apply(Event::Apply(pod("kept", "1")), &mut relist);
        informer.apply(Event::Apply(pod("changed", "1")), &mut relist);
        informer.apply(Event::Apply(pod("gone", "1")), &mut relist);
        take(&recorder);
        assert!(!informer.cache().is_synced());

        for event in [
            Event::Init,
            Event::InitApply(pod("kept", "1")),
            Event::InitApply(pod("changed", "2")),
            Event::InitApply(pod("new", "1")),
            Event::InitDone,
        ] {
            informer.apply(event, &mut relist);
        }
        let mut seen = take(&recorder);
        seen.sort();
        assert_eq!(seen, ["add new", "delete gone", "update changed 1->2"]);
        let cache = informer.cache();
        assert!(cache.is_synced());
        assert_eq!(cache.len(), 3);
        assert!(cache.get("ns", "gone").is_none());
        assert_eq!(cache.list("ns").len(), 3);
        assert!(cache.list("other").is_empty());
    }

    #[tokio::test]
    async fn cached_objects_carry_no_managed_fields() {
        let (informer, _) = informer();
        informer.apply(Event::Apply(pod("a", "1")), &mut None);
        assert_eq!(
            informer
                .cache()
                .get("ns", "a")
                .unwrap()
                .metadata
                .managed_fields,
            None
        );
    }

    #[tokio::test]
    async fn wait_synced_returns_once_listed() {
        let (informer, _) = informer();
        let cache = informer.cache();
        let waiter = tokio::spawn(async move { cache.wait_synced().await });
        informer.apply(Event::Init, &mut None);
        informer.apply(Event::InitDone, &mut None);
        tokio::time::timeout(std::time::Duration::from_secs(1), waiter)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn an_undecodable_object_is_skipped_and_the_cache_still_syncs() {
        let (informer, recorder) = informer();
        let before = crate::runtime::metrics::global().undecodable_count("Pod");
        let mut relist = None;
        for event in [
            Event::Init,
            Event::InitApply(pod("good", "1")),
            Event::InitApply(bad_pod("bad", "2")),
            Event::InitDone,
        ] {
            informer.apply(event, &mut relist);
        }
        let cache = informer.cache();
        assert!(cache.is_synced());
        assert_eq!(cache.len(), 1);
        assert_eq!(take(&recorder), ["add good"]);
        // The watch goes on after it, too.
        informer.apply(Event::Apply(bad_pod("bad", "3")), &mut relist);
        informer.apply(Event::Apply(pod("later", "4")), &mut relist);
        assert_eq!(take(&recorder), ["add later"]);
        // Reported once per version: a relist showing version 3 again adds nothing.
        for event in [
            Event::Init,
            Event::InitApply(pod("good", "1")),
            Event::InitApply(bad_pod("bad", "3")),
            Event::InitApply(pod("later", "4")),
            Event::InitDone,
        ] {
            informer.apply(event, &mut relist);
        }
        assert!(
            crate::runtime::metrics::global().undecodable_count("Pod") >= before + 2,
            "versions 2 and 3 were counted"
        );
        assert_eq!(informer.undecodable.lock().unwrap().len(), 1);
        // Fixed: read again, as an add.
        informer.apply(Event::Apply(pod("bad", "5")), &mut relist);
        assert_eq!(take(&recorder), ["add bad"]);
        assert!(informer.undecodable.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_cached_object_that_turns_undecodable_keeps_its_last_readable_version() {
        let (informer, recorder) = informer();
        let mut relist = None;
        informer.apply(Event::Apply(pod("a", "1")), &mut relist);
        informer.apply(Event::Apply(bad_pod("a", "2")), &mut relist);
        for event in [
            Event::Init,
            Event::InitApply(bad_pod("a", "2")),
            Event::InitDone,
        ] {
            informer.apply(event, &mut relist);
        }
        let cached = informer.cache().get("ns", "a").expect("still cached");
        assert_eq!(cached.resource_version().as_deref(), Some("1"));
        assert_eq!(take(&recorder), ["add a"], "no update, no deletion");
        // Its deletion reaches the handlers with the last readable version.
        informer.apply(Event::Delete(bad_pod("a", "3")), &mut relist);
        assert_eq!(take(&recorder), ["delete a"]);
        assert!(informer.cache().is_empty());
        assert!(informer.undecodable.lock().unwrap().is_empty());
        // A bad object never cached is deleted without a word to the handlers.
        informer.apply(Event::Apply(bad_pod("b", "4")), &mut relist);
        informer.apply(Event::Delete(bad_pod("b", "5")), &mut relist);
        assert!(take(&recorder).is_empty());
    }
}

//! A shared informer: one watch of a kind, a cache indexed by namespace, and event handlers
//! that see the old object on updates and every deletion — what client-go's shared informers
//! give the built-in controllers.
//!
//! kube's reflector stores objects but its shared streams carry neither deletions nor the
//! previous version of an object; controllers need both (expectations count observed
//! deletions; a pod whose labels changed must wake the owner that no longer selects it).

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;

/// Receives the changes of an informer's kind. Called on the informer's task: keep it cheap
/// (record an observation, enqueue a key).
pub trait EventHandler<K>: Send + Sync {
    fn on_add(&self, object: &K);
    fn on_update(&self, old: &K, new: &K);
    fn on_delete(&self, object: &K);
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

    fn remove(&self, object: &K) -> Option<Arc<K>> {
        let namespace = object.meta().namespace.clone().unwrap_or_default();
        let mut namespaces = self.namespaces.write().expect("cache lock");
        let objects = namespaces.get_mut(&namespace)?;
        let removed = objects.remove(object.meta().name.as_deref().unwrap_or_default());
        if objects.is_empty() {
            namespaces.remove(&namespace);
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
    api: Api<K>,
    config: watcher::Config,
    cache: Arc<Cache<K>>,
    handlers: Vec<Arc<dyn EventHandler<K>>>,
}

impl<K> Informer<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    pub fn new(api: Api<K>, config: watcher::Config) -> Self {
        Self {
            api,
            config,
            cache: Arc::new(Cache::new()),
            handlers: Vec::new(),
        }
    }

    /// The cache, filled once `run` has listed.
    pub fn cache(&self) -> Arc<Cache<K>> {
        self.cache.clone()
    }

    /// Registers a handler. All handlers must be added before `run`, so none misses events.
    pub fn add_handler(&mut self, handler: Arc<dyn EventHandler<K>>) {
        self.handlers.push(handler);
    }

    /// Lists and watches until the process stops, retrying with backoff on errors.
    pub async fn run(self) {
        let kind = K::kind(&());
        let mut relist: Option<Vec<Arc<K>>> = None;
        let mut events = watcher::watcher(self.api.clone(), self.config.clone())
            .default_backoff()
            .boxed();
        while let Some(event) = events.next().await {
            match event {
                Ok(event) => self.apply(event, &mut relist),
                Err(error) => tracing::warn!(%kind, %error, "watch failed; retrying with backoff"),
            }
        }
    }

    fn apply(&self, event: Event<K>, relist: &mut Option<Vec<Arc<K>>>) {
        self.apply_event(event, relist);
        super::metrics::global().cached(&K::kind(&()), self.cache.len());
    }

    fn apply_event(&self, event: Event<K>, relist: &mut Option<Vec<Arc<K>>>) {
        let event = event.modify(strip_managed_fields);
        match event {
            Event::Init => *relist = Some(Vec::new()),
            Event::InitApply(object) => relist.get_or_insert_with(Vec::new).push(Arc::new(object)),
            Event::InitDone => self.finish_relist(relist.take().unwrap_or_default()),
            Event::Apply(object) => {
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
                let last = self
                    .cache
                    .remove(&object)
                    .unwrap_or_else(|| Arc::new(object));
                self.handlers.iter().for_each(|h| h.on_delete(&last));
            }
        }
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
        fn on_add(&self, pod: &Pod) {
            self.0
                .lock()
                .unwrap()
                .push(format!("add {}", pod.name_any()));
        }
        fn on_update(&self, old: &Pod, new: &Pod) {
            let (a, b) = (
                old.resource_version().unwrap(),
                new.resource_version().unwrap(),
            );
            self.0
                .lock()
                .unwrap()
                .push(format!("update {} {a}->{b}", new.name_any()));
        }
        fn on_delete(&self, pod: &Pod) {
            self.0
                .lock()
                .unwrap()
                .push(format!("delete {}", pod.name_any()));
        }
    }

    fn pod(name: &str, version: &str) -> Pod {
        serde_json::from_value(json!({"metadata": {
            "name": name, "namespace": "ns", "resourceVersion": version,
            "managedFields": [{"manager": "kubectl", "operation": "Apply"}]
        }}))
        .unwrap()
    }

    /// An informer whose client is never called: `apply` is driven by hand.
    fn informer() -> (Informer<Pod>, Arc<Recorder>) {
        let never = tower::service_fn(|_: http::Request<kube::client::Body>| async {
            Err::<http::Response<kube::client::Body>, std::io::Error>(std::io::Error::other(
                "no API server in unit tests",
            ))
        });
        let client = kube::Client::new(never, "default");
        let mut informer = Informer::new(Api::<Pod>::all(client), watcher::Config::default());
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
}

//! The main loop every controller shares: a work queue as client-go's ([`WorkQueue`]: first
//! in, first out, deduplicated keys, one sync per object at a time) served by N workers, fed
//! by changes of the object itself and by triggers from the shared informers; objects that
//! cannot be read are skipped; failed syncs back off per object; sync counts and durations go
//! to the metrics.
//!
//! What a controller keeps per object (backoff, expectations) is dropped once the object is
//! gone, so memory follows the live objects, not every object ever seen: on the watched
//! deletion (upstream's delete handlers, `DeleteExpectations`), when a sync ends and the
//! object is no longer there, when a queued key finds no object (upstream's sync of a key the
//! lister no longer has; client-go's `Forget`), and after a relist for objects whose deletion
//! fell into a watch gap.

use std::collections::HashSet;
use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::channel::mpsc::UnboundedReceiver;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use kube::core::DeserializeGuard;
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::backoff::Backoff;
use super::expectations::Expectations;
use super::queue::WorkQueue;
use crate::runtime::metrics;
use crate::runtime::watch_backoff::WatchBackoff;

/// What a controller keeps per object besides the work queue. The default `forget` and
/// `retain` drop an object's backoff and, keyed by its UID, its expectations.
pub trait Bookkeeping: Send + std::marker::Sync {
    fn backoff(&self) -> &Backoff;

    /// The controller's expectations, for one that has them.
    fn expectations(&self) -> Option<&Expectations> {
        None
    }

    /// The object `key` (`namespace/name`) is gone; `uid` when known.
    fn forget(&self, key: &str, uid: Option<&str>) {
        self.backoff().forget(key);
        if let (Some(expectations), Some(uid)) = (self.expectations(), uid) {
            expectations.forget(uid);
        }
    }

    /// After a relist: keeps only entries of objects that exist.
    fn retain(&self, live: &Live) {
        self.backoff().retain(|key| live.keys.contains(key));
        if let Some(expectations) = self.expectations() {
            expectations.retain(|uid| live.uids.contains(uid));
        }
    }
}

/// The objects of a full list.
#[derive(Debug, Default)]
pub struct Live {
    /// `namespace/name`
    pub keys: HashSet<String>,
    pub uids: HashSet<String>,
}

/// The error of a failed sync.
pub trait SyncError: std::error::Error {
    /// An error that is part of normal operation (a cache behind the controller's own
    /// writes): retried as any other, but logged at debug, not as a warning.
    fn is_expected(&self) -> bool {
        false
    }
}

/// An API of `client` in `namespace`, or in all namespaces when None.
pub fn scoped<K>(client: &kube::Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}

/// Sync requests from the informers' handlers.
pub type Triggers<K> = UnboundedReceiver<ObjectRef<DeserializeGuard<K>>>;

/// One sync of one object.
pub type Sync<K, Ctx, E> = for<'a> fn(&'a K, &'a Ctx) -> BoxFuture<'a, Result<Action, E>>;

/// The watch of a controller's own kind and the store it fills; [`drive`] turns it into the
/// work queue. The store can be handed to handlers before the watch runs.
pub struct Watch<K>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    api: Api<DeserializeGuard<K>>,
    writer: Writer<DeserializeGuard<K>>,
    store: Store<DeserializeGuard<K>>,
    workers: u16,
    /// How long a trigger from the informers' handlers waits before its key is queued.
    trigger_delay: Duration,
}

impl<K> Watch<K>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    /// Watches every object of `api` (all namespaces or one), synced by `workers` at a time.
    pub fn new(api: Api<DeserializeGuard<K>>, workers: u16) -> Self {
        let (store, writer) = reflector::store();
        Self {
            api,
            writer,
            store,
            workers,
            trigger_delay: Duration::ZERO,
        }
    }

    /// Queues each trigger only after `delay` (client-go's `AddAfter`, which keeps a key's
    /// earliest delay), so that every trigger of one object within it is served by one sync,
    /// as kube-controller-manager's `--endpoint-updates-batch-period` batches pod changes.
    /// Changes of the controller's own kind are still queued at once.
    pub fn delay_triggers(self, delay: Duration) -> Self {
        Self {
            trigger_delay: delay,
            ..self
        }
    }

    pub fn store(&self) -> Store<DeserializeGuard<K>> {
        self.store.clone()
    }
}

/// What a sync asks of the queue besides what changes bring: to be synced again after a
/// delay (a deadline to check, a retry), or not until the next change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action(Option<Duration>);

impl Action {
    pub const fn requeue(delay: Duration) -> Self {
        Self(Some(delay))
    }

    pub const fn await_change() -> Self {
        Self(None)
    }
}

type Key<K> = ObjectRef<DeserializeGuard<K>>;

/// Runs the controller of `watch` until `shutdown`, then lets the syncs in flight finish.
pub async fn drive<K, Ctx, E>(
    name: &'static str,
    watch: Watch<K>,
    triggers: Triggers<K>,
    shutdown: impl Future<Output = ()> + Send + std::marker::Sync + 'static,
    context: Arc<Ctx>,
    sync: Sync<K, Ctx, E>,
) where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + std::marker::Sync
        + 'static,
    Ctx: Bookkeeping + 'static,
    E: SyncError + Send + std::marker::Sync + 'static,
{
    tracing::info!(controller = name, "starting");
    let Watch {
        api,
        writer,
        store,
        workers,
        trigger_delay,
    } = watch;
    let queue = WorkQueue::<Key<K>>::named(super::queue_name(name));
    // Every change of an object of the controller's own kind queues it, as upstream's
    // add/update/delete handlers do; deletions and relists also drop bookkeeping.
    let own_changes = reflector::reflector(
        writer,
        watcher::watcher(api, watcher::Config::default()).backoff(WatchBackoff::default()),
    )
    .inspect(|event| {
        if let Ok(event) = event {
            observe(event, &store, &*context);
        }
    })
    .applied_objects()
    .for_each(|object| {
        match object {
            Ok(object) => queue.add(ObjectRef::from_obj(&object)),
            Err(error) => tracing::debug!(controller = name, %error, "watch failed; retrying"),
        }
        std::future::ready(())
    });
    let triggered = triggers.for_each(|key| {
        metrics::global().pending(name, -1);
        queue.add_after(key, trigger_delay);
        std::future::ready(())
    });
    let stopping = async {
        shutdown.await;
        queue.shut_down();
    };
    let feeding = async {
        futures::join!(own_changes, triggered, queue.run_timers(), stopping);
    };
    let working = async {
        // As kube-runtime's Controller: nothing is synced before the own kind's cache is full.
        if store.wait_until_ready().await.is_err() {
            return;
        }
        let worker = || work(name, &queue, &store, &context, sync);
        futures::future::join_all((0..workers.max(1)).map(|_| worker())).await;
    };
    // The syncs in flight end the run; feeding the queue only stops with them.
    tokio::select! {
        () = working => {}
        () = feeding.then(|()| std::future::pending::<()>()) => {}
    }
    tracing::info!(controller = name, "stopped");
}

/// One worker: takes keys from the queue and syncs their objects until the queue shuts down.
async fn work<K, Ctx, E>(
    name: &'static str,
    queue: &WorkQueue<Key<K>>,
    store: &Store<DeserializeGuard<K>>,
    context: &Arc<Ctx>,
    sync: Sync<K, Ctx, E>,
) where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned,
    Ctx: Bookkeeping,
    E: SyncError,
{
    while let Some(key) = queue.get().await {
        match store.get(&key) {
            Some(cached) => match reconcile(name, cached.clone(), &**context, store, sync).await {
                Ok(Action(Some(delay))) => queue.add_after(key.clone(), delay),
                Ok(Action(None)) => {}
                Err(error) => queue
                    .add_rate_limited(key.clone(), retry_later(name, &*cached, &error, &**context)),
            },
            // A queued key whose object is gone (deleted meanwhile, or a trigger from a pod
            // of a deleted owner): nothing of it is to be kept.
            None => {
                let text = format!("{}/{}", key.namespace.as_deref().unwrap_or(""), key.name);
                context.forget(&text, key.extra.uid.as_deref());
            }
        }
        queue.done(&key);
    }
}

/// Drops the bookkeeping of deleted objects: those whose deletion was watched, and after a
/// relist (the store now holds the full list) those that vanished in a watch gap.
fn observe<K, Ctx>(
    event: &watcher::Event<DeserializeGuard<K>>,
    store: &Store<DeserializeGuard<K>>,
    context: &Ctx,
) where
    K: Resource<DynamicType = ()> + Clone,
    Ctx: Bookkeeping + ?Sized,
{
    match event {
        watcher::Event::Delete(object) => {
            context.forget(&key_of(object), object.uid().as_deref());
        }
        watcher::Event::InitDone => {
            let mut live = Live::default();
            for object in store.state() {
                live.keys.insert(key_of(&*object));
                live.uids.extend(object.uid());
            }
            context.retain(&live);
        }
        _ => {}
    }
}

fn key_of<K: Resource>(object: &K) -> String {
    format!(
        "{}/{}",
        object.namespace().unwrap_or_default(),
        object.name_any()
    )
}

async fn reconcile<K, Ctx, E>(
    name: &'static str,
    cached: Arc<DeserializeGuard<K>>,
    context: &Ctx,
    store: &Store<DeserializeGuard<K>>,
    sync: Sync<K, Ctx, E>,
) -> Result<Action, E>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned,
    Ctx: Bookkeeping,
{
    let key = key_of(&*cached);
    let object = match &cached.0 {
        Ok(object) => object,
        Err(invalid) => {
            tracing::warn!(controller = name, object = %key, error = %invalid, "cannot read object; fix it and it will be synced");
            return Ok(Action::await_change());
        }
    };
    let started = Instant::now();
    let result = sync(object, context).await;
    metrics::global().sync_done(name, result.is_ok(), started.elapsed());
    if result.is_ok() {
        context.backoff().succeeded(&key);
    }
    // Deleted while the sync ran: whatever the sync recorded (expectations of pods it
    // created) will never be needed, and the delete event may already have been handled.
    let uid = cached.uid();
    let still_there = store
        .get(&ObjectRef::from_obj(&*cached))
        .is_some_and(|now| now.uid() == uid);
    if !still_there {
        context.forget(&key, uid.as_deref());
    }
    result
}

fn retry_later<K: Resource, Ctx: Bookkeeping, E: SyncError>(
    name: &'static str,
    cached: &K,
    error: &E,
    context: &Ctx,
) -> Duration {
    let key = key_of(cached);
    let delay = context.backoff().failed(&key);
    if error.is_expected() {
        tracing::debug!(controller = name, object = %key, %error, retry_in = ?delay, "sync deferred");
    } else {
        tracing::warn!(controller = name, object = %key, %error, retry_in = ?delay, "sync failed");
    }
    delay
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::runtime::watcher::Event;
    use serde_json::json;

    use super::*;

    #[derive(Default)]
    struct Kept {
        backoff: Backoff,
        expectations: Expectations,
    }

    impl Bookkeeping for Kept {
        fn backoff(&self) -> &Backoff {
            &self.backoff
        }
        fn expectations(&self) -> Option<&Expectations> {
            Some(&self.expectations)
        }
    }

    fn object(name: &str) -> DeserializeGuard<ConfigMap> {
        serde_json::from_value(json!({"metadata": {
            "name": name, "namespace": "ns", "uid": format!("uid-{name}"), "resourceVersion": "1"
        }}))
        .unwrap()
    }

    /// Applies `events` to a store as the reflector does, then shows each to `observe`.
    fn feed(
        writer: &mut Writer<DeserializeGuard<ConfigMap>>,
        store: &Store<DeserializeGuard<ConfigMap>>,
        kept: &Kept,
        events: Vec<Event<DeserializeGuard<ConfigMap>>>,
    ) {
        for event in events {
            writer.apply_watcher_event(&event);
            observe(&event, store, kept);
        }
    }

    fn record(kept: &Kept, name: &str) {
        kept.backoff.failed(&format!("ns/{name}"));
        kept.expectations
            .expect_creations(&format!("uid-{name}"), 1, Instant::now());
    }

    #[test]
    fn a_watched_deletion_drops_the_objects_entries() {
        let (store, mut writer) = reflector::store();
        let kept = Kept::default();
        feed(&mut writer, &store, &kept, vec![Event::Apply(object("a"))]);
        feed(&mut writer, &store, &kept, vec![Event::Apply(object("b"))]);
        record(&kept, "a");
        record(&kept, "b");
        feed(&mut writer, &store, &kept, vec![Event::Delete(object("a"))]);
        assert_eq!((kept.backoff.len(), kept.expectations.len()), (1, 1));
        assert!(!kept.expectations.satisfied("uid-b", Instant::now()));
    }

    #[test]
    fn a_relist_drops_entries_of_objects_deleted_unseen() {
        let (store, mut writer) = reflector::store();
        let kept = Kept::default();
        feed(
            &mut writer,
            &store,
            &kept,
            vec![
                Event::Init,
                Event::InitApply(object("a")),
                Event::InitApply(object("b")),
                Event::InitDone,
            ],
        );
        record(&kept, "a");
        record(&kept, "b");
        // The watch broke; "a" was deleted meanwhile.
        feed(
            &mut writer,
            &store,
            &kept,
            vec![Event::Init, Event::InitApply(object("b")), Event::InitDone],
        );
        assert_eq!((kept.backoff.len(), kept.expectations.len()), (1, 1));
        assert!(!kept.expectations.satisfied("uid-b", Instant::now()));
    }
}

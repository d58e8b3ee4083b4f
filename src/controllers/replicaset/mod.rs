//! The MiniReplicaSet controller: keeps the right number of pods, exactly as the built-in
//! ReplicaSet controller does (`pkg/controller/replicaset` upstream).
//!
//! - `plan`: pure decisions — how many pods to create, which to delete, the pod to create.
//! - `status`: pure status computation.
//! - `handler`: turns pod events into expectations observations and syncs to run.
//! - `sync`: the executor — claims pods, carries out the plan, writes status.

mod create;
mod handler;
pub mod plan;
pub mod status;
mod sync;

#[cfg(test)]
mod upstream_tests;

use std::sync::Arc;

use crate::controllers::cached_pod::CachedPod;
use kube::core::DeserializeGuard;
use kube::runtime::reflector::Store;
use kube::{Api, Client};

use crate::api::MiniReplicaSet;
use crate::controllers::backoff::Backoff;
use crate::controllers::driver;
use crate::controllers::expectations::Expectations;
use crate::controllers::written::Written;
use crate::runtime::events::EventRecorder;
use crate::runtime::informer::{Cache, Informer};

/// Name under which the controller writes (field manager, event reporter).
pub const CONTROLLER_NAME: &str = "minireplicaset-controller";

/// Upstream `BurstReplicas`: at most this many creations or deletions per sync.
pub const BURST_REPLICAS: usize = 500;

/// A MiniReplicaSet as the controller's cache holds it: objects that fail to deserialize are
/// kept as errors instead of stopping the watch.
pub type CachedReplicaSet = DeserializeGuard<MiniReplicaSet>;

/// What every sync needs.
pub struct Context {
    pub client: Client,
    pub replicasets: Store<CachedReplicaSet>,
    pub pods: Arc<Cache<CachedPod>>,
    pub expectations: Arc<Expectations>,
    pub events: EventRecorder,
    pub backoff: Backoff,
    /// The status each set's last sync wrote, until the cache shows it.
    pub written: Written<MiniReplicaSet>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}", crate::runtime::api_error::message(.0))]
    Api(#[from] kube::Error),
    #[error("{0}")]
    ManageReplicas(String),
    #[error("invalid selector: {0}")]
    Selector(String),
}

impl crate::controllers::driver::SyncError for Error {}

/// The controller, wired to the shared pod informer; started by [`ReplicaSetController::run`].
pub struct ReplicaSetController {
    watch: driver::Watch<MiniReplicaSet>,
    context: Arc<Context>,
    triggers: futures::channel::mpsc::UnboundedReceiver<
        kube::runtime::reflector::ObjectRef<CachedReplicaSet>,
    >,
}

impl ReplicaSetController {
    /// Registers the controller's pod handler on `pods`; call before the informer runs.
    /// `api` sets the scope: all namespaces or one.
    pub fn new(
        client: Client,
        api: Api<CachedReplicaSet>,
        events: EventRecorder,
        pods: &mut Informer<CachedPod>,
        workers: u16,
        batch_period: std::time::Duration,
    ) -> Self {
        // Pod events are this controller's only triggers: a batch period batches them.
        let watch = driver::Watch::new(api, workers).delay_triggers(batch_period);
        let expectations = Arc::new(Expectations::reported_as(CONTROLLER_NAME));
        let (trigger, triggers) = futures::channel::mpsc::unbounded();
        pods.add_handler(Arc::new(handler::PodHandler::new(
            watch.store(),
            expectations.clone(),
            trigger,
        )));
        let context = Arc::new(Context {
            client,
            replicasets: watch.store(),
            pods: pods.cache(),
            expectations,
            events,
            backoff: Backoff::reported_as(CONTROLLER_NAME),
            written: Written::default(),
        });
        Self {
            watch,
            context,
            triggers,
        }
    }

    /// What the controller keeps per MiniReplicaSet, to read its size while it runs.
    pub fn bookkeeping(&self) -> Arc<dyn driver::Bookkeeping> {
        self.context.clone()
    }

    /// Runs until `shutdown` completes, then finishes the syncs in flight.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
    ) {
        let pods = self.context.pods.clone();
        // Syncing before the pod cache is full would see no pods and create too many.
        pods.wait_synced().await;
        driver::drive(
            CONTROLLER_NAME,
            self.watch,
            self.triggers,
            shutdown,
            self.context,
            sync::sync_boxed,
        )
        .await;
    }
}

impl driver::Bookkeeping for Context {
    fn backoff(&self) -> &Backoff {
        &self.backoff
    }

    fn expectations(&self) -> Option<&Expectations> {
        Some(&self.expectations)
    }

    fn forget(&self, key: &str, uid: Option<&str>) {
        self.backoff.forget(key);
        if let Some(uid) = uid {
            self.expectations.forget(uid);
            self.written.forget(uid);
        }
    }

    fn retain(&self, live: &driver::Live) {
        self.backoff.retain(|key| live.keys.contains(key));
        self.expectations.retain(|uid| live.uids.contains(uid));
        self.written.retain(|uid| live.uids.contains(uid));
    }
}

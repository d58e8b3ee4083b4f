//! The MiniService EndpointSlice controller: for each MiniService (not ExternalName) it keeps
//! a selector-less core/v1 Service `mini-<name>` owned by the MiniService, and the
//! EndpointSlices of that Service listing the pods the MiniService selects, exactly as the
//! built-in EndpointSlice controller writes them (`pkg/controller/endpointslice` and
//! `k8s.io/endpointslice` upstream). kube-proxy, DNS and anything else that reads
//! EndpointSlices then route `mini-<name>` to the selected pods.
//!
//! - `service`: pure — the Service to keep, ownership, the MiniService status.
//! - `reconciler`: pure — the slices to create, update and delete (upstream `reconciler.go`).
//! - `handler`: pod, EndpointSlice and Service events → MiniServices to sync.
//! - `tracker`: the generations this controller wrote (upstream `EndpointSliceTracker`).
//! - `hold`: removals of ended terminating endpoints, held back to join the next write.
//! - `sync`: the executor.
//!
//! As upstream, every read comes from informers: the shared pod, node and MiniService ones,
//! and two of this controller's own, Services (all of them: a name taken by another Service
//! must be seen to be freed) and the EndpointSlices it manages (by label, so nobody else's
//! slices are held in memory). The slice cache lags behind the controller's own writes; the
//! tracker notices it and the sync waits until the cache has caught up, as upstream's
//! `StaleSlices` check does. A sync therefore costs no API call unless something must be
//! written.

mod handler;
pub mod hold;
pub mod reconciler;
pub mod service;
mod sync;
pub mod tracker;

#[cfg(test)]
mod upstream_tests;

use std::sync::Arc;
use std::time::Duration;

use crate::controllers::cached_pod::CachedPod;
use futures::FutureExt;
use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::Client;
use kube::core::DeserializeGuard;
use kube::runtime::watcher;

use crate::api::MiniService;
use crate::controllers::backoff::Backoff;
use crate::controllers::driver;
use crate::runtime::client::RateGate;
use crate::runtime::events::EventRecorder;
use crate::runtime::informer::{Cache, Informer};

/// Name under which the controller writes (field manager, event reporter).
pub const CONTROLLER_NAME: &str = "miniservice-endpointslice-controller";

/// The `endpointslice.kubernetes.io/managed-by` value of this controller's slices (the
/// built-in controller's is `endpointslice-controller.k8s.io`).
pub const MANAGED_BY: &str = "endpointslice-controller.minik8s.dev";

/// Upstream `--max-endpoints-per-slice` default.
pub const DEFAULT_MAX_ENDPOINTS_PER_SLICE: usize = 100;

/// Every MiniService is synced again this often. The informers bring every change, so this
/// is a safety net only; a sync that finds nothing to do makes no API call.
pub const RESYNC: Duration = Duration::from_secs(300);

/// A MiniService whose Service name is taken is checked again this often, besides at every
/// event of that Service.
pub const NAME_TAKEN_RECHECK: Duration = Duration::from_secs(30);

pub type CachedService = DeserializeGuard<MiniService>;

/// What every sync needs.
pub struct Context {
    pub client: Client,
    /// Taken before slice writes are planned, so that they carry every change until then.
    pub gate: Option<RateGate>,
    pub pods: Arc<Cache<CachedPod>>,
    pub nodes: Arc<Cache<Node>>,
    pub services: Arc<Cache<Service>>,
    pub slices: Arc<Cache<EndpointSlice>>,
    pub tracker: Arc<tracker::EndpointSliceTracker>,
    pub refused: Arc<handler::Refused>,
    pub held: hold::HeldRemovals,
    pub events: EventRecorder,
    pub backoff: Backoff,
    pub max_endpoints_per_slice: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}", crate::runtime::api_error::message(.0))]
    Api(#[from] kube::Error),
    #[error("{0}")]
    Sync(String),
    /// Upstream `StaleInformerCache`: retried once the cache has caught up.
    #[error("EndpointSlice informer cache is out of date")]
    StaleCache,
}

impl driver::SyncError for Error {
    fn is_expected(&self) -> bool {
        matches!(self, Error::StaleCache)
    }
}

/// The controller, wired to the shared pod, node and MiniService informers.
pub struct EndpointSliceController {
    watch: driver::Watch<MiniService>,
    context: Arc<Context>,
    triggers: driver::Triggers<MiniService>,
    services: Informer<Service>,
    slices: Informer<EndpointSlice>,
}

impl EndpointSliceController {
    /// Registers the controller's handlers; call before the informers run. `namespace` sets
    /// the scope: one namespace, or all when None.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: Client,
        gate: Option<RateGate>,
        namespace: Option<&str>,
        events: EventRecorder,
        pods: &mut Informer<CachedPod>,
        nodes: &mut Informer<Node>,
        minis: &mut Informer<MiniService>,
        workers: u16,
        max_endpoints_per_slice: usize,
    ) -> Self {
        let watch = driver::Watch::new(driver::scoped(&client, namespace), workers);
        let (trigger, triggers) = futures::channel::mpsc::unbounded();
        let enqueue = handler::Enqueue::new(minis.cache(), trigger);
        pods.add_handler(Arc::new(handler::PodHandler::new(enqueue.clone())));

        let mut services = Informer::new(
            driver::scoped(&client, namespace),
            watcher::Config::default(),
        );
        services.add_handler(Arc::new(handler::ServiceHandler::new(enqueue.clone())));
        let managed = format!("{}={MANAGED_BY}", reconciler::LABEL_MANAGED_BY);
        let mut slices = Informer::new(
            driver::scoped(&client, namespace),
            watcher::Config::default().labels(&managed),
        );
        let tracker = Arc::new(tracker::EndpointSliceTracker::default());
        let refused = Arc::new(handler::Refused::default());
        slices.add_handler(Arc::new(handler::SliceHandler::new(
            enqueue,
            tracker.clone(),
            refused.clone(),
        )));
        let context = Arc::new(Context {
            client,
            gate,
            pods: pods.cache(),
            nodes: nodes.cache(),
            services: services.cache(),
            slices: slices.cache(),
            tracker,
            refused,
            held: hold::HeldRemovals::default(),
            events,
            backoff: Backoff::reported_as(CONTROLLER_NAME),
            max_endpoints_per_slice: max_endpoints_per_slice.max(1),
        });
        Self {
            watch,
            context,
            triggers,
            services,
            slices,
        }
    }

    pub fn bookkeeping(&self) -> Arc<dyn driver::Bookkeeping> {
        self.context.clone()
    }

    /// Runs until `shutdown` completes, then finishes the syncs in flight.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
    ) {
        let Self {
            watch,
            context,
            triggers,
            services,
            slices,
        } = self;
        let informers = futures::future::join(services.run(), slices.run()).map(drop);
        let work = async move {
            // Syncing before the caches are full would remove endpoints that exist, or
            // create a Service that exists.
            context.pods.wait_synced().await;
            context.nodes.wait_synced().await;
            context.services.wait_synced().await;
            context.slices.wait_synced().await;
            driver::drive(
                CONTROLLER_NAME,
                watch,
                triggers,
                shutdown,
                context,
                sync::sync_boxed,
            )
            .await;
        };
        tokio::select! {
            () = work => {}
            () = informers => {}
        }
    }
}

impl driver::Bookkeeping for Context {
    fn backoff(&self) -> &Backoff {
        &self.backoff
    }

    fn forget(&self, key: &str, _uid: Option<&str>) {
        self.backoff.forget(key);
        if let Some((namespace, name)) = key.split_once('/') {
            let service = (namespace.to_string(), service::service_name(name));
            self.tracker.delete_service(&service);
            self.refused.lock().expect("refused lock").remove(&service);
            self.held.forget(&service);
        }
    }

    fn retain(&self, live: &driver::Live) {
        self.backoff.retain(|key| live.keys.contains(key));
        let services: std::collections::HashSet<(String, String)> = live
            .keys
            .iter()
            .filter_map(|key| key.split_once('/'))
            .map(|(namespace, name)| (namespace.to_string(), service::service_name(name)))
            .collect();
        self.tracker.retain(|key| services.contains(key));
        self.refused
            .lock()
            .expect("refused lock")
            .retain(|key| services.contains(key));
        self.held.retain(|key| services.contains(key));
    }
}

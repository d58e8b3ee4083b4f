//! The MiniService EndpointSlice controller: for each MiniService (not ExternalName) it keeps
//! a selector-less core/v1 Service `mini-<name>` owned by the MiniService, and the
//! EndpointSlices of that Service listing the pods the MiniService selects, exactly as the
//! built-in EndpointSlice controller writes them (`pkg/controller/endpointslice` and
//! `k8s.io/endpointslice` upstream). kube-proxy, DNS and anything else that reads
//! EndpointSlices then route `mini-<name>` to the selected pods.
//!
//! - `service`: pure — the Service to keep, ownership, the MiniService status.
//! - `reconciler`: pure — the slices to create, update and delete (upstream `reconciler.go`).
//! - `handler`: pod events → MiniServices to sync.
//! - `sync`: the executor.
//!
//! The Service and the slices are read from the API server at each sync rather than from
//! informers of their own: upstream needs an EndpointSlice tracker to notice that its slice
//! informer is behind its own writes, and a fresh list avoids that whole class of stale-cache
//! writes, at two reads per sync. Changes other people make to the Service or the slices are
//! repaired at the next sync; a periodic resync ([`RESYNC`]) bounds the wait.

mod handler;
pub mod reconciler;
pub mod service;
mod sync;

#[cfg(test)]
mod upstream_tests;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::core::DeserializeGuard;
use kube::{Api, Client};

use crate::api::MiniService;
use crate::controllers::backoff::Backoff;
use crate::controllers::driver;
use crate::runtime::events::EventRecorder;
use crate::runtime::informer::{Cache, Informer};

/// Name under which the controller writes (field manager, event reporter).
pub const CONTROLLER_NAME: &str = "miniservice-endpointslice-controller";

/// The `endpointslice.kubernetes.io/managed-by` value of this controller's slices (the
/// built-in controller's is `endpointslice-controller.k8s.io`).
pub const MANAGED_BY: &str = "endpointslice-controller.minik8s.dev";

/// Upstream `--max-endpoints-per-slice` default.
pub const DEFAULT_MAX_ENDPOINTS_PER_SLICE: usize = 100;

/// Every MiniService is synced again this often, to repair changes others made to its
/// Service or slices (this controller does not watch those).
pub const RESYNC: Duration = Duration::from_secs(300);

/// A MiniService whose Service name is taken is checked again this often, so that it takes
/// the name soon after the other Service is renamed or deleted (Services are not watched).
pub const NAME_TAKEN_RECHECK: Duration = Duration::from_secs(30);

pub type CachedService = DeserializeGuard<MiniService>;

/// What every sync needs.
pub struct Context {
    pub client: Client,
    pub pods: Arc<Cache<Pod>>,
    pub nodes: Arc<Cache<Node>>,
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
}

/// The controller, wired to the shared pod, node and MiniService informers.
pub struct EndpointSliceController {
    watch: driver::Watch<MiniService>,
    context: Arc<Context>,
    triggers: driver::Triggers<MiniService>,
}

impl EndpointSliceController {
    /// Registers the controller's handlers; call before the informers run. `api` sets the
    /// scope: all namespaces or one.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: Client,
        api: Api<CachedService>,
        events: EventRecorder,
        pods: &mut Informer<Pod>,
        nodes: &mut Informer<Node>,
        services: &mut Informer<MiniService>,
        workers: u16,
        max_endpoints_per_slice: usize,
    ) -> Self {
        let watch = driver::Watch::new(api, workers);
        let (trigger, triggers) = futures::channel::mpsc::unbounded();
        pods.add_handler(Arc::new(handler::PodHandler::new(
            services.cache(),
            trigger,
        )));
        let context = Arc::new(Context {
            client,
            pods: pods.cache(),
            nodes: nodes.cache(),
            events,
            backoff: Backoff::reported_as(CONTROLLER_NAME),
            max_endpoints_per_slice: max_endpoints_per_slice.max(1),
        });
        Self {
            watch,
            context,
            triggers,
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
        // Syncing before the caches are full would remove endpoints that exist.
        self.context.pods.wait_synced().await;
        self.context.nodes.wait_synced().await;
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
}

//! The MiniService controller, Endpoints half: keeps a MiniEndpoints beside every MiniService
//! that has a selector, listing the pods it selects, as the built-in endpoints controller does
//! for Services (`pkg/controller/endpoint` upstream). See docs/endpoints.md.
//!
//! - `plan`: pure decisions — which pods, which addresses and ports, the repacked subsets,
//!   labels and annotations, and whether anything must be written.
//! - `trigger_time`: the `last-change-trigger-time` bookkeeping.
//! - `handler`: pod, MiniService and MiniEndpoints events → syncs and clean-ups to run.
//! - `sync`: the executor — one sync of a MiniService, and the removal of the MiniEndpoints
//!   of MiniServices that are gone.

mod handler;
pub mod plan;
mod sync;
pub mod trigger_time;

#[cfg(test)]
mod upstream_tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::controllers::cached_pod::CachedPod;
use futures::FutureExt;
use futures::channel::mpsc::{UnboundedReceiver, unbounded};
use kube::core::DeserializeGuard;
use kube::runtime::watcher;
use kube::{Api, Client};

use crate::api::{MiniEndpoints, MiniService};
use crate::controllers::backoff::Backoff;
use crate::controllers::driver;
use crate::runtime::client::RateGate;
use crate::runtime::events::EventRecorder;
use crate::runtime::informer::{Cache, Informer};

/// Name under which the controller writes: field manager, event source, and the value of its
/// `endpoints.kubernetes.io/managed-by` label (upstream: `endpoint-controller`).
pub const CONTROLLER_NAME: &str = "miniendpoints-controller";

/// Resource versions replaced by this controller, per MiniEndpoints (`namespace/name`).
pub type Stale = Mutex<HashMap<String, String>>;

/// A MiniService as the work queue holds it.
pub type CachedService = DeserializeGuard<MiniService>;

/// What every sync needs.
pub struct Context {
    pub client: Client,
    /// Taken before a write is planned, so that the write carries every change until then.
    pub gate: Option<RateGate>,
    pub services: Arc<Cache<MiniService>>,
    pub pods: Arc<Cache<CachedPod>>,
    pub endpoints: Arc<Cache<MiniEndpoints>>,
    pub events: EventRecorder,
    pub backoff: Backoff,
    pub trigger_times: trigger_time::TriggerTimeTracker,
    /// Upstream `staleEndpointsTracker`: per MiniEndpoints (`namespace/name`), the resource
    /// version this controller replaced; a cache still holding it is out of date.
    pub stale: Arc<Stale>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}", crate::runtime::api_error::message(.0))]
    Api(#[from] kube::Error),
    #[error(
        "endpoints informer cache is out of date, resource version {version} already processed for endpoints {key}"
    )]
    StaleCache { key: String, version: String },
}

impl driver::SyncError for Error {
    fn is_expected(&self) -> bool {
        matches!(self, Error::StaleCache { .. })
    }
}

/// The controller, wired to the shared pod and MiniService informers; started by
/// [`EndpointsController::run`].
pub struct EndpointsController {
    watch: driver::Watch<MiniService>,
    context: Arc<Context>,
    triggers: driver::Triggers<MiniService>,
    endpoints: Informer<MiniEndpoints>,
    endpoints_api: Api<MiniEndpoints>,
    cleanups: UnboundedReceiver<(String, String)>,
}

impl EndpointsController {
    /// Registers the controller's handlers on `pods` and `services`; call before the
    /// informers run. `namespace` sets the scope: one namespace, or all when None.
    pub fn new(
        client: Client,
        gate: Option<RateGate>,
        namespace: Option<&str>,
        events: EventRecorder,
        pods: &mut Informer<CachedPod>,
        services: &mut Informer<MiniService>,
        workers: u16,
    ) -> Self {
        let watch = driver::Watch::new(driver::scoped(&client, namespace), workers);
        let (trigger, triggers) = unbounded();
        let (cleanup, cleanups) = unbounded();
        let mut endpoints = Informer::new(
            driver::scoped(&client, namespace),
            watcher::Config::default(),
        );
        let services_cache = services.cache();
        pods.add_handler(Arc::new(handler::PodHandler::new(
            services_cache.clone(),
            trigger.clone(),
        )));
        services.add_handler(Arc::new(handler::ServiceHandler::new(cleanup.clone())));
        let stale = Arc::new(Stale::default());
        endpoints.add_handler(Arc::new(handler::EndpointsHandler::new(
            services_cache.clone(),
            stale.clone(),
            trigger,
            cleanup,
        )));
        let endpoints_api = driver::scoped(&client, namespace);
        let context = Arc::new(Context {
            client,
            gate,
            services: services_cache,
            pods: pods.cache(),
            endpoints: endpoints.cache(),
            events,
            backoff: Backoff::reported_as(CONTROLLER_NAME),
            trigger_times: trigger_time::TriggerTimeTracker::default(),
            stale,
        });
        Self {
            watch,
            context,
            triggers,
            endpoints,
            endpoints_api,
            cleanups,
        }
    }

    /// What the controller keeps per MiniService, to read its size while it runs.
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
            endpoints,
            endpoints_api,
            cleanups,
        } = self;
        let shutdown = shutdown.shared();
        let informer = endpoints.run();
        let synced = {
            let context = context.clone();
            async move {
                // Syncing before the caches are full would write endpoints without pods, and
                // clean-up would take existing services for gone ones.
                context.pods.wait_synced().await;
                context.services.wait_synced().await;
                context.endpoints.wait_synced().await;
            }
        };
        let work = async move {
            synced.await;
            let cleaner = sync::clean_up(context.clone(), endpoints_api, cleanups);
            let driven = driver::drive(
                CONTROLLER_NAME,
                watch,
                triggers,
                shutdown.clone(),
                context,
                sync::sync_boxed,
            );
            tokio::select! {
                () = driven => {}
                () = cleaner.then(|()| std::future::pending::<()>()) => {}
            }
        };
        tokio::select! {
            () = work => {}
            () = informer => {}
        }
    }
}

impl driver::Bookkeeping for Context {
    fn backoff(&self) -> &Backoff {
        &self.backoff
    }

    fn forget(&self, key: &str, _uid: Option<&str>) {
        self.backoff.forget(key);
        self.trigger_times.forget(key);
        self.stale.lock().expect("stale lock").remove(key);
    }

    fn retain(&self, live: &driver::Live) {
        self.backoff.retain(|key| live.keys.contains(key));
        self.trigger_times.retain(|key| live.keys.contains(key));
        self.stale
            .lock()
            .expect("stale lock")
            .retain(|key, _| live.keys.contains(key));
    }
}

/// Selects `labels` (upstream: a nil selector selects nothing, an empty one everything).
pub fn selects(
    selector: Option<&std::collections::BTreeMap<String, String>>,
    labels: &std::collections::BTreeMap<String, String>,
) -> bool {
    selector.is_some_and(|s| s.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

//! The controller manager: builds the clients, the shared informers and the chosen
//! controllers (from the table in `controllers.rs`), and runs them until shutdown. The CLI
//! and the integration tests both use it.

mod controllers;
mod informers;

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures::FutureExt;

use self::controllers::{CONTROLLERS, Parts};
use self::informers::Informers;
use crate::controllers::driver::Bookkeeping;
use crate::controllers::endpointslice;
use crate::runtime::client::{self, RateLimit};
use crate::runtime::events::EventRecorder;
use crate::runtime::health::{self, Readiness};
use crate::runtime::leader::{Acquired, Election, Leadership};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum ControllerName {
    /// MiniReplicaSet → pods.
    Replicaset,
    /// MiniDeployment → MiniReplicaSets.
    Deployment,
    /// MiniService → MiniEndpoints.
    Endpoints,
    /// MiniService → its Service `mini-<name>` and that Service's EndpointSlices.
    Endpointslice,
}

#[derive(Clone, Debug)]
pub struct Options {
    /// Serve /healthz, /readyz and /metrics here.
    pub health_address: Option<std::net::SocketAddr>,
    /// Run the controllers only while holding this lease.
    pub leader_election: Option<Election>,
    pub controllers: BTreeSet<ControllerName>,
    /// Client-side limit of each controller's client; None for no limit.
    pub rate_limit: Option<RateLimit>,
    /// Watch only this namespace instead of the whole cluster.
    pub namespace: Option<String>,
    pub replicaset_workers: u16,
    /// How long a MiniReplicaSet's sync after a pod event waits for more (0: none).
    pub replicaset_batch_period: std::time::Duration,
    pub deployment_workers: u16,
    pub endpoints_workers: u16,
    /// kube-controller-manager's `--concurrent-service-endpoint-syncs`.
    pub endpointslice_workers: u16,
    pub max_endpoints_per_slice: usize,
    /// Filled by [`run`] with the running controllers' per-object bookkeeping.
    pub entries: Entries,
}

/// The per-object bookkeeping of one manager's controllers, readable while they run: the
/// numbers of the `minik8s_expectations_entries` and `minik8s_backoff_entries` gauges, for
/// this manager alone (a test process runs several).
#[derive(Clone, Default)]
pub struct Entries(Arc<Mutex<Vec<Arc<dyn Bookkeeping>>>>);

impl Entries {
    fn add(&self, bookkeeping: Arc<dyn Bookkeeping>) {
        self.0.lock().expect("entries lock").push(bookkeeping);
    }

    /// Owners with recorded expectations.
    pub fn expectations(&self) -> usize {
        let all = self.0.lock().expect("entries lock");
        all.iter()
            .filter_map(|b| b.expectations().map(|e| e.len()))
            .sum()
    }

    /// Objects with a failure count.
    pub fn backoff(&self) -> usize {
        let all = self.0.lock().expect("entries lock");
        all.iter().map(|b| b.backoff().len()).sum()
    }
}

impl std::fmt::Debug for Entries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entries")
            .field("expectations", &self.expectations())
            .field("backoff", &self.backoff())
            .finish()
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            health_address: None,
            leader_election: None,
            controllers: BTreeSet::from([
                ControllerName::Replicaset,
                ControllerName::Deployment,
                ControllerName::Endpoints,
                ControllerName::Endpointslice,
            ]),
            rate_limit: Some(RateLimit::CONTROLLER_MANAGER),
            namespace: None,
            replicaset_workers: 5,
            replicaset_batch_period: std::time::Duration::ZERO,
            deployment_workers: 5,
            endpoints_workers: 5,
            endpointslice_workers: 5,
            max_endpoints_per_slice: endpointslice::DEFAULT_MAX_ENDPOINTS_PER_SLICE,
            entries: Entries::default(),
        }
    }
}

/// The source of the events about objects the shared informers cannot decode.
pub const INFORMER_EVENT_SOURCE: &str = "minik8s-controller-manager";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach the API server ({0}); set KUBECONFIG or run inside a cluster")]
    Connect(#[from] kube::Error),
    #[error("cannot serve the health endpoints: {0}")]
    Health(#[from] std::io::Error),
    #[error("lost the leader lease; exiting so that a fresh start can compete for it again")]
    LostLease,
}

/// Runs the controllers until `shutdown` completes, then lets syncs in flight finish.
pub async fn run(
    options: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let shutdown = shutdown.boxed().shared();
    // As in kube-controller-manager, each controller has a client (and so a rate limit) of its
    // own; the informers and each event recorder have theirs. Under leader election they all
    // write only while the lease is held.
    let clients = client::Clients::new(
        options.rate_limit,
        options.leader_election.as_ref().map(|e| e.fence.clone()),
    );
    let mut informers = Informers::new(
        clients.build().await?,
        // Objects the informers cannot decode are reported on the objects themselves.
        EventRecorder::start(clients.build().await?, INFORMER_EVENT_SOURCE),
        options.namespace.as_deref(),
    );
    let mut running: Vec<futures::future::BoxFuture<'static, ()>> = Vec::new();
    for controller in CONTROLLERS
        .iter()
        .filter(|c| options.controllers.contains(&c.name))
    {
        let (client, gate) = clients.build_gated().await?;
        let parts = Parts {
            client,
            gate,
            events: EventRecorder::start(clients.build().await?, controller.component),
            informers: &mut informers,
            options: &options,
            shutdown: shutdown.clone(),
        };
        let started = (controller.start)(parts);
        options.entries.add(started.bookkeeping);
        running.push(started.run);
    }

    // Every replica serves health and keeps its caches warm; /readyz turns ready once they
    // have listed.
    let readiness = Readiness::default();
    if let Some(address) = options.health_address {
        let listener = tokio::net::TcpListener::bind(address).await?;
        tracing::info!(%address, "serving /healthz, /readyz and /metrics");
        let router = health::router(readiness.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
    }
    let (watches, synced) = informers.run();
    let mark_ready = async move {
        synced.await;
        readiness.set_ready();
        std::future::pending::<()>().await
    };
    let election_client = match options.leader_election {
        Some(_) => Some(clients.build().await?),
        None => None,
    };
    // Only the leader writes: the controllers start once the lease is held.
    let controllers = async move {
        let election = options.leader_election.as_ref().zip(election_client);
        let mut leadership = match Leadership::acquire(election, shutdown.clone()).await {
            Acquired::ShutDown => return Ok(()),
            acquired => acquired,
        };
        let outcome = tokio::select! {
            _ = futures::future::join_all(running) => Ok(()),
            () = leadership.lost() => Err(Error::LostLease),
        };
        leadership.release().await;
        outcome
    };
    // Nothing else is spawned, so dropping this future stops everything at once.
    tokio::select! {
        outcome = controllers => outcome?,
        () = watches => {}
        () = mark_ready => {}
    }
    Ok(())
}

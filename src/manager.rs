//! The controller manager: builds the clients, the shared pod informer and the chosen
//! controllers, and runs them until shutdown. The CLI and the integration tests both use it.

use std::collections::BTreeSet;
use std::future::Future;

use futures::FutureExt;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::watcher;
use kube::{Api, Client};

use crate::api::MiniReplicaSet;
use crate::controllers::deployment::{self, DeploymentController};
use crate::controllers::replicaset::{self, ReplicaSetController};
use crate::runtime::client::{self, RateLimit};
use crate::runtime::events::EventRecorder;
use crate::runtime::informer::Informer;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum ControllerName {
    /// MiniReplicaSet → pods.
    Replicaset,
    /// MiniDeployment → MiniReplicaSets.
    Deployment,
}

#[derive(Clone, Debug)]
pub struct Options {
    pub controllers: BTreeSet<ControllerName>,
    /// Client-side limit of each controller's client; None for no limit.
    pub rate_limit: Option<RateLimit>,
    /// Watch only this namespace instead of the whole cluster.
    pub namespace: Option<String>,
    pub replicaset_workers: u16,
    pub deployment_workers: u16,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            controllers: BTreeSet::from([ControllerName::Replicaset, ControllerName::Deployment]),
            rate_limit: Some(RateLimit::CONTROLLER_MANAGER),
            namespace: None,
            replicaset_workers: 5,
            deployment_workers: 5,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach the API server ({0}); set KUBECONFIG or run inside a cluster")]
    Connect(#[from] kube::Error),
}

/// Runs the controllers until `shutdown` completes, then lets syncs in flight finish.
pub async fn run(
    options: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let shutdown = shutdown.boxed().shared();
    // As in kube-controller-manager, each controller has a client (and so a rate limit) of its
    // own; the informer and the event recorders have theirs.
    let informer_client = client::build(options.rate_limit).await?;
    let mut pods = Informer::new(
        scoped::<Pod>(informer_client.clone(), &options),
        watcher::Config::default(),
    );
    let mut replica_sets = Informer::new(
        scoped::<MiniReplicaSet>(informer_client, &options),
        watcher::Config::default(),
    );

    let mut running: Vec<futures::future::BoxFuture<'static, ()>> = Vec::new();
    if options.controllers.contains(&ControllerName::Replicaset) {
        let client = client::build(options.rate_limit).await?;
        let events = EventRecorder::start(
            client::build(options.rate_limit).await?,
            replicaset::CONTROLLER_NAME,
        );
        let api = scoped(client.clone(), &options);
        let controller =
            ReplicaSetController::new(client, api, events, &mut pods, options.replicaset_workers);
        running.push(controller.run(shutdown.clone()).boxed());
    }
    if options.controllers.contains(&ControllerName::Deployment) {
        let client = client::build(options.rate_limit).await?;
        let events = EventRecorder::start(
            client::build(options.rate_limit).await?,
            deployment::CONTROLLER_NAME,
        );
        let api = scoped(client.clone(), &options);
        let controller = DeploymentController::new(
            client,
            api,
            events,
            &mut pods,
            &mut replica_sets,
            options.deployment_workers,
        );
        running.push(controller.run(shutdown.clone()).boxed());
    }

    // Every handler is registered: start the shared watch. Nothing is spawned, so dropping
    // this future stops everything at once.
    tokio::select! {
        _ = futures::future::join_all(running) => {}
        () = pods.run() => {}
        () = replica_sets.run() => {}
    }
    Ok(())
}

fn scoped<K>(client: Client, options: &Options) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match &options.namespace {
        Some(namespace) => Api::namespaced(client, namespace),
        None => Api::all(client),
    }
}

//! The shared informers (kube-controller-manager's shared informer factory): one watch per
//! kind for every controller of the process. Each is made up front, costs nothing until it
//! runs, and runs only if a controller registered a handler on it or keeps its cache.

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Node;
use kube::core::DeserializeGuard;
use kube::runtime::watcher;
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;

use crate::api::{MiniReplicaSet, MiniService};
use crate::controllers::cached_pod::CachedPod;
use crate::runtime::events::EventRecorder;
use crate::runtime::informer::Informer;

pub struct Informers {
    /// Pods decoded as the projection the controllers read (`controllers::cached_pod`).
    pub pods: Informer<CachedPod>,
    pub replica_sets: Informer<MiniReplicaSet>,
    pub services: Informer<MiniService>,
    /// Cluster-wide even when the controllers watch one namespace (nodes have none).
    pub nodes: Informer<Node>,
}

impl Informers {
    /// Informers on `client`, in `namespace` (all namespaces when None); objects they cannot
    /// decode are reported through `events`.
    pub fn new(client: Client, events: EventRecorder, namespace: Option<&str>) -> Self {
        fn scoped<K>(
            client: &Client,
            namespace: Option<&str>,
            events: &EventRecorder,
        ) -> Informer<K>
        where
            K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
            K: Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
        {
            let api = match namespace {
                Some(namespace) => Api::namespaced(client.clone(), namespace),
                None => Api::all(client.clone()),
            };
            Informer::new(api, watcher::Config::default()).report_to(events.clone())
        }
        Self {
            pods: scoped(&client, namespace, &events),
            replica_sets: scoped(&client, namespace, &events),
            services: scoped(&client, namespace, &events),
            nodes: Informer::new(
                Api::<DeserializeGuard<Node>>::all(client),
                watcher::Config::default(),
            )
            .report_to(events),
        }
    }

    /// Runs the informers in use. Returns their watches (which run until the process stops)
    /// and a future that completes once every one of them has listed.
    pub fn run(self) -> (BoxFuture<'static, ()>, BoxFuture<'static, ()>) {
        let mut watches = Vec::new();
        let mut synced = Vec::new();
        add(self.pods, &mut watches, &mut synced);
        add(self.replica_sets, &mut watches, &mut synced);
        add(self.services, &mut watches, &mut synced);
        add(self.nodes, &mut watches, &mut synced);
        // With nothing to watch there is still nothing to stop for.
        watches.push(std::future::pending().boxed());
        (
            futures::future::join_all(watches).map(drop).boxed(),
            futures::future::join_all(synced).map(drop).boxed(),
        )
    }
}

fn add<K>(
    informer: Informer<K>,
    watches: &mut Vec<BoxFuture<'static, ()>>,
    synced: &mut Vec<BoxFuture<'static, ()>>,
) where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync,
    K: 'static,
{
    if !informer.is_used() {
        return;
    }
    let cache = informer.cache();
    synced.push(async move { cache.wait_synced().await }.boxed());
    watches.push(informer.run().boxed());
}

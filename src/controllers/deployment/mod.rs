//! The MiniDeployment controller: manages MiniReplicaSets exactly as the built-in Deployment
//! controller manages ReplicaSets (`pkg/controller/deployment` upstream).
//!
//! - `util`: rollout bounds, hashing, new/old sets, revisions, annotations, conditions (pure).
//! - `plan`: rolling, proportional and cleanup decisions (pure).
//! - `status`: status and the Available / Progressing / ReplicaFailure conditions (pure).
//! - `handler`: MiniReplicaSet and pod events → deployments to sync.
//! - `sync`: the executor.

mod handler;
pub mod plan;
pub mod status;
mod sync;
pub mod util;

#[cfg(test)]
mod upstream_tests;

use std::sync::Arc;

use crate::controllers::cached_pod::CachedPod;
use kube::core::DeserializeGuard;
use kube::{Api, Client};

use crate::api::{MiniDeployment, MiniReplicaSet};
use crate::controllers::backoff::Backoff;
use crate::controllers::driver;
use crate::controllers::driver::Action;
use crate::controllers::written::Written;
use crate::runtime::api_error;
use crate::runtime::events::EventRecorder;
use crate::runtime::informer::{Cache, Informer};

/// Name under which the controller writes (field manager, event reporter).
pub const CONTROLLER_NAME: &str = "minideployment-controller";

pub type CachedDeployment = DeserializeGuard<MiniDeployment>;

pub struct Context {
    pub client: Client,
    pub replica_sets: Arc<Cache<MiniReplicaSet>>,
    pub pods: Arc<Cache<CachedPod>>,
    pub events: EventRecorder,
    pub backoff: Backoff,
    /// What the last sync of each deployment wrote, until the cache shows it.
    pub written: Written<MiniDeployment>,
    /// The sets as this controller last scaled or annotated them, until the cache shows it:
    /// a sync right after a scale must not plan from the size before it (and fail on the
    /// resourceVersion it would send, as the write before already changed it).
    pub written_sets: Arc<Written<MiniReplicaSet>>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}", crate::runtime::api_error::message(.0))]
    Api(#[from] kube::Error),
    #[error("{0}")]
    Sync(String),
    #[error("invalid selector: {0}")]
    Selector(String),
}

impl crate::controllers::driver::SyncError for Error {
    /// A conflict means the sync worked from a copy that has since changed (its own earlier
    /// write not yet in the cache, or a user's edit); the retry reads the new one.
    fn is_expected(&self) -> bool {
        matches!(self, Error::Api(e) if crate::controllers::claim::is_status(e, 409))
    }
}

pub struct DeploymentController {
    watch: driver::Watch<MiniDeployment>,
    context: Arc<Context>,
    triggers: futures::channel::mpsc::UnboundedReceiver<
        kube::runtime::reflector::ObjectRef<CachedDeployment>,
    >,
}

impl DeploymentController {
    /// Registers the controller's handlers on the shared informers; call before they run.
    pub fn new(
        client: Client,
        api: Api<CachedDeployment>,
        events: EventRecorder,
        pods: &mut Informer<CachedPod>,
        replica_sets: &mut Informer<MiniReplicaSet>,
        workers: u16,
    ) -> Self {
        let watch = driver::Watch::new(api, workers);
        let (trigger, triggers) = futures::channel::mpsc::unbounded();
        let waker = handler::Waker {
            deployments: watch.store(),
            trigger,
        };
        let written_sets = Arc::new(Written::default());
        replica_sets.add_handler(Arc::new(handler::ReplicaSetHandler {
            waker: waker.clone(),
            written_sets: written_sets.clone(),
        }));
        pods.add_handler(Arc::new(handler::PodHandler {
            waker,
            replica_sets: replica_sets.cache(),
        }));
        let context = Arc::new(Context {
            client,
            replica_sets: replica_sets.cache(),
            pods: pods.cache(),
            events,
            backoff: Backoff::reported_as(CONTROLLER_NAME),
            written: Written::default(),
            written_sets,
        });
        Self {
            watch,
            context,
            triggers,
        }
    }

    /// What the controller keeps per MiniDeployment, to read its size while it runs.
    pub fn bookkeeping(&self) -> Arc<dyn driver::Bookkeeping> {
        self.context.clone()
    }

    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
    ) {
        self.context.replica_sets.wait_synced().await;
        self.context.pods.wait_synced().await;
        driver::drive(
            CONTROLLER_NAME,
            self.watch,
            self.triggers,
            shutdown,
            self.context,
            sync_boxed,
        )
        .await;
    }
}

impl driver::Bookkeeping for Context {
    fn backoff(&self) -> &Backoff {
        &self.backoff
    }

    fn forget(&self, key: &str, uid: Option<&str>) {
        self.backoff.forget(key);
        if let Some(uid) = uid {
            self.written.forget(uid);
        }
    }

    fn retain(&self, live: &driver::Live) {
        self.backoff.retain(|key| live.keys.contains(key));
        self.written.retain(|uid| live.uids.contains(uid));
    }
}

fn sync_boxed<'a>(
    d: &'a MiniDeployment,
    ctx: &'a Context,
) -> futures::future::BoxFuture<'a, Result<Action, Error>> {
    Box::pin(async move {
        match sync::sync(d, ctx).await {
            // Upstream `handleErr`: in a namespace being deleted every create fails until the
            // deployment is gone; it is neither retried nor reported.
            Err(Error::Api(e)) if api_error::is_namespace_terminating(&e) => {
                tracing::debug!(error = %api_error::message(&e), "namespace is being deleted");
                Ok(Action::await_change())
            }
            other => other,
        }
    })
}

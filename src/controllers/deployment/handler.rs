//! MiniReplicaSet and pod events → MiniDeployments to sync (upstream `addReplicaSet`,
//! `updateReplicaSet`, `deleteReplicaSet`, `deletePod`).

use std::sync::Arc;

use crate::controllers::cached_pod::CachedPod;
use futures::channel::mpsc::UnboundedSender;
use kube::ResourceExt;
use kube::core::SelectorExt;
use kube::runtime::reflector::{ObjectRef, Store};

use super::CachedDeployment;
use crate::api::deployment::StrategyType;
use crate::api::{GROUP, MiniReplicaSet};
use crate::controllers::pod;
use crate::controllers::written::Written;
use crate::runtime::informer::{Cache, EventHandler};
use crate::runtime::label_selector;

/// Shared by both handlers: where deployments are and how to wake them.
#[derive(Clone)]
pub struct Waker {
    pub deployments: Store<CachedDeployment>,
    pub trigger: UnboundedSender<ObjectRef<CachedDeployment>>,
}

impl Waker {
    fn wake(&self, namespace: &str, name: &str) {
        if self
            .trigger
            .unbounded_send(ObjectRef::new(name).within(namespace))
            .is_ok()
        {
            crate::runtime::metrics::global().pending(super::CONTROLLER_NAME, 1);
        }
    }

    /// The name of the MiniDeployment controlling an object with these owner references.
    fn owner(
        meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
        kind: &str,
    ) -> Option<String> {
        let controller = pod::controller_of(meta)?;
        (controller.kind == kind && controller.api_version.split('/').next() == Some(GROUP))
            .then(|| controller.name.clone())
    }

    /// Wakes the controlling deployment, or for an orphan every deployment selecting it.
    fn wake_for(&self, rs: &MiniReplicaSet) {
        let namespace = rs.namespace().unwrap_or_default();
        if let Some(owner) = Self::owner(&rs.metadata, "MiniDeployment") {
            return self.wake(&namespace, &owner);
        }
        if pod::controller_of(&rs.metadata).is_some() {
            return;
        }
        for cached in self.deployments.state() {
            let Ok(d) = &cached.0 else { continue };
            let selects = d.namespace().as_deref() == Some(namespace.as_str())
                && label_selector::to_selector(&d.spec.selector)
                    .is_ok_and(|s| !s.selects_all() && s.matches(rs.labels()));
            if selects {
                self.wake(&namespace, &d.name_any());
            }
        }
    }
}

pub struct ReplicaSetHandler {
    pub waker: Waker,
    /// Dropped with the set.
    pub written_sets: Arc<Written<MiniReplicaSet>>,
}

impl EventHandler<MiniReplicaSet> for ReplicaSetHandler {
    fn on_add(&self, rs: &Arc<MiniReplicaSet>) {
        self.waker.wake_for(rs);
    }

    fn on_update(&self, old: &Arc<MiniReplicaSet>, new: &Arc<MiniReplicaSet>) {
        if old.resource_version() == new.resource_version() {
            return;
        }
        if pod::controller_of(&old.metadata) != pod::controller_of(&new.metadata)
            || old.labels() != new.labels()
        {
            self.waker.wake_for(old);
        }
        self.waker.wake_for(new);
    }

    fn on_delete(&self, rs: &Arc<MiniReplicaSet>) {
        self.written_sets.forget(&rs.uid().unwrap_or_default());
        self.waker.wake_for(rs);
    }
}

/// Recreate waits for the last old pod to go; its deletion wakes the deployment.
pub struct PodHandler {
    pub waker: Waker,
    pub replica_sets: Arc<Cache<MiniReplicaSet>>,
}

impl EventHandler<CachedPod> for PodHandler {
    fn on_add(&self, _: &Arc<CachedPod>) {}

    fn on_update(&self, _: &Arc<CachedPod>, _: &Arc<CachedPod>) {}

    fn on_delete(&self, pod: &Arc<CachedPod>) {
        let namespace = pod.namespace().unwrap_or_default();
        let Some(rs) = Waker::owner(&pod.metadata, "MiniReplicaSet")
            .and_then(|name| self.replica_sets.get(&namespace, &name))
        else {
            return;
        };
        let Some(deployment) = Waker::owner(&rs.metadata, "MiniDeployment") else {
            return;
        };
        let recreate = self
            .waker
            .deployments
            .get(&ObjectRef::new(&deployment).within(&namespace))
            .is_some_and(|d| {
                d.0.as_ref()
                    .is_ok_and(|d| d.spec.strategy.type_ == StrategyType::Recreate)
            });
        if recreate {
            self.waker.wake(&namespace, &deployment);
        }
    }
}

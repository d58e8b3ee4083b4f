//! Pod events → expectations observations and syncs to run (upstream `addPod`, `updatePod`,
//! `deletePod`). With `--replicaset-updates-batch-period` the syncs asked for here wait out
//! the period in the work queue (`driver::Watch::delay_triggers`); expectations are observed
//! at once.

use std::sync::Arc;

use crate::controllers::cached_pod::CachedPod;
use futures::channel::mpsc::UnboundedSender;
use kube::ResourceExt;
use kube::runtime::reflector::{ObjectRef, Store};

use super::CachedReplicaSet;
use crate::api::GROUP;
use crate::controllers::expectations::Expectations;
use crate::controllers::pod;
use crate::runtime::informer::EventHandler;
use crate::runtime::label_selector;

pub struct PodHandler {
    replicasets: Store<CachedReplicaSet>,
    expectations: Arc<Expectations>,
    trigger: UnboundedSender<ObjectRef<CachedReplicaSet>>,
}

impl PodHandler {
    pub fn new(
        replicasets: Store<CachedReplicaSet>,
        expectations: Arc<Expectations>,
        trigger: UnboundedSender<ObjectRef<CachedReplicaSet>>,
    ) -> Self {
        Self {
            replicasets,
            expectations,
            trigger,
        }
    }

    fn enqueue(&self, namespace: &str, name: &str) {
        // The receiver only goes away at shutdown.
        if self
            .trigger
            .unbounded_send(ObjectRef::new(name).within(namespace))
            .is_ok()
        {
            crate::runtime::metrics::global().pending(super::CONTROLLER_NAME, 1);
        }
    }

    /// The MiniReplicaSet controlling `pod` as (name, uid), if one does.
    fn owner(pod: &CachedPod) -> Option<(&str, &str)> {
        let controller = pod::controller_of(&pod.metadata)?;
        let ours = controller.kind == "MiniReplicaSet"
            && controller.api_version.split('/').next() == Some(GROUP);
        ours.then_some((controller.name.as_str(), controller.uid.as_str()))
    }

    /// Wakes every MiniReplicaSet of the pod's namespace whose selector matches it, so that
    /// orphans get adopted.
    fn enqueue_selecting(&self, pod: &CachedPod) {
        let namespace = pod.namespace().unwrap_or_default();
        let labels = pod.labels();
        for cached in self.replicasets.state() {
            let Ok(rs) = &cached.0 else { continue };
            if rs.namespace().as_deref() != Some(namespace.as_str()) {
                continue;
            }
            let selects = label_selector::to_selector(&rs.spec.selector)
                .is_ok_and(|s| !s.selects_all() && kube::core::SelectorExt::matches(&s, labels));
            if selects {
                self.enqueue(&namespace, &rs.name_any());
            }
        }
    }
}

impl EventHandler<CachedPod> for PodHandler {
    fn on_add(&self, pod: &Arc<CachedPod>) {
        if pod.metadata.deletion_timestamp.is_some() {
            return self.on_delete(pod);
        }
        match Self::owner(pod) {
            Some((name, uid)) => {
                self.expectations.creation_observed(uid);
                self.enqueue(&pod.namespace().unwrap_or_default(), name);
            }
            None if pod::controller_of(&pod.metadata).is_none() => self.enqueue_selecting(pod),
            None => {}
        }
    }

    fn on_update(&self, old: &Arc<CachedPod>, new: &Arc<CachedPod>) {
        if old.resource_version() == new.resource_version() {
            return;
        }
        let labels_changed = old.labels() != new.labels();
        if new.metadata.deletion_timestamp.is_some() {
            self.on_delete(new);
            if labels_changed {
                self.on_delete(old);
            }
            return;
        }
        let namespace = new.namespace().unwrap_or_default();
        let controller_changed =
            pod::controller_of(&old.metadata) != pod::controller_of(&new.metadata);
        if controller_changed && let Some((name, _)) = Self::owner(old) {
            self.enqueue(&namespace, name);
        }
        match pod::controller_of(&new.metadata) {
            Some(_) => {
                if let Some((name, _)) = Self::owner(new) {
                    self.enqueue(&namespace, name);
                }
            }
            None if labels_changed || controller_changed => self.enqueue_selecting(new),
            None => {}
        }
    }

    fn on_delete(&self, pod: &Arc<CachedPod>) {
        if let Some((name, uid)) = Self::owner(pod) {
            self.expectations.deletion_observed(uid, &pod::key(pod));
            self.enqueue(&pod.namespace().unwrap_or_default(), name);
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;
    use kube::runtime::reflector;
    use serde_json::json;

    use super::*;

    fn pod(name: &str, version: &str) -> Arc<CachedPod> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {
                    "name": name, "namespace": "ns", "resourceVersion": version,
                    "ownerReferences": [{
                        "apiVersion": format!("{GROUP}/v1alpha1"), "kind": "MiniReplicaSet",
                        "name": "web", "uid": "u1", "controller": true
                    }]
                }
            }))
            .unwrap(),
        )
    }

    fn handler() -> (
        PodHandler,
        futures::channel::mpsc::UnboundedReceiver<ObjectRef<CachedReplicaSet>>,
    ) {
        let (store, _writer) = reflector::store();
        let (trigger, triggers) = futures::channel::mpsc::unbounded();
        let expectations = Arc::new(Expectations::reported_as("test"));
        (PodHandler::new(store, expectations, trigger), triggers)
    }

    /// Each asks at once; a batch period is the queue's (`Watch::delay_triggers`).
    #[tokio::test]
    async fn every_pod_event_asks_for_a_sync_of_its_set_at_once() {
        let (handler, mut triggers) = handler();
        handler.on_update(&pod("a", "1"), &pod("a", "2"));
        handler.on_update(&pod("b", "1"), &pod("b", "2"));
        assert_eq!(triggers.next().await.unwrap().name, "web");
        assert_eq!(triggers.next().await.unwrap().name, "web");
    }
}

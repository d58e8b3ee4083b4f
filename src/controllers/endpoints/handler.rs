//! Events of the shared informers → syncs and clean-ups (upstream `addPod`, `updatePod`,
//! `deletePod`, `onServiceDelete`, `onEndpointsDelete`).

use std::sync::Arc;

use crate::controllers::cached_pod::CachedPod;
use futures::channel::mpsc::UnboundedSender;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use super::{CONTROLLER_NAME, CachedService, Stale, plan, selects};
use crate::api::{MiniEndpoints, MiniService};
use crate::controllers::pod;
use crate::runtime::informer::{Cache, EventHandler};

type Trigger = UnboundedSender<ObjectRef<CachedService>>;
/// (namespace, name) of a MiniEndpoints whose MiniService may be gone.
pub type Cleanup = UnboundedSender<(String, String)>;

fn enqueue(trigger: &Trigger, namespace: &str, name: &str) {
    // The receiver only goes away at shutdown.
    if trigger
        .unbounded_send(ObjectRef::new(name).within(namespace))
        .is_ok()
    {
        crate::runtime::metrics::global().pending(CONTROLLER_NAME, 1);
    }
}

/// Pod changes wake the services that select the pod, before and after the change.
pub struct PodHandler {
    services: Arc<Cache<MiniService>>,
    trigger: Trigger,
}

impl PodHandler {
    pub fn new(services: Arc<Cache<MiniService>>, trigger: Trigger) -> Self {
        Self { services, trigger }
    }

    /// Upstream `GetPodServiceMemberships`.
    fn enqueue_selecting(&self, p: &CachedPod) {
        let namespace = p.namespace().unwrap_or_default();
        for svc in self.services.list(&namespace) {
            if selects(svc.spec.selector.as_ref(), p.labels()) {
                enqueue(&self.trigger, &namespace, &svc.name_any());
            }
        }
    }
}

impl EventHandler<CachedPod> for PodHandler {
    fn on_add(&self, p: &Arc<CachedPod>) {
        self.enqueue_selecting(p);
    }

    fn on_update(&self, old: &Arc<CachedPod>, new: &Arc<CachedPod>) {
        if old.resource_version() == new.resource_version() {
            return;
        }
        let labels_changed = old.labels() != new.labels();
        if labels_changed {
            self.enqueue_selecting(old);
            self.enqueue_selecting(new);
        } else if pod::endpoints_changed(old, new) {
            self.enqueue_selecting(new);
        }
    }

    fn on_delete(&self, p: &Arc<CachedPod>) {
        self.enqueue_selecting(p);
    }
}

/// A deleted MiniService takes its MiniEndpoints with it (upstream: the sync of a service
/// the lister no longer has deletes the Endpoints).
pub struct ServiceHandler {
    cleanup: Cleanup,
}

impl ServiceHandler {
    pub fn new(cleanup: Cleanup) -> Self {
        Self { cleanup }
    }
}

impl EventHandler<MiniService> for ServiceHandler {
    fn on_add(&self, _: &Arc<MiniService>) {}

    fn on_update(&self, _: &Arc<MiniService>, _: &Arc<MiniService>) {}

    fn on_delete(&self, svc: &Arc<MiniService>) {
        let _ = self
            .cleanup
            .unbounded_send((svc.namespace().unwrap_or_default(), svc.name_any()));
    }
}

/// A MiniEndpoints deleted by someone else is written again (upstream `onEndpointsDelete`);
/// one of ours that appears without its MiniService is removed. When the cache moves past a
/// version a sync refused as stale, the service is synced at once rather than after its
/// backoff.
pub struct EndpointsHandler {
    services: Arc<Cache<MiniService>>,
    stale: Arc<Stale>,
    trigger: Trigger,
    cleanup: Cleanup,
}

impl EndpointsHandler {
    pub fn new(
        services: Arc<Cache<MiniService>>,
        stale: Arc<Stale>,
        trigger: Trigger,
        cleanup: Cleanup,
    ) -> Self {
        Self {
            services,
            stale,
            trigger,
            cleanup,
        }
    }

    fn check_orphan(&self, endpoints: &MiniEndpoints) {
        let namespace = endpoints.namespace().unwrap_or_default();
        let name = endpoints.name_any();
        if self.services.is_synced()
            && plan::is_managed(endpoints, CONTROLLER_NAME)
            && self.services.get(&namespace, &name).is_none()
        {
            let _ = self.cleanup.unbounded_send((namespace, name));
        }
    }
}

impl EventHandler<MiniEndpoints> for EndpointsHandler {
    fn on_add(&self, endpoints: &Arc<MiniEndpoints>) {
        self.check_orphan(endpoints);
    }

    fn on_update(&self, old: &Arc<MiniEndpoints>, endpoints: &Arc<MiniEndpoints>) {
        self.check_orphan(endpoints);
        let namespace = endpoints.namespace().unwrap_or_default();
        let name = endpoints.name_any();
        let was_stale = {
            let stale = self.stale.lock().expect("stale lock");
            let version = stale.get(&format!("{namespace}/{name}"));
            version.is_some() && version == old.metadata.resource_version.as_ref()
        };
        if was_stale {
            enqueue(&self.trigger, &namespace, &name);
        }
    }

    fn on_delete(&self, endpoints: &Arc<MiniEndpoints>) {
        enqueue(
            &self.trigger,
            &endpoints.namespace().unwrap_or_default(),
            &endpoints.name_any(),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    fn pod(extra: serde_json::Value) -> CachedPod {
        let mut base = json!({
            "metadata": {"name": "a", "namespace": "ns", "labels": {"app": "web"}},
            "spec": {"containers": []},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.1"}],
                       "conditions": [{"type": "Ready", "status": "True"}]},
        });
        json_patch_merge(&mut base, extra);
        serde_json::from_value(base).unwrap()
    }

    fn json_patch_merge(base: &mut serde_json::Value, patch: serde_json::Value) {
        match (base, patch) {
            (serde_json::Value::Object(b), serde_json::Value::Object(p)) => {
                for (k, v) in p {
                    json_patch_merge(b.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (b, p) => *b = p,
        }
    }

    #[test]
    fn only_changes_that_move_an_address_wake_the_services() {
        let old = pod(json!({}));
        assert!(!pod::endpoints_changed(
            &old,
            &pod(json!({"metadata": {"annotations": {"x": "y"}}}))
        ));
        for changed in [
            json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}}),
            json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}}),
            json!({"status": {"podIPs": [{"ip": "10.0.0.2"}]}}),
            json!({"spec": {"hostname": "h"}}),
            json!({"status": {"phase": "Succeeded"}}),
        ] {
            assert!(
                pod::endpoints_changed(&old, &pod(changed.clone())),
                "{changed}"
            );
        }
    }

    #[test]
    fn a_nil_selector_selects_nothing_an_empty_one_everything() {
        let labels = BTreeMap::from([("app".to_string(), "web".to_string())]);
        assert!(!selects(None, &labels));
        assert!(selects(Some(&BTreeMap::new()), &labels));
        assert!(selects(Some(&labels), &labels));
        let other = BTreeMap::from([("app".to_string(), "db".to_string())]);
        assert!(!selects(Some(&other), &labels));
    }
}

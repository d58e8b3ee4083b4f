//! Pod events → MiniServices to sync (upstream `addPod`, `updatePod`, `deletePod`): every
//! MiniService of the pod's namespace whose selector matches the pod, before or after the
//! change.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::channel::mpsc::UnboundedSender;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use super::CachedService;
use crate::api::MiniService;
use crate::runtime::informer::{Cache, EventHandler};

pub struct PodHandler {
    services: Arc<Cache<MiniService>>,
    trigger: UnboundedSender<ObjectRef<CachedService>>,
}

/// Whether `selector` selects `labels`. No selector selects nothing (the endpoints are the
/// user's); an empty one selects every pod, as a Service's does.
pub fn selects(
    selector: Option<&std::collections::BTreeMap<String, String>>,
    labels: &std::collections::BTreeMap<String, String>,
) -> bool {
    selector.is_some_and(|s| s.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

impl PodHandler {
    pub fn new(
        services: Arc<Cache<MiniService>>,
        trigger: UnboundedSender<ObjectRef<CachedService>>,
    ) -> Self {
        Self { services, trigger }
    }

    fn selecting(&self, pod: &Pod, names: &mut BTreeSet<String>) {
        let namespace = pod.namespace().unwrap_or_default();
        for service in self.services.list(&namespace) {
            if selects(service.spec.selector.as_ref(), pod.labels()) {
                names.insert(service.name_any());
            }
        }
    }

    fn enqueue(&self, namespace: &str, names: BTreeSet<String>) {
        for name in names {
            // The receiver only goes away at shutdown.
            if self
                .trigger
                .unbounded_send(ObjectRef::new(&name).within(namespace))
                .is_ok()
            {
                crate::runtime::metrics::global().pending(super::CONTROLLER_NAME, 1);
            }
        }
    }
}

impl EventHandler<Pod> for PodHandler {
    fn on_add(&self, pod: &Pod) {
        let mut names = BTreeSet::new();
        self.selecting(pod, &mut names);
        self.enqueue(&pod.namespace().unwrap_or_default(), names);
    }

    fn on_update(&self, old: &Pod, new: &Pod) {
        if old.resource_version() == new.resource_version() {
            return;
        }
        let mut names = BTreeSet::new();
        self.selecting(new, &mut names);
        if old.labels() != new.labels() {
            self.selecting(old, &mut names);
        }
        self.enqueue(&new.namespace().unwrap_or_default(), names);
    }

    fn on_delete(&self, pod: &Pod) {
        self.on_add(pod);
    }
}

//! Informer events → MiniServices to sync:
//! - pods (upstream `onPodUpdate` → `GetServicesToUpdateOnPodChange`): every MiniService of
//!   the pod's namespace whose selector matches the pod, before or after the change, when the
//!   change moves an endpoint;
//! - EndpointSlices of this controller (upstream `onEndpointSlice{Add,Update,Delete}`): only
//!   changes the tracker does not know as this controller's own writes, i.e. somebody else's,
//!   and, once the cache catches up, the services a sync refused as stale;
//! - Services (upstream `onServiceUpdate`): any change of a Service `mini-<name>` wakes the
//!   MiniService that stands behind that name (to repair it, or to take a name set free).

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};

use crate::controllers::cached_pod::CachedPod;
use futures::channel::mpsc::UnboundedSender;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use super::CachedService;
use super::service::service_name;
use super::tracker::{self, EndpointSliceTracker, ServiceKey};
use crate::api::MiniService;
use crate::controllers::pod;
use crate::runtime::informer::{Cache, EventHandler};

/// Whether `selector` selects `labels`. No selector selects nothing (the endpoints are the
/// user's); an empty one selects every pod, as a Service's does.
pub fn selects(
    selector: Option<&std::collections::BTreeMap<String, String>>,
    labels: &std::collections::BTreeMap<String, String>,
) -> bool {
    selector.is_some_and(|s| s.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

/// Services (namespace, `mini-<name>`) whose sync was refused because the slice cache was
/// behind this controller's writes: synced again at the next event of their slices.
pub type Refused = Mutex<HashSet<ServiceKey>>;

/// Sends MiniServices of one namespace to the work queue.
#[derive(Clone)]
pub struct Enqueue {
    services: Arc<Cache<MiniService>>,
    trigger: UnboundedSender<ObjectRef<CachedService>>,
}

impl Enqueue {
    pub fn new(
        services: Arc<Cache<MiniService>>,
        trigger: UnboundedSender<ObjectRef<CachedService>>,
    ) -> Self {
        Self { services, trigger }
    }

    fn send(&self, namespace: &str, names: BTreeSet<String>) {
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

    /// The MiniServices whose Service is named `service` (one, unless truncation made two
    /// long names alike).
    fn behind(&self, (namespace, service): &ServiceKey) {
        let names = self
            .services
            .list(namespace)
            .into_iter()
            .map(|m| m.name_any())
            .filter(|name| &service_name(name) == service)
            .collect();
        self.send(namespace, names);
    }
}

pub struct PodHandler {
    enqueue: Enqueue,
}

impl PodHandler {
    pub fn new(enqueue: Enqueue) -> Self {
        Self { enqueue }
    }

    fn selecting(&self, pod: &CachedPod, names: &mut BTreeSet<String>) {
        let namespace = pod.namespace().unwrap_or_default();
        for service in self.enqueue.services.list(&namespace) {
            if selects(service.spec.selector.as_ref(), pod.labels()) {
                names.insert(service.name_any());
            }
        }
    }
}

impl EventHandler<CachedPod> for PodHandler {
    fn on_add(&self, pod: &Arc<CachedPod>) {
        let mut names = BTreeSet::new();
        self.selecting(pod, &mut names);
        self.enqueue
            .send(&pod.namespace().unwrap_or_default(), names);
    }

    fn on_update(&self, old: &Arc<CachedPod>, new: &Arc<CachedPod>) {
        if old.resource_version() == new.resource_version() {
            return;
        }
        let relabelled = old.labels() != new.labels();
        if !relabelled && !pod::endpoints_changed(old, new) {
            return;
        }
        let mut names = BTreeSet::new();
        self.selecting(new, &mut names);
        if relabelled {
            self.selecting(old, &mut names);
        }
        self.enqueue
            .send(&new.namespace().unwrap_or_default(), names);
    }

    fn on_delete(&self, pod: &Arc<CachedPod>) {
        self.on_add(pod);
    }
}

/// Events of the slices this controller manages (the informer watches only those).
pub struct SliceHandler {
    enqueue: Enqueue,
    tracker: Arc<EndpointSliceTracker>,
    refused: Arc<Refused>,
}

impl SliceHandler {
    pub fn new(
        enqueue: Enqueue,
        tracker: Arc<EndpointSliceTracker>,
        refused: Arc<Refused>,
    ) -> Self {
        Self {
            enqueue,
            tracker,
            refused,
        }
    }

    /// Syncs the slice's service if `news`, or if a sync of it waits for the cache.
    fn wake(&self, slice: &EndpointSlice, news: bool) {
        let service = tracker::service_of(slice);
        let waiting = self.refused.lock().expect("refused lock").remove(&service);
        if news || waiting {
            self.enqueue.behind(&service);
        }
    }
}

impl EventHandler<EndpointSlice> for SliceHandler {
    fn on_add(&self, slice: &Arc<EndpointSlice>) {
        self.wake(slice, self.tracker.should_sync(slice));
    }

    fn on_update(&self, old: &Arc<EndpointSlice>, slice: &Arc<EndpointSlice>) {
        // The generation does not move with labels: a slice moved to another service wakes
        // both (upstream).
        if tracker::service_of(old) != tracker::service_of(slice) {
            self.wake(old, true);
            self.wake(slice, true);
            return;
        }
        self.wake(slice, self.tracker.should_sync(slice));
    }

    fn on_delete(&self, slice: &Arc<EndpointSlice>) {
        // A slice that leaves the watch (deleted, or relabelled to another manager) and that
        // this controller did not delete is written again.
        let unexpected = self.tracker.has(slice) && !self.tracker.handle_deletion(slice);
        self.wake(slice, unexpected);
    }
}

/// Events of Services: whatever happens to `mini-<name>`, its MiniService looks again.
pub struct ServiceHandler {
    enqueue: Enqueue,
}

impl ServiceHandler {
    pub fn new(enqueue: Enqueue) -> Self {
        Self { enqueue }
    }

    fn wake(&self, service: &Service) {
        self.enqueue
            .behind(&(service.namespace().unwrap_or_default(), service.name_any()));
    }
}

impl EventHandler<Service> for ServiceHandler {
    fn on_add(&self, service: &Arc<Service>) {
        self.wake(service);
    }

    fn on_update(&self, old: &Arc<Service>, service: &Arc<Service>) {
        if old.resource_version() != service.resource_version() {
            self.wake(service);
        }
    }

    fn on_delete(&self, service: &Arc<Service>) {
        self.wake(service);
    }
}

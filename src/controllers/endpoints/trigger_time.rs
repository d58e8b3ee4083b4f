//! Upstream `TriggerTimeTracker` (k8s.io/endpointslice/util): the time of the earliest change
//! that this sync is the first to see, for the `last-change-trigger-time` annotation. A
//! service seen for the first time gives its creation time; later, the earliest Ready
//! transition of a pod that moved since the last sync, or the service's creation time if
//! that moved (a re-created service).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::controllers::cached_pod::CachedPod;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use crate::api::MiniService;
use crate::controllers::pod;

#[derive(Default)]
struct ServiceState {
    service_time: Option<Timestamp>,
    pod_times: HashMap<String, Timestamp>,
}

/// Trigger times per service (`namespace/name`).
#[derive(Default)]
pub struct TriggerTimeTracker {
    services: Mutex<HashMap<String, ServiceState>>,
}

fn pod_trigger_time(p: &CachedPod) -> Option<Timestamp> {
    pod::ready_condition(p)?
        .last_transition_time
        .as_ref()
        .map(|t| t.0)
}

impl TriggerTimeTracker {
    /// Upstream `ComputeEndpointLastChangeTriggerTime`, over every pod the selector matches.
    /// None means "no new trigger time": the annotation is removed.
    pub fn compute<'a>(
        &self,
        key: &str,
        svc: &MiniService,
        pods: impl IntoIterator<Item = &'a CachedPod>,
    ) -> Option<Timestamp> {
        let mut services = self.services.lock().expect("trigger time lock");
        let known = services.contains_key(key);
        let state = services.entry(key.to_string()).or_default();
        let mut min_changed: Option<Timestamp> = None;
        let mut pod_times = HashMap::new();
        for p in pods {
            let Some(time) = pod_trigger_time(p) else {
                continue;
            };
            let name = p.name_any();
            if state.pod_times.get(&name).is_none_or(|last| time > *last) {
                min_changed = Some(min_changed.map_or(time, |m| m.min(time)));
            }
            pod_times.insert(name, time);
        }
        let service_time = svc.metadata.creation_timestamp.as_ref().map(|t| t.0);
        if let Some(time) = service_time
            && state.service_time.is_none_or(|last| time > last)
        {
            min_changed = Some(min_changed.map_or(time, |m| m.min(time)));
        }
        state.pod_times = pod_times;
        state.service_time = service_time;
        if !known {
            return service_time;
        }
        min_changed
    }

    /// Upstream `DeleteService`.
    pub fn forget(&self, key: &str) {
        self.services.lock().expect("trigger time lock").remove(key);
    }

    /// Keeps only the services `keep` accepts (after a relist).
    pub fn retain(&self, keep: impl Fn(&str) -> bool) {
        self.services
            .lock()
            .expect("trigger time lock")
            .retain(|k, _| keep(k));
    }

    pub fn len(&self) -> usize {
        self.services.lock().expect("trigger time lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

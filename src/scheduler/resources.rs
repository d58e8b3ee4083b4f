//! Resource amounts as the scheduler counts them (upstream `framework.Resource`,
//! `k8s.io/component-helpers/resource.PodRequests`): what a pod requests, what a node can
//! hold, and the "non-zero" requests used for scoring only.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;

use crate::api::quantity::Quantity;
use crate::scheduler::pod::{Container, Pod};

pub const CPU: &str = "cpu";
pub const MEMORY: &str = "memory";
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
pub const PODS: &str = "pods";

/// Upstream `DefaultMilliCPURequest`: what a container without a CPU request counts as when
/// scoring (filtering counts zero).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// Upstream `DefaultMemoryRequest`: 200 MB.
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// An amount of each resource: CPU in millicores, the rest in their base units.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    /// How many pods (allocatable only).
    pub allowed_pod_number: i64,
    /// Extended and hugepage resources, by name.
    pub scalar: BTreeMap<String, i64>,
}

fn amount(name: &str, quantity: &K8sQuantity) -> i64 {
    let Some(q) = Quantity::parse(&quantity.0) else {
        return 0;
    };
    if name == CPU {
        q.value_in(-3)
    } else {
        q.value_in(0)
    }
}

/// Whether a resource name is one the scheduler counts as a scalar resource (upstream
/// `IsScalarResourceName`: extended resources, prefixed native ones such as
/// `kubernetes.io/…`, hugepages, attachable volumes).
pub fn is_scalar(name: &str) -> bool {
    name.starts_with("hugepages-")
        || name.starts_with("attachable-volumes-")
        || (name.contains('/') && !name.starts_with("requests."))
}

impl Resources {
    /// From a resource list (requests or allocatable).
    pub fn from_list(list: Option<&BTreeMap<String, K8sQuantity>>) -> Self {
        let mut resources = Self::default();
        for (name, quantity) in list.into_iter().flatten() {
            resources.set(name, amount(name, quantity));
        }
        resources
    }

    fn set(&mut self, name: &str, value: i64) {
        match name {
            CPU => self.milli_cpu = value,
            MEMORY => self.memory = value,
            EPHEMERAL_STORAGE => self.ephemeral_storage = value,
            PODS => self.allowed_pod_number = value,
            other if is_scalar(other) => {
                self.scalar.insert(other.to_string(), value);
            }
            _ => {}
        }
    }

    /// The amount of `name` (CPU in millicores).
    pub fn get(&self, name: &str) -> i64 {
        match name {
            CPU => self.milli_cpu,
            MEMORY => self.memory,
            EPHEMERAL_STORAGE => self.ephemeral_storage,
            PODS => self.allowed_pod_number,
            other => self.scalar.get(other).copied().unwrap_or(0),
        }
    }

    pub fn add(&mut self, other: &Resources) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        self.allowed_pod_number += other.allowed_pod_number;
        for (name, value) in &other.scalar {
            *self.scalar.entry(name.clone()).or_insert(0) += value;
        }
    }

    pub fn subtract(&mut self, other: &Resources) {
        self.milli_cpu -= other.milli_cpu;
        self.memory -= other.memory;
        self.ephemeral_storage -= other.ephemeral_storage;
        self.allowed_pod_number -= other.allowed_pod_number;
        for (name, value) in &other.scalar {
            *self.scalar.entry(name.clone()).or_insert(0) -= value;
        }
    }

    /// Each resource the larger of the two (init containers).
    fn max_with(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        for (name, value) in &other.scalar {
            let entry = self.scalar.entry(name.clone()).or_insert(0);
            *entry = (*entry).max(*value);
        }
    }
}

fn is_sidecar(container: &Container) -> bool {
    container.restart_policy.as_deref() == Some("Always")
}

/// A container's requests as the scheduler counts them (upstream `containerRequests` with
/// in-place resize, GA since 1.35): the largest of its spec, the requests its status
/// reports and the resources allocated to it — or only the last two while a resize is
/// infeasible.
fn container_requests(pod: &Pod, container: &Container, non_zero: bool) -> Resources {
    let spec_list = container
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref());
    let status = pod.status.as_ref();
    let statuses = status.and_then(|s| {
        s.container_statuses
            .iter()
            .flatten()
            .chain(s.init_container_statuses.iter().flatten())
            .find(|c| c.name == container.name)
    });
    let infeasible = status.and_then(|s| s.conditions.as_ref()).is_some_and(|c| {
        c.iter()
            .any(|c| c.type_ == "PodResizePending" && c.reason.as_deref() == Some("Infeasible"))
    });
    let mut requests = if infeasible && statuses.is_some() {
        Resources::default()
    } else {
        Resources::from_list(spec_list)
    };
    let mut named: std::collections::BTreeSet<String> = spec_list
        .map(|l| l.keys().cloned().collect())
        .unwrap_or_default();
    if let Some(observed) = statuses {
        let reported = observed
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref());
        for list in [reported, observed.allocated_resources.as_ref()]
            .into_iter()
            .flatten()
        {
            requests.max_with(&Resources::from_list(Some(list)));
            named.extend(list.keys().cloned());
        }
    }
    if non_zero {
        let counted = Resources {
            milli_cpu: if named.contains(CPU) {
                requests.milli_cpu
            } else {
                DEFAULT_MILLI_CPU_REQUEST
            },
            memory: if named.contains(MEMORY) {
                requests.memory
            } else {
                DEFAULT_MEMORY_REQUEST
            },
            ..Resources::default()
        };
        return counted;
    }
    requests
}

/// The containers' aggregate: their sum, at least the largest init container's request
/// plus the sidecars started before it, and the sidecars for the whole life of the pod.
fn aggregate(pod: &Pod, non_zero: bool) -> Resources {
    let Some(spec) = pod.spec.as_ref() else {
        return Resources::default();
    };
    let mut requests = Resources::default();
    for container in &spec.containers {
        requests.add(&container_requests(pod, container, non_zero));
    }
    let mut sidecars = Resources::default();
    let mut init_peak = Resources::default();
    for container in spec.init_containers.iter().flatten() {
        let own = container_requests(pod, container, non_zero);
        if is_sidecar(container) {
            sidecars.add(&own);
            // A sidecar keeps running: at its start, it and the ones before it run together.
            init_peak.max_with(&sidecars);
        } else {
            let mut during = own;
            during.add(&sidecars);
            init_peak.max_with(&during);
        }
    }
    requests.add(&sidecars);
    requests.max_with(&init_peak);
    requests
}

/// Pod-level requests (`spec.resources`, PodLevelResources, on by default since 1.34): for
/// cpu, memory and hugepages they replace the containers' aggregate.
fn apply_pod_level(pod: &Pod, requests: &mut Resources) -> std::collections::BTreeSet<String> {
    let mut set = std::collections::BTreeSet::new();
    let list = pod
        .spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref());
    for (name, quantity) in list.into_iter().flatten() {
        if name == CPU || name == MEMORY || name.starts_with("hugepages-") {
            requests.set(name, amount(name, quantity));
            set.insert(name.clone());
        }
    }
    set
}

/// What a pod requests (upstream `PodRequests`): the containers' aggregate, or the
/// pod-level requests where set, plus the pod overhead.
pub fn pod_requests(pod: &Pod) -> Resources {
    let mut requests = aggregate(pod, false);
    apply_pod_level(pod, &mut requests);
    if let Some(overhead) = pod.spec.as_ref().and_then(|s| s.overhead.as_ref()) {
        requests.add(&Resources::from_list(Some(overhead)));
    }
    requests
}

/// CPU and memory requests with upstream's non-zero defaults for containers that request
/// none (`GetNonzeroRequests`), as the scoring plugins count them; pod-level requests
/// replace the containers' where set.
pub fn non_zero_requests(pod: &Pod) -> Resources {
    let mut requests = aggregate(pod, true);
    let mut pod_level = Resources::default();
    let set = apply_pod_level(pod, &mut pod_level);
    if set.contains(CPU) {
        requests.milli_cpu = pod_level.milli_cpu;
    }
    if set.contains(MEMORY) {
        requests.memory = pod_level.memory;
    }
    if let Some(overhead) = pod.spec.as_ref().and_then(|s| s.overhead.as_ref()) {
        let overhead = Resources::from_list(Some(overhead));
        requests.milli_cpu += overhead.milli_cpu;
        requests.memory += overhead.memory;
    }
    requests
}

/// What a node can hold (`status.allocatable`).
pub fn allocatable(node: &Node) -> Resources {
    Resources::from_list(node.status.as_ref().and_then(|s| s.allocatable.as_ref()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).unwrap()
    }

    fn container(name: &str, cpu: &str, memory: &str) -> serde_json::Value {
        json!({"name": name, "resources": {"requests": {"cpu": cpu, "memory": memory}}})
    }

    #[test]
    fn containers_add_up_and_init_containers_take_the_peak() {
        let p = pod(json!({
            "containers": [container("a", "100m", "1Gi"), container("b", "200m", "1Gi")],
            "initContainers": [container("i", "500m", "1Mi")],
        }));
        let r = pod_requests(&p);
        assert_eq!((r.milli_cpu, r.memory), (500, 2 << 30));
    }

    #[test]
    fn sidecars_run_beside_everything_started_after_them() {
        // Upstream PodRequests: sidecar 100m runs with the app (1000m) and with the later
        // init container (2000m + 100m).
        let mut sidecar = container("s", "100m", "0");
        sidecar["restartPolicy"] = json!("Always");
        let p = pod(json!({
            "containers": [container("app", "1", "0")],
            "initContainers": [sidecar, container("i", "2", "0")],
            "overhead": {"cpu": "10m"},
        }));
        assert_eq!(pod_requests(&p).milli_cpu, 2110);
    }

    #[test]
    fn scoring_counts_containers_without_requests_as_100m_and_200mb() {
        let p = pod(json!({"containers": [{"name": "a"}, container("b", "1", "1Gi")]}));
        let r = non_zero_requests(&p);
        assert_eq!(
            (r.milli_cpu, r.memory),
            (1100, DEFAULT_MEMORY_REQUEST + (1 << 30))
        );
        assert_eq!(pod_requests(&p).milli_cpu, 1000);
    }

    #[test]
    fn extended_resources_are_scalars() {
        let p = pod(
            json!({"containers": [{"name": "a", "resources": {"requests": {
            "example.com/gpu": "2", "hugepages-2Mi": "4Mi"}}}]}),
        );
        let r = pod_requests(&p);
        assert_eq!(r.get("example.com/gpu"), 2);
        assert_eq!(r.get("hugepages-2Mi"), 4 << 20);
    }
}

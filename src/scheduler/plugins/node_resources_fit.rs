//! NodeResourcesFit: whether a node has room for what the pod requests, and the
//! LeastAllocated score (upstream `plugins/noderesources/fit.go`, `least_allocated.go`,
//! `resource_allocation.go`).
//!
//! The filter compares the pod's requests (`resources::pod_requests`, computed once in
//! PreFilter) with the node's allocatable minus what its pods already request. The score is
//! the default profile's scoring strategy, LeastAllocated over cpu and memory with weight 1
//! each, which counts the non-zero requests (a container without a cpu or memory request
//! counts as 100m / 200MB) so that request-less pods still spread.
//!
//! The resource-allocation helpers ([`ResourceSpec`], [`pod_resource_requests`],
//! [`node_allocation`]) are upstream's `resourceAllocationScorer`; as upstream's package
//! does, NodeResourcesBalancedAllocation shares them.

use crate::scheduler::framework::{
    self, Code, FilterPlugin, MAX_NODE_SCORE, NodeInfo, ScorePlugin, Snapshot, State, Status,
};
use crate::scheduler::pod::Pod;
use crate::scheduler::resources::{self, CPU, EPHEMERAL_STORAGE, MEMORY, Resources};

pub const NAME: &str = "NodeResourcesFit";
pub const WEIGHT: i64 = 1;

/// Upstream's reason when the node already holds as many pods as it allows.
pub const TOO_MANY_PODS: &str = "Too many pods";

pub struct NodeResourcesFit;

/// A resource a score weighs, with its weight (upstream `config.ResourceSpec`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResourceSpec {
    pub name: &'static str,
    pub weight: i64,
}

/// The resources the default profile scores on: cpu and memory, weight 1 each (upstream
/// `defaultResourceSpec`, for both NodeResourcesFit and BalancedAllocation).
pub const DEFAULT_RESOURCES: &[ResourceSpec] = &[
    ResourceSpec {
        name: CPU,
        weight: 1,
    },
    ResourceSpec {
        name: MEMORY,
        weight: 1,
    },
];

/// Which request sums a score compares with allocatable (upstream `useRequested`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accounting {
    /// cpu and memory with the defaults for containers that request none (LeastAllocated),
    /// so that request-less pods do not all land on the emptiest node.
    NonZero,
    /// What the pods really request (BalancedAllocation).
    Requested,
}

/// The pod's request of each resource of `resources`, in order (upstream
/// `calculatePodResourceRequestList`). With [`Accounting::NonZero`], cpu and memory get the
/// defaults for containers without a request; other resources are counted as requested.
pub fn pod_resource_requests(
    pod: &Pod,
    resources: &[ResourceSpec],
    accounting: Accounting,
) -> Vec<i64> {
    let requested = resources::pod_requests(pod);
    let non_zero = (accounting == Accounting::NonZero).then(|| resources::non_zero_requests(pod));
    resources
        .iter()
        .map(|spec| match (&non_zero, spec.name) {
            (Some(non_zero), CPU | MEMORY) => non_zero.get(spec.name),
            _ => requested.get(spec.name),
        })
        .collect()
}

/// Per scored resource (same order as the specs): the node's requests with the pod added,
/// without it, and its allocatable. A resource left out of the score is 0 in all three
/// (upstream `calculateNodeAllocatableRequest`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Allocation {
    pub requested: Vec<i64>,
    pub allocated: Vec<i64>,
    pub allocatable: Vec<i64>,
}

/// What the node holds of each resource of `resources` once the pod (`pod_requests`, from
/// [`pod_resource_requests`]) is added. An extended resource the pod does not ask for, and a
/// resource the node has none of, are left out.
pub fn node_allocation(
    node: &NodeInfo,
    resources: &[ResourceSpec],
    pod_requests: &[i64],
    accounting: Accounting,
) -> Allocation {
    let mut allocation = Allocation {
        requested: vec![0; resources.len()],
        allocated: vec![0; resources.len()],
        allocatable: vec![0; resources.len()],
    };
    for (i, (spec, &pod_request)) in resources.iter().zip(pod_requests).enumerate() {
        if pod_request == 0 && resources::is_scalar(spec.name) {
            continue;
        }
        let (allocatable, allocated) = node_amounts(node, spec.name, accounting);
        if allocatable == 0 {
            continue;
        }
        allocation.allocatable[i] = allocatable;
        allocation.allocated[i] = allocated;
        allocation.requested[i] = allocated + pod_request;
    }
    allocation
}

/// The node's allocatable and already requested amount of `name` (upstream
/// `calculateResourceAllocatableRequest`): only cpu and memory have non-zero sums; a
/// resource the node does not list (including `pods`) is (0, 0).
fn node_amounts(node: &NodeInfo, name: &str, accounting: Accounting) -> (i64, i64) {
    let requested = match accounting {
        Accounting::NonZero => &node.non_zero_requested,
        Accounting::Requested => &node.requested,
    };
    match name {
        CPU => (node.allocatable.milli_cpu, requested.milli_cpu),
        MEMORY => (node.allocatable.memory, requested.memory),
        EPHEMERAL_STORAGE => (
            node.allocatable.ephemeral_storage,
            node.requested.ephemeral_storage,
        ),
        other => match node.allocatable.scalar.get(other) {
            Some(&allocatable) => (
                allocatable,
                node.requested.scalar.get(other).copied().unwrap_or(0),
            ),
            None => (0, 0),
        },
    }
}

/// Upstream `leastResourceScorer`: the weighted mean of each resource's free share, 0..=100.
pub fn least_allocated_score(allocation: &Allocation, resources: &[ResourceSpec]) -> i64 {
    let (mut node_score, mut weight_sum) = (0, 0);
    for (i, spec) in resources.iter().enumerate() {
        if allocation.allocatable[i] == 0 {
            continue;
        }
        node_score +=
            least_requested_score(allocation.requested[i], allocation.allocatable[i]) * spec.weight;
        weight_sum += spec.weight;
    }
    if weight_sum == 0 {
        return 0;
    }
    node_score / weight_sum
}

/// Upstream `leastRequestedScore`: the unused share of `capacity`, 0 when overcommitted.
fn least_requested_score(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_NODE_SCORE / capacity
}

/// One resource the node lacks for the pod (upstream `InsufficientResource`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InsufficientResource {
    pub resource: String,
    pub reason: String,
    pub requested: i64,
    pub used: i64,
    pub capacity: i64,
    /// The pod asks for more than the whole node has: preempting pods cannot help.
    pub unresolvable: bool,
}

/// Why `node` cannot take a pod requesting `request` (upstream `fitsRequest`), in upstream's
/// order: pod count, cpu, memory, ephemeral storage, then the scalar resources (by name; a
/// Go map's order upstream). A resource the pod requests none of is not checked.
pub fn insufficient_resources(request: &Resources, node: &NodeInfo) -> Vec<InsufficientResource> {
    let mut insufficient = Vec::new();
    let pods = node.pods.len() as i64;
    if pods + 1 > node.allocatable.allowed_pod_number {
        insufficient.push(InsufficientResource {
            resource: resources::PODS.to_string(),
            reason: TOO_MANY_PODS.to_string(),
            requested: 1,
            used: pods,
            capacity: node.allocatable.allowed_pod_number,
            unresolvable: false,
        });
    }
    let named = [
        (CPU, request.milli_cpu),
        (MEMORY, request.memory),
        (EPHEMERAL_STORAGE, request.ephemeral_storage),
    ];
    let scalars = request.scalar.iter().map(|(name, &v)| (name.as_str(), v));
    for (name, requested) in named.into_iter().chain(scalars) {
        insufficient.extend(check_resource(
            name,
            requested,
            node.requested.get(name),
            node.allocatable.get(name),
        ));
    }
    insufficient
}

/// The shortfall of one resource, if the pod requests some and more than is left.
fn check_resource(
    name: &str,
    requested: i64,
    used: i64,
    capacity: i64,
) -> Option<InsufficientResource> {
    (requested > 0 && requested > capacity - used).then(|| InsufficientResource {
        resource: name.to_string(),
        reason: format!("Insufficient {name}"),
        requested,
        used,
        capacity,
        unresolvable: requested > capacity,
    })
}

/// Upstream `Filter`'s status: every shortfall's reason; UnschedulableAndUnresolvable as
/// soon as one of them cannot be cured by preemption.
fn status_of(insufficient: &[InsufficientResource]) -> Status {
    if insufficient.is_empty() {
        return Status::success();
    }
    let code = if insufficient.iter().any(|r| r.unresolvable) {
        Code::UnschedulableAndUnresolvable
    } else {
        Code::Unschedulable
    };
    Status {
        code,
        reasons: insufficient.iter().map(|r| r.reason.clone()).collect(),
    }
}

/// The pod's requests, computed once in PreFilter (upstream `preFilterState`).
struct PodRequest(Resources);

/// The pod's scored requests, computed once in PreScore (upstream `preScoreState`).
struct PodScoreRequests(Vec<i64>);

impl FilterPlugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_filter(&self, pod: &Pod, _snapshot: &Snapshot) -> Result<Option<State>, Status> {
        Ok(Some(Box::new(PodRequest(resources::pod_requests(pod)))))
    }

    fn filter(&self, state: &State, _pod: &Pod, node: &NodeInfo) -> Status {
        let PodRequest(request) = framework::state_of::<PodRequest>(state);
        status_of(&insufficient_resources(request, node))
    }
}

impl ScorePlugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_score(&self, pod: &Pod, _feasible: &[&NodeInfo], _snapshot: &Snapshot) -> Option<State> {
        let requests = pod_resource_requests(pod, DEFAULT_RESOURCES, Accounting::NonZero);
        Some(Box::new(PodScoreRequests(requests)))
    }

    fn score(&self, state: &State, _pod: &Pod, node: &NodeInfo) -> i64 {
        let PodScoreRequests(requests) = framework::state_of::<PodScoreRequests>(state);
        let allocation = node_allocation(node, DEFAULT_RESOURCES, requests, Accounting::NonZero);
        least_allocated_score(&allocation, DEFAULT_RESOURCES)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use k8s_openapi::api::core::v1::Node;
    use serde_json::{Value, json};

    use super::*;

    const EXT_A: &str = "example.com/aaa";
    const EXT_B: &str = "example.com/bbb";
    const K8S_IO_A: &str = "kubernetes.io/something";
    const K8S_IO_B: &str = "subdomain.kubernetes.io/something";
    const HUGE_PAGE_A: &str = "hugepages-2Mi";
    const DRA_EXTENDED: &str = "extended.resource.dra.io/something";

    fn pod(spec: Value) -> Pod {
        let mut spec = spec;
        if spec.get("containers").is_none() {
            spec["containers"] = json!([]);
        }
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).unwrap()
    }

    /// A requests map as upstream's `framework.Resource{MilliCPU, Memory, ScalarResources}`.
    fn r(milli_cpu: i64, memory: i64, scalars: &[(&str, i64)]) -> Value {
        let mut requests = json!({"cpu": format!("{milli_cpu}m"), "memory": memory.to_string()});
        for (name, amount) in scalars {
            requests[*name] = json!(amount.to_string());
        }
        requests
    }

    /// A container requesting `requests` (a map of resource name to quantity).
    fn container(requests: &Value) -> Value {
        json!({"name": "c", "resources": {"requests": requests}})
    }

    /// Upstream `newResourcePod` + `newResourceInitPod`: one container per requests map.
    fn resource_pod(containers: &[Value], init: &[Value]) -> Pod {
        pod(json!({
            "containers": containers.iter().map(container).collect::<Vec<_>>(),
            "initContainers": init.iter().map(container).collect::<Vec<_>>(),
        }))
    }

    fn node(name: &str, allocatable: Value) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "status": {"capacity": allocatable, "allocatable": allocatable}
        }))
        .unwrap()
    }

    /// Upstream `makeAllocatableResources(milliCPU, memory, pods, extendedA, storage,
    /// hugePageA)`.
    fn allocatable(cpu: i64, memory: i64, pods: i64, ext_a: i64, storage: i64, hp: i64) -> Value {
        json!({
            "cpu": format!("{cpu}m"), "memory": memory.to_string(), "pods": pods.to_string(),
            EXT_A: ext_a.to_string(), "ephemeral-storage": storage.to_string(),
            HUGE_PAGE_A: hp.to_string(),
        })
    }

    fn node_info(allocatable: Value, existing: &[Pod]) -> NodeInfo {
        let mut info = NodeInfo::new(Arc::new(node("n", allocatable)));
        for p in existing {
            info.add_pod(Arc::new(p.clone()));
        }
        info
    }

    fn run_filter(pod: &Pod, node: &NodeInfo) -> Status {
        let plugin = NodeResourcesFit;
        let state = plugin
            .pre_filter(pod, &Snapshot::default())
            .unwrap()
            .unwrap();
        plugin.filter(&state, pod, node)
    }

    /// (resource, requested, used, capacity, unresolvable).
    type Want = &'static [(&'static str, i64, i64, i64, bool)];

    /// Checks both upstream assertions: the filter's status and `fitsRequest`'s list.
    fn assert_fit(name: &str, pod: &Pod, node: &NodeInfo, want: Want) {
        let got = insufficient_resources(&resources::pod_requests(pod), node);
        let got_short: Vec<_> = got
            .iter()
            .map(|r| {
                (
                    r.resource.as_str(),
                    r.requested,
                    r.used,
                    r.capacity,
                    r.unresolvable,
                )
            })
            .collect();
        assert_eq!(got_short, want.to_vec(), "{name}: insufficient resources");
        let want_status = if want.is_empty() {
            Status::success()
        } else {
            Status {
                code: if want.iter().any(|w| w.4) {
                    Code::UnschedulableAndUnresolvable
                } else {
                    Code::Unschedulable
                },
                reasons: want
                    .iter()
                    .map(|w| format!("Insufficient {}", w.0))
                    .collect(),
            }
        };
        assert_eq!(run_filter(pod, node), want_status, "{name}: status");
    }

    /// Upstream `TestEnoughRequests` (node: 10m cpu, 20 memory, 32 pods, 5 example.com/aaa,
    /// 20 ephemeral-storage, 5 hugepages-2Mi) and `TestStorageRequests`.
    #[test]
    fn enough_requests() {
        let node_alloc = || allocatable(10, 20, 32, 5, 20, 5);
        let none: &[(&str, i64)] = &[];
        let cases: Vec<(&str, Pod, Value, Want)> = vec![
            (
                "no resources requested always fits",
                pod(json!({})),
                r(10, 20, none),
                &[],
            ),
            (
                "too many resources fails",
                resource_pod(&[r(1, 1, none)], &[]),
                r(10, 20, none),
                &[("cpu", 1, 10, 10, false), ("memory", 1, 20, 20, false)],
            ),
            (
                "too many resources fails due to init container cpu",
                resource_pod(&[r(1, 1, none)], &[r(3, 1, none)]),
                r(8, 19, none),
                &[("cpu", 3, 8, 10, false)],
            ),
            (
                "too many resources fails due to highest init container cpu",
                resource_pod(&[r(1, 1, none)], &[r(3, 1, none), r(2, 1, none)]),
                r(8, 19, none),
                &[("cpu", 3, 8, 10, false)],
            ),
            (
                "too many resources fails due to init container memory",
                resource_pod(&[r(1, 1, none)], &[r(1, 3, none)]),
                r(9, 19, none),
                &[("memory", 3, 19, 20, false)],
            ),
            (
                "too many resources fails due to highest init container memory",
                resource_pod(&[r(1, 1, none)], &[r(1, 3, none), r(1, 2, none)]),
                r(9, 19, none),
                &[("memory", 3, 19, 20, false)],
            ),
            (
                "init container fits because it's the max, not sum, of containers and init containers",
                resource_pod(&[r(1, 1, none)], &[r(1, 1, none)]),
                r(9, 19, none),
                &[],
            ),
            (
                "multiple init containers fit because it's the max, not sum, of containers and init containers",
                resource_pod(&[r(1, 1, none)], &[r(1, 1, none), r(1, 1, none)]),
                r(9, 19, none),
                &[],
            ),
            (
                "both resources fit",
                resource_pod(&[r(1, 1, none)], &[]),
                r(5, 5, none),
                &[],
            ),
            (
                "one resource memory fits",
                resource_pod(&[r(2, 1, none)], &[]),
                r(9, 5, none),
                &[("cpu", 2, 9, 10, false)],
            ),
            (
                "one resource cpu fits",
                resource_pod(&[r(1, 2, none)], &[]),
                r(5, 19, none),
                &[("memory", 2, 19, 20, false)],
            ),
            (
                "equal edge case",
                resource_pod(&[r(5, 1, none)], &[]),
                r(5, 19, none),
                &[],
            ),
            (
                "equal edge case for init container",
                resource_pod(&[r(4, 1, none)], &[r(5, 1, none)]),
                r(5, 19, none),
                &[],
            ),
            (
                "extended resource fits",
                resource_pod(&[r(0, 0, &[(EXT_A, 1)])], &[]),
                r(0, 0, none),
                &[],
            ),
            (
                "extended resource fits for init container",
                resource_pod(&[r(0, 0, none)], &[r(0, 0, &[(EXT_A, 1)])]),
                r(0, 0, none),
                &[],
            ),
            (
                "extended resource capacity enforced",
                resource_pod(&[r(1, 1, &[(EXT_A, 10)])], &[]),
                r(0, 0, &[(EXT_A, 0)]),
                &[(EXT_A, 10, 0, 5, true)],
            ),
            (
                "extended resource capacity enforced for init container",
                resource_pod(&[r(0, 0, none)], &[r(1, 1, &[(EXT_A, 10)])]),
                r(0, 0, &[(EXT_A, 0)]),
                &[(EXT_A, 10, 0, 5, true)],
            ),
            (
                "extended resource allocatable enforced",
                resource_pod(&[r(1, 1, &[(EXT_A, 1)])], &[]),
                r(0, 0, &[(EXT_A, 5)]),
                &[(EXT_A, 1, 5, 5, false)],
            ),
            (
                "extended resource allocatable enforced for init container",
                resource_pod(&[r(0, 0, none)], &[r(1, 1, &[(EXT_A, 1)])]),
                r(0, 0, &[(EXT_A, 5)]),
                &[(EXT_A, 1, 5, 5, false)],
            ),
            (
                "extended resource allocatable enforced for multiple containers",
                resource_pod(&[r(1, 1, &[(EXT_A, 3)]), r(1, 1, &[(EXT_A, 3)])], &[]),
                r(0, 0, &[(EXT_A, 2)]),
                &[(EXT_A, 6, 2, 5, true)],
            ),
            (
                "extended resource allocatable admits multiple init containers",
                resource_pod(
                    &[r(0, 0, none)],
                    &[r(1, 1, &[(EXT_A, 3)]), r(1, 1, &[(EXT_A, 3)])],
                ),
                r(0, 0, &[(EXT_A, 2)]),
                &[],
            ),
            (
                "extended resource allocatable enforced for multiple init containers",
                resource_pod(
                    &[r(0, 0, none)],
                    &[r(1, 1, &[(EXT_A, 6)]), r(1, 1, &[(EXT_A, 3)])],
                ),
                r(0, 0, &[(EXT_A, 2)]),
                &[(EXT_A, 6, 2, 5, true)],
            ),
            (
                "extended resource allocatable enforced for unknown resource",
                resource_pod(&[r(1, 1, &[(EXT_B, 1)])], &[]),
                r(0, 0, none),
                &[(EXT_B, 1, 0, 0, true)],
            ),
            (
                "extended resource allocatable enforced for unknown resource for init container",
                resource_pod(&[r(0, 0, none)], &[r(1, 1, &[(EXT_B, 1)])]),
                r(0, 0, none),
                &[(EXT_B, 1, 0, 0, true)],
            ),
            (
                "kubernetes.io resource capacity enforced for init container",
                resource_pod(&[r(0, 0, none)], &[r(1, 1, &[(K8S_IO_B, 10)])]),
                r(0, 0, none),
                &[(K8S_IO_B, 10, 0, 0, true)],
            ),
            (
                "hugepages resource capacity enforced",
                resource_pod(&[r(1, 1, &[(HUGE_PAGE_A, 10)])], &[]),
                r(0, 0, &[(HUGE_PAGE_A, 0)]),
                &[(HUGE_PAGE_A, 10, 0, 5, true)],
            ),
            (
                "hugepages resource capacity enforced for init container",
                resource_pod(&[r(0, 0, none)], &[r(1, 1, &[(HUGE_PAGE_A, 10)])]),
                r(0, 0, &[(HUGE_PAGE_A, 0)]),
                &[(HUGE_PAGE_A, 10, 0, 5, true)],
            ),
            (
                "hugepages resource allocatable enforced for multiple containers",
                resource_pod(
                    &[r(1, 1, &[(HUGE_PAGE_A, 3)]), r(1, 1, &[(HUGE_PAGE_A, 3)])],
                    &[],
                ),
                r(0, 0, &[(HUGE_PAGE_A, 2)]),
                &[(HUGE_PAGE_A, 6, 2, 5, true)],
            ),
            (
                "resources + pod overhead fits",
                pod(json!({"containers": [container(&r(1, 1, none))],
                    "overhead": {"cpu": "3m", "memory": "13"}})),
                r(5, 5, none),
                &[],
            ),
            (
                "requests + overhead does not fit for memory",
                pod(json!({"containers": [container(&r(1, 1, none))],
                    "overhead": {"cpu": "1m", "memory": "15"}})),
                r(5, 5, none),
                &[("memory", 16, 5, 20, false)],
            ),
            (
                "skip checking extended resource request with quantity zero via resource groups",
                resource_pod(&[r(1, 1, &[(EXT_A, 0)])], &[]),
                r(0, 0, &[(EXT_A, 6)]),
                &[],
            ),
            (
                "skip checking resource request with quantity zero",
                resource_pod(&[r(0, 0, &[(EXT_A, 1)])], &[]),
                r(20, 30, &[(EXT_A, 1)]),
                &[],
            ),
            (
                "extended resource backed by device plugin",
                resource_pod(&[r(0, 0, &[(EXT_A, 1)])], &[]),
                r(0, 0, none),
                &[],
            ),
            (
                "extended resource backed by DRA, nil draManager",
                resource_pod(&[r(1, 1, &[(EXT_A, 1)])], &[]),
                r(0, 0, none),
                &[],
            ),
            (
                "extended resource backed by DRA not enabled",
                resource_pod(&[r(1, 1, &[(DRA_EXTENDED, 1)])], &[]),
                r(0, 0, none),
                &[(DRA_EXTENDED, 1, 0, 0, true)],
            ),
            (
                "extended resource NOT backed by DRA",
                resource_pod(&[r(1, 1, &[(EXT_B, 1)])], &[]),
                r(0, 0, none),
                &[(EXT_B, 1, 0, 0, true)],
            ),
            (
                "extended resource was backed by Device Plugin (Allocatable: 0), global cache",
                resource_pod(&[r(0, 0, &[(EXT_A, 1)])], &[]),
                r(0, 0, &[(EXT_A, 0)]),
                &[],
            ),
            // Upstream TestStorageRequests.
            (
                "empty storage requested, and pod fits",
                resource_pod(&[r(1, 1, none)], &[]),
                r(2, 10, none),
                &[],
            ),
            (
                "storage ephemeral local storage request exceeds allocatable",
                resource_pod(&[json!({"ephemeral-storage": "25"})], &[]),
                r(2, 2, none),
                &[("ephemeral-storage", 25, 0, 20, true)],
            ),
            (
                "ephemeral local storage is sufficient",
                resource_pod(&[json!({"ephemeral-storage": "5"})], &[]),
                r(2, 2, &[("ephemeral-storage", 10)]),
                &[],
            ),
            (
                "pod fits",
                resource_pod(&[json!({"ephemeral-storage": "10"})], &[]),
                r(2, 2, none),
                &[],
            ),
        ];
        for (name, pod, existing, want) in cases {
            let node = node_info(node_alloc(), &[resource_pod(&[existing], &[])]);
            assert_fit(name, &pod, &node, want);
        }
    }

    /// Upstream `TestEnoughRequests` "kubernetes.io resource capacity enforced": upstream's
    /// `IsScalarResourceName` counts `kubernetes.io/…` names (`IsPrefixedNativeResource`),
    /// so the request is checked against the node.
    #[test]
    fn enough_requests_counts_kubernetes_io_resources() {
        let pod = resource_pod(&[r(1, 1, &[(K8S_IO_A, 10)])], &[]);
        let node = node_info(
            allocatable(10, 20, 32, 5, 20, 5),
            &[resource_pod(&[r(0, 0, &[])], &[])],
        );
        assert_fit(
            "kubernetes.io resource capacity enforced",
            &pod,
            &node,
            &[(K8S_IO_A, 10, 0, 0, true)],
        );
    }

    /// Upstream `TestEnoughRequests`, the PodLevelResources cases (the feature is on by
    /// default since 1.34): `spec.resources.requests` of cpu, memory and hugepages replace
    /// the containers' sum.
    #[test]
    fn enough_requests_with_pod_level_resources() {
        let with_pod_level = |containers: &[Value], init: &[Value], requests: Value| {
            let mut p = resource_pod(containers, init);
            p.spec.as_mut().unwrap().resources =
                Some(serde_json::from_value(json!({"requests": requests})).unwrap());
            p
        };
        let none: &[(&str, i64)] = &[];
        let cases: Vec<(&str, Pod, Option<Value>, Want)> = vec![
            (
                "both pod-level and container-level resources fit",
                with_pod_level(&[r(1, 1, none)], &[], json!({"cpu": "1m", "memory": "2"})),
                Some(r(5, 5, none)),
                &[],
            ),
            (
                "pod-level cpu resource not fit",
                with_pod_level(&[r(1, 1, none)], &[], json!({"cpu": "7m", "memory": "2"})),
                Some(r(5, 5, none)),
                &[("cpu", 7, 5, 10, false)],
            ),
            (
                "pod-level memory resource not fit",
                with_pod_level(&[r(1, 1, none)], &[], json!({"cpu": "3m", "memory": "2"})),
                Some(r(5, 19, none)),
                &[("memory", 2, 19, 20, false)],
            ),
            (
                "pod-level hugepages resource fit",
                with_pod_level(
                    &[],
                    &[],
                    json!({"cpu": "3m", "memory": "2", HUGE_PAGE_A: "5"}),
                ),
                None,
                &[],
            ),
            (
                "both pod-level and container-level hugepages resource fit",
                with_pod_level(
                    &[r(1, 1, &[(HUGE_PAGE_A, 3)])],
                    &[],
                    json!({"cpu": "3m", "memory": "2", HUGE_PAGE_A: "5"}),
                ),
                None,
                &[],
            ),
            (
                "pod-level hugepages resource not fit",
                with_pod_level(
                    &[],
                    &[],
                    json!({"cpu": "3m", "memory": "2", HUGE_PAGE_A: "10"}),
                ),
                None,
                &[(HUGE_PAGE_A, 10, 0, 5, true)],
            ),
            (
                "one pod-level cpu resource fits and all init and non-init containers resources fit",
                with_pod_level(
                    &[r(1, 1, none)],
                    &[r(1, 1, none)],
                    json!({"cpu": "3m", "memory": "2"}),
                ),
                Some(r(5, 19, none)),
                &[("memory", 2, 19, 20, false)],
            ),
        ];
        for (name, pod, existing, want) in cases {
            let existing: Vec<Pod> = existing
                .into_iter()
                .map(|e| resource_pod(&[e], &[]))
                .collect();
            let node = node_info(allocatable(10, 20, 32, 5, 20, 5), &existing);
            assert_fit(name, &pod, &node, want);
        }
    }

    /// Upstream `TestNotEnoughRequests` (node allows 1 pod) and `TestRestartableInitContainers`
    /// (node: 2m cpu, 1 pod, no pods on it; sidecars are always enabled here).
    #[test]
    fn filter_statuses() {
        let sidecar_pod = |app: Option<&str>, sidecar: Option<&str>| {
            let requests = |cpu: Option<&str>| match cpu {
                Some(cpu) => json!({"requests": {"cpu": cpu}}),
                None => json!({}),
            };
            pod(json!({
                "containers": [{"name": "regular", "resources": requests(app)}],
                "initContainers": [{"name": "restartable-init", "restartPolicy": "Always",
                    "resources": requests(sidecar)}],
            }))
        };
        let none: &[(&str, i64)] = &[];
        let too_many = || Status::unschedulable(TOO_MANY_PODS);
        let one_pod = || allocatable(10, 20, 1, 0, 0, 0);
        let cases: Vec<(&str, Value, Pod, Option<Value>, Status)> = vec![
            (
                "even without specified resources, predicate fails when there's no space for additional pod",
                one_pod(),
                pod(json!({})),
                Some(r(10, 20, none)),
                too_many(),
            ),
            (
                "even if both resources fit, predicate fails when there's no space for additional pod",
                one_pod(),
                resource_pod(&[r(1, 1, none)], &[]),
                Some(r(5, 5, none)),
                too_many(),
            ),
            (
                "even for equal edge case, predicate fails when there's no space for additional pod",
                one_pod(),
                resource_pod(&[r(5, 1, none)], &[]),
                Some(r(5, 19, none)),
                too_many(),
            ),
            (
                "even for equal edge case, predicate fails when there's no space for additional pod due to init container",
                one_pod(),
                resource_pod(&[r(5, 1, none)], &[r(5, 1, none)]),
                Some(r(5, 19, none)),
                too_many(),
            ),
            (
                "allow pod without restartable init containers if sidecar containers is enabled",
                allocatable(2, 0, 1, 0, 0, 0),
                pod(json!({"containers": [{"name": "regular"}]})),
                None,
                Status::success(),
            ),
            (
                "allow pod with restartable init containers if sidecar containers is enabled",
                allocatable(2, 0, 1, 0, 0, 0),
                sidecar_pod(None, None),
                None,
                Status::success(),
            ),
            (
                "allow pod if the total requested resources do not exceed the node's allocatable resources",
                allocatable(2, 0, 1, 0, 0, 0),
                sidecar_pod(Some("1m"), Some("1m")),
                None,
                Status::success(),
            ),
            (
                "not allow pod if the total requested resources do exceed the node's allocatable resources",
                allocatable(2, 0, 1, 0, 0, 0),
                sidecar_pod(Some("1m"), Some("2m")),
                None,
                Status::unresolvable("Insufficient cpu"),
            ),
        ];
        for (name, alloc, pod, existing, want) in cases {
            let existing: Vec<Pod> = existing
                .into_iter()
                .map(|e| resource_pod(&[e], &[]))
                .collect();
            assert_eq!(
                run_filter(&pod, &node_info(alloc, &existing)),
                want,
                "{name}"
            );
        }
    }

    /// Upstream `st.MakeNode().Name(name).Capacity(capacity)`: 32 pods plus `capacity`.
    fn capacity_node(name: &str, capacity: &[(&str, &str)]) -> Node {
        let mut allocatable = json!({"pods": "32"});
        for (resource, amount) in capacity {
            allocatable[*resource] = json!(amount);
        }
        node(name, allocatable)
    }

    /// Upstream `st.MakePod().Req(...)...`: one container per requests map, `limits`
    /// alike for sidecars (`SidecarReq` sets both).
    fn req_pod(
        node: Option<&str>,
        containers: &[&[(&str, &str)]],
        sidecars: &[&[(&str, &str)]],
    ) -> Pod {
        let map = |requests: &[(&str, &str)]| {
            let mut m = serde_json::Map::new();
            for (name, amount) in requests {
                m.insert(name.to_string(), json!(amount));
            }
            Value::Object(m)
        };
        pod(json!({
            "nodeName": node,
            "containers": containers.iter().map(|c| container(&map(c))).collect::<Vec<_>>(),
            "initContainers": sidecars.iter().map(|c| json!({"name": "s", "restartPolicy": "Always",
                "resources": {"requests": map(c), "limits": map(c)}})).collect::<Vec<_>>(),
        }))
    }

    /// LeastAllocated scores of each node, by the plugin when scoring on the default
    /// resources, by the same helpers with `resources` otherwise.
    fn least_allocated_scores(
        pod: &Pod,
        nodes: Vec<Node>,
        existing: Vec<Pod>,
        resources: Option<&[ResourceSpec]>,
    ) -> Vec<i64> {
        let names: Vec<String> = nodes
            .iter()
            .map(|n| n.metadata.name.clone().unwrap())
            .collect();
        let snapshot = Snapshot::new(
            nodes.into_iter().map(Arc::new),
            existing.into_iter().map(Arc::new),
        );
        let feasible: Vec<&NodeInfo> = snapshot.nodes.iter().collect();
        let plugin = NodeResourcesFit;
        let state = plugin.pre_score(pod, &feasible, &snapshot).unwrap();
        names
            .iter()
            .map(|name| {
                let node = snapshot.get(name).unwrap();
                match resources {
                    None => plugin.score(&state, pod, node),
                    Some(specs) => {
                        let requests = pod_resource_requests(pod, specs, Accounting::NonZero);
                        let allocation =
                            node_allocation(node, specs, &requests, Accounting::NonZero);
                        least_allocated_score(&allocation, specs)
                    }
                }
            })
            .collect()
    }

    /// Upstream `TestLeastAllocatedScoringStrategy` and the LeastAllocated cases of
    /// `TestFitScore`.
    #[test]
    fn least_allocated_scores_nodes() {
        let cpu_mem =
            |cpu: &'static str, memory: &'static str| -> Vec<(&'static str, &'static str)> {
                vec![("cpu", cpu), ("memory", memory)]
            };
        let n = |name: &str, cpu: &str, memory: &str| {
            capacity_node(name, &[("cpu", cpu), ("memory", memory)])
        };
        const XYZ: &str = "abc.com/xyz";
        let extended_set: &[ResourceSpec] = &[
            ResourceSpec {
                name: CPU,
                weight: 1,
            },
            ResourceSpec {
                name: MEMORY,
                weight: 1,
            },
            ResourceSpec {
                name: XYZ,
                weight: 1,
            },
        ];
        let memory_heavy: &[ResourceSpec] = &[
            ResourceSpec {
                name: MEMORY,
                weight: 2,
            },
            ResourceSpec {
                name: CPU,
                weight: 1,
            },
        ];
        let xyz_first: &[ResourceSpec] = &[
            ResourceSpec {
                name: XYZ,
                weight: 2,
            },
            ResourceSpec {
                name: CPU,
                weight: 1,
            },
            ResourceSpec {
                name: MEMORY,
                weight: 1,
            },
        ];
        let two_containers = || {
            req_pod(
                None,
                &[&cpu_mem("1000", "2000"), &cpu_mem("2000", "3000")],
                &[],
            )
        };
        type Case<'a> = (
            &'a str,
            Pod,
            Vec<Node>,
            Vec<Pod>,
            Option<&'a [ResourceSpec]>,
            Vec<i64>,
        );
        let cases: Vec<Case> = vec![
            (
                "nothing scheduled, nothing requested",
                pod(json!({})),
                vec![n("node1", "4000", "10000"), n("node2", "4000", "10000")],
                vec![],
                None,
                vec![100, 100],
            ),
            (
                "nothing scheduled, resources requested, differently sized nodes",
                two_containers(),
                vec![n("node1", "4000", "10000"), n("node2", "6000", "10000")],
                vec![],
                None,
                vec![37, 50],
            ),
            (
                "no resources requested, pods scheduled",
                pod(json!({})),
                vec![n("node1", "4000", "10000"), n("node2", "4000", "10000")],
                vec![
                    req_pod(Some("node1"), &[], &[]),
                    req_pod(Some("node1"), &[], &[]),
                    req_pod(Some("node2"), &[], &[]),
                    req_pod(Some("node2"), &[], &[]),
                ],
                None,
                vec![100, 100],
            ),
            (
                "no resources requested, pods scheduled with resources",
                pod(json!({})),
                vec![n("node1", "10000", "20000"), n("node2", "10000", "20000")],
                vec![
                    req_pod(Some("node1"), &[&cpu_mem("3000", "0")], &[]),
                    req_pod(Some("node1"), &[&cpu_mem("3000", "0")], &[]),
                    req_pod(Some("node2"), &[&cpu_mem("3000", "0")], &[]),
                    req_pod(Some("node2"), &[&cpu_mem("3000", "5000")], &[]),
                ],
                None,
                vec![70, 57],
            ),
            (
                "resources requested, pods scheduled with resources",
                two_containers(),
                vec![n("node1", "10000", "20000"), n("node2", "10000", "20000")],
                vec![
                    req_pod(Some("node1"), &[&cpu_mem("3000", "0")], &[]),
                    req_pod(Some("node2"), &[&cpu_mem("3000", "5000")], &[]),
                ],
                None,
                vec![57, 45],
            ),
            (
                "resources requested, pods scheduled with resources, differently sized nodes",
                two_containers(),
                vec![n("node1", "10000", "20000"), n("node2", "10000", "50000")],
                vec![
                    req_pod(Some("node1"), &[&cpu_mem("3000", "0")], &[]),
                    req_pod(Some("node2"), &[&cpu_mem("3000", "5000")], &[]),
                ],
                None,
                vec![57, 60],
            ),
            (
                "requested resources exceed node capacity",
                req_pod(None, &[&cpu_mem("3000", "0")], &[]),
                vec![n("node1", "4000", "10000"), n("node2", "4000", "10000")],
                vec![
                    req_pod(Some("node1"), &[&cpu_mem("3000", "0")], &[]),
                    req_pod(Some("node2"), &[&cpu_mem("3000", "5000")], &[]),
                ],
                None,
                vec![50, 25],
            ),
            (
                "zero node resources, pods scheduled with resources",
                pod(json!({})),
                vec![capacity_node("node1", &[]), capacity_node("node2", &[])],
                vec![
                    req_pod(Some("node1"), &[&cpu_mem("3000", "0")], &[]),
                    req_pod(Some("node2"), &[&cpu_mem("3000", "5000")], &[]),
                ],
                None,
                vec![0, 0],
            ),
            (
                "nothing scheduled, resources requested with different weight on CPU and memory, differently sized nodes",
                two_containers(),
                vec![n("node1", "4000", "10000"), n("node2", "6000", "10000")],
                vec![],
                Some(memory_heavy),
                vec![41, 50],
            ),
            (
                "bypass extended resource if the pod does not request",
                two_containers(),
                vec![
                    n("node1", "6000", "10000"),
                    capacity_node("node2", &[("cpu", "6000"), ("memory", "10000"), (XYZ, "4")]),
                ],
                vec![],
                Some(extended_set),
                vec![50, 50],
            ),
            (
                "honor extended resource if the pod requests",
                req_pod(
                    None,
                    &[&[("cpu", "3000"), ("memory", "5000"), (XYZ, "2")]],
                    &[],
                ),
                vec![
                    capacity_node("node1", &[("cpu", "6000"), ("memory", "10000"), (XYZ, "4")]),
                    capacity_node(
                        "node2",
                        &[("cpu", "6000"), ("memory", "10000"), (XYZ, "10")],
                    ),
                ],
                vec![],
                Some(extended_set),
                vec![50, 60],
            ),
            (
                "if the node doesn't have a resource",
                req_pod(None, &[&cpu_mem("3000", "4000")], &[]),
                vec![
                    n("node1", "6000", "10000"),
                    capacity_node("node2", &[("cpu", "6000"), ("memory", "10000"), (XYZ, "4")]),
                ],
                vec![],
                Some(xyz_first),
                vec![55, 55],
            ),
            // Upstream TestFitScore.
            (
                "test case for ScoringStrategy LeastAllocated",
                req_pod(None, &[&cpu_mem("1000", "2000")], &[]),
                vec![n("node1", "4000", "10000"), n("node2", "6000", "10000")],
                vec![
                    req_pod(Some("node1"), &[&cpu_mem("2000", "4000")], &[]),
                    req_pod(Some("node2"), &[&cpu_mem("1000", "2000")], &[]),
                ],
                None,
                vec![32, 63],
            ),
            (
                "test case for ScoringStrategy LeastAllocated with sidecar container",
                req_pod(None, &[&cpu_mem("1000", "2000")], &[]),
                vec![n("node1", "4000", "10000"), n("node2", "4000", "10000")],
                vec![
                    req_pod(
                        Some("node1"),
                        &[&cpu_mem("1000", "2000")],
                        &[&cpu_mem("1000", "2000")],
                    ),
                    req_pod(Some("node2"), &[&cpu_mem("1000", "2000")], &[]),
                ],
                None,
                vec![32, 55],
            ),
        ];
        for (name, pod, nodes, existing, resources, want) in cases {
            assert_eq!(
                least_allocated_scores(&pod, nodes, existing, resources),
                want,
                "{name}"
            );
        }
    }

    /// Upstream `TestResourceAllocationScorerCalculateRequests`: the non-zero requests the
    /// score counts for the pod (1Mi = 1048576 bytes).
    #[test]
    fn non_zero_pod_requests() {
        const MI: i64 = 1 << 20;
        let (cpu0, mem0) = (
            resources::DEFAULT_MILLI_CPU_REQUEST,
            resources::DEFAULT_MEMORY_REQUEST,
        );
        let one = || json!({"resources": {"requests": {"cpu": "1", "memory": "1Mi"}}});
        let cases: Vec<(&str, Value, (i64, i64))> = vec![
            (
                "overhead only",
                json!({"overhead": {"cpu": "1", "memory": "1Mi"}}),
                (1000, MI),
            ),
            (
                "1x requestless container",
                json!({"containers": [{"name": "a"}]}),
                (cpu0, mem0),
            ),
            (
                "2x requestless container",
                json!({"containers": [{"name": "a"}, {"name": "b"}]}),
                (2 * cpu0, 2 * mem0),
            ),
            (
                "request container + requestless container",
                json!({"containers": [one(), {"name": "b"}]}),
                (1000 + cpu0, MI + mem0),
            ),
            (
                "container + requestless container + overhead",
                json!({"overhead": {"cpu": "1", "memory": "1Mi"},
                    "containers": [one(), {"name": "b"}]}),
                (2000 + cpu0, 2 * MI + mem0),
            ),
            (
                "init container + container + requestless container + overhead",
                json!({"overhead": {"cpu": "1", "memory": "1Mi"},
                    "initContainers": [{"resources": {"requests": {"cpu": "3"}}}],
                    "containers": [one(), {"name": "b"}]}),
                (4000, 2 * MI + mem0),
            ),
            (
                "requestless init container + small init container + small container ",
                json!({"initContainers": [{}, {"resources": {"requests": {"cpu": "1m", "memory": "1"}}}],
                    "containers": [{"resources": {"requests": {"cpu": "3m", "memory": "3"}}}]}),
                (cpu0, mem0),
            ),
            (
                "requestless init container + small init container + small container + requestless container ",
                json!({"initContainers": [{}, {"resources": {"requests": {"cpu": "1m", "memory": "1"}}}],
                    "containers": [{"resources": {"requests": {"cpu": "3m", "memory": "3"}}}, {}]}),
                (3 + cpu0, 3 + mem0),
            ),
        ];
        for (name, spec, want) in cases {
            let got = pod_resource_requests(&pod(spec), DEFAULT_RESOURCES, Accounting::NonZero);
            assert_eq!(got, vec![want.0, want.1], "{name}");
        }
    }

    /// Upstream `k8s.io/component-helpers/resource` PodRequests tables
    /// (`TestPodRequestsAndLimits`, `TestPodRequestsAndLimitsWithoutOverhead`,
    /// `TestPodResourceRequests`, `TestAggregateContainerRequestsAndLimits`), the cases that
    /// apply to the scheduler: overhead included, no status resources.
    #[test]
    fn pod_requests_as_upstream() {
        let c = |requests: Value| json!({"name": "c", "resources": {"requests": requests}});
        let s = |requests: Value| json!({"name": "s", "restartPolicy": "Always", "resources": {"requests": requests}});
        let cpu = |amount: &str| c(json!({"cpu": amount}));
        let sidecar_cpu = |amount: &str| s(json!({"cpu": amount}));
        // Upstream getPod: one container and one init container with the same requests.
        let get_pod = |requests: Value, overhead: Value| {
            json!({"containers": [c(requests.clone())], "initContainers": [c(requests)],
                "overhead": overhead})
        };
        let cases: Vec<(&str, Value, (i64, i64))> = vec![
            (
                "just-limit-no-overhead",
                json!({"containers": [{"name": "c", "resources": {"limits": {"cpu": "9"}}}]}),
                (0, 0),
            ),
            (
                "just-overhead",
                get_pod(json!({}), json!({"cpu": "5", "memory": "5"})),
                (5000, 5),
            ),
            (
                "req-and-overhead",
                get_pod(
                    json!({"cpu": "1", "memory": "10"}),
                    json!({"cpu": "5", "memory": "5"}),
                ),
                (6000, 15),
            ),
            (
                "two container no overhead - should just be sum of containers",
                json!({"containers": [c(json!({"cpu": "1", "memory": "5"})),
                    c(json!({"cpu": "4", "memory": "12"}))]}),
                (5000, 17),
            ),
            (
                "nil options, larger init container",
                json!({"initContainers": [cpu("4")], "containers": [cpu("1")]}),
                (4000, 0),
            ),
            (
                "nil options, larger containers",
                json!({"initContainers": [cpu("2")], "containers": [cpu("2"), cpu("3")]}),
                (5000, 0),
            ),
            (
                "pod overhead included",
                json!({"overhead": {"cpu": "1", "memory": "1Gi"},
                    "initContainers": [cpu("2")], "containers": [cpu("2"), cpu("3")]}),
                (6000, 1 << 30),
            ),
            (
                "resized, infeasible, but don't use status",
                json!({"containers": [cpu("4")]}),
                (4000, 0),
            ),
            (
                "resized, restartable init container, infeasible, but don't use status",
                json!({"initContainers": [sidecar_cpu("4")]}),
                (4000, 0),
            ),
            (
                "restartable init container",
                json!({"initContainers": [sidecar_cpu("1")], "containers": [cpu("1")]}),
                (2000, 0),
            ),
            (
                "multiple restartable init containers",
                json!({"initContainers": [cpu("5"), sidecar_cpu("1"), sidecar_cpu("2"),
                    sidecar_cpu("3")], "containers": [cpu("1")]}),
                (7000, 0),
            ),
            (
                "multiple restartable and regular init containers",
                json!({"initContainers": [cpu("5"), sidecar_cpu("1"), sidecar_cpu("2"), cpu("5"),
                    sidecar_cpu("3")], "containers": [cpu("1")]}),
                (8000, 0),
            ),
            (
                "restartable-init, init and regular",
                json!({"initContainers": [sidecar_cpu("10"), cpu("200")],
                    "containers": [cpu("100")]}),
                (210_000, 0),
            ),
            (
                "two containers with requests",
                json!({"containers": [cpu("9"), cpu("9")]}),
                (18_000, 0),
            ),
            (
                "regular and init containers with requests",
                json!({"initContainers": [cpu("9")], "containers": [cpu("9")]}),
                (9000, 0),
            ),
            (
                "regular, init and sidecar containers with requests",
                json!({"initContainers": [sidecar_cpu("8"), cpu("6")], "containers": [cpu("9")]}),
                (17_000, 0),
            ),
            (
                "container-level resources, init and sidecar container set",
                json!({"containers": [c(json!({"cpu": "2m", "memory": "3Mi"}))],
                    "initContainers": [s(json!({"cpu": "4m", "memory": "5Mi"})),
                        c(json!({"cpu": "8m", "memory": "6Mi"}))]}),
                (12, 11 << 20),
            ),
        ];
        for (name, spec, want) in cases {
            let got = resources::pod_requests(&pod(spec));
            assert_eq!((got.milli_cpu, got.memory), want, "{name}");
        }
    }

    /// Upstream `TestPodLevelResourceRequests` (PodLevelResources is on by default since
    /// 1.34; the scheduler passes `SkipPodLevelResources: false`).
    #[test]
    fn pod_requests_with_pod_level_resources() {
        let c = |requests: Value| json!({"name": "c", "resources": {"requests": requests}});
        let s = |requests: Value| json!({"name": "s", "restartPolicy": "Always", "resources": {"requests": requests}});
        let pod_level = |requests: Value, containers: Vec<Value>, init: Vec<Value>| {
            json!({"resources": {"requests": requests}, "containers": containers,
                "initContainers": init})
        };
        /// Milli cpu, memory, hugepages-2Mi, hugepages-1Gi.
        type Amounts = (i64, i64, i64, i64);
        let cases: Vec<(&str, Value, Amounts)> = vec![
            (
                "pod level memory resource",
                pod_level(json!({"memory": "2Mi"}), vec![], vec![]),
                (0, 2 << 20, 0, 0),
            ),
            (
                "pod level memory and container level cpu resources",
                pod_level(
                    json!({"memory": "2Mi"}),
                    vec![c(json!({"cpu": "2m"}))],
                    vec![],
                ),
                (2, 2 << 20, 0, 0),
            ),
            (
                "both container-level and pod-level resources set",
                pod_level(
                    json!({"memory": "6Mi", "cpu": "8m"}),
                    vec![c(json!({"memory": "3Mi", "cpu": "2m"}))],
                    vec![],
                ),
                (8, 6 << 20, 0, 0),
            ),
            (
                "pod-level resources, container-level resources, init and sidecar container set",
                pod_level(
                    json!({"memory": "15Mi", "cpu": "18m"}),
                    vec![c(json!({"memory": "3Mi", "cpu": "2m"}))],
                    vec![
                        s(json!({"memory": "5Mi", "cpu": "4m"})),
                        c(json!({"memory": "6Mi", "cpu": "8m"})),
                    ],
                ),
                (18, 15 << 20, 0, 0),
            ),
            (
                "pod-level resources, hugepage request/limit single page size",
                pod_level(
                    json!({"memory": "10Mi", "hugepages-2Mi": "2Mi"}),
                    vec![],
                    vec![],
                ),
                (0, 10 << 20, 2 << 20, 0),
            ),
            (
                "pod-level resources, hugepage request/limit multiple page sizes",
                pod_level(
                    json!({"cpu": "1", "hugepages-2Mi": "2Mi", "hugepages-1Gi": "1Gi"}),
                    vec![],
                    vec![],
                ),
                (1000, 0, 2 << 20, 1 << 30),
            ),
            (
                "pod-level resources, container-level resources, hugepage request/limit single page size",
                pod_level(
                    json!({"cpu": "1", "hugepages-2Mi": "10Mi"}),
                    vec![c(json!({"hugepages-2Mi": "6Mi"}))],
                    vec![],
                ),
                (1000, 0, 10 << 20, 0),
            ),
            (
                "pod-level resources, container-level resources, hugepage request/limit multiple page sizes",
                pod_level(
                    json!({"cpu": "1", "hugepages-2Mi": "10Mi", "hugepages-1Gi": "2Gi"}),
                    vec![c(json!({"cpu": "1", "hugepages-1Gi": "2Gi"}))],
                    vec![],
                ),
                (1000, 0, 10 << 20, 2 << 30),
            ),
            (
                "pod-level resources, container-level resources, hugepage request/limit multiple page sizes between pod-level and container-level",
                pod_level(
                    json!({"cpu": "1", "hugepages-2Mi": "10Mi"}),
                    vec![c(json!({"memory": "4Mi", "hugepages-1Gi": "1Gi"}))],
                    vec![],
                ),
                (1000, 4 << 20, 10 << 20, 1 << 30),
            ),
        ];
        for (name, spec, want) in cases {
            let got = resources::pod_requests(&pod(spec));
            let got = (
                got.milli_cpu,
                got.memory,
                got.get("hugepages-2Mi"),
                got.get("hugepages-1Gi"),
            );
            assert_eq!(got, want, "{name}");
        }
    }

    /// Upstream `TestPodResourceRequests` / `TestAggregateContainerRequestsAndLimits` with
    /// `UseStatusResources`, which the scheduler's NodeInfo uses for the pods on a node
    /// (InPlacePodVerticalScaling is GA since 1.35): a resized container counts as the
    /// largest of its spec, actuated (`status.resources`) and allocated requests, or of the
    /// last two only when the resize is infeasible.
    #[test]
    fn pod_requests_of_resized_pods() {
        let infeasible = json!([{"type": "PodResizePending", "status": "True",
            "reason": "Infeasible"}]);
        let resized = |spec: Value, statuses: Value, conditions: Value| -> Pod {
            serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec,
                "status": {"containerStatuses": statuses["containers"],
                    "initContainerStatuses": statuses["init"], "conditions": conditions}}))
            .unwrap()
        };
        let status = |allocated: Value, actual: Value| {
            json!([{"name": "container-1", "image": "i", "imageID": "", "ready": true,
                "restartCount": 0, "allocatedResources": allocated,
                "resources": {"requests": actual}}])
        };
        let cpu = |amount: &str| json!([{"name": "container-1", "resources": {"requests": {"cpu": amount}}}]);
        let sidecar_cpu = |amount: &str| {
            json!([{"name": "container-1", "restartPolicy": "Always",
                "resources": {"requests": {"cpu": amount}}}])
        };
        let cases: Vec<(&str, Pod, (i64, i64, i64))> = vec![
            (
                "resized, infeasible",
                resized(
                    json!({"containers": cpu("4")}),
                    json!({"containers": status(json!(null), json!({"cpu": "2"}))}),
                    infeasible.clone(),
                ),
                (2000, 0, 0),
            ),
            (
                "resized, infeasible & in-progress",
                resized(
                    json!({"containers": cpu("6")}),
                    json!({"containers": status(json!({"cpu": "4"}), json!({"cpu": "2"}))}),
                    infeasible.clone(),
                ),
                (4000, 0, 0),
            ),
            (
                "resized, no resize status",
                resized(
                    json!({"containers": cpu("4")}),
                    json!({"containers": status(json!(null), json!({"cpu": "2"}))}),
                    json!([]),
                ),
                (4000, 0, 0),
            ),
            (
                "resized: per-resource 3-way maximum",
                resized(
                    json!({"containers": [{"name": "container-1", "resources": {"requests":
                        {"cpu": "30m", "memory": "20M", "ephemeral-storage": "10G"}}}]}),
                    json!({"containers": status(
                        json!({"cpu": "20m", "memory": "10M", "ephemeral-storage": "30G"}),
                        json!({"cpu": "10m", "memory": "30M", "ephemeral-storage": "20G"}))}),
                    json!([]),
                ),
                (30, 30_000_000, 30_000_000_000),
            ),
            (
                "resized, restartable init container, infeasible",
                resized(
                    json!({"containers": [], "initContainers": sidecar_cpu("4")}),
                    json!({"init": status(json!(null), json!({"cpu": "2"}))}),
                    infeasible.clone(),
                ),
                (2000, 0, 0),
            ),
            (
                "resized, restartable init container, no resize status",
                resized(
                    json!({"containers": [], "initContainers": sidecar_cpu("4")}),
                    json!({"init": status(json!(null), json!({"cpu": "2"}))}),
                    json!([]),
                ),
                (4000, 0, 0),
            ),
            (
                "regularcontainers with empty requests, but status with non-empty requests",
                resized(
                    json!({"containers": [{"name": "container-1"}]}),
                    json!({"containers": status(json!(null), json!({"cpu": "2"}))}),
                    json!([]),
                ),
                (2000, 0, 0),
            ),
            (
                "always-restart init containers with empty requests, but status with non-empty requests",
                resized(
                    json!({"containers": [], "initContainers": [{"name": "container-1",
                        "restartPolicy": "Always"}]}),
                    json!({"init": status(json!(null), json!({"cpu": "2"}))}),
                    json!([]),
                ),
                (2000, 0, 0),
            ),
        ];
        for (name, pod, want) in cases {
            let got = resources::pod_requests(&pod);
            assert_eq!(
                (got.milli_cpu, got.memory, got.ephemeral_storage),
                want,
                "{name}"
            );
        }
    }
}

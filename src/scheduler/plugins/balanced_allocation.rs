//! NodeResourcesBalancedAllocation: favours the nodes whose cpu and memory use stay balanced
//! once the pod is added (upstream `plugins/noderesources/balanced_allocation.go`).
//!
//! As upstream in 1.36, it counts what the pods really request (`useRequested`: the node's
//! `requested`, not the non-zero sums LeastAllocated uses), skips best-effort pods (those
//! requesting none of the scored resources, so that they do not all pile onto one node,
//! kubernetes#129138), and scores the change in balance: 50 + (50 + with − without) / 2,
//! where "with" and "without" are (1 − std of the requested fractions) × 100 with and
//! without the pod.

use super::node_resources_fit::{
    Accounting, DEFAULT_RESOURCES, ResourceSpec, node_allocation, pod_resource_requests,
};
use crate::scheduler::framework::{self, MAX_NODE_SCORE, NodeInfo, ScorePlugin, Snapshot, State};
use crate::scheduler::pod::Pod;

pub const NAME: &str = "NodeResourcesBalancedAllocation";
pub const WEIGHT: i64 = 1;

pub struct NodeResourcesBalancedAllocation;

/// The pod's request of each scored resource, computed once in PreScore (upstream
/// `balancedAllocationPreScoreState`).
struct PodRequests(Vec<i64>);

/// Upstream `isBestEffortPod`: the pod requests none of the scored resources.
fn is_best_effort(pod_requests: &[i64]) -> bool {
    pod_requests.iter().all(|&request| request == 0)
}

/// The node's score for a pod requesting `pod_requests` of `resources` (upstream
/// `balancedResourceScorer` over `calculateNodeAllocatableRequest`).
pub fn balanced_allocation_score(
    node: &NodeInfo,
    resources: &[ResourceSpec],
    pod_requests: &[i64],
) -> i64 {
    let allocation = node_allocation(node, resources, pod_requests, Accounting::Requested);
    let with_pod = balanced_resource_score(&allocation.requested, &allocation.allocatable);
    let without_pod = balanced_resource_score(&allocation.allocated, &allocation.allocatable);
    // Both are in 50..=100, so the improvement brings the score back into 50..=100: about 75
    // when the balance barely moves, towards 100 when it improves, towards 50 when it worsens.
    MAX_NODE_SCORE / 2 + (MAX_NODE_SCORE / 2 + with_pod - without_pod) / 2
}

/// Upstream `balancedResourceScore`: (1 − the standard deviation of the requested fractions)
/// × 100, over the resources the node has; each fraction is capped at 1.
fn balanced_resource_score(requested: &[i64], allocatable: &[i64]) -> i64 {
    let fractions: Vec<f64> = requested
        .iter()
        .zip(allocatable)
        .filter(|(_, allocatable)| **allocatable != 0)
        .map(|(&requested, &allocatable)| (requested as f64 / allocatable as f64).min(1.0))
        .collect();
    let std = match fractions.as_slice() {
        // Two resources (the usual cpu and memory): upstream's shortcut, same as the formula.
        [a, b] => ((a - b) / 2.0).abs(),
        [_, _, _, ..] => {
            let count = fractions.len() as f64;
            let mean = fractions.iter().sum::<f64>() / count;
            let sum: f64 = fractions.iter().map(|f| (f - mean) * (f - mean)).sum();
            (sum / count).sqrt()
        }
        _ => 0.0,
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

impl ScorePlugin for NodeResourcesBalancedAllocation {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_score(&self, pod: &Pod, _feasible: &[&NodeInfo], _snapshot: &Snapshot) -> Option<State> {
        let requests = pod_resource_requests(pod, DEFAULT_RESOURCES, Accounting::Requested);
        if is_best_effort(&requests) {
            return None;
        }
        Some(Box::new(PodRequests(requests)))
    }

    fn score(&self, state: &State, _pod: &Pod, node: &NodeInfo) -> i64 {
        let PodRequests(requests) = framework::state_of::<PodRequests>(state);
        balanced_allocation_score(node, DEFAULT_RESOURCES, requests)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use k8s_openapi::api::core::v1::Node;
    use serde_json::{Value, json};

    use super::*;
    use crate::scheduler::resources::{CPU, MEMORY};

    const GPU: &str = "nvidia.com/gpu";

    /// Upstream `makeNode(name, milliCPU, memory, extendedResource)`.
    fn make_node(name: &str, milli_cpu: i64, memory: i64, gpus: Option<i64>) -> Node {
        let mut allocatable = json!({"cpu": format!("{milli_cpu}m"), "memory": memory.to_string()});
        if let Some(gpus) = gpus {
            allocatable[GPU] = json!(gpus.to_string());
        }
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "status": {"capacity": allocatable, "allocatable": allocatable}
        }))
        .unwrap()
    }

    /// Upstream `st.MakePod().Node(node).Req(...)...`: one container per requests map.
    fn req_pod(node: Option<&str>, containers: &[Value]) -> Pod {
        let containers: Vec<Value> = containers
            .iter()
            .map(|requests| json!({"name": "c", "resources": {"requests": requests}}))
            .collect();
        serde_json::from_value(json!({"metadata": {"name": "p"},
            "spec": {"nodeName": node, "containers": containers}}))
        .unwrap()
    }

    fn cpu_only(cpu: &str) -> Value {
        json!({"cpu": cpu})
    }

    fn cpu_and_memory(cpu: &str, memory: &str) -> Value {
        json!({"cpu": cpu, "memory": memory})
    }

    /// The scores of each node, None when PreScore skips the pod. With `resources`, the
    /// same computation over other resources than the default ones.
    fn scores(
        pod: &Pod,
        nodes: Vec<Node>,
        existing: Vec<Pod>,
        resources: Option<&[ResourceSpec]>,
    ) -> Option<Vec<i64>> {
        let names: Vec<String> = nodes
            .iter()
            .map(|n| n.metadata.name.clone().unwrap())
            .collect();
        let snapshot = Snapshot::new(
            nodes.into_iter().map(Arc::new),
            existing.into_iter().map(Arc::new),
        );
        let nodes = names.iter().map(|name| snapshot.get(name).unwrap());
        let Some(specs) = resources else {
            let feasible: Vec<&NodeInfo> = snapshot.nodes.iter().collect();
            let plugin = NodeResourcesBalancedAllocation;
            let state = plugin.pre_score(pod, &feasible, &snapshot)?;
            return Some(nodes.map(|node| plugin.score(&state, pod, node)).collect());
        };
        let requests = pod_resource_requests(pod, specs, Accounting::Requested);
        if is_best_effort(&requests) {
            return None;
        }
        Some(
            nodes
                .map(|node| balanced_allocation_score(node, specs, &requests))
                .collect(),
        )
    }

    /// Upstream `TestNodeResourcesBalancedAllocation`.
    #[test]
    fn balanced_allocation_scores_nodes() {
        let with_gpu: &[ResourceSpec] = &[
            ResourceSpec {
                name: CPU,
                weight: 1,
            },
            ResourceSpec {
                name: MEMORY,
                weight: 1,
            },
            ResourceSpec {
                name: GPU,
                weight: 1,
            },
        ];
        let two_containers = || {
            req_pod(
                None,
                &[
                    cpu_and_memory("1000m", "2000"),
                    cpu_and_memory("2000m", "3000"),
                ],
            )
        };
        let cpu_pod = |node| req_pod(Some(node), &[cpu_only("1000m"), cpu_only("2000m")]);
        let cpu_memory_pod = |node| {
            req_pod(
                Some(node),
                &[
                    cpu_and_memory("1000m", "2000"),
                    cpu_and_memory("2000m", "3000"),
                ],
            )
        };
        type Case<'a> = (
            &'a str,
            Pod,
            Vec<Node>,
            Vec<Pod>,
            Option<&'a [ResourceSpec]>,
            Option<Vec<i64>>,
        );
        let cases: Vec<Case> = vec![
            (
                "nothing scheduled, nothing requested, skip in PreScore",
                req_pod(None, &[]),
                vec![
                    make_node("node1", 4000, 10000, None),
                    make_node("node2", 4000, 10000, None),
                ],
                vec![],
                None,
                None,
            ),
            (
                "nothing scheduled, resources requested, differently sized nodes",
                two_containers(),
                vec![
                    make_node("node1", 4000, 10000, None),
                    make_node("node2", 6000, 10000, None),
                ],
                vec![],
                None,
                Some(vec![68, 75]),
            ),
            (
                "resources requested, pods scheduled with resources",
                two_containers(),
                vec![
                    make_node("node1", 10000, 20000, None),
                    make_node("node2", 10000, 20000, None),
                ],
                vec![cpu_pod("node1"), cpu_memory_pod("node2")],
                None,
                Some(vec![73, 74]),
            ),
            (
                "resources requested, pods scheduled with resources, differently sized nodes",
                two_containers(),
                vec![
                    make_node("node1", 10000, 20000, None),
                    make_node("node2", 10000, 50000, None),
                ],
                vec![cpu_pod("node1"), cpu_memory_pod("node2")],
                None,
                Some(vec![73, 70]),
            ),
            (
                "resources requested, pods scheduled with resources, nodes to reach min/max score",
                req_pod(
                    None,
                    &[json!({"memory": "2000"}), json!({"memory": "3000"})],
                ),
                vec![
                    make_node("node1", 3000, 5000, None),
                    make_node("node2", 3000, 5000, None),
                ],
                vec![cpu_pod("node1")],
                None,
                Some(vec![100, 50]),
            ),
            (
                "requested resources at node capacity",
                req_pod(None, &[cpu_only("1000m"), cpu_only("2000m")]),
                vec![
                    make_node("node1", 6000, 10000, None),
                    make_node("node2", 6000, 10000, None),
                ],
                vec![cpu_pod("node1"), cpu_memory_pod("node2")],
                None,
                Some(vec![62, 62]),
            ),
            (
                "scalar resource is included in the score computation if pod requests the scalar resource",
                req_pod(None, &[json!({"cpu": "0", "memory": "0", GPU: "1"})]),
                vec![
                    make_node("node1", 3500, 40000, Some(8)),
                    make_node("node2", 3500, 40000, Some(8)),
                ],
                vec![
                    req_pod(
                        Some("node1"),
                        &[
                            cpu_and_memory("1000m", "2000"),
                            json!({"cpu": "2000m", "memory": "3000", GPU: "3"}),
                        ],
                    ),
                    cpu_memory_pod("node2"),
                ],
                Some(with_gpu),
                Some(vec![75, 76]),
            ),
            (
                "scalar resource is not included in the score computation if pod doesn't request the scalar resource",
                two_containers(),
                vec![
                    make_node("node1", 3500, 40000, Some(8)),
                    make_node("node2", 3500, 40000, None),
                ],
                vec![],
                Some(with_gpu),
                Some(vec![56, 56]),
            ),
        ];
        for (name, pod, nodes, existing, resources, want) in cases {
            assert_eq!(scores(&pod, nodes, existing, resources), want, "{name}");
        }
    }

    #[test]
    fn a_pod_without_requests_is_skipped_even_if_containers_exist() {
        // Upstream counts real requests here, not the non-zero defaults: a pod whose
        // containers request nothing is best-effort and not scored.
        let pod = req_pod(None, &[json!({})]);
        let nodes = vec![make_node("node1", 4000, 10000, None)];
        assert_eq!(scores(&pod, nodes, vec![], None), None);
    }
}

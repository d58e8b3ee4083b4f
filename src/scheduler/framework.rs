//! The scheduling framework, pure: a snapshot of the nodes and the pods on them, the plugin
//! interfaces (PreFilter/Filter, PreScore/Score/NormalizeScore), and the statuses they return
//! (upstream `pkg/scheduler/framework`, `fwk.Status`).
//!
//! Plugins see nothing but the pod and the snapshot, so the same code answers the scheduler
//! and `minik8s explain`, and every plugin is tested with tables.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Node;

use super::plugins::inter_pod_affinity::PodAffinityTerms;
use super::pod::Pod;
use super::resources::{self, Resources};

/// Upstream `MaxNodeScore`: each plugin scores a node from 0 to 100.
pub const MAX_NODE_SCORE: i64 = 100;

/// A host port a pod uses (upstream `HostPortInfo`): (host IP, protocol, port).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// `0.0.0.0` when the pod did not name one.
    pub ip: String,
    pub protocol: String,
    pub port: i32,
}

/// The host ports `pod` asks for.
pub fn host_ports(pod: &Pod) -> Vec<HostPort> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    // Upstream `GetHostPorts`: init containers hold their ports only as sidecars, for the
    // life of the pod.
    let sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"));
    spec.containers
        .iter()
        .chain(sidecars)
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| {
            let port = p.host_port.filter(|port| *port > 0)?;
            Some(HostPort {
                ip: p
                    .host_ip
                    .clone()
                    .filter(|ip| !ip.is_empty())
                    .unwrap_or_else(|| "0.0.0.0".into()),
                protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                port,
            })
        })
        .collect()
}

/// A node and what is placed on it (upstream `NodeInfo`).
#[derive(Clone, Debug)]
pub struct NodeInfo {
    pub node: Arc<Node>,
    /// Every pod assigned to the node, bound or assumed.
    pub pods: Vec<Arc<Pod>>,
    /// Sum of the pods' requests (upstream `Requested`).
    pub requested: Resources,
    /// Sum of the pods' requests with the non-zero defaults (`NonZeroRequested`), for scoring.
    pub non_zero_requested: Resources,
    pub allocatable: Resources,
    pub used_ports: Vec<HostPort>,
    /// The pods with pod affinity or anti-affinity of any kind (upstream `PodsWithAffinity`):
    /// InterPodAffinity looks only at these, not at every pod, unless the incoming pod has
    /// preferred terms of its own.
    pub pods_with_affinity: Vec<AffinityPod>,
    /// The pods with required anti-affinity (upstream `PodsWithRequiredAntiAffinity`).
    pub pods_with_required_anti_affinity: Vec<AffinityPod>,
}

/// A pod with pod (anti-)affinity and its terms, parsed once when it joins a node (upstream
/// `PodInfo`), not at every attempt that looks at it.
#[derive(Clone, Debug)]
pub struct AffinityPod {
    pub pod: Arc<Pod>,
    pub terms: Arc<PodAffinityTerms>,
}

/// Upstream `podWithAffinity`: only such pods carry pod (anti-)affinity terms.
pub fn has_pod_affinity(pod: &Pod) -> bool {
    let affinity = pod.spec.as_ref().and_then(|s| s.affinity.as_ref());
    affinity.is_some_and(|a| a.pod_affinity.is_some() || a.pod_anti_affinity.is_some())
}

/// Upstream `podWithRequiredAntiAffinity`.
pub fn has_required_anti_affinity(pod: &Pod) -> bool {
    let affinity = pod.spec.as_ref().and_then(|s| s.affinity.as_ref());
    affinity
        .and_then(|a| a.pod_anti_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .is_some_and(|terms| !terms.is_empty())
}

fn remove_by_uid(pods: &mut Vec<AffinityPod>, uid: &str) {
    if let Some(i) = pods
        .iter()
        .position(|p| p.pod.metadata.uid.as_deref() == Some(uid))
    {
        pods.swap_remove(i);
    }
}

impl NodeInfo {
    pub fn new(node: Arc<Node>) -> Self {
        let allocatable = resources::allocatable(&node);
        Self {
            node,
            pods: Vec::new(),
            requested: Resources::default(),
            non_zero_requested: Resources::default(),
            allocatable,
            used_ports: Vec::new(),
            pods_with_affinity: Vec::new(),
            pods_with_required_anti_affinity: Vec::new(),
        }
    }

    pub fn name(&self) -> &str {
        self.node.metadata.name.as_deref().unwrap_or_default()
    }

    /// A newer version of the same node, its pods kept (upstream `SetNode`).
    pub fn set_node(&mut self, node: Arc<Node>) {
        self.allocatable = resources::allocatable(&node);
        self.node = node;
    }

    pub fn add_pod(&mut self, pod: Arc<Pod>) {
        self.requested.add(&resources::pod_requests(&pod));
        self.non_zero_requested
            .add(&resources::non_zero_requests(&pod));
        self.used_ports.extend(host_ports(&pod));
        if has_pod_affinity(&pod) {
            let with_terms = AffinityPod {
                pod: pod.clone(),
                terms: Arc::new(PodAffinityTerms::of_existing(&pod)),
            };
            if has_required_anti_affinity(&pod) {
                self.pods_with_required_anti_affinity
                    .push(with_terms.clone());
            }
            self.pods_with_affinity.push(with_terms);
        }
        self.pods.push(pod);
    }

    /// Removes the pod with this UID, if it is here.
    pub fn remove_pod(&mut self, uid: &str) -> Option<Arc<Pod>> {
        let index = self
            .pods
            .iter()
            .position(|p| p.metadata.uid.as_deref() == Some(uid))?;
        let pod = self.pods.swap_remove(index);
        self.requested.subtract(&resources::pod_requests(&pod));
        self.non_zero_requested
            .subtract(&resources::non_zero_requests(&pod));
        for port in host_ports(&pod) {
            if let Some(i) = self.used_ports.iter().position(|p| *p == port) {
                self.used_ports.swap_remove(i);
            }
        }
        remove_by_uid(&mut self.pods_with_affinity, uid);
        remove_by_uid(&mut self.pods_with_required_anti_affinity, uid);
        Some(pod)
    }
}

/// Every node at one moment, in the order the scheduler examines them.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub nodes: Vec<NodeInfo>,
}

impl Snapshot {
    /// Nodes with their pods (pods naming an unknown node are left out, as upstream's cache
    /// keeps them aside until the node appears). Nodes are ordered by name.
    pub fn new(
        nodes: impl IntoIterator<Item = Arc<Node>>,
        pods: impl IntoIterator<Item = Arc<Pod>>,
    ) -> Self {
        let mut infos: Vec<NodeInfo> = nodes.into_iter().map(NodeInfo::new).collect();
        infos.sort_by(|a, b| a.name().cmp(b.name()));
        let index: HashMap<String, usize> = infos
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name().to_string(), i))
            .collect();
        for pod in pods {
            let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
            if let Some(&i) = node.and_then(|n| index.get(n)) {
                infos[i].add_pod(pod);
            }
        }
        Self { nodes: infos }
    }

    pub fn get(&self, name: &str) -> Option<&NodeInfo> {
        self.nodes.iter().find(|n| n.name() == name)
    }

    /// Every pod on every node.
    pub fn pods(&self) -> impl Iterator<Item = (&NodeInfo, &Arc<Pod>)> {
        self.nodes
            .iter()
            .flat_map(|n| n.pods.iter().map(move |p| (n, p)))
    }

    /// Every pod with required anti-affinity, on every node.
    pub fn pods_with_required_anti_affinity(
        &self,
    ) -> impl Iterator<Item = (&NodeInfo, &AffinityPod)> {
        self.nodes.iter().flat_map(|n| {
            n.pods_with_required_anti_affinity
                .iter()
                .map(move |p| (n, p))
        })
    }
}

/// Upstream `fwk.Code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    Success,
    /// The node does not fit now, but might after preemption.
    Unschedulable,
    /// Preemption cannot help on this node.
    UnschedulableAndUnresolvable,
    Error,
}

/// A plugin's verdict: a code and its reasons (upstream `fwk.Status`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub code: Code,
    pub reasons: Vec<String>,
}

impl Status {
    pub fn success() -> Self {
        Self {
            code: Code::Success,
            reasons: Vec::new(),
        }
    }

    pub fn unschedulable(reason: impl Into<String>) -> Self {
        Self {
            code: Code::Unschedulable,
            reasons: vec![reason.into()],
        }
    }

    pub fn unresolvable(reason: impl Into<String>) -> Self {
        Self {
            code: Code::UnschedulableAndUnresolvable,
            reasons: vec![reason.into()],
        }
    }

    pub fn error(reason: impl Into<String>) -> Self {
        Self {
            code: Code::Error,
            reasons: vec![reason.into()],
        }
    }

    pub fn is_success(&self) -> bool {
        self.code == Code::Success
    }

    /// The reasons joined as upstream's `Status.Message()`.
    pub fn message(&self) -> String {
        self.reasons.join(", ")
    }
}

/// What a plugin computes once per pod (upstream CycleState entries).
pub type State = Box<dyn Any + Send + Sync>;

/// No state.
pub fn no_state() -> State {
    Box::new(())
}

/// The state a plugin stored, as its own type. Panics on a mismatch: only the plugin that
/// made a state reads it.
pub fn state_of<T: 'static>(state: &State) -> &T {
    state
        .downcast_ref::<T>()
        .expect("a plugin reads only the state it stored")
}

/// A Filter plugin, with its PreFilter.
pub trait FilterPlugin: Send + Sync {
    fn name(&self) -> &'static str;

    /// Once per pod. `Ok(None)`: the plugin has nothing to check for this pod (upstream
    /// `Skip`), its filter is not run. `Err`: the pod fits no node (upstream's PreFilter
    /// rejection, whose message leads the FailedScheduling event).
    fn pre_filter(&self, _pod: &Pod, _snapshot: &Snapshot) -> Result<Option<State>, Status> {
        Ok(Some(no_state()))
    }

    /// The only nodes that can fit, when the plugin knows them from the pod alone (upstream
    /// `PreFilterResult.NodeNames`); None: any node may. Asked after a successful PreFilter.
    fn pre_filter_nodes(&self, _pod: &Pod) -> Option<std::collections::BTreeSet<String>> {
        None
    }

    /// Whether the pod fits `node`.
    fn filter(&self, state: &State, pod: &Pod, node: &NodeInfo) -> Status;
}

/// A Score plugin, with its PreScore and NormalizeScore.
pub trait ScorePlugin: Send + Sync {
    fn name(&self) -> &'static str;

    /// Once per pod, over the feasible nodes. None: the plugin does not score this pod
    /// (upstream `Skip`), every node gets 0 from it.
    fn pre_score(
        &self,
        _pod: &Pod,
        _feasible: &[&NodeInfo],
        _snapshot: &Snapshot,
    ) -> Option<State> {
        Some(no_state())
    }

    /// The node's raw score.
    fn score(&self, state: &State, pod: &Pod, node: &NodeInfo) -> i64;

    /// Scales the raw scores (one per feasible node, in order) to 0..=100 where the plugin
    /// does so upstream.
    fn normalize(&self, _state: &State, _pod: &Pod, _scores: &mut [i64]) {}
}

/// Upstream `helper.DefaultNormalizeScore`: scales to `0..=max` by the highest score, or
/// reversed (the lowest raw score gets `max`).
pub fn default_normalize(max: i64, reverse: bool, scores: &mut [i64]) {
    let highest = scores.iter().copied().max().unwrap_or(0);
    if highest == 0 {
        if reverse {
            scores.iter_mut().for_each(|s| *s = max);
        }
        return;
    }
    for score in scores.iter_mut() {
        *score = max * *score / highest;
        if reverse {
            *score = max - *score;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(uid: &str, affinity: serde_json::Value) -> Arc<Pod> {
        let pod = serde_json::json!({
            "metadata": {"name": uid, "uid": uid},
            "spec": {"containers": [{"name": "c"}], "affinity": affinity}
        });
        Arc::new(serde_json::from_value(pod).unwrap())
    }

    /// Upstream `NodeInfo.AddPod`/`RemovePod` keep `PodsWithAffinity` and
    /// `PodsWithRequiredAntiAffinity` beside `Pods`.
    #[test]
    fn pods_with_affinity_are_listed_apart_as_they_come_and_go() {
        let term = serde_json::json!({"labelSelector": {}, "topologyKey": "zone"});
        let node: Node =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "n"}})).unwrap();
        let mut info = NodeInfo::new(Arc::new(node));
        info.add_pod(pod("plain", serde_json::json!(null)));
        info.add_pod(pod(
            "node-affinity-only",
            serde_json::json!({"nodeAffinity": {}}),
        ));
        info.add_pod(pod(
            "preferred",
            serde_json::json!({"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "podAffinityTerm": term}]}}),
        ));
        info.add_pod(pod(
            "required",
            serde_json::json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}),
        ));
        let uids = |pods: &[AffinityPod]| -> Vec<String> {
            let mut uids: Vec<String> = pods
                .iter()
                .filter_map(|p| p.pod.metadata.uid.clone())
                .collect();
            uids.sort();
            uids
        };
        assert_eq!(info.pods.len(), 4);
        assert_eq!(uids(&info.pods_with_affinity), ["preferred", "required"]);
        assert_eq!(uids(&info.pods_with_required_anti_affinity), ["required"]);
        info.remove_pod("required");
        info.remove_pod("plain");
        assert_eq!(uids(&info.pods_with_affinity), ["preferred"]);
        assert!(info.pods_with_required_anti_affinity.is_empty());
    }

    /// Upstream `TestDefaultNormalizeScore`.
    #[test]
    fn default_normalize_scales_by_the_highest_score() {
        let cases: [(bool, &[i64], &[i64]); 6] = [
            (false, &[1, 2, 3, 4, 5], &[20, 40, 60, 80, 100]),
            (true, &[1, 2, 3, 4, 5], &[80, 60, 40, 20, 0]),
            (false, &[1000, 10, 20, 30], &[100, 1, 2, 3]),
            (true, &[1000, 10, 20, 30], &[0, 99, 98, 97]),
            (false, &[1, 1, 1, 1], &[100, 100, 100, 100]),
            (true, &[0, 0, 0], &[100, 100, 100]),
        ];
        for (reverse, raw, want) in cases {
            let mut scores = raw.to_vec();
            default_normalize(MAX_NODE_SCORE, reverse, &mut scores);
            assert_eq!(scores, want, "reverse={reverse} {raw:?}");
        }
    }

    #[test]
    fn a_node_counts_what_its_pods_request_and_forgets_a_removed_one() {
        let node: Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n"},
            "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}
        }))
        .unwrap();
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "uid": "u1"},
            "spec": {"nodeName": "n", "containers": [{"name": "c",
                "resources": {"requests": {"cpu": "500m"}},
                "ports": [{"containerPort": 80, "hostPort": 8080}]}]}
        }))
        .unwrap();
        let snapshot = Snapshot::new([Arc::new(node)], [Arc::new(pod)]);
        let mut info = snapshot.nodes[0].clone();
        assert_eq!(info.allocatable.milli_cpu, 4000);
        assert_eq!(info.allocatable.allowed_pod_number, 110);
        assert_eq!(info.requested.milli_cpu, 500);
        assert_eq!(
            info.non_zero_requested.memory,
            resources::DEFAULT_MEMORY_REQUEST
        );
        assert_eq!(info.used_ports[0].port, 8080);
        assert!(info.remove_pod("u1").is_some());
        assert_eq!((info.requested.milli_cpu, info.used_ports.len()), (0, 0));
    }
}

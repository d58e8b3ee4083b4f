//! PodTopologySpread: spreads a pod's group evenly over topology domains (upstream
//! `pkg/scheduler/framework/plugins/podtopologyspread/{common,filtering,scoring,plugin}.go`).
//!
//! - Filter (`whenUnsatisfiable: DoNotSchedule`): PreFilter counts, per constraint and per
//!   topology value, the pods its selector matches on the nodes its node inclusion policies
//!   admit; a node is rejected when `matchNum + selfMatch - globalMin > maxSkew`.
//! - Score (`whenUnsatisfiable: ScheduleAnyway`, or the system default constraints when the pod
//!   has none): fewer matching pods in a node's domains score higher.
//!
//! Deviation, for want of listers: upstream builds the system default constraints' selector
//! from the Services, ReplicationControllers, ReplicaSets and StatefulSets selecting the pod.
//! Here the selector is "pods with the same controller owner (same owner UID)", applied when
//! the pod's controller is a ReplicationController, ReplicaSet or StatefulSet; a pod selected
//! only by a Service gets no default spreading.

use std::collections::{BTreeMap, HashMap, HashSet};

use k8s_openapi::api::core::v1::{Node, TopologySpreadConstraint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::core::{Selector, SelectorExt};

use super::taint_toleration;
use crate::scheduler::framework::{
    FilterPlugin, MAX_NODE_SCORE, NodeInfo, ScorePlugin, Snapshot, State, Status, state_of,
};
use crate::scheduler::node_selector::required_affinity_matches;
use crate::scheduler::pod::Pod;

pub const NAME: &str = "PodTopologySpread";
pub const WEIGHT: i64 = 2;

/// Upstream `ErrReasonConstraintsNotMatch`.
pub const ERR_REASON_CONSTRAINTS_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints";
/// Upstream `ErrReasonNodeLabelNotMatch`.
pub const ERR_REASON_NODE_LABEL_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";
const LABEL_TOPOLOGY_ZONE: &str = "topology.kubernetes.io/zone";
const DO_NOT_SCHEDULE: &str = "DoNotSchedule";
const SCHEDULE_ANYWAY: &str = "ScheduleAnyway";

/// Upstream `systemDefaultConstraints`: (topology key, maxSkew), both ScheduleAnyway.
const SYSTEM_DEFAULT_CONSTRAINTS: [(&str, i32); 2] =
    [(LABEL_HOSTNAME, 3), (LABEL_TOPOLOGY_ZONE, 5)];

/// The controller kinds whose pods get the system default constraints (upstream
/// `helper.DefaultSelector`): (apiVersion, kind).
const SPREAD_CONTROLLERS: [(&str, &str); 3] = [
    ("v1", "ReplicationController"),
    ("apps/v1", "ReplicaSet"),
    ("apps/v1", "StatefulSet"),
];

pub struct PodTopologySpread;

/// Which pods a constraint counts.
#[derive(Clone, Debug, PartialEq)]
enum PodSelector {
    /// A nil `labelSelector` (upstream `labels.Nothing()`): matches no pod.
    Nothing,
    /// A label selector. With no requirements it matches every pod for self-matching, yet
    /// counts none (upstream `countPodsMatchSelector` returns 0 for an empty selector).
    Labels(Selector),
    /// The system default constraints: pods whose controller owner has this UID.
    SameController(String),
}

impl PodSelector {
    fn matches(&self, pod: &Pod) -> bool {
        match self {
            Self::Nothing => false,
            Self::Labels(selector) => selector.matches(pod_labels(pod)),
            Self::SameController(uid) => controller_uid(pod) == Some(uid.as_str()),
        }
    }

    fn is_empty(&self) -> bool {
        matches!(self, Self::Labels(selector) if selector.selects_all())
    }
}

/// Upstream `v1.NodeInclusionPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InclusionPolicy {
    Honor,
    Ignore,
}

impl InclusionPolicy {
    fn parse(policy: Option<&str>, default: Self) -> Self {
        match policy {
            Some("Honor") => Self::Honor,
            Some("Ignore") => Self::Ignore,
            _ => default,
        }
    }
}

/// A constraint with its selector parsed (upstream `topologySpreadConstraint`).
#[derive(Clone, Debug, PartialEq)]
struct Constraint {
    max_skew: i32,
    topology_key: String,
    selector: PodSelector,
    min_domains: i32,
    node_affinity_policy: InclusionPolicy,
    node_taints_policy: InclusionPolicy,
}

impl Constraint {
    /// Upstream `matchNodeInclusionPolicies`: whether the node's domain counts for this
    /// constraint.
    fn includes_node(&self, pod: &Pod, node: &Node) -> bool {
        if self.node_affinity_policy == InclusionPolicy::Honor
            && !required_affinity_matches(pod, node)
        {
            return false;
        }
        self.node_taints_policy == InclusionPolicy::Ignore
            || tolerates_do_not_schedule_taints(pod, node)
    }

    fn is_hostname(&self) -> bool {
        self.topology_key == LABEL_HOSTNAME
    }
}

/// Borrowed, not cloned: every pod on every node is matched against each constraint, and a
/// copy of its labels each time was most of the scheduler's allocations.
fn pod_labels(pod: &Pod) -> &BTreeMap<String, String> {
    static NONE: BTreeMap<String, String> = BTreeMap::new();
    pod.metadata.labels.as_ref().unwrap_or(&NONE)
}

fn namespace(pod: &Pod) -> &str {
    pod.metadata.namespace.as_deref().unwrap_or_default()
}

/// The UID of the pod's controller owner reference.
fn controller_uid(pod: &Pod) -> Option<&str> {
    pod.metadata
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
        .map(|r| r.uid.as_str())
}

fn node_labels(node: &NodeInfo) -> Option<&BTreeMap<String, String>> {
    node.node.metadata.labels.as_ref()
}

fn topology_value<'a>(node: &'a NodeInfo, key: &str) -> Option<&'a str> {
    node_labels(node)?.get(key).map(String::as_str)
}

/// Upstream `nodeLabelsMatchSpreadConstraints`: the node has every constraint's topology key.
fn has_all_topology_keys(node: &NodeInfo, constraints: &[Constraint]) -> bool {
    constraints
        .iter()
        .all(|c| topology_value(node, &c.topology_key).is_some())
}

/// Upstream `countPodsMatchSelector`: same namespace, not terminating (#87621), selected.
fn count_matching_pods(node: &NodeInfo, selector: &PodSelector, ns: &str) -> i64 {
    if selector.is_empty() {
        return 0;
    }
    let counted = node.pods.iter().filter(|p| {
        p.metadata.deletion_timestamp.is_none() && namespace(p) == ns && selector.matches(p)
    });
    counted.count() as i64
}

/// Whether the pod tolerates every NoSchedule/NoExecute taint of the node (upstream
/// `FindMatchingUntoleratedTaint` with `DoNotScheduleTaintsFilterFunc`).
fn tolerates_do_not_schedule_taints(pod: &Pod, node: &Node) -> bool {
    let tolerations = pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or_default();
    let taints = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or_default();
    taint_toleration::find_matching_untolerated_taint(
        taints,
        tolerations,
        taint_toleration::is_do_not_schedule_taint,
    )
    .is_none()
}

/// Upstream `metav1.LabelSelectorAsSelector`: nil selects nothing, an invalid requirement
/// is an error.
fn parse_selector(selector: Option<&LabelSelector>) -> Result<PodSelector, String> {
    let Some(selector) = selector else {
        return Ok(PodSelector::Nothing);
    };
    crate::runtime::label_selector::to_selector(selector).map(PodSelector::Labels)
}

/// Upstream `mergeLabelSetWithSelector`: the pod's values of `matchLabelKeys` ANDed with the
/// selector (a nil selector stays Nothing).
fn merge_match_label_keys(selector: PodSelector, keys: &[String], pod: &Pod) -> PodSelector {
    let labels = pod.metadata.labels.as_ref();
    let match_labels: BTreeMap<String, String> = keys
        .iter()
        .filter_map(|k| Some((k.clone(), labels?.get(k)?.clone())))
        .collect();
    match selector {
        PodSelector::Labels(requirements) if !match_labels.is_empty() => {
            let mut merged: Selector = match_labels.into_iter().collect();
            merged.extend(requirements);
            PodSelector::Labels(merged)
        }
        other => other,
    }
}

fn parse_constraint(c: &TopologySpreadConstraint, pod: &Pod) -> Result<Constraint, String> {
    let selector = parse_selector(c.label_selector.as_ref())?;
    let keys = c.match_label_keys.as_deref().unwrap_or_default();
    Ok(Constraint {
        max_skew: c.max_skew,
        topology_key: c.topology_key.clone(),
        selector: merge_match_label_keys(selector, keys, pod),
        min_domains: c.min_domains.unwrap_or(1),
        node_affinity_policy: InclusionPolicy::parse(
            c.node_affinity_policy.as_deref(),
            InclusionPolicy::Honor,
        ),
        node_taints_policy: InclusionPolicy::parse(
            c.node_taints_policy.as_deref(),
            InclusionPolicy::Ignore,
        ),
    })
}

/// Whether the pod declares constraints of its own (then the defaults do not apply).
fn has_own_constraints(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.topology_spread_constraints.as_ref())
        .is_some_and(|c| !c.is_empty())
}

/// The UID of the pod's controller, when it is a controller upstream spreads by default.
fn spreading_controller_uid(pod: &Pod) -> Option<String> {
    let owner = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))?;
    SPREAD_CONTROLLERS
        .iter()
        .any(|(api_version, kind)| owner.api_version == *api_version && owner.kind == *kind)
        .then(|| owner.uid.clone())
}

/// Upstream `buildDefaultConstraints` with the system defaults (see the module doc).
fn default_constraints(pod: &Pod, action: &str) -> Vec<Constraint> {
    if action != SCHEDULE_ANYWAY {
        return Vec::new();
    }
    let Some(uid) = spreading_controller_uid(pod) else {
        return Vec::new();
    };
    SYSTEM_DEFAULT_CONSTRAINTS
        .iter()
        .map(|(key, max_skew)| Constraint {
            max_skew: *max_skew,
            topology_key: key.to_string(),
            selector: PodSelector::SameController(uid.clone()),
            min_domains: 1,
            node_affinity_policy: InclusionPolicy::Honor,
            node_taints_policy: InclusionPolicy::Ignore,
        })
        .collect()
}

/// Upstream `getConstraints`/`filterTopologySpreadConstraints`: the pod's constraints with
/// this `whenUnsatisfiable`, or the defaults when it has none at all.
fn constraints_for(pod: &Pod, action: &str) -> Result<Vec<Constraint>, String> {
    if !has_own_constraints(pod) {
        return Ok(default_constraints(pod, action));
    }
    pod.spec
        .iter()
        .flat_map(|s| s.topology_spread_constraints.iter().flatten())
        .filter(|c| c.when_unsatisfiable == action)
        .map(|c| parse_constraint(c, pod))
        .collect()
}

/// A topology value and its number of matching pods (upstream `criticalPath`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct CriticalPath {
    topology_value: String,
    match_num: i64,
}

/// Upstream `criticalPaths`: `[0]` always holds the minimum match number, `[1]` one at
/// least as large (kept so preemption could update the minimum incrementally).
#[derive(Clone, Debug, PartialEq, Eq)]
struct CriticalPaths([CriticalPath; 2]);

impl CriticalPaths {
    fn new() -> Self {
        let unset = CriticalPath {
            topology_value: String::new(),
            match_num: i64::from(i32::MAX),
        };
        Self([unset.clone(), unset])
    }

    fn update(&mut self, value: &str, num: i64) {
        let paths = &mut self.0;
        if let Some(i) = paths.iter().position(|p| p.topology_value == value) {
            paths[i].match_num = num;
            if paths[0].match_num > paths[1].match_num {
                paths.swap(0, 1);
            }
        } else if num < paths[0].match_num {
            paths[1] = paths[0].clone();
            paths[0] = CriticalPath {
                topology_value: value.to_string(),
                match_num: num,
            };
        } else if num < paths[1].match_num {
            paths[1] = CriticalPath {
                topology_value: value.to_string(),
                match_num: num,
            };
        }
    }

    fn min_match_num(&self) -> i64 {
        self.0[0].match_num
    }
}

/// Upstream `preFilterState`.
#[derive(Debug)]
struct PreFilterState {
    constraints: Vec<Constraint>,
    /// Indexed by constraint.
    critical_paths: Vec<CriticalPaths>,
    /// Indexed by constraint: topology value to the number of matching pods.
    tp_value_to_match_num: Vec<BTreeMap<String, i64>>,
}

impl PreFilterState {
    /// Upstream `minMatchNum`: the global minimum, or 0 while there are fewer eligible
    /// domains than `minDomains`.
    fn min_match_num(&self, constraint: usize) -> i64 {
        let domains = self.tp_value_to_match_num[constraint].len();
        if domains < self.constraints[constraint].min_domains.max(0) as usize {
            return 0;
        }
        self.critical_paths[constraint].min_match_num()
    }
}

/// Upstream `calPreFilterState`, over every node of the snapshot.
fn pre_filter_state(
    pod: &Pod,
    constraints: Vec<Constraint>,
    snapshot: &Snapshot,
) -> PreFilterState {
    let ns = namespace(pod);
    let mut counts = vec![BTreeMap::<String, i64>::new(); constraints.len()];
    for node in &snapshot.nodes {
        if !has_all_topology_keys(node, &constraints) {
            continue;
        }
        for (i, c) in constraints.iter().enumerate() {
            if !c.includes_node(pod, &node.node) {
                continue;
            }
            let value = topology_value(node, &c.topology_key).unwrap_or_default();
            let matching = count_matching_pods(node, &c.selector, ns);
            // A key is allocated once per topology value, not once per node.
            match counts[i].get_mut(value) {
                Some(count) => *count += matching,
                None => {
                    counts[i].insert(value.to_owned(), matching);
                }
            }
        }
    }
    let critical_paths = counts
        .iter()
        .map(|per_value| {
            let mut paths = CriticalPaths::new();
            per_value.iter().for_each(|(v, n)| paths.update(v, *n));
            paths
        })
        .collect();
    PreFilterState {
        constraints,
        critical_paths,
        tp_value_to_match_num: counts,
    }
}

impl FilterPlugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_filter(&self, pod: &Pod, snapshot: &Snapshot) -> Result<Option<State>, Status> {
        let constraints = constraints_for(pod, DO_NOT_SCHEDULE).map_err(|e| {
            Status::error(format!(
                "get constraints from pod: obtaining pod's hard topology spread constraints: {e}"
            ))
        })?;
        if constraints.is_empty() {
            return Ok(None);
        }
        Ok(Some(Box::new(pre_filter_state(pod, constraints, snapshot))))
    }

    fn filter(&self, state: &State, pod: &Pod, node: &NodeInfo) -> Status {
        let s = state_of::<PreFilterState>(state);
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(value) = topology_value(node, &c.topology_key) else {
                return Status::unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH);
            };
            let self_match = i64::from(c.selector.matches(pod));
            let match_num = s.tp_value_to_match_num[i].get(value).copied().unwrap_or(0);
            let skew = match_num + self_match - s.min_match_num(i);
            if skew > i64::from(c.max_skew) {
                return Status::unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH);
            }
        }
        Status::success()
    }
}

/// Upstream `preScoreState`.
#[derive(Debug)]
struct PreScoreState {
    constraints: Vec<Constraint>,
    /// Feasible nodes missing a topology key: scored 0.
    ignored_nodes: HashSet<String>,
    /// Per feasible node, in order, whether it is ignored (NormalizeScore sees no names).
    ignored_in_order: Vec<bool>,
    /// Indexed by constraint: topology value to matching pods (hostname ones are counted
    /// in Score, on the node itself).
    topology_value_to_pod_counts: Vec<HashMap<String, i64>>,
    /// Indexed by constraint: upstream `topologyNormalizingWeight`.
    topology_normalizing_weight: Vec<f64>,
}

/// Upstream `topologyNormalizingWeight`: log(size + 2), so that the counts of topologies
/// with few domains are not watered down by those with many.
fn topology_normalizing_weight(size: usize) -> f64 {
    (size as f64 + 2.0).ln()
}

/// Upstream `scoreForCount`: `maxSkew - 1` waters down the differences between domains.
fn score_for_count(count: i64, max_skew: i32, weight: f64) -> f64 {
    count as f64 * weight + f64::from(max_skew - 1)
}

/// Upstream `initPreScoreState`: the ignored feasible nodes, the topology values of the
/// feasible nodes (counted later) and the weights.
fn init_pre_score_state(
    constraints: Vec<Constraint>,
    feasible: &[&NodeInfo],
    require_all_topologies: bool,
) -> PreScoreState {
    let mut counts = vec![HashMap::<String, i64>::new(); constraints.len()];
    let mut ignored_nodes = HashSet::new();
    let mut ignored_in_order = Vec::with_capacity(feasible.len());
    for node in feasible {
        let ignored = require_all_topologies && !has_all_topology_keys(node, &constraints);
        ignored_in_order.push(ignored);
        if ignored {
            ignored_nodes.insert(node.name().to_string());
            continue;
        }
        for (i, c) in constraints.iter().enumerate() {
            if !c.is_hostname() {
                let value = topology_value(node, &c.topology_key).unwrap_or_default();
                if !counts[i].contains_key(value) {
                    counts[i].insert(value.to_owned(), 0);
                }
            }
        }
    }
    let topology_normalizing_weight = constraints
        .iter()
        .zip(&counts)
        .map(|(c, values)| {
            let size = if c.is_hostname() {
                feasible.len() - ignored_nodes.len()
            } else {
                values.len()
            };
            topology_normalizing_weight(size)
        })
        .collect();
    PreScoreState {
        constraints,
        ignored_nodes,
        ignored_in_order,
        topology_value_to_pod_counts: counts,
        topology_normalizing_weight,
    }
}

/// Upstream PreScore's `processAllNode`: counts the matching pods of every node of the
/// snapshot into the topology values the feasible nodes have.
fn count_pods_in_topologies(
    s: &mut PreScoreState,
    pod: &Pod,
    snapshot: &Snapshot,
    require_all_topologies: bool,
) {
    let ns = namespace(pod);
    for node in &snapshot.nodes {
        if require_all_topologies && !has_all_topology_keys(node, &s.constraints) {
            continue;
        }
        for (i, c) in s.constraints.iter().enumerate() {
            if !c.includes_node(pod, &node.node) {
                continue;
            }
            let value = topology_value(node, &c.topology_key).unwrap_or_default();
            if let Some(count) = s.topology_value_to_pod_counts[i].get_mut(value) {
                *count += count_matching_pods(node, &c.selector, ns);
            }
        }
    }
}

impl ScorePlugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Skips when there are no nodes or no soft constraints. An unparsable selector also
    /// skips: upstream fails the pod there, but API validation rejects such selectors.
    fn pre_score(&self, pod: &Pod, feasible: &[&NodeInfo], snapshot: &Snapshot) -> Option<State> {
        if snapshot.nodes.is_empty() {
            return None;
        }
        let constraints = constraints_for(pod, SCHEDULE_ANYWAY).ok()?;
        if constraints.is_empty() {
            return None;
        }
        // Only non-default constraints require every topology key: nodes without a zone
        // still get hostname spreading from the defaults.
        let require_all_topologies = has_own_constraints(pod);
        let mut s = init_pre_score_state(constraints, feasible, require_all_topologies);
        count_pods_in_topologies(&mut s, pod, snapshot, require_all_topologies);
        Some(Box::new(s))
    }

    /// The weighted number of matching pods in the node's domains (normalized later).
    fn score(&self, state: &State, pod: &Pod, node: &NodeInfo) -> i64 {
        let s = state_of::<PreScoreState>(state);
        if s.ignored_nodes.contains(node.name()) {
            return 0;
        }
        let mut score = 0.0;
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(value) = topology_value(node, &c.topology_key) else {
                continue;
            };
            let count = if c.is_hostname() {
                count_matching_pods(node, &c.selector, namespace(pod))
            } else {
                s.topology_value_to_pod_counts[i]
                    .get(value)
                    .copied()
                    .unwrap_or(0)
            };
            score += score_for_count(count, c.max_skew, s.topology_normalizing_weight[i]);
        }
        score.round() as i64
    }

    /// Upstream NormalizeScore: `100 * (max + min - score) / max`, ignored nodes get 0.
    fn normalize(&self, state: &State, _pod: &Pod, scores: &mut [i64]) {
        let s = state_of::<PreScoreState>(state);
        let ignored = |i: usize| s.ignored_in_order.get(i).copied().unwrap_or(false);
        let (mut min_score, mut max_score) = (i64::MAX, 0);
        for (i, score) in scores.iter().enumerate() {
            if !ignored(i) {
                min_score = min_score.min(*score);
                max_score = max_score.max(*score);
            }
        }
        for (i, score) in scores.iter_mut().enumerate() {
            *score = if ignored(i) {
                0
            } else if max_score == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE * (max_score + min_score - *score) / max_score
            };
        }
    }
}

#[cfg(test)]
mod tests {
    //! Upstream `filtering_test.go` and `scoring_test.go` tables, with upstream's test
    //! wrappers (`st.MakePod()`...) mirrored as small JSON builders.

    use std::sync::Arc;

    use serde_json::{Value, json};

    use super::*;
    use crate::scheduler::framework::Code;

    const HOSTNAME: &str = LABEL_HOSTNAME;
    const ZONE: &str = LABEL_TOPOLOGY_ZONE;
    const DNS: &str = DO_NOT_SCHEDULE;
    const SA: &str = SCHEDULE_ANYWAY;
    const HONOR: &str = "Honor";
    const IGNORE: &str = "Ignore";

    struct PodW(Value);

    fn make_pod() -> PodW {
        PodW(json!({"metadata": {}, "spec": {"containers": []}}))
    }

    impl PodW {
        fn name(mut self, name: &str) -> Self {
            self.0["metadata"]["name"] = json!(name);
            self
        }
        fn namespace(mut self, ns: &str) -> Self {
            self.0["metadata"]["namespace"] = json!(ns);
            self
        }
        fn node(mut self, node: &str) -> Self {
            self.0["spec"]["nodeName"] = json!(node);
            self
        }
        fn label(mut self, key: &str, value: &str) -> Self {
            self.0["metadata"]["labels"][key] = json!(value);
            self
        }
        fn terminating(mut self) -> Self {
            self.0["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
            self
        }
        fn toleration(mut self, key: &str) -> Self {
            push(
                &mut self.0["spec"]["tolerations"],
                json!({"key": key, "operator": "Exists"}),
            );
            self
        }
        /// The owner's UID is its name.
        fn owner_reference(mut self, name: &str, kind: &str) -> Self {
            self.0["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1",
                "kind": kind, "name": name, "uid": name, "controller": true}]);
            self
        }
        fn node_selector(mut self, pairs: &[(&str, &str)]) -> Self {
            for (k, v) in pairs {
                self.0["spec"]["nodeSelector"][*k] = json!(v);
            }
            self
        }
        fn node_affinity(mut self, key: &str, operator: &str, values: &[&str]) -> Self {
            self.0["spec"]["affinity"] = json!({"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": key, "operator": operator, "values": values}]}
            ]}}});
            self
        }
        fn node_affinity_in(self, key: &str, values: &[&str]) -> Self {
            self.node_affinity(key, "In", values)
        }
        fn node_affinity_not_in(self, key: &str, values: &[&str]) -> Self {
            self.node_affinity(key, "NotIn", values)
        }
        /// Upstream `SpreadConstraint`, same arguments.
        #[allow(clippy::too_many_arguments)]
        fn spread_constraint(
            mut self,
            max_skew: i32,
            key: &str,
            when: &str,
            selector: Option<Value>,
            min_domains: Option<i32>,
            affinity_policy: Option<&str>,
            taints_policy: Option<&str>,
            match_label_keys: &[&str],
        ) -> Self {
            let mut c = json!({"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when});
            let optional = [
                ("labelSelector", selector),
                ("minDomains", min_domains.map(|m| json!(m))),
                ("nodeAffinityPolicy", affinity_policy.map(|p| json!(p))),
                ("nodeTaintsPolicy", taints_policy.map(|p| json!(p))),
                (
                    "matchLabelKeys",
                    (!match_label_keys.is_empty()).then(|| json!(match_label_keys)),
                ),
            ];
            for (field, value) in optional {
                if let Some(value) = value {
                    c[field] = value;
                }
            }
            push(&mut self.0["spec"]["topologySpreadConstraints"], c);
            self
        }
        fn obj(self) -> Pod {
            serde_json::from_value(self.0).unwrap()
        }
    }

    fn push(list: &mut Value, item: Value) {
        if !list.is_array() {
            *list = json!([]);
        }
        list.as_array_mut().unwrap().push(item);
    }

    struct NodeW(Value);

    fn make_node() -> NodeW {
        NodeW(json!({"metadata": {}}))
    }

    impl NodeW {
        fn name(mut self, name: &str) -> Self {
            self.0["metadata"]["name"] = json!(name);
            self
        }
        fn label(mut self, key: &str, value: &str) -> Self {
            self.0["metadata"]["labels"][key] = json!(value);
            self
        }
        /// Upstream's `taints`: node.kubernetes.io/unschedulable:NoSchedule.
        fn taints(mut self) -> Self {
            self.0["spec"]["taints"] =
                json!([{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]);
            self
        }
        fn obj(self) -> Node {
            serde_json::from_value(self.0).unwrap()
        }
    }

    struct SelectorW(Value);

    fn make_label_selector() -> SelectorW {
        SelectorW(json!({}))
    }

    impl SelectorW {
        fn label(mut self, key: &str, value: &str) -> Self {
            self.0["matchLabels"][key] = json!(value);
            self
        }
        fn exists(mut self, key: &str) -> Self {
            push(
                &mut self.0["matchExpressions"],
                json!({"key": key, "operator": "Exists"}),
            );
            self
        }
        fn obj(self) -> Value {
            self.0
        }
    }

    fn foo_selector() -> Value {
        make_label_selector().exists("foo").obj()
    }

    fn bar_selector() -> Value {
        make_label_selector().exists("bar").obj()
    }

    fn snapshot(nodes: Vec<Node>, pods: Vec<Pod>) -> Snapshot {
        Snapshot::new(
            nodes.into_iter().map(Arc::new),
            pods.into_iter().map(Arc::new),
        )
    }

    struct FilterCase {
        name: &'static str,
        pod: Pod,
        nodes: Vec<Node>,
        existing: Vec<Pod>,
        /// Nodes not listed are expected to fit.
        want: &'static [(&'static str, Code)],
    }

    /// Upstream's TestSingleConstraint/TestMultipleConstraints loop: PreFilter over the
    /// snapshot, then Filter on every node.
    fn run_filter(case: FilterCase) {
        let snapshot = snapshot(case.nodes, case.existing);
        let state = PodTopologySpread
            .pre_filter(&case.pod, &snapshot)
            .unwrap_or_else(|s| panic!("{}: prefilter failed: {s:?}", case.name))
            .unwrap_or_else(|| panic!("{}: prefilter skipped", case.name));
        for node in &snapshot.nodes {
            let want = case
                .want
                .iter()
                .find(|(name, _)| *name == node.name())
                .map_or(Code::Success, |(_, code)| *code);
            let got = PodTopologySpread.filter(&state, &case.pod, node);
            assert_eq!(got.code, want, "{}: node {}", case.name, node.name());
        }
    }

    struct ScoreCase {
        name: &'static str,
        pod: Pod,
        existing: Vec<Pod>,
        /// The feasible nodes, in scoring order.
        nodes: Vec<Node>,
        /// Nodes that failed filtering: in the snapshot, not scored.
        failed: Vec<Node>,
        want: &'static [(&'static str, i64)],
    }

    /// Upstream's TestPodTopologySpreadScore loop: PreScore, Score each feasible node,
    /// NormalizeScore.
    fn run_score(case: ScoreCase) {
        let names: Vec<String> = case
            .nodes
            .iter()
            .map(|n| n.metadata.name.clone().unwrap())
            .collect();
        let all_nodes = case.nodes.into_iter().chain(case.failed).collect();
        let snapshot = snapshot(all_nodes, case.existing);
        let feasible: Vec<&NodeInfo> = names.iter().map(|n| snapshot.get(n).unwrap()).collect();
        let state = PodTopologySpread
            .pre_score(&case.pod, &feasible, &snapshot)
            .unwrap_or_else(|| panic!("{}: prescore skipped", case.name));
        let mut scores: Vec<i64> = feasible
            .iter()
            .map(|n| PodTopologySpread.score(&state, &case.pod, n))
            .collect();
        PodTopologySpread.normalize(&state, &case.pod, &mut scores);
        let got: Vec<(&str, i64)> = names.iter().map(String::as_str).zip(scores).collect();
        assert_eq!(got, case.want, "{}", case.name);
    }

    const UNSET_PATHS: [(&str, i64); 2] = [("", i32::MAX as i64); 2];

    fn constraint(
        max_skew: i32,
        key: &str,
        selector: Option<Value>,
        min_domains: i32,
        node_affinity_policy: InclusionPolicy,
        node_taints_policy: InclusionPolicy,
    ) -> Constraint {
        let selector: Option<LabelSelector> = selector.map(|s| serde_json::from_value(s).unwrap());
        Constraint {
            max_skew,
            topology_key: key.to_string(),
            selector: parse_selector(selector.as_ref()).unwrap(),
            min_domains,
            node_affinity_policy,
            node_taints_policy,
        }
    }

    /// Selector requirements sorted, as upstream's parsed selectors are.
    fn normalized(constraints: &[Constraint]) -> Vec<Constraint> {
        let mut constraints = constraints.to_vec();
        for c in &mut constraints {
            if let PodSelector::Labels(selector) = &c.selector {
                let mut expressions: Vec<_> = selector.clone().into_iter().collect();
                expressions.sort();
                c.selector = PodSelector::Labels(expressions.into_iter().collect());
            }
        }
        constraints
    }

    /// Upstream's `criticalPaths` comparer: equal counts compare their values sorted.
    fn sorted_paths(paths: [(&str, i64); 2]) -> [(String, i64); 2] {
        let [mut a, mut b] = paths.map(|(v, n)| (v.to_string(), n));
        if a.1 == b.1 && a.0 > b.0 {
            std::mem::swap(&mut a.0, &mut b.0);
        }
        [a, b]
    }

    fn counts_map<'a>(
        counts: impl IntoIterator<Item = (&'a String, &'a i64)>,
    ) -> BTreeMap<String, i64> {
        counts.into_iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    fn want_counts(counts: &[(&str, i64)]) -> BTreeMap<String, i64> {
        counts.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    struct WantPreFilter {
        constraints: Vec<Constraint>,
        critical_paths: &'static [[(&'static str, i64); 2]],
        counts: &'static [&'static [(&'static str, i64)]],
    }

    struct PreFilterCase {
        name: &'static str,
        pod: Pod,
        nodes: Vec<Node>,
        existing: Vec<Pod>,
        /// None: PreFilter skips.
        want: Option<WantPreFilter>,
    }

    /// Upstream's TestPreFilterState loop.
    fn run_pre_filter_state(case: PreFilterCase) {
        let snapshot = snapshot(case.nodes, case.existing);
        let got = PodTopologySpread.pre_filter(&case.pod, &snapshot).unwrap();
        let (Some(state), Some(want)) = (got.as_ref(), case.want.as_ref()) else {
            assert_eq!(got.is_none(), case.want.is_none(), "{}: skip", case.name);
            return;
        };
        let s = state_of::<PreFilterState>(state);
        let name = case.name;
        assert_eq!(
            normalized(&s.constraints),
            normalized(&want.constraints),
            "{name}"
        );
        let got_paths: Vec<_> = s
            .critical_paths
            .iter()
            .map(|p| {
                sorted_paths(
                    p.0.each_ref()
                        .map(|p| (p.topology_value.as_str(), p.match_num)),
                )
            })
            .collect();
        let want_paths: Vec<_> = want
            .critical_paths
            .iter()
            .map(|p| sorted_paths(*p))
            .collect();
        assert_eq!(got_paths, want_paths, "{name}: critical paths");
        let got_counts: Vec<_> = s.tp_value_to_match_num.iter().map(counts_map).collect();
        let want_counts: Vec<_> = want.counts.iter().map(|c| want_counts(c)).collect();
        assert_eq!(got_counts, want_counts, "{name}: counts");
    }

    struct WantPreScore {
        constraints: Vec<Constraint>,
        ignored: &'static [&'static str],
        counts: &'static [&'static [(&'static str, i64)]],
        /// The sizes `topologyNormalizingWeight` was given.
        weight_sizes: &'static [usize],
    }

    struct PreScoreCase {
        name: &'static str,
        pod: Pod,
        nodes: Vec<Node>,
        want: WantPreScore,
    }

    /// Upstream's TestPreScoreStateEmptyNodes loop: every node is feasible, no pods.
    fn run_pre_score_state(case: PreScoreCase) {
        let snapshot = snapshot(case.nodes, Vec::new());
        let feasible: Vec<&NodeInfo> = snapshot.nodes.iter().collect();
        let state = PodTopologySpread
            .pre_score(&case.pod, &feasible, &snapshot)
            .unwrap_or_else(|| panic!("{}: prescore skipped", case.name));
        let s = state_of::<PreScoreState>(&state);
        let (name, want) = (case.name, &case.want);
        assert_eq!(
            normalized(&s.constraints),
            normalized(&want.constraints),
            "{name}"
        );
        let mut ignored: Vec<&str> = s.ignored_nodes.iter().map(String::as_str).collect();
        ignored.sort();
        assert_eq!(ignored, want.ignored, "{name}: ignored nodes");
        let got_counts: Vec<_> = s
            .topology_value_to_pod_counts
            .iter()
            .map(counts_map)
            .collect();
        let want_counts: Vec<_> = want.counts.iter().map(|c| want_counts(c)).collect();
        assert_eq!(got_counts, want_counts, "{name}: counts");
        let want_weights: Vec<f64> = want
            .weight_sizes
            .iter()
            .map(|n| topology_normalizing_weight(*n))
            .collect();
        assert_eq!(
            s.topology_normalizing_weight, want_weights,
            "{name}: weights"
        );
    }

    /// Upstream `TestPreFilterState` (cases needing Service listers or disabled gates left out).
    #[test]
    fn pre_filter_state() {
        let cases = vec![
            PreFilterCase {
                name: "clean cluster with one spreadConstraint",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(
                        5,
                        "zone",
                        DNS,
                        Some(make_label_selector().label("foo", "bar").obj()),
                        None,
                        None,
                        None,
                        &[],
                    )
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![],
                want: Some(WantPreFilter {
                    constraints: vec![constraint(
                        5,
                        "zone",
                        Some(make_label_selector().label("foo", "bar").obj()),
                        1,
                        InclusionPolicy::Honor,
                        InclusionPolicy::Ignore,
                    )],
                    critical_paths: &[[("zone1", 0), ("zone2", 0)]],
                    counts: &[&[("zone1", 0), ("zone2", 0)]],
                }),
            },
            PreFilterCase {
                name: "normal case with one spreadConstraint",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: Some(WantPreFilter {
                    constraints: vec![constraint(
                        1,
                        "zone",
                        Some(foo_selector()),
                        1,
                        InclusionPolicy::Honor,
                        InclusionPolicy::Ignore,
                    )],
                    critical_paths: &[[("zone2", 2), ("zone1", 3)]],
                    counts: &[&[("zone1", 3), ("zone2", 2)]],
                }),
            },
            PreFilterCase {
                name: "normal case with null label selector",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "zone", DNS, None, None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: Some(WantPreFilter {
                    constraints: vec![constraint(
                        1,
                        "zone",
                        None,
                        1,
                        InclusionPolicy::Honor,
                        InclusionPolicy::Ignore,
                    )],
                    critical_paths: &[[("zone2", 0), ("zone1", 0)]],
                    counts: &[&[("zone1", 0), ("zone2", 0)]],
                }),
            },
            PreFilterCase {
                name: "normal case with one spreadConstraint, on a 3-zone cluster",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                    make_node()
                        .name("node-o")
                        .label("zone", "zone3")
                        .label("node", "node-o")
                        .obj(),
                    make_node()
                        .name("node-p")
                        .label("zone", "zone3")
                        .label("node", "node-p")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: Some(WantPreFilter {
                    constraints: vec![constraint(
                        1,
                        "zone",
                        Some(foo_selector()),
                        1,
                        InclusionPolicy::Honor,
                        InclusionPolicy::Ignore,
                    )],
                    critical_paths: &[[("zone3", 0), ("zone2", 2)]],
                    counts: &[&[("zone1", 3), ("zone2", 2), ("zone3", 0)]],
                }),
            },
            PreFilterCase {
                name: "namespace mismatch doesn't count",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .namespace("ns1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .namespace("ns2")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: Some(WantPreFilter {
                    constraints: vec![constraint(
                        1,
                        "zone",
                        Some(foo_selector()),
                        1,
                        InclusionPolicy::Honor,
                        InclusionPolicy::Ignore,
                    )],
                    critical_paths: &[[("zone2", 1), ("zone1", 2)]],
                    counts: &[&[("zone1", 2), ("zone2", 1)]],
                }),
            },
            PreFilterCase {
                name: "normal case with two spreadConstraints",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
                    .spread_constraint(1, "node", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y3")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y4")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: Some(WantPreFilter {
                    constraints: vec![
                        constraint(
                            1,
                            "zone",
                            Some(foo_selector()),
                            1,
                            InclusionPolicy::Honor,
                            InclusionPolicy::Ignore,
                        ),
                        constraint(
                            1,
                            "node",
                            Some(foo_selector()),
                            1,
                            InclusionPolicy::Honor,
                            InclusionPolicy::Ignore,
                        ),
                    ],
                    critical_paths: &[[("zone1", 3), ("zone2", 4)], [("node-x", 0), ("node-b", 1)]],
                    counts: &[
                        &[("zone1", 3), ("zone2", 4)],
                        &[("node-a", 2), ("node-b", 1), ("node-x", 0), ("node-y", 4)],
                    ],
                }),
            },
            PreFilterCase {
                name: "soft spreadConstraints should be bypassed",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "zone", SA, Some(foo_selector()), None, None, None, &[])
                    .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
                    .spread_constraint(1, "node", SA, Some(foo_selector()), None, None, None, &[])
                    .spread_constraint(1, "node", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y3")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y4")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: Some(WantPreFilter {
                    constraints: vec![
                        constraint(
                            1,
                            "zone",
                            Some(foo_selector()),
                            1,
                            InclusionPolicy::Honor,
                            InclusionPolicy::Ignore,
                        ),
                        constraint(
                            1,
                            "node",
                            Some(foo_selector()),
                            1,
                            InclusionPolicy::Honor,
                            InclusionPolicy::Ignore,
                        ),
                    ],
                    critical_paths: &[[("zone1", 3), ("zone2", 4)], [("node-b", 1), ("node-a", 2)]],
                    counts: &[
                        &[("zone1", 3), ("zone2", 4)],
                        &[("node-a", 2), ("node-b", 1), ("node-y", 4)],
                    ],
                }),
            },
            PreFilterCase {
                name: "different labelSelectors - simple version",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .label("bar", "")
                    .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
                    .spread_constraint(1, "node", DNS, Some(bar_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod().name("p-a").node("node-a").label("foo", "").obj(),
                    make_pod().name("p-b").node("node-b").label("bar", "").obj(),
                ],
                want: Some(WantPreFilter {
                    constraints: vec![
                        constraint(
                            1,
                            "zone",
                            Some(foo_selector()),
                            1,
                            InclusionPolicy::Honor,
                            InclusionPolicy::Ignore,
                        ),
                        constraint(
                            1,
                            "node",
                            Some(bar_selector()),
                            1,
                            InclusionPolicy::Honor,
                            InclusionPolicy::Ignore,
                        ),
                    ],
                    critical_paths: &[[("zone2", 0), ("zone1", 1)], [("node-a", 0), ("node-y", 0)]],
                    counts: &[
                        &[("zone1", 1), ("zone2", 0)],
                        &[("node-a", 0), ("node-b", 1), ("node-y", 0)],
                    ],
                }),
            },
            PreFilterCase {
                name: "different labelSelectors - complex pods",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .label("bar", "")
                    .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
                    .spread_constraint(1, "node", DNS, Some(bar_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .label("bar", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("foo", "")
                        .label("bar", "")
                        .obj(),
                    make_pod()
                        .name("p-y3")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y4")
                        .node("node-y")
                        .label("foo", "")
                        .label("bar", "")
                        .obj(),
                ],
                want: Some(WantPreFilter {
                    constraints: vec![
                        constraint(
                            1,
                            "zone",
                            Some(foo_selector()),
                            1,
                            InclusionPolicy::Honor,
                            InclusionPolicy::Ignore,
                        ),
                        constraint(
                            1,
                            "node",
                            Some(bar_selector()),
                            1,
                            InclusionPolicy::Honor,
                            InclusionPolicy::Ignore,
                        ),
                    ],
                    critical_paths: &[[("zone1", 3), ("zone2", 4)], [("node-b", 0), ("node-a", 1)]],
                    counts: &[
                        &[("zone1", 3), ("zone2", 4)],
                        &[("node-a", 1), ("node-b", 0), ("node-y", 2)],
                    ],
                }),
            },
            PreFilterCase {
                name: "two spreadConstraints, and with podAffinity",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .node_affinity_not_in("node", &["node-x"])
                    .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
                    .spread_constraint(1, "node", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y3")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y4")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: Some(WantPreFilter {
                    constraints: vec![
                        constraint(
                            1,
                            "zone",
                            Some(foo_selector()),
                            1,
                            InclusionPolicy::Honor,
                            InclusionPolicy::Ignore,
                        ),
                        constraint(
                            1,
                            "node",
                            Some(foo_selector()),
                            1,
                            InclusionPolicy::Honor,
                            InclusionPolicy::Ignore,
                        ),
                    ],
                    critical_paths: &[[("zone1", 3), ("zone2", 4)], [("node-b", 1), ("node-a", 2)]],
                    counts: &[
                        &[("zone1", 3), ("zone2", 4)],
                        &[("node-a", 2), ("node-b", 1), ("node-y", 4)],
                    ],
                }),
            },
            PreFilterCase {
                name: "default constraints and a service, but pod has constraints",
                pod: make_pod()
                    .name("p")
                    .label("foo", "bar")
                    .label("baz", "tar")
                    .spread_constraint(
                        1,
                        "zone",
                        DNS,
                        Some(make_label_selector().label("baz", "tar").obj()),
                        None,
                        None,
                        None,
                        &[],
                    )
                    .spread_constraint(
                        2,
                        "planet",
                        SA,
                        Some(make_label_selector().label("fot", "rok").obj()),
                        None,
                        None,
                        None,
                        &[],
                    )
                    .obj(),
                nodes: vec![],
                existing: vec![],
                want: Some(WantPreFilter {
                    constraints: vec![constraint(
                        1,
                        "zone",
                        Some(make_label_selector().label("baz", "tar").obj()),
                        1,
                        InclusionPolicy::Honor,
                        InclusionPolicy::Ignore,
                    )],
                    critical_paths: &[UNSET_PATHS],
                    counts: &[&[]],
                }),
            },
            PreFilterCase {
                name: "TpKeyToDomainsNum is calculated when MinDomains is enabled",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
                    .spread_constraint(1, "node", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y3")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y4")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: Some(WantPreFilter {
                    constraints: vec![
                        constraint(
                            1,
                            "zone",
                            Some(foo_selector()),
                            1,
                            InclusionPolicy::Honor,
                            InclusionPolicy::Ignore,
                        ),
                        constraint(
                            1,
                            "node",
                            Some(foo_selector()),
                            1,
                            InclusionPolicy::Honor,
                            InclusionPolicy::Ignore,
                        ),
                    ],
                    critical_paths: &[[("zone1", 3), ("zone2", 4)], [("node-x", 0), ("node-b", 1)]],
                    counts: &[
                        &[("zone1", 3), ("zone2", 4)],
                        &[("node-a", 2), ("node-b", 1), ("node-x", 0), ("node-y", 4)],
                    ],
                }),
            },
            PreFilterCase {
                name: "feature gate disabled with NodeAffinityPolicy",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .node_selector(&[("foo", "")])
                    .spread_constraint(1, "node", DNS, Some(bar_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("node", "node-a")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("node", "node-b")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-c")
                        .label("node", "node-c")
                        .label("bar", "")
                        .obj(),
                ],
                existing: vec![
                    make_pod().name("p-a").node("node-a").label("bar", "").obj(),
                    make_pod().name("p-b").node("node-b").label("bar", "").obj(),
                    make_pod().name("p-c").node("node-b").label("bar", "").obj(),
                    make_pod().name("p-d").node("node-c").obj(),
                ],
                want: Some(WantPreFilter {
                    constraints: vec![constraint(
                        1,
                        "node",
                        Some(bar_selector()),
                        1,
                        InclusionPolicy::Honor,
                        InclusionPolicy::Ignore,
                    )],
                    critical_paths: &[[("node-a", 1), ("node-b", 2)]],
                    counts: &[&[("node-a", 1), ("node-b", 2)]],
                }),
            },
            PreFilterCase {
                name: "NodeAffinityPolicy honored with labelSelectors",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .node_selector(&[("foo", "")])
                    .spread_constraint(1, "node", DNS, Some(bar_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("node", "node-a")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("node", "node-b")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-c")
                        .label("node", "node-c")
                        .label("bar", "")
                        .obj(),
                ],
                existing: vec![
                    make_pod().name("p-a").node("node-a").label("bar", "").obj(),
                    make_pod().name("p-b").node("node-b").label("bar", "").obj(),
                    make_pod().name("p-c").node("node-b").label("bar", "").obj(),
                    make_pod().name("p-d").node("node-c").obj(),
                ],
                want: Some(WantPreFilter {
                    constraints: vec![constraint(
                        1,
                        "node",
                        Some(bar_selector()),
                        1,
                        InclusionPolicy::Honor,
                        InclusionPolicy::Ignore,
                    )],
                    critical_paths: &[[("node-a", 1), ("node-b", 2)]],
                    counts: &[&[("node-a", 1), ("node-b", 2)]],
                }),
            },
            PreFilterCase {
                name: "NodeAffinityPolicy ignored with labelSelectors",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .node_selector(&[("foo", "")])
                    .spread_constraint(
                        1,
                        "node",
                        DNS,
                        Some(bar_selector()),
                        None,
                        Some(IGNORE),
                        None,
                        &[],
                    )
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("node", "node-a")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("node", "node-b")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-c")
                        .label("node", "node-c")
                        .label("bar", "")
                        .obj(),
                ],
                existing: vec![
                    make_pod().name("p-a").node("node-a").label("bar", "").obj(),
                    make_pod().name("p-b").node("node-b").label("bar", "").obj(),
                    make_pod().name("p-c").node("node-b").label("bar", "").obj(),
                    make_pod().name("p-d").node("node-c").obj(),
                ],
                want: Some(WantPreFilter {
                    constraints: vec![constraint(
                        1,
                        "node",
                        Some(bar_selector()),
                        1,
                        InclusionPolicy::Ignore,
                        InclusionPolicy::Ignore,
                    )],
                    critical_paths: &[[("node-c", 0), ("node-a", 1)]],
                    counts: &[&[("node-a", 1), ("node-b", 2), ("node-c", 0)]],
                }),
            },
            PreFilterCase {
                name: "NodeAffinityPolicy honored with nodeAffinity",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .node_affinity_in("foo", &[""])
                    .spread_constraint(1, "node", DNS, Some(bar_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("node", "node-a")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("node", "node-b")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-c")
                        .label("node", "node-c")
                        .label("bar", "")
                        .obj(),
                ],
                existing: vec![
                    make_pod().name("p-a").node("node-a").label("bar", "").obj(),
                    make_pod().name("p-c").node("node-b").label("bar", "").obj(),
                    make_pod().name("p-d").node("node-b").label("bar", "").obj(),
                    make_pod().name("p-e").node("node-c").obj(),
                ],
                want: Some(WantPreFilter {
                    constraints: vec![constraint(
                        1,
                        "node",
                        Some(bar_selector()),
                        1,
                        InclusionPolicy::Honor,
                        InclusionPolicy::Ignore,
                    )],
                    critical_paths: &[[("node-a", 1), ("node-b", 2)]],
                    counts: &[&[("node-a", 1), ("node-b", 2)]],
                }),
            },
            PreFilterCase {
                name: "NodeAffinityPolicy ignored with nodeAffinity",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .node_affinity_in("foo", &[""])
                    .spread_constraint(
                        1,
                        "node",
                        DNS,
                        Some(bar_selector()),
                        None,
                        Some(IGNORE),
                        None,
                        &[],
                    )
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("node", "node-a")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("node", "node-b")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-c")
                        .label("node", "node-c")
                        .label("bar", "")
                        .obj(),
                ],
                existing: vec![
                    make_pod().name("p-a").node("node-a").label("bar", "").obj(),
                    make_pod().name("p-b").node("node-b").label("bar", "").obj(),
                    make_pod().name("p-c").node("node-b").label("bar", "").obj(),
                    make_pod().name("p-d").node("node-c").obj(),
                ],
                want: Some(WantPreFilter {
                    constraints: vec![constraint(
                        1,
                        "node",
                        Some(bar_selector()),
                        1,
                        InclusionPolicy::Ignore,
                        InclusionPolicy::Ignore,
                    )],
                    critical_paths: &[[("node-c", 0), ("node-a", 1)]],
                    counts: &[&[("node-a", 1), ("node-b", 2), ("node-c", 0)]],
                }),
            },
            PreFilterCase {
                name: "feature gate disabled with NodeTaintsPolicy",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "node", DNS, Some(bar_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node().name("node-a").label("node", "node-a").obj(),
                    make_node().name("node-b").label("node", "node-b").obj(),
                    make_node()
                        .name("node-c")
                        .label("node", "node-c")
                        .taints()
                        .label("bar", "")
                        .obj(),
                ],
                existing: vec![
                    make_pod().name("p-a").node("node-a").label("bar", "").obj(),
                    make_pod().name("p-b").node("node-b").label("bar", "").obj(),
                    make_pod().name("p-c").node("node-b").label("bar", "").obj(),
                    make_pod().name("p-d").node("node-c").obj(),
                ],
                want: Some(WantPreFilter {
                    constraints: vec![constraint(
                        1,
                        "node",
                        Some(bar_selector()),
                        1,
                        InclusionPolicy::Honor,
                        InclusionPolicy::Ignore,
                    )],
                    critical_paths: &[[("node-c", 0), ("node-a", 1)]],
                    counts: &[&[("node-a", 1), ("node-b", 2), ("node-c", 0)]],
                }),
            },
            PreFilterCase {
                name: "NodeTaintsPolicy ignored",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "node", DNS, Some(bar_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node().name("node-a").label("node", "node-a").obj(),
                    make_node().name("node-b").label("node", "node-b").obj(),
                    make_node()
                        .name("node-c")
                        .label("node", "node-c")
                        .taints()
                        .label("bar", "")
                        .obj(),
                ],
                existing: vec![
                    make_pod().name("p-a").node("node-a").label("bar", "").obj(),
                    make_pod().name("p-b").node("node-b").label("bar", "").obj(),
                    make_pod().name("p-c").node("node-b").label("bar", "").obj(),
                    make_pod().name("p-d").node("node-c").obj(),
                ],
                want: Some(WantPreFilter {
                    constraints: vec![constraint(
                        1,
                        "node",
                        Some(bar_selector()),
                        1,
                        InclusionPolicy::Honor,
                        InclusionPolicy::Ignore,
                    )],
                    critical_paths: &[[("node-c", 0), ("node-a", 1)]],
                    counts: &[&[("node-a", 1), ("node-b", 2), ("node-c", 0)]],
                }),
            },
            PreFilterCase {
                name: "NodeTaintsPolicy honored",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(
                        1,
                        "node",
                        DNS,
                        Some(bar_selector()),
                        None,
                        None,
                        Some(HONOR),
                        &[],
                    )
                    .obj(),
                nodes: vec![
                    make_node().name("node-a").label("node", "node-a").obj(),
                    make_node().name("node-b").label("node", "node-b").obj(),
                    make_node()
                        .name("node-c")
                        .label("node", "node-c")
                        .taints()
                        .label("bar", "")
                        .obj(),
                ],
                existing: vec![
                    make_pod().name("p-a").node("node-a").label("bar", "").obj(),
                    make_pod().name("p-b").node("node-b").label("bar", "").obj(),
                    make_pod().name("p-c").node("node-b").label("bar", "").obj(),
                    make_pod().name("p-d").node("node-c").obj(),
                ],
                want: Some(WantPreFilter {
                    constraints: vec![constraint(
                        1,
                        "node",
                        Some(bar_selector()),
                        1,
                        InclusionPolicy::Honor,
                        InclusionPolicy::Honor,
                    )],
                    critical_paths: &[[("node-a", 1), ("node-b", 2)]],
                    counts: &[&[("node-a", 1), ("node-b", 2)]],
                }),
            },
            PreFilterCase {
                name: "NodeTaintsPolicy honored with tolerated taints",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .toleration("node.kubernetes.io/unschedulable")
                    .spread_constraint(
                        1,
                        "node",
                        DNS,
                        Some(bar_selector()),
                        None,
                        None,
                        Some(HONOR),
                        &[],
                    )
                    .obj(),
                nodes: vec![
                    make_node().name("node-a").label("node", "node-a").obj(),
                    make_node().name("node-b").label("node", "node-b").obj(),
                    make_node()
                        .name("node-c")
                        .label("node", "node-c")
                        .taints()
                        .label("bar", "")
                        .obj(),
                ],
                existing: vec![
                    make_pod().name("p-a").node("node-a").label("bar", "").obj(),
                    make_pod().name("p-b").node("node-b").label("bar", "").obj(),
                    make_pod().name("p-c").node("node-b").label("bar", "").obj(),
                    make_pod().name("p-d").node("node-c").obj(),
                ],
                want: Some(WantPreFilter {
                    constraints: vec![constraint(
                        1,
                        "node",
                        Some(bar_selector()),
                        1,
                        InclusionPolicy::Honor,
                        InclusionPolicy::Honor,
                    )],
                    critical_paths: &[[("node-c", 0), ("node-a", 1)]],
                    counts: &[&[("node-a", 1), ("node-b", 2), ("node-c", 0)]],
                }),
            },
            PreFilterCase {
                name: "two node inclusion Constraints, zone: honor/ignore, node: ignore/ignore",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .node_selector(&[("foo", "")])
                    .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
                    .spread_constraint(
                        1,
                        "node",
                        DNS,
                        Some(foo_selector()),
                        None,
                        Some(IGNORE),
                        None,
                        &[],
                    )
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .label("foo", "")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b2")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-x1")
                        .node("node-x")
                        .label("foo", "")
                        .obj(),
                ],
                want: Some(WantPreFilter {
                    constraints: vec![
                        constraint(
                            1,
                            "zone",
                            Some(foo_selector()),
                            1,
                            InclusionPolicy::Honor,
                            InclusionPolicy::Ignore,
                        ),
                        constraint(
                            1,
                            "node",
                            Some(foo_selector()),
                            1,
                            InclusionPolicy::Ignore,
                            InclusionPolicy::Ignore,
                        ),
                    ],
                    critical_paths: &[[("zone1", 0), ("zone2", 1)], [("node-a", 0), ("node-x", 1)]],
                    counts: &[
                        &[("zone1", 0), ("zone2", 1)],
                        &[("node-a", 0), ("node-b", 2), ("node-x", 1)],
                    ],
                }),
            },
            PreFilterCase {
                name: "two node inclusion Constraints, zone: honor/honor, node: honor/ignore",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(
                        1,
                        "zone",
                        DNS,
                        Some(foo_selector()),
                        None,
                        None,
                        Some(HONOR),
                        &[],
                    )
                    .spread_constraint(1, "node", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .taints()
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .label("foo", "")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b2")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-x1")
                        .node("node-x")
                        .label("foo", "")
                        .obj(),
                ],
                want: Some(WantPreFilter {
                    constraints: vec![
                        constraint(
                            1,
                            "zone",
                            Some(foo_selector()),
                            1,
                            InclusionPolicy::Honor,
                            InclusionPolicy::Honor,
                        ),
                        constraint(
                            1,
                            "node",
                            Some(foo_selector()),
                            1,
                            InclusionPolicy::Honor,
                            InclusionPolicy::Ignore,
                        ),
                    ],
                    critical_paths: &[[("zone1", 0), ("zone2", 1)], [("node-a", 0), ("node-x", 1)]],
                    counts: &[
                        &[("zone1", 0), ("zone2", 1)],
                        &[("node-a", 0), ("node-b", 2), ("node-x", 1)],
                    ],
                }),
            },
            PreFilterCase {
                name: "two node inclusion Constraints, zone: honor/ignore, node: honor/ignore",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .node_selector(&[("foo", "")])
                    .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
                    .spread_constraint(1, "node", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .label("foo", "")
                        .taints()
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-x1")
                        .node("node-x")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: Some(WantPreFilter {
                    constraints: vec![
                        constraint(
                            1,
                            "zone",
                            Some(foo_selector()),
                            1,
                            InclusionPolicy::Honor,
                            InclusionPolicy::Ignore,
                        ),
                        constraint(
                            1,
                            "node",
                            Some(foo_selector()),
                            1,
                            InclusionPolicy::Honor,
                            InclusionPolicy::Ignore,
                        ),
                    ],
                    critical_paths: &[[("zone1", 0), ("zone2", 1)], [("node-b", 0), ("node-x", 1)]],
                    counts: &[
                        &[("zone1", 0), ("zone2", 1)],
                        &[("node-b", 0), ("node-x", 1)],
                    ],
                }),
            },
            PreFilterCase {
                name: "two node inclusion Constraints, zone: ignore/ignore, node: honor/honor",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .node_selector(&[("foo", "")])
                    .spread_constraint(
                        1,
                        "zone",
                        DNS,
                        Some(foo_selector()),
                        None,
                        Some(IGNORE),
                        None,
                        &[],
                    )
                    .spread_constraint(
                        1,
                        "node",
                        DNS,
                        Some(foo_selector()),
                        None,
                        None,
                        Some(HONOR),
                        &[],
                    )
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .label("foo", "")
                        .taints()
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .label("foo", "")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-x1")
                        .node("node-x")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-x2")
                        .node("node-x")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: Some(WantPreFilter {
                    constraints: vec![
                        constraint(
                            1,
                            "zone",
                            Some(foo_selector()),
                            1,
                            InclusionPolicy::Ignore,
                            InclusionPolicy::Ignore,
                        ),
                        constraint(
                            1,
                            "node",
                            Some(foo_selector()),
                            1,
                            InclusionPolicy::Honor,
                            InclusionPolicy::Honor,
                        ),
                    ],
                    critical_paths: &[[("zone1", 2), ("zone2", 3)], [("node-y", 1), ("node-x", 2)]],
                    counts: &[
                        &[("zone1", 2), ("zone2", 3)],
                        &[("node-x", 2), ("node-y", 1)],
                    ],
                }),
            },
            PreFilterCase {
                name: "matchLabelKeys ANDed with LabelSelector when LabelSelector isn't empty",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .label("bar", "a")
                    .spread_constraint(
                        1,
                        "zone",
                        DNS,
                        Some(foo_selector()),
                        None,
                        None,
                        None,
                        &["bar"],
                    )
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .label("bar", "a")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .label("bar", "a")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("bar", "")
                        .obj(),
                ],
                want: Some(WantPreFilter {
                    constraints: vec![constraint(
                        1,
                        "zone",
                        Some(make_label_selector().exists("foo").label("bar", "a").obj()),
                        1,
                        InclusionPolicy::Honor,
                        InclusionPolicy::Ignore,
                    )],
                    critical_paths: &[[("zone2", 1), ("zone1", 1)]],
                    counts: &[&[("zone1", 1), ("zone2", 1)]],
                }),
            },
            PreFilterCase {
                name: "matchLabelKeys ANDed with LabelSelector when LabelSelector is empty",
                pod: make_pod()
                    .name("p")
                    .label("foo", "a")
                    .spread_constraint(
                        1,
                        "zone",
                        DNS,
                        Some(make_label_selector().obj()),
                        None,
                        None,
                        None,
                        &["foo"],
                    )
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "a")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "a")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "a")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "a")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("foo", "a")
                        .obj(),
                ],
                want: Some(WantPreFilter {
                    constraints: vec![constraint(
                        1,
                        "zone",
                        Some(make_label_selector().label("foo", "a").obj()),
                        1,
                        InclusionPolicy::Honor,
                        InclusionPolicy::Ignore,
                    )],
                    critical_paths: &[[("zone2", 2), ("zone1", 3)]],
                    counts: &[&[("zone1", 3), ("zone2", 2)]],
                }),
            },
            PreFilterCase {
                name: "key in matchLabelKeys is ignored when LabelSelector is nil when feature gate enabled",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "zone", DNS, None, None, None, None, &["bar"])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "a")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "a")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "a")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "a")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("foo", "a")
                        .obj(),
                ],
                want: Some(WantPreFilter {
                    constraints: vec![constraint(
                        1,
                        "zone",
                        None,
                        1,
                        InclusionPolicy::Honor,
                        InclusionPolicy::Ignore,
                    )],
                    critical_paths: &[[("zone2", 0), ("zone1", 0)]],
                    counts: &[&[("zone1", 0), ("zone2", 0)]],
                }),
            },
            PreFilterCase {
                name: "key in matchLabelKeys is ignored when it isn't exist in pod.labels",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(
                        1,
                        "zone",
                        DNS,
                        Some(foo_selector()),
                        None,
                        None,
                        None,
                        &["bar"],
                    )
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "a")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "a")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "a")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "a")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("foo", "a")
                        .obj(),
                ],
                want: Some(WantPreFilter {
                    constraints: vec![constraint(
                        1,
                        "zone",
                        Some(foo_selector()),
                        1,
                        InclusionPolicy::Honor,
                        InclusionPolicy::Ignore,
                    )],
                    critical_paths: &[[("zone2", 2), ("zone1", 3)]],
                    counts: &[&[("zone1", 3), ("zone2", 2)]],
                }),
            },
            PreFilterCase {
                name: "two spreadConstraints with the same topologyKey",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .label("bar", "")
                    .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
                    .spread_constraint(1, "zone", DNS, Some(bar_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .label("bar", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-x1")
                        .node("node-x")
                        .label("bar", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .label("bar", "")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("bar", "")
                        .obj(),
                ],
                want: Some(WantPreFilter {
                    constraints: vec![
                        constraint(
                            1,
                            "zone",
                            Some(foo_selector()),
                            1,
                            InclusionPolicy::Honor,
                            InclusionPolicy::Ignore,
                        ),
                        constraint(
                            1,
                            "zone",
                            Some(bar_selector()),
                            1,
                            InclusionPolicy::Honor,
                            InclusionPolicy::Ignore,
                        ),
                    ],
                    critical_paths: &[[("zone2", 1), ("zone1", 2)], [("zone1", 1), ("zone2", 3)]],
                    counts: &[&[("zone1", 2), ("zone2", 1)], &[("zone1", 1), ("zone2", 3)]],
                }),
            },
            PreFilterCase {
                name: "skip if not specified",
                pod: make_pod().name("p").label("foo", "").obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                ],
                existing: vec![],
                want: None,
            },
        ];
        cases.into_iter().for_each(run_pre_filter_state);
    }

    /// Upstream `TestSingleConstraint`.
    #[test]
    fn single_constraint() {
        let cases = vec![
            FilterCase {
                name: "no existing pods",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![],
                want: &[
                    ("node-a", Code::Success),
                    ("node-b", Code::Success),
                    ("node-x", Code::Success),
                    ("node-y", Code::Success),
                ],
            },
            FilterCase {
                name: "no existing pods, incoming pod doesn't match itself",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "zone", DNS, Some(bar_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![],
                want: &[
                    ("node-a", Code::Success),
                    ("node-b", Code::Success),
                    ("node-x", Code::Success),
                    ("node-y", Code::Success),
                ],
            },
            FilterCase {
                name: "existing pods in a different namespace do not count",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .namespace("ns1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .namespace("ns2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-x1")
                        .node("node-x")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Success),
                    ("node-b", Code::Success),
                    ("node-x", Code::Unschedulable),
                    ("node-y", Code::Unschedulable),
                ],
            },
            FilterCase {
                name: "existing pods do not match null selector",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "zone", DNS, None, None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-x1")
                        .node("node-x")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Success),
                    ("node-b", Code::Success),
                    ("node-x", Code::Success),
                    ("node-y", Code::Success),
                ],
            },
            FilterCase {
                name: "pods spread across zones as 3/3, all nodes fit",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y3")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Success),
                    ("node-b", Code::Success),
                    ("node-x", Code::Success),
                    ("node-y", Code::Success),
                ],
            },
            FilterCase {
                name: "pods spread across zones as 1/2 due to absence of label 'zone' on node-b",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zon", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-x1")
                        .node("node-x")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Success),
                    ("node-b", Code::UnschedulableAndUnresolvable),
                    ("node-x", Code::Unschedulable),
                    ("node-y", Code::Unschedulable),
                ],
            },
            FilterCase {
                name: "pod cannot be scheduled as all nodes don't have label 'rack'",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "rack", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                ],
                existing: vec![],
                want: &[
                    ("node-a", Code::UnschedulableAndUnresolvable),
                    ("node-x", Code::UnschedulableAndUnresolvable),
                ],
            },
            FilterCase {
                name: "pods spread across nodes as 2/1/0/3, only node-x fits",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "node", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y3")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Unschedulable),
                    ("node-b", Code::Unschedulable),
                    ("node-x", Code::Success),
                    ("node-y", Code::Unschedulable),
                ],
            },
            FilterCase {
                name: "pods spread across nodes as 2/1/0/3, maxSkew is 2, node-b and node-x fit",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(2, "node", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y3")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Unschedulable),
                    ("node-b", Code::Success),
                    ("node-x", Code::Success),
                    ("node-y", Code::Unschedulable),
                ],
            },
            FilterCase {
                name: "pods spread across nodes as 2/1/0/3, but pod doesn't match itself",
                pod: make_pod()
                    .name("p")
                    .label("bar", "")
                    .spread_constraint(1, "node", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y3")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Unschedulable),
                    ("node-b", Code::Success),
                    ("node-x", Code::Success),
                    ("node-y", Code::Unschedulable),
                ],
            },
            FilterCase {
                name: "incoming pod has nodeAffinity, pods spread as 2/~1~/~0~/3, hence node-a fits",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .node_affinity_in("node", &["node-a", "node-y"])
                    .spread_constraint(1, "node", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y3")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Success),
                    ("node-b", Code::Success),
                    ("node-x", Code::Success),
                    ("node-y", Code::Unschedulable),
                ],
            },
            FilterCase {
                name: "terminating Pods should be excluded",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "node", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node().name("node-a").label("node", "node-a").obj(),
                    make_node().name("node-b").label("node", "node-b").obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a")
                        .node("node-a")
                        .label("foo", "")
                        .terminating()
                        .obj(),
                    make_pod().name("p-b").node("node-b").label("foo", "").obj(),
                ],
                want: &[("node-a", Code::Success), ("node-b", Code::Unschedulable)],
            },
            FilterCase {
                name: "incoming pod has nodeAffinity, pods spread as 0/~2~/0/1, hence node-a fits",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .node_affinity_not_in("node", &["node-b"])
                    .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b2")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Success),
                    ("node-b", Code::Success),
                    ("node-x", Code::Unschedulable),
                    ("node-y", Code::Unschedulable),
                ],
            },
            FilterCase {
                name: "pods spread across nodes as 2/2/1, maxSkew is 2, and the number of domains < minDomains, then the third node fits",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(
                        2,
                        "node",
                        DNS,
                        Some(foo_selector()),
                        Some(4),
                        None,
                        None,
                        &[],
                    )
                    .obj(),
                nodes: vec![
                    make_node().name("node-a").label("node", "node-a").obj(),
                    make_node().name("node-b").label("node", "node-b").obj(),
                    make_node().name("node-c").label("node", "node-c").obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b2")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-c1")
                        .node("node-c")
                        .label("foo", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Unschedulable),
                    ("node-b", Code::Unschedulable),
                    ("node-c", Code::Success),
                ],
            },
            FilterCase {
                name: "pods spread across nodes as 2/2/1, maxSkew is 2, and the number of domains > minDomains, then the all nodes fit",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(
                        2,
                        "node",
                        DNS,
                        Some(foo_selector()),
                        Some(2),
                        None,
                        None,
                        &[],
                    )
                    .obj(),
                nodes: vec![
                    make_node().name("node-a").label("node", "node-a").obj(),
                    make_node().name("node-b").label("node", "node-b").obj(),
                    make_node().name("node-c").label("node", "node-c").obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b2")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-c1")
                        .node("node-c")
                        .label("foo", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Success),
                    ("node-b", Code::Success),
                    ("node-c", Code::Success),
                ],
            },
            FilterCase {
                name: "pods spread across zone as 2/1, maxSkew is 2 and the number of domains < minDomains, then the third and fourth nodes fit",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(
                        2,
                        "zone",
                        DNS,
                        Some(foo_selector()),
                        Some(3),
                        None,
                        None,
                        &[],
                    )
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-b1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b2")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Unschedulable),
                    ("node-b", Code::Unschedulable),
                    ("node-x", Code::Success),
                    ("node-y", Code::Success),
                ],
            },
            FilterCase {
                name: "pods spread across zone as 2/1, maxSkew is 2 and the number of domains > minDomains, then the all nodes fit",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(
                        2,
                        "zone",
                        DNS,
                        Some(foo_selector()),
                        Some(1),
                        None,
                        None,
                        &[],
                    )
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-b1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b2")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Success),
                    ("node-b", Code::Success),
                    ("node-x", Code::Success),
                    ("node-y", Code::Success),
                ],
            },
            FilterCase {
                name: "NodeAffinityPolicy honored with labelSelectors",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .node_selector(&[("foo", "")])
                    .spread_constraint(1, "node", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("node", "node-a")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("node", "node-b")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("node", "node-x")
                        .label("foo", "")
                        .obj(),
                    make_node().name("node-y").label("node", "node-y").obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-b1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b2")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Unschedulable),
                    ("node-b", Code::Unschedulable),
                    ("node-x", Code::Success),
                    ("node-y", Code::Success),
                ],
            },
            FilterCase {
                name: "NodeAffinityPolicy ignored with labelSelectors",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .node_selector(&[("foo", "")])
                    .spread_constraint(
                        1,
                        "node",
                        DNS,
                        Some(foo_selector()),
                        None,
                        Some(IGNORE),
                        None,
                        &[],
                    )
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("node", "node-a")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("node", "node-b")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("node", "node-x")
                        .label("foo", "")
                        .obj(),
                    make_node().name("node-y").label("node", "node-y").obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-b1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b2")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Unschedulable),
                    ("node-b", Code::Unschedulable),
                    ("node-x", Code::Success),
                    ("node-y", Code::Unschedulable),
                ],
            },
            FilterCase {
                name: "NodeAffinityPolicy honored with nodeAffinity",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .node_affinity_in("foo", &[""])
                    .spread_constraint(1, "node", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("node", "node-a")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("node", "node-b")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("node", "node-x")
                        .label("foo", "")
                        .obj(),
                    make_node().name("node-y").label("node", "node-y").obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-b1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b2")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Unschedulable),
                    ("node-b", Code::Unschedulable),
                    ("node-x", Code::Success),
                    ("node-y", Code::Success),
                ],
            },
            FilterCase {
                name: "NodeAffinityPolicy ignored with labelSelectors",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .node_affinity_in("foo", &[""])
                    .spread_constraint(
                        1,
                        "node",
                        DNS,
                        Some(foo_selector()),
                        None,
                        Some(IGNORE),
                        None,
                        &[],
                    )
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("node", "node-a")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("node", "node-b")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("node", "node-x")
                        .label("foo", "")
                        .obj(),
                    make_node().name("node-y").label("node", "node-y").obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-b1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b2")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Unschedulable),
                    ("node-b", Code::Unschedulable),
                    ("node-x", Code::Success),
                    ("node-y", Code::Unschedulable),
                ],
            },
            FilterCase {
                name: "NodeTaintsPolicy honored",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(
                        1,
                        "node",
                        DNS,
                        Some(foo_selector()),
                        None,
                        None,
                        Some(HONOR),
                        &[],
                    )
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("node", "node-a")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("node", "node-b")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("node", "node-x")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("node", "node-y")
                        .taints()
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-b1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b2")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Unschedulable),
                    ("node-b", Code::Unschedulable),
                    ("node-x", Code::Success),
                    ("node-y", Code::Success),
                ],
            },
            FilterCase {
                name: "NodeTaintsPolicy ignored",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "node", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("node", "node-a")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("node", "node-b")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("node", "node-x")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("node", "node-y")
                        .taints()
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-b1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b2")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Unschedulable),
                    ("node-b", Code::Unschedulable),
                    ("node-x", Code::Success),
                    ("node-y", Code::Unschedulable),
                ],
            },
        ];
        cases.into_iter().for_each(run_filter);
    }

    /// Upstream `TestMultipleConstraints`.
    #[test]
    fn multiple_constraints() {
        let cases = vec![
            FilterCase {
                name: "two Constraints on zone and node, spreads = [3/3, 2/1/0/3]",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
                    .spread_constraint(1, "node", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y3")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Unschedulable),
                    ("node-b", Code::Unschedulable),
                    ("node-x", Code::Success),
                    ("node-y", Code::Unschedulable),
                ],
            },
            FilterCase {
                name: "two Constraints on zone and node, spreads = [3/4, 2/1/0/4]",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
                    .spread_constraint(1, "node", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y3")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y4")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Unschedulable),
                    ("node-b", Code::Unschedulable),
                    ("node-x", Code::Unschedulable),
                    ("node-y", Code::Unschedulable),
                ],
            },
            FilterCase {
                name: "Constraints hold different labelSelectors, spreads = [1/0, 1/0/0/1]",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .label("bar", "")
                    .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
                    .spread_constraint(1, "node", DNS, Some(bar_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("bar", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Unschedulable),
                    ("node-b", Code::Unschedulable),
                    ("node-x", Code::Success),
                    ("node-y", Code::Unschedulable),
                ],
            },
            FilterCase {
                name: "Constraints hold different labelSelectors, spreads = [1/0, 0/0/1/1]",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .label("bar", "")
                    .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
                    .spread_constraint(1, "node", DNS, Some(bar_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-x1")
                        .node("node-x")
                        .label("bar", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("bar", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Unschedulable),
                    ("node-b", Code::Unschedulable),
                    ("node-x", Code::Unschedulable),
                    ("node-y", Code::Unschedulable),
                ],
            },
            FilterCase {
                name: "Constraints hold different labelSelectors, spreads = [2/3, 1/0/0/1]",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .label("bar", "")
                    .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
                    .spread_constraint(1, "node", DNS, Some(bar_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .label("bar", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("foo", "")
                        .label("bar", "")
                        .obj(),
                    make_pod()
                        .name("p-y3")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Unschedulable),
                    ("node-b", Code::Success),
                    ("node-x", Code::Unschedulable),
                    ("node-y", Code::Unschedulable),
                ],
            },
            FilterCase {
                name: "Constraints hold different labelSelectors but pod doesn't match itself on 'zone' constraint",
                pod: make_pod()
                    .name("p")
                    .label("bar", "")
                    .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
                    .spread_constraint(1, "node", DNS, Some(bar_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-x1")
                        .node("node-x")
                        .label("bar", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("bar", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Success),
                    ("node-b", Code::Success),
                    ("node-x", Code::Unschedulable),
                    ("node-y", Code::Unschedulable),
                ],
            },
            FilterCase {
                name: "two Constraints on zone and node, absence of label 'node' on node-x, spreads = [1/1, 1/0/0/1]",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
                    .spread_constraint(1, "node", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node().name("node-x").label("zone", "zone2").obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y3")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Unschedulable),
                    ("node-b", Code::Success),
                    ("node-x", Code::UnschedulableAndUnresolvable),
                    ("node-y", Code::Unschedulable),
                ],
            },
            FilterCase {
                name: "two node inclusion Constraints, zone: honor/ignore, node: ignore/ignore",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .node_selector(&[("foo", "")])
                    .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
                    .spread_constraint(
                        1,
                        "node",
                        DNS,
                        Some(foo_selector()),
                        None,
                        Some(IGNORE),
                        None,
                        &[],
                    )
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Unschedulable),
                    ("node-b", Code::Unschedulable),
                    ("node-x", Code::Success),
                    ("node-y", Code::Unschedulable),
                ],
            },
            FilterCase {
                name: "two node inclusion Constraints, zone: honor/honor, node: honor/ignore",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(
                        1,
                        "zone",
                        DNS,
                        Some(foo_selector()),
                        None,
                        None,
                        Some(HONOR),
                        &[],
                    )
                    .spread_constraint(1, "node", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .taints()
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Unschedulable),
                    ("node-b", Code::Unschedulable),
                    ("node-x", Code::Success),
                    ("node-y", Code::Unschedulable),
                ],
            },
            FilterCase {
                name: "two node inclusion Constraints, zone: honor/ignore, node: honor/ignore",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .node_selector(&[("foo", "")])
                    .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
                    .spread_constraint(1, "node", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .label("foo", "")
                        .taints()
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Unschedulable),
                    ("node-b", Code::Success),
                    ("node-x", Code::Success),
                    ("node-y", Code::Unschedulable),
                ],
            },
            FilterCase {
                name: "two node inclusion Constraints, zone: honor/honor, node: ignore/ignore",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .node_selector(&[("foo", "")])
                    .spread_constraint(
                        1,
                        "zone",
                        DNS,
                        Some(foo_selector()),
                        None,
                        None,
                        Some(HONOR),
                        &[],
                    )
                    .spread_constraint(
                        1,
                        "node",
                        DNS,
                        Some(foo_selector()),
                        None,
                        Some(IGNORE),
                        None,
                        &[],
                    )
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .label("foo", "")
                        .taints()
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Unschedulable),
                    ("node-b", Code::Unschedulable),
                    ("node-x", Code::Success),
                    ("node-y", Code::Unschedulable),
                ],
            },
            FilterCase {
                name: "two Constraints on zone, spreads = [3/3, 2/1]",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .label("bar", "")
                    .spread_constraint(1, "zone", DNS, Some(bar_selector()), None, None, None, &[])
                    .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .label("bar", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .label("bar", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("foo", "")
                        .label("bar", "")
                        .obj(),
                    make_pod()
                        .name("p-y3")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Unschedulable),
                    ("node-b", Code::Unschedulable),
                    ("node-x", Code::Success),
                    ("node-y", Code::Success),
                ],
            },
            FilterCase {
                name: "two Constraints on zone, spreads = [3/4, 2/1]",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .label("bar", "")
                    .spread_constraint(1, "zone", DNS, Some(bar_selector()), None, None, None, &[])
                    .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("node", "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("node", "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label("node", "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label("node", "node-y")
                        .obj(),
                ],
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .label("bar", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .label("bar", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("foo", "")
                        .label("bar", "")
                        .obj(),
                    make_pod()
                        .name("p-y3")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y4")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                want: &[
                    ("node-a", Code::Unschedulable),
                    ("node-b", Code::Unschedulable),
                    ("node-x", Code::Unschedulable),
                    ("node-y", Code::Unschedulable),
                ],
            },
        ];
        cases.into_iter().for_each(run_filter);
    }

    /// Upstream `TestPreScoreStateEmptyNodes` (custom default constraints left out).
    #[test]
    fn pre_score_state() {
        let cases = vec![
            PreScoreCase {
                name: "normal case",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "zone", SA, Some(foo_selector()), None, None, None, &[])
                    .spread_constraint(1, HOSTNAME, SA, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label(HOSTNAME, "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label(HOSTNAME, "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label(HOSTNAME, "node-x")
                        .obj(),
                ],
                want: WantPreScore {
                    constraints: vec![
                        constraint(
                            1,
                            "zone",
                            Some(foo_selector()),
                            1,
                            InclusionPolicy::Honor,
                            InclusionPolicy::Ignore,
                        ),
                        constraint(
                            1,
                            HOSTNAME,
                            Some(foo_selector()),
                            1,
                            InclusionPolicy::Honor,
                            InclusionPolicy::Ignore,
                        ),
                    ],
                    ignored: &[],
                    counts: &[&[("zone1", 0), ("zone2", 0)], &[]],
                    weight_sizes: &[2, 3],
                },
            },
            PreScoreCase {
                name: "null selector",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "zone", SA, None, None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label(HOSTNAME, "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label(HOSTNAME, "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label(HOSTNAME, "node-x")
                        .obj(),
                ],
                want: WantPreScore {
                    constraints: vec![constraint(
                        1,
                        "zone",
                        None,
                        1,
                        InclusionPolicy::Honor,
                        InclusionPolicy::Ignore,
                    )],
                    ignored: &[],
                    counts: &[&[("zone1", 0), ("zone2", 0)]],
                    weight_sizes: &[2],
                },
            },
            PreScoreCase {
                name: "node-x doesn't have label zone",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "zone", SA, Some(foo_selector()), None, None, None, &[])
                    .spread_constraint(1, HOSTNAME, SA, Some(bar_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label(HOSTNAME, "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label(HOSTNAME, "node-b")
                        .obj(),
                    make_node().name("node-x").label(HOSTNAME, "node-x").obj(),
                ],
                want: WantPreScore {
                    constraints: vec![
                        constraint(
                            1,
                            "zone",
                            Some(foo_selector()),
                            1,
                            InclusionPolicy::Honor,
                            InclusionPolicy::Ignore,
                        ),
                        constraint(
                            1,
                            HOSTNAME,
                            Some(bar_selector()),
                            1,
                            InclusionPolicy::Honor,
                            InclusionPolicy::Ignore,
                        ),
                    ],
                    ignored: &["node-x"],
                    counts: &[&[("zone1", 0)], &[]],
                    weight_sizes: &[1, 2],
                },
            },
            PreScoreCase {
                name: "NodeAffinityPolicy honored with labelSelectors",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .node_selector(&[("foo", "")])
                    .spread_constraint(1, "zone", SA, Some(bar_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("foo", "")
                        .label(HOSTNAME, "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("foo", "")
                        .label(HOSTNAME, "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label(HOSTNAME, "node-x")
                        .obj(),
                ],
                want: WantPreScore {
                    constraints: vec![constraint(
                        1,
                        "zone",
                        Some(bar_selector()),
                        1,
                        InclusionPolicy::Honor,
                        InclusionPolicy::Ignore,
                    )],
                    ignored: &[],
                    counts: &[&[("zone1", 0), ("zone2", 0)]],
                    weight_sizes: &[2],
                },
            },
            PreScoreCase {
                name: "NodeAffinityPolicy ignored with labelSelectors",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .node_selector(&[("foo", "")])
                    .spread_constraint(
                        1,
                        "zone",
                        SA,
                        Some(bar_selector()),
                        None,
                        Some(IGNORE),
                        None,
                        &[],
                    )
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("foo", "")
                        .label(HOSTNAME, "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("foo", "")
                        .label(HOSTNAME, "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label(HOSTNAME, "node-x")
                        .obj(),
                ],
                want: WantPreScore {
                    constraints: vec![constraint(
                        1,
                        "zone",
                        Some(bar_selector()),
                        1,
                        InclusionPolicy::Ignore,
                        InclusionPolicy::Ignore,
                    )],
                    ignored: &[],
                    counts: &[&[("zone1", 0), ("zone2", 0)]],
                    weight_sizes: &[2],
                },
            },
            PreScoreCase {
                name: "NodeAffinityPolicy honored with nodeAffinity",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .node_affinity_in("foo", &[""])
                    .spread_constraint(1, "zone", SA, Some(bar_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("foo", "")
                        .label(HOSTNAME, "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("foo", "")
                        .label(HOSTNAME, "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label(HOSTNAME, "node-x")
                        .obj(),
                ],
                want: WantPreScore {
                    constraints: vec![constraint(
                        1,
                        "zone",
                        Some(bar_selector()),
                        1,
                        InclusionPolicy::Honor,
                        InclusionPolicy::Ignore,
                    )],
                    ignored: &[],
                    counts: &[&[("zone1", 0), ("zone2", 0)]],
                    weight_sizes: &[2],
                },
            },
            PreScoreCase {
                name: "NodeAffinityPolicy ignored with nodeAffinity",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .node_affinity_in("foo", &[""])
                    .spread_constraint(
                        1,
                        "zone",
                        SA,
                        Some(bar_selector()),
                        None,
                        Some(IGNORE),
                        None,
                        &[],
                    )
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("foo", "")
                        .label(HOSTNAME, "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("foo", "")
                        .label(HOSTNAME, "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label(HOSTNAME, "node-x")
                        .obj(),
                ],
                want: WantPreScore {
                    constraints: vec![constraint(
                        1,
                        "zone",
                        Some(bar_selector()),
                        1,
                        InclusionPolicy::Ignore,
                        InclusionPolicy::Ignore,
                    )],
                    ignored: &[],
                    counts: &[&[("zone1", 0), ("zone2", 0)]],
                    weight_sizes: &[2],
                },
            },
            PreScoreCase {
                name: "NodeTaintsPolicy honored",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(
                        1,
                        "zone",
                        SA,
                        Some(bar_selector()),
                        None,
                        None,
                        Some(HONOR),
                        &[],
                    )
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("foo", "")
                        .label(HOSTNAME, "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("foo", "")
                        .label(HOSTNAME, "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label(HOSTNAME, "node-x")
                        .taints()
                        .obj(),
                ],
                want: WantPreScore {
                    constraints: vec![constraint(
                        1,
                        "zone",
                        Some(bar_selector()),
                        1,
                        InclusionPolicy::Honor,
                        InclusionPolicy::Honor,
                    )],
                    ignored: &[],
                    counts: &[&[("zone1", 0), ("zone2", 0)]],
                    weight_sizes: &[2],
                },
            },
            PreScoreCase {
                name: "NodeTaintsPolicy ignored",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "zone", SA, Some(bar_selector()), None, None, None, &[])
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label("foo", "")
                        .label(HOSTNAME, "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label("foo", "")
                        .label(HOSTNAME, "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label(HOSTNAME, "node-x")
                        .taints()
                        .obj(),
                ],
                want: WantPreScore {
                    constraints: vec![constraint(
                        1,
                        "zone",
                        Some(bar_selector()),
                        1,
                        InclusionPolicy::Honor,
                        InclusionPolicy::Ignore,
                    )],
                    ignored: &[],
                    counts: &[&[("zone1", 0), ("zone2", 0)]],
                    weight_sizes: &[2],
                },
            },
            // Upstream "system default constraints and a replicaset", the selector being the
            // pods of the same controller here.
            PreScoreCase {
                name: "system default constraints and a replicaset",
                pod: make_pod()
                    .name("p")
                    .namespace("default")
                    .label("foo", "tar")
                    .owner_reference("rs1", "ReplicaSet")
                    .obj(),
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label(HOSTNAME, "node-a")
                        .label(ZONE, "mars")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label(HOSTNAME, "node-b")
                        .label(ZONE, "mars")
                        .obj(),
                    // Nodes with no zone are not excluded. They are considered a separate zone.
                    make_node().name("node-c").label(HOSTNAME, "node-c").obj(),
                    make_node().name("node-d").label(HOSTNAME, "node-d").obj(),
                ],
                want: WantPreScore {
                    constraints: vec![
                        Constraint {
                            selector: PodSelector::SameController("rs1".into()),
                            ..constraint(
                                3,
                                HOSTNAME,
                                None,
                                1,
                                InclusionPolicy::Honor,
                                InclusionPolicy::Ignore,
                            )
                        },
                        Constraint {
                            selector: PodSelector::SameController("rs1".into()),
                            ..constraint(
                                5,
                                ZONE,
                                None,
                                1,
                                InclusionPolicy::Honor,
                                InclusionPolicy::Ignore,
                            )
                        },
                    ],
                    ignored: &[],
                    counts: &[&[], &[("mars", 0), ("", 0)]],
                    weight_sizes: &[4, 2],
                },
            },
        ];
        cases.into_iter().for_each(run_pre_score_state);
    }

    /// Upstream `TestPodTopologySpreadScore`.
    #[test]
    fn pod_topology_spread_score() {
        let cases = vec![
            ScoreCase {
                name: "one constraint on node, no existing pods",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, HOSTNAME, SA, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                existing: vec![],
                nodes: vec![
                    make_node().name("node-a").label(HOSTNAME, "node-a").obj(),
                    make_node().name("node-b").label(HOSTNAME, "node-b").obj(),
                ],
                failed: vec![],
                want: &[("node-a", 100), ("node-b", 100)],
            },
            ScoreCase {
                name: "one constraint on node, only one node is candidate",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, HOSTNAME, SA, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                ],
                nodes: vec![make_node().name("node-a").label(HOSTNAME, "node-a").obj()],
                failed: vec![make_node().name("node-b").label(HOSTNAME, "node-b").obj()],
                want: &[("node-a", 100)],
            },
            ScoreCase {
                name: "one constraint on node, all nodes have the same number of matching pods",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, HOSTNAME, SA, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                ],
                nodes: vec![
                    make_node().name("node-a").label(HOSTNAME, "node-a").obj(),
                    make_node().name("node-b").label(HOSTNAME, "node-b").obj(),
                ],
                failed: vec![],
                want: &[("node-a", 100), ("node-b", 100)],
            },
            ScoreCase {
                name: "one constraint on node, all 4 nodes are candidates",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, HOSTNAME, SA, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-d1")
                        .node("node-d")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-d2")
                        .node("node-d")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-d3")
                        .node("node-d")
                        .label("foo", "")
                        .obj(),
                ],
                nodes: vec![
                    make_node().name("node-a").label(HOSTNAME, "node-a").obj(),
                    make_node().name("node-b").label(HOSTNAME, "node-b").obj(),
                    make_node().name("node-c").label(HOSTNAME, "node-c").obj(),
                    make_node().name("node-d").label(HOSTNAME, "node-d").obj(),
                ],
                failed: vec![],
                want: &[
                    ("node-a", 20),
                    ("node-b", 60),
                    ("node-c", 100),
                    ("node-d", 0),
                ],
            },
            ScoreCase {
                name: "one constraint on node, null selector",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, HOSTNAME, SA, None, None, None, None, &[])
                    .obj(),
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-d1")
                        .node("node-d")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-d2")
                        .node("node-d")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-d3")
                        .node("node-d")
                        .label("foo", "")
                        .obj(),
                ],
                nodes: vec![
                    make_node().name("node-a").label(HOSTNAME, "node-a").obj(),
                    make_node().name("node-b").label(HOSTNAME, "node-b").obj(),
                    make_node().name("node-c").label(HOSTNAME, "node-c").obj(),
                    make_node().name("node-d").label(HOSTNAME, "node-d").obj(),
                ],
                failed: vec![],
                want: &[
                    ("node-a", 100),
                    ("node-b", 100),
                    ("node-c", 100),
                    ("node-d", 100),
                ],
            },
            ScoreCase {
                name: "one constraint on node, all 4 nodes are candidates, maxSkew=2",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(2, HOSTNAME, SA, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-d1")
                        .node("node-d")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-d2")
                        .node("node-d")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-d3")
                        .node("node-d")
                        .label("foo", "")
                        .obj(),
                ],
                nodes: vec![
                    make_node().name("node-a").label(HOSTNAME, "node-a").obj(),
                    make_node().name("node-b").label(HOSTNAME, "node-b").obj(),
                    make_node().name("node-c").label(HOSTNAME, "node-c").obj(),
                    make_node().name("node-d").label(HOSTNAME, "node-d").obj(),
                ],
                failed: vec![],
                want: &[
                    ("node-a", 33),
                    ("node-b", 66),
                    ("node-c", 100),
                    ("node-d", 16),
                ],
            },
            ScoreCase {
                name: "one constraint on node, all 4 nodes are candidates, maxSkew=3",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(3, HOSTNAME, SA, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a3")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a4")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b2")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b3")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-c1")
                        .node("node-c")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-c2")
                        .node("node-c")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-d1")
                        .node("node-d")
                        .label("foo", "")
                        .obj(),
                ],
                nodes: vec![
                    make_node().name("node-a").label(HOSTNAME, "node-a").obj(),
                    make_node().name("node-b").label(HOSTNAME, "node-b").obj(),
                    make_node().name("node-c").label(HOSTNAME, "node-c").obj(),
                    make_node().name("node-d").label(HOSTNAME, "node-d").obj(),
                ],
                failed: vec![],
                want: &[
                    ("node-a", 44),
                    ("node-b", 66),
                    ("node-c", 77),
                    ("node-d", 100),
                ],
            },
            ScoreCase {
                name: "one constraint on node, 3 out of 4 nodes are candidates",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, HOSTNAME, SA, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a3")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a4")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b2")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-x1")
                        .node("node-x")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y3")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                nodes: vec![
                    make_node().name("node-a").label(HOSTNAME, "node-a").obj(),
                    make_node().name("node-b").label(HOSTNAME, "node-b").obj(),
                    make_node().name("node-x").label(HOSTNAME, "node-x").obj(),
                ],
                failed: vec![make_node().name("node-y").label(HOSTNAME, "node-y").obj()],
                want: &[("node-a", 33), ("node-b", 83), ("node-x", 100)],
            },
            ScoreCase {
                name: "one constraint on node, 3 out of 4 nodes are candidates, one node doesn't match topology key",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, HOSTNAME, SA, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a3")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a4")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b2")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-x1")
                        .node("node-x")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y3")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                nodes: vec![
                    make_node().name("node-a").label(HOSTNAME, "node-a").obj(),
                    make_node().name("node-b").label("n", "node-b").obj(),
                    make_node().name("node-x").label(HOSTNAME, "node-x").obj(),
                ],
                failed: vec![make_node().name("node-y").label(HOSTNAME, "node-y").obj()],
                want: &[("node-a", 16), ("node-b", 0), ("node-x", 100)],
            },
            ScoreCase {
                name: "one constraint on zone, 3 out of 4 nodes are candidates",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "zone", SA, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a3")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a4")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b2")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-x1")
                        .node("node-x")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y3")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label(HOSTNAME, "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label(HOSTNAME, "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label(HOSTNAME, "node-x")
                        .obj(),
                ],
                failed: vec![
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label(HOSTNAME, "node-y")
                        .obj(),
                ],
                want: &[("node-a", 75), ("node-b", 75), ("node-x", 100)],
            },
            ScoreCase {
                name: "two Constraints on zone and node, 2 out of 4 nodes are candidates",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "zone", SA, Some(foo_selector()), None, None, None, &[])
                    .spread_constraint(1, HOSTNAME, SA, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-x1")
                        .node("node-x")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-x2")
                        .node("node-x")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y3")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y4")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label(HOSTNAME, "node-a")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label(HOSTNAME, "node-x")
                        .obj(),
                ],
                failed: vec![
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label(HOSTNAME, "node-b")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label(HOSTNAME, "node-y")
                        .obj(),
                ],
                want: &[("node-a", 100), ("node-x", 63)],
            },
            ScoreCase {
                name: "two Constraints on zone, 2 out of 4 nodes are candidates",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .label("bar", "")
                    .spread_constraint(1, "zone", SA, Some(foo_selector()), None, None, None, &[])
                    .spread_constraint(1, "zone", SA, Some(bar_selector()), None, None, None, &[])
                    .obj(),
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .label("bar", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .label("bar", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("foo", "")
                        .label("bar", "")
                        .obj(),
                    make_pod()
                        .name("p-y3")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                ],
                nodes: vec![
                    make_node().name("node-a").label("zone", "zone1").obj(),
                    make_node().name("node-x").label("zone", "zone2").obj(),
                ],
                failed: vec![
                    make_node().name("node-b").label("zone", "zone1").obj(),
                    make_node().name("node-y").label("zone", "zone2").obj(),
                ],
                want: &[("node-a", 85), ("node-x", 100)],
            },
            ScoreCase {
                name: "two Constraints on zone and node, with different labelSelectors",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .label("bar", "")
                    .spread_constraint(1, "zone", SA, Some(foo_selector()), None, None, None, &[])
                    .spread_constraint(1, HOSTNAME, SA, Some(bar_selector()), None, None, None, &[])
                    .obj(),
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .label("bar", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("bar", "")
                        .obj(),
                ],
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label(HOSTNAME, "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label(HOSTNAME, "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label(HOSTNAME, "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label(HOSTNAME, "node-y")
                        .obj(),
                ],
                failed: vec![],
                want: &[
                    ("node-a", 60),
                    ("node-b", 20),
                    ("node-x", 100),
                    ("node-y", 60),
                ],
            },
            ScoreCase {
                name: "two Constraints on zone and node, with different labelSelectors, some nodes have 0 pods",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .label("bar", "")
                    .spread_constraint(1, "zone", SA, Some(foo_selector()), None, None, None, &[])
                    .spread_constraint(1, HOSTNAME, SA, Some(bar_selector()), None, None, None, &[])
                    .obj(),
                existing: vec![
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("bar", "")
                        .obj(),
                    make_pod()
                        .name("p-x1")
                        .node("node-x")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .label("bar", "")
                        .obj(),
                ],
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label(HOSTNAME, "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label(HOSTNAME, "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label(HOSTNAME, "node-x")
                        .obj(),
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label(HOSTNAME, "node-y")
                        .obj(),
                ],
                failed: vec![],
                want: &[
                    ("node-a", 100),
                    ("node-b", 60),
                    ("node-x", 40),
                    ("node-y", 0),
                ],
            },
            ScoreCase {
                name: "two Constraints on zone and node, with different labelSelectors, 3 out of 4 nodes are candidates",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .label("bar", "")
                    .spread_constraint(1, "zone", SA, Some(foo_selector()), None, None, None, &[])
                    .spread_constraint(1, HOSTNAME, SA, Some(bar_selector()), None, None, None, &[])
                    .obj(),
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .label("bar", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-y")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-y")
                        .label("bar", "")
                        .obj(),
                ],
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label(HOSTNAME, "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label(HOSTNAME, "node-b")
                        .obj(),
                    make_node()
                        .name("node-x")
                        .label("zone", "zone2")
                        .label(HOSTNAME, "node-x")
                        .obj(),
                ],
                failed: vec![
                    make_node()
                        .name("node-y")
                        .label("zone", "zone2")
                        .label(HOSTNAME, "node-y")
                        .obj(),
                ],
                want: &[("node-a", 50), ("node-b", 25), ("node-x", 100)],
            },
            ScoreCase {
                name: "existing pods in a different namespace do not count",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, HOSTNAME, SA, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .namespace("ns1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b2")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                ],
                nodes: vec![
                    make_node().name("node-a").label(HOSTNAME, "node-a").obj(),
                    make_node().name("node-b").label(HOSTNAME, "node-b").obj(),
                ],
                failed: vec![],
                want: &[("node-a", 100), ("node-b", 33)],
            },
            ScoreCase {
                name: "terminating Pods should be excluded",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, HOSTNAME, SA, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                existing: vec![
                    make_pod()
                        .name("p-a")
                        .node("node-a")
                        .label("foo", "")
                        .terminating()
                        .obj(),
                    make_pod().name("p-b").node("node-b").label("foo", "").obj(),
                ],
                nodes: vec![
                    make_node().name("node-a").label(HOSTNAME, "node-a").obj(),
                    make_node().name("node-b").label(HOSTNAME, "node-b").obj(),
                ],
                failed: vec![],
                want: &[("node-a", 100), ("node-b", 0)],
            },
            ScoreCase {
                name: "minDomains has no effect when ScheduleAnyway",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(
                        2,
                        "node",
                        SA,
                        Some(foo_selector()),
                        Some(10),
                        None,
                        None,
                        &[],
                    )
                    .obj(),
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b2")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-c1")
                        .node("node-c")
                        .label("foo", "")
                        .obj(),
                ],
                nodes: vec![
                    make_node().name("node-a").label("node", "node-a").obj(),
                    make_node().name("node-b").label("node", "node-b").obj(),
                    make_node().name("node-c").label("node", "node-c").obj(),
                ],
                failed: vec![],
                want: &[("node-a", 75), ("node-b", 75), ("node-c", 100)],
            },
            ScoreCase {
                name: "NodeAffinityPolicy honoed with labelSelectors",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .node_selector(&[("foo", "")])
                    .spread_constraint(1, "node", SA, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-c1")
                        .node("node-c")
                        .label("foo", "")
                        .obj(),
                ],
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("node", "node-a")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("node", "node-b")
                        .label("foo", "")
                        .obj(),
                    make_node().name("node-c").label("node", "node-c").obj(),
                ],
                failed: vec![],
                want: &[("node-a", 0), ("node-b", 33), ("node-c", 100)],
            },
            ScoreCase {
                name: "NodeAffinityPolicy ignored with labelSelectors",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .node_selector(&[("foo", "")])
                    .spread_constraint(
                        1,
                        "node",
                        SA,
                        Some(foo_selector()),
                        None,
                        Some(IGNORE),
                        None,
                        &[],
                    )
                    .obj(),
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-c1")
                        .node("node-c")
                        .label("foo", "")
                        .obj(),
                ],
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("node", "node-a")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("node", "node-b")
                        .label("foo", "")
                        .obj(),
                    make_node().name("node-c").label("node", "node-c").obj(),
                ],
                failed: vec![],
                want: &[("node-a", 66), ("node-b", 100), ("node-c", 100)],
            },
            ScoreCase {
                name: "NodeAffinityPolicy honoed with nodeAffinity",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .node_affinity_in("foo", &[""])
                    .spread_constraint(1, "node", SA, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-c1")
                        .node("node-c")
                        .label("foo", "")
                        .obj(),
                ],
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("node", "node-a")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("node", "node-b")
                        .label("foo", "")
                        .obj(),
                    make_node().name("node-c").label("node", "node-c").obj(),
                ],
                failed: vec![],
                want: &[("node-a", 0), ("node-b", 33), ("node-c", 100)],
            },
            ScoreCase {
                name: "NodeAffinityPolicy ignored with nodeAffinity",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .node_affinity_in("foo", &[""])
                    .spread_constraint(
                        1,
                        "node",
                        SA,
                        Some(foo_selector()),
                        None,
                        Some(IGNORE),
                        None,
                        &[],
                    )
                    .obj(),
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-c1")
                        .node("node-c")
                        .label("foo", "")
                        .obj(),
                ],
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("node", "node-a")
                        .label("foo", "")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("node", "node-b")
                        .label("foo", "")
                        .obj(),
                    make_node().name("node-c").label("node", "node-c").obj(),
                ],
                failed: vec![],
                want: &[("node-a", 66), ("node-b", 100), ("node-c", 100)],
            },
            ScoreCase {
                name: "NodeTaintsPolicy honored",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(
                        1,
                        "node",
                        SA,
                        Some(foo_selector()),
                        None,
                        None,
                        Some(HONOR),
                        &[],
                    )
                    .obj(),
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-c1")
                        .node("node-c")
                        .label("foo", "")
                        .obj(),
                ],
                nodes: vec![
                    make_node().name("node-a").label("node", "node-a").obj(),
                    make_node().name("node-b").label("node", "node-b").obj(),
                    make_node()
                        .name("node-c")
                        .label("node", "node-c")
                        .taints()
                        .obj(),
                ],
                failed: vec![],
                want: &[("node-a", 0), ("node-b", 33), ("node-c", 100)],
            },
            ScoreCase {
                name: "NodeTaintsPolicy ignored",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .spread_constraint(1, "node", SA, Some(foo_selector()), None, None, None, &[])
                    .obj(),
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-a2")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-c1")
                        .node("node-c")
                        .label("foo", "")
                        .obj(),
                ],
                nodes: vec![
                    make_node().name("node-a").label("node", "node-a").obj(),
                    make_node().name("node-b").label("node", "node-b").obj(),
                    make_node()
                        .name("node-c")
                        .label("node", "node-c")
                        .taints()
                        .obj(),
                ],
                failed: vec![],
                want: &[("node-a", 66), ("node-b", 100), ("node-c", 100)],
            },
            ScoreCase {
                name: "matchLabelKeys ANDed with LabelSelector when LabelSelector is empty",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .label("bar", "")
                    .spread_constraint(
                        1,
                        "zone",
                        SA,
                        Some(make_label_selector().obj()),
                        None,
                        None,
                        None,
                        &["foo"],
                    )
                    .spread_constraint(
                        1,
                        HOSTNAME,
                        SA,
                        Some(make_label_selector().obj()),
                        None,
                        None,
                        None,
                        &["bar"],
                    )
                    .obj(),
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .label("bar", "")
                        .obj(),
                    make_pod()
                        .name("p-y1")
                        .node("node-c")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-y2")
                        .node("node-c")
                        .label("bar", "")
                        .obj(),
                ],
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label(HOSTNAME, "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label(HOSTNAME, "node-b")
                        .obj(),
                    make_node()
                        .name("node-c")
                        .label("zone", "zone2")
                        .label(HOSTNAME, "node-c")
                        .obj(),
                    make_node()
                        .name("node-d")
                        .label("zone", "zone2")
                        .label(HOSTNAME, "node-d")
                        .obj(),
                ],
                failed: vec![],
                want: &[
                    ("node-a", 60),
                    ("node-b", 20),
                    ("node-c", 60),
                    ("node-d", 100),
                ],
            },
            ScoreCase {
                name: "matchLabelKeys ANDed with LabelSelector when LabelSelector isn't empty",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .label("bar", "")
                    .label("baz", "")
                    .spread_constraint(1, "zone", SA, Some(foo_selector()), None, None, None, &[])
                    .spread_constraint(
                        1,
                        HOSTNAME,
                        SA,
                        Some(bar_selector()),
                        None,
                        None,
                        None,
                        &["baz"],
                    )
                    .obj(),
                existing: vec![
                    make_pod()
                        .name("p-a1")
                        .node("node-a")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-b1")
                        .node("node-b")
                        .label("foo", "")
                        .label("bar", "")
                        .label("baz", "")
                        .obj(),
                    make_pod()
                        .name("p-c1")
                        .node("node-c")
                        .label("foo", "")
                        .obj(),
                    make_pod()
                        .name("p-c2")
                        .node("node-c")
                        .label("bar", "")
                        .obj(),
                    make_pod()
                        .name("p-d3")
                        .node("node-c")
                        .label("bar", "")
                        .label("baz", "")
                        .obj(),
                ],
                nodes: vec![
                    make_node()
                        .name("node-a")
                        .label("zone", "zone1")
                        .label(HOSTNAME, "node-a")
                        .obj(),
                    make_node()
                        .name("node-b")
                        .label("zone", "zone1")
                        .label(HOSTNAME, "node-b")
                        .obj(),
                    make_node()
                        .name("node-c")
                        .label("zone", "zone2")
                        .label(HOSTNAME, "node-c")
                        .obj(),
                    make_node()
                        .name("node-d")
                        .label("zone", "zone2")
                        .label(HOSTNAME, "node-d")
                        .obj(),
                ],
                failed: vec![],
                want: &[
                    ("node-a", 60),
                    ("node-b", 20),
                    ("node-c", 60),
                    ("node-d", 100),
                ],
            },
            // Upstream "system defaulting, nodes don't have zone, pods match service", the
            // pods sharing a ReplicaSet instead of a Service.
            ScoreCase {
                name: "system defaulting, nodes don't have zone, pods share a controller",
                pod: make_pod()
                    .name("p")
                    .label("foo", "")
                    .owner_reference("rs1", "ReplicaSet")
                    .obj(),
                existing: [("node-a", 4), ("node-b", 3), ("node-c", 2), ("node-d", 1)]
                    .into_iter()
                    .flat_map(|(node, n)| {
                        (0..n).map(move |i| {
                            make_pod()
                                .name(&format!("p-{node}-{i}"))
                                .node(node)
                                .label("foo", "")
                                .owner_reference("rs1", "ReplicaSet")
                                .obj()
                        })
                    })
                    .chain([make_pod()
                        .name("other")
                        .node("node-d")
                        .label("foo", "")
                        .owner_reference("rs2", "ReplicaSet")
                        .obj()])
                    .collect(),
                nodes: ["node-a", "node-b", "node-c", "node-d"]
                    .map(|n| make_node().name(n).label(HOSTNAME, n).obj())
                    .to_vec(),
                failed: vec![],
                // Same scores as if we were using one spreading constraint.
                want: &[
                    ("node-a", 44),
                    ("node-b", 66),
                    ("node-c", 77),
                    ("node-d", 100),
                ],
            },
        ];
        cases.into_iter().for_each(run_score);
    }

    /// Upstream `TestPreScoreSkip` ("the pod doesn't have soft topology spread
    /// Constraints"), plus pods whose controller upstream does not spread by default.
    #[test]
    fn pre_score_skips_pods_without_soft_constraints() {
        let nodes = ["node-a", "node-b"].map(|n| make_node().name(n).label(HOSTNAME, n).obj());
        let snapshot = snapshot(nodes.to_vec(), Vec::new());
        let feasible: Vec<&NodeInfo> = snapshot.nodes.iter().collect();
        let pods = [
            make_pod().name("p").namespace("default").obj(),
            make_pod().name("p").owner_reference("job", "Job").obj(),
            make_pod()
                .name("p")
                .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
                .obj(),
        ];
        for pod in pods {
            assert!(
                PodTopologySpread
                    .pre_score(&pod, &feasible, &snapshot)
                    .is_none()
            );
        }
        let owned = make_pod()
            .name("p")
            .owner_reference("rs1", "ReplicaSet")
            .obj();
        assert!(
            PodTopologySpread
                .pre_score(&owned, &feasible, &Snapshot::default())
                .is_none()
        );
        assert!(
            PodTopologySpread
                .pre_score(&owned, &feasible, &snapshot)
                .is_some()
        );
    }

    /// Upstream "skip if not specified", and the system defaults, soft only, never filter.
    #[test]
    fn pre_filter_skips_pods_without_hard_constraints() {
        let snapshot = snapshot(vec![make_node().name("node-a").obj()], Vec::new());
        let owned = make_pod()
            .name("p")
            .owner_reference("rs1", "ReplicaSet")
            .obj();
        assert!(
            PodTopologySpread
                .pre_filter(&owned, &snapshot)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn filter_reasons_are_upstreams() {
        let pod = make_pod()
            .name("p")
            .label("foo", "")
            .spread_constraint(1, "zone", DNS, Some(foo_selector()), None, None, None, &[])
            .obj();
        let nodes = vec![
            make_node().name("node-a").label("zone", "zone1").obj(),
            make_node().name("node-b").label("zone", "zone2").obj(),
            make_node().name("node-c").obj(),
        ];
        let existing = vec![make_pod().name("p-a").node("node-a").label("foo", "").obj()];
        let snapshot = snapshot(nodes, existing);
        let state = PodTopologySpread
            .pre_filter(&pod, &snapshot)
            .unwrap()
            .unwrap();
        let status =
            |name: &str| PodTopologySpread.filter(&state, &pod, snapshot.get(name).unwrap());
        assert_eq!(
            status("node-a"),
            Status::unschedulable("node(s) didn't match pod topology spread constraints")
        );
        assert!(status("node-b").is_success());
        assert_eq!(
            status("node-c"),
            Status::unresolvable(
                "node(s) didn't match pod topology spread constraints (missing required label)"
            )
        );
    }

    #[test]
    fn an_invalid_selector_fails_pre_filter_with_an_error() {
        let selector =
            json!({"matchExpressions": [{"key": "foo", "operator": "In", "values": []}]});
        let pod = make_pod()
            .name("p")
            .spread_constraint(1, "zone", DNS, Some(selector), None, None, None, &[])
            .obj();
        let status = PodTopologySpread
            .pre_filter(&pod, &Snapshot::default())
            .err()
            .unwrap();
        assert_eq!(status.code, Code::Error);
    }

    /// Upstream `ToleratesTaint` with DoNotScheduleTaintsFilterFunc (for NodeTaintsPolicy).
    #[test]
    fn taints_policy_tolerations() {
        let taint = |key: &str, value: &str, effect: &str| json!({"key": key, "value": value, "effect": effect});
        let node = |taints: Value| -> Node {
            serde_json::from_value(json!({"metadata": {"name": "n"}, "spec": {"taints": taints}}))
                .unwrap()
        };
        let pod = |tolerations: Value| -> Pod {
            serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"containers": [], "tolerations": tolerations}})).unwrap()
        };
        let cases = [
            ("no taints", json!([]), json!([]), true),
            (
                "PreferNoSchedule is not considered",
                json!([taint("k", "v", "PreferNoSchedule")]),
                json!([]),
                true,
            ),
            (
                "untolerated NoSchedule",
                json!([taint("k", "v", "NoSchedule")]),
                json!([]),
                false,
            ),
            (
                "untolerated NoExecute",
                json!([taint("k", "v", "NoExecute")]),
                json!([]),
                false,
            ),
            (
                "Equal with the same value",
                json!([taint("k", "v", "NoSchedule")]),
                json!([{"key": "k", "operator": "Equal", "value": "v"}]),
                true,
            ),
            (
                "empty operator means Equal",
                json!([taint("k", "v", "NoSchedule")]),
                json!([{"key": "k", "value": "w"}]),
                false,
            ),
            (
                "Exists with no key tolerates all",
                json!([taint("k", "v", "NoSchedule")]),
                json!([{"operator": "Exists"}]),
                true,
            ),
            (
                "other effect",
                json!([taint("k", "v", "NoSchedule")]),
                json!([{"key": "k", "operator": "Exists", "effect": "NoExecute"}]),
                false,
            ),
            (
                "Gt is behind an alpha gate",
                json!([taint("k", "5", "NoSchedule")]),
                json!([{"key": "k", "operator": "Gt", "value": "1"}]),
                false,
            ),
        ];
        for (name, taints, tolerations, want) in cases {
            assert_eq!(
                tolerates_do_not_schedule_taints(&pod(tolerations), &node(taints)),
                want,
                "{name}"
            );
        }
    }
}

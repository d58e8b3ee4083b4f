//! NodeAffinity: a pod goes only where its `nodeSelector` and required node affinity hold,
//! and prefers nodes matching its preferred terms, by their weights (upstream
//! `pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go`).
//!
//! The plugin's `addedAffinity` argument is not modelled: this scheduler's profile is not
//! configurable, and upstream's default is none.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{
    NodeAffinity as PodNodeAffinity, NodeSelector, NodeSelectorTerm, PreferredSchedulingTerm,
};

use crate::scheduler::framework::{
    FilterPlugin, MAX_NODE_SCORE, NodeInfo, ScorePlugin, Snapshot, State, Status,
    default_normalize, no_state,
};
use crate::scheduler::node_selector::{required_affinity_matches, term_matches};
use crate::scheduler::pod::Pod;

pub const NAME: &str = "NodeAffinity";
/// The default profile's score weight.
pub const WEIGHT: i64 = 2;

/// Upstream `ErrReasonPod`.
pub const ERR_REASON_POD: &str = "node(s) didn't match Pod's node affinity/selector";
/// Upstream `errReasonConflict`: the required terms name no node at all.
pub const ERR_REASON_CONFLICT: &str = "pod affinity terms conflict";

/// The node field a term can select on (upstream `metav1.ObjectNameField`).
const OBJECT_NAME_FIELD: &str = "metadata.name";

fn pod_node_affinity(pod: &Pod) -> Option<&PodNodeAffinity> {
    pod.spec.as_ref()?.affinity.as_ref()?.node_affinity.as_ref()
}

fn required_node_selector(pod: &Pod) -> Option<&NodeSelector> {
    pod_node_affinity(pod)?
        .required_during_scheduling_ignored_during_execution
        .as_ref()
}

fn has_node_selector(pod: &Pod) -> bool {
    pod.spec.as_ref().is_some_and(|s| s.node_selector.is_some())
}

/// The nodes a term allows by name: the intersection of its `metadata.name In` field
/// requirements, None when it has none (any node may match).
fn term_node_names(term: &NodeSelectorTerm) -> Option<BTreeSet<String>> {
    term.match_fields
        .iter()
        .flatten()
        .filter(|r| r.key == OBJECT_NAME_FIELD && r.operator == "In")
        .map(|r| r.values.iter().flatten().cloned().collect::<BTreeSet<_>>())
        .reduce(|names, more| names.intersection(&more).cloned().collect())
}

/// Upstream PreFilter's `PreFilterResult`: the only nodes the required terms can match, by
/// name (the union over the terms), or None when any node may match. An empty set means the
/// terms contradict themselves.
pub fn required_node_names(pod: &Pod) -> Option<BTreeSet<String>> {
    let terms = &required_node_selector(pod)?.node_selector_terms;
    if terms.is_empty() {
        return None;
    }
    let mut names = BTreeSet::new();
    for term in terms {
        names.extend(term_node_names(term)?);
    }
    Some(names)
}

/// Preferred terms that can add to a score: upstream drops those of weight 0 and those
/// with no requirement.
fn scoring_terms(terms: &[PreferredSchedulingTerm]) -> Vec<PreferredSchedulingTerm> {
    terms
        .iter()
        .filter(|t| t.weight != 0)
        .filter(|t| {
            let p = &t.preference;
            p.match_expressions.as_ref().is_some_and(|e| !e.is_empty())
                || p.match_fields.as_ref().is_some_and(|f| !f.is_empty())
        })
        .cloned()
        .collect()
}

/// The pod's preferred terms, None when it has none (upstream `getPodPreferredNodeAffinity`).
fn pod_preferred_terms(pod: &Pod) -> Option<Vec<PreferredSchedulingTerm>> {
    pod_node_affinity(pod)?
        .preferred_during_scheduling_ignored_during_execution
        .as_deref()
        .map(scoring_terms)
}

/// What PreScore keeps for Score (upstream `preScoreState`).
struct PreScoreState {
    preferred: Vec<PreferredSchedulingTerm>,
}

pub struct NodeAffinity;

impl FilterPlugin for NodeAffinity {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Skips pods with neither a `nodeSelector` nor required node affinity, and rejects a
    /// pod whose required terms name no node. The nodes are narrowed to
    /// [`required_node_names`] by `pre_filter_nodes` (upstream's PreFilterResult).
    fn pre_filter(&self, pod: &Pod, _snapshot: &Snapshot) -> Result<Option<State>, Status> {
        if required_node_selector(pod).is_none() && !has_node_selector(pod) {
            return Ok(None);
        }
        if required_node_names(pod).is_some_and(|names| names.is_empty()) {
            return Err(Status::unresolvable(ERR_REASON_CONFLICT));
        }
        // Upstream keeps the parsed selectors here; nothing needs parsing in this port.
        Ok(Some(no_state()))
    }

    fn pre_filter_nodes(&self, pod: &Pod) -> Option<BTreeSet<String>> {
        required_node_names(pod)
    }

    fn filter(&self, _state: &State, pod: &Pod, node: &NodeInfo) -> Status {
        if required_affinity_matches(pod, &node.node) {
            Status::success()
        } else {
            Status::unresolvable(ERR_REASON_POD)
        }
    }
}

impl ScorePlugin for NodeAffinity {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Skips pods without preferred node affinity.
    fn pre_score(&self, pod: &Pod, _feasible: &[&NodeInfo], _snapshot: &Snapshot) -> Option<State> {
        let preferred = pod_preferred_terms(pod)?;
        Some(Box::new(PreScoreState { preferred }))
    }

    /// The sum of the weights of the preferred terms the node matches.
    fn score(&self, state: &State, pod: &Pod, node: &NodeInfo) -> i64 {
        // Upstream falls back to the pod's terms when PreScore did not run.
        let fallback;
        let preferred = match state.downcast_ref::<PreScoreState>() {
            Some(state) => &state.preferred,
            None => {
                fallback = pod_preferred_terms(pod).unwrap_or_default();
                &fallback
            }
        };
        preferred
            .iter()
            .filter(|t| term_matches(&t.preference, &node.node))
            .map(|t| i64::from(t.weight))
            .sum()
    }

    fn normalize(&self, _state: &State, _pod: &Pod, scores: &mut [i64]) {
        default_normalize(MAX_NODE_SCORE, false, scores);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use k8s_openapi::api::core::v1::Node;
    use serde_json::{Value, json};

    use super::*;

    fn pod(mut spec: Value) -> Pod {
        spec["containers"] = json!([]);
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).unwrap()
    }

    fn node(name: &str, labels: Value) -> NodeInfo {
        let node: Node =
            serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}})).unwrap();
        NodeInfo::new(Arc::new(node))
    }

    /// A pod whose required node affinity has these terms.
    fn required(terms: Value) -> Pod {
        pod(json!({"affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}}))
    }

    fn expr(key: &str, operator: &str, values: &[&str]) -> Value {
        json!({"key": key, "operator": operator, "values": values})
    }

    fn name_in(names: &[&str]) -> Value {
        expr(OBJECT_NAME_FIELD, "In", names)
    }

    /// What PreFilter answers.
    #[derive(Debug, PartialEq)]
    enum Pre {
        /// The test calls Filter without PreFilter.
        NotRun,
        Skip,
        /// Runs, with upstream's PreFilterResult node names (None: all nodes).
        Run(Option<BTreeSet<String>>),
        Conflict,
    }

    fn all_nodes() -> Pre {
        Pre::Run(None)
    }

    fn only_nodes(names: &[&str]) -> Pre {
        Pre::Run(Some(names.iter().map(|n| n.to_string()).collect()))
    }

    struct Case {
        name: &'static str,
        pod: Pod,
        node_name: &'static str,
        labels: Value,
        pre: Pre,
        /// Filter's rejection, None when the node fits.
        reject: Option<&'static str>,
    }

    fn pre_filter_answer(pod: &Pod) -> Pre {
        match NodeAffinity.pre_filter(pod, &Snapshot::default()) {
            Ok(None) => Pre::Skip,
            Ok(Some(_)) => Pre::Run(required_node_names(pod)),
            Err(status) if status == Status::unresolvable(ERR_REASON_CONFLICT) => Pre::Conflict,
            Err(status) => panic!("unexpected PreFilter status {status:?}"),
        }
    }

    fn check(case: Case) {
        let name = case.name;
        if case.pre != Pre::NotRun {
            assert_eq!(pre_filter_answer(&case.pod), case.pre, "{name}: PreFilter");
        }
        // Filter does not depend on PreFilter's state, as upstream's fallback.
        let node = node(case.node_name, case.labels);
        let status = NodeAffinity.filter(&no_state(), &case.pod, &node);
        let want = case
            .reject
            .map_or_else(Status::success, Status::unresolvable);
        assert_eq!(status, want, "{name}");
    }

    /// Upstream `TestNodeAffinity`, without the `addedAffinity` cases.
    #[test]
    fn pre_filter_and_filter() {
        let no_match = Some(ERR_REASON_POD);
        let cases = vec![
            Case {
                name: "missing labels",
                pod: pod(json!({"nodeSelector": {"foo": "bar"}})),
                node_name: "",
                labels: json!(null),
                pre: all_nodes(),
                reject: no_match,
            },
            Case {
                name: "same labels",
                pod: pod(json!({"nodeSelector": {"foo": "bar"}})),
                node_name: "",
                labels: json!({"foo": "bar"}),
                pre: all_nodes(),
                reject: None,
            },
            Case {
                name: "node labels are superset",
                pod: pod(json!({"nodeSelector": {"foo": "bar"}})),
                node_name: "",
                labels: json!({"foo": "bar", "baz": "blah"}),
                pre: all_nodes(),
                reject: None,
            },
            Case {
                name: "node labels are subset",
                pod: pod(json!({"nodeSelector": {"foo": "bar", "baz": "blah"}})),
                node_name: "",
                labels: json!({"foo": "bar"}),
                pre: all_nodes(),
                reject: no_match,
            },
            Case {
                name: "matchExpressions with In that matches the node",
                pod: required(
                    json!([{"matchExpressions": [expr("foo", "In", &["bar", "value2"])]}]),
                ),
                node_name: "",
                labels: json!({"foo": "bar"}),
                pre: all_nodes(),
                reject: None,
            },
            Case {
                name: "matchExpressions with Gt that matches the node",
                pod: required(
                    json!([{"matchExpressions": [expr("kernel-version", "Gt", &["0204"])]}]),
                ),
                node_name: "",
                labels: json!({"kernel-version": "0206"}),
                pre: all_nodes(),
                reject: None,
            },
            Case {
                name: "matchExpressions with NotIn that matches the node",
                pod: required(
                    json!([{"matchExpressions": [expr("mem-type", "NotIn", &["DDR", "DDR2"])]}]),
                ),
                node_name: "",
                labels: json!({"mem-type": "DDR3"}),
                pre: all_nodes(),
                reject: None,
            },
            Case {
                name: "matchExpressions with Exists that matches the node",
                pod: required(
                    json!([{"matchExpressions": [{"key": "GPU", "operator": "Exists"}]}]),
                ),
                node_name: "",
                labels: json!({"GPU": "NVIDIA-GRID-K1"}),
                pre: all_nodes(),
                reject: None,
            },
            Case {
                name: "affinity that doesn't match the node's labels",
                pod: required(
                    json!([{"matchExpressions": [expr("foo", "In", &["value1", "value2"])]}]),
                ),
                node_name: "",
                labels: json!({"foo": "bar"}),
                pre: all_nodes(),
                reject: no_match,
            },
            Case {
                name: "empty matchExpressions match no node",
                pod: required(json!([{"matchExpressions": []}])),
                node_name: "",
                labels: json!({"foo": "bar"}),
                pre: all_nodes(),
                reject: no_match,
            },
            Case {
                name: "no affinity",
                pod: pod(json!({})),
                node_name: "",
                labels: json!({"foo": "bar"}),
                pre: Pre::Skip,
                reject: None,
            },
            Case {
                name: "node affinity without a required node selector",
                pod: pod(json!({"affinity": {"nodeAffinity": {}}})),
                node_name: "",
                labels: json!({"foo": "bar"}),
                pre: Pre::Skip,
                reject: None,
            },
            Case {
                name: "multiple matchExpressions ANDed that match the node",
                pod: required(json!([{"matchExpressions": [
                    {"key": "GPU", "operator": "Exists"},
                    expr("GPU", "NotIn", &["AMD", "INTER"])]}])),
                node_name: "",
                labels: json!({"GPU": "NVIDIA-GRID-K1"}),
                pre: all_nodes(),
                reject: None,
            },
            Case {
                name: "multiple matchExpressions ANDed that don't match the node",
                pod: required(json!([{"matchExpressions": [
                    {"key": "GPU", "operator": "Exists"},
                    expr("GPU", "In", &["AMD", "INTER"])]}])),
                node_name: "",
                labels: json!({"GPU": "NVIDIA-GRID-K1"}),
                pre: all_nodes(),
                reject: no_match,
            },
            Case {
                name: "multiple terms ORed, one matches the node",
                pod: required(json!([
                    {"matchExpressions": [expr("foo", "In", &["bar", "value2"])]},
                    {"matchExpressions": [expr("diffkey", "In", &["wrong", "value2"])]}])),
                node_name: "",
                labels: json!({"foo": "bar"}),
                pre: all_nodes(),
                reject: None,
            },
            Case {
                name: "affinity and nodeSelector both satisfied",
                pod: pod(
                    json!({"nodeSelector": {"foo": "bar"}, "affinity": {"nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "foo", "operator": "Exists"}]}]}}}}),
                ),
                node_name: "",
                labels: json!({"foo": "bar"}),
                pre: all_nodes(),
                reject: None,
            },
            Case {
                name: "affinity matches but nodeSelector is not satisfied",
                pod: pod(
                    json!({"nodeSelector": {"foo": "bar"}, "affinity": {"nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "foo", "operator": "Exists"}]}]}}}}),
                ),
                node_name: "",
                labels: json!({"foo": "barrrrrr"}),
                pre: all_nodes(),
                reject: no_match,
            },
            Case {
                name: "matchFields with In that matches the node",
                pod: required(json!([{"matchFields": [name_in(&["node1"])]}])),
                node_name: "node1",
                labels: json!(null),
                pre: only_nodes(&["node1"]),
                reject: None,
            },
            Case {
                name: "matchFields with In that does not match the node",
                pod: required(json!([{"matchFields": [name_in(&["node1"])]}])),
                node_name: "node2",
                labels: json!(null),
                pre: only_nodes(&["node1"]),
                reject: no_match,
            },
            Case {
                name: "two terms: matchFields does not match, but matchExpressions matches",
                pod: required(json!([
                    {"matchFields": [name_in(&["node1"]), name_in(&["node2"])]},
                    {"matchExpressions": [expr("foo", "In", &["bar"])]}])),
                node_name: "node2",
                labels: json!({"foo": "bar"}),
                pre: all_nodes(),
                reject: None,
            },
            Case {
                name: "one term: matchFields does not match, but matchExpressions matches",
                pod: required(json!([{
                    "matchFields": [name_in(&["node1"])],
                    "matchExpressions": [expr("foo", "In", &["bar"])]}])),
                node_name: "node2",
                labels: json!({"foo": "bar"}),
                pre: only_nodes(&["node1"]),
                reject: no_match,
            },
            Case {
                name: "one term: both matchFields and matchExpressions match",
                pod: required(json!([{
                    "matchFields": [name_in(&["node1"])],
                    "matchExpressions": [expr("foo", "In", &["bar"])]}])),
                node_name: "node1",
                labels: json!({"foo": "bar"}),
                pre: only_nodes(&["node1"]),
                reject: None,
            },
            Case {
                name: "two terms: both matchFields and matchExpressions do not match",
                pod: required(json!([
                    {"matchFields": [name_in(&["node1"])]},
                    {"matchExpressions": [expr("foo", "In", &["not-match-to-bar"])]}])),
                node_name: "node2",
                labels: json!({"foo": "bar"}),
                pre: all_nodes(),
                reject: no_match,
            },
            Case {
                name: "two terms of node.Name affinity",
                pod: required(json!([
                    {"matchFields": [name_in(&["node1"])]},
                    {"matchFields": [name_in(&["node2"])]}])),
                node_name: "node2",
                labels: json!(null),
                pre: only_nodes(&["node1", "node2"]),
                reject: None,
            },
            Case {
                name: "two conflicting matchFields requirements",
                pod: required(json!([{"matchFields": [name_in(&["node1"]), name_in(&["node2"])]}])),
                node_name: "node2",
                labels: json!({"foo": "bar"}),
                pre: Pre::Conflict,
                reject: no_match,
            },
            Case {
                name: "matches the node selector even if PreFilter is not called",
                pod: pod(json!({"nodeSelector": {"foo": "bar"}})),
                node_name: "",
                labels: json!({"foo": "bar", "baz": "blah"}),
                pre: Pre::NotRun,
                reject: None,
            },
            Case {
                name: "matches node affinity even if PreFilter is not called",
                pod: required(json!([{"matchExpressions": [
                    {"key": "GPU", "operator": "Exists"},
                    expr("GPU", "NotIn", &["AMD", "INTER"])]}])),
                node_name: "",
                labels: json!({"GPU": "NVIDIA-GRID-K1"}),
                pre: Pre::NotRun,
                reject: None,
            },
        ];
        for case in cases {
            check(case);
        }
    }

    /// Upstream `TestNodeAffinity`, "Pod with an invalid value in Affinity term won't be
    /// scheduled onto the node": upstream's label requirement parsing rejects the value, so
    /// the term matches nothing; `node_selector` does not validate values yet.
    #[test]
    fn a_term_with_an_invalid_value_matches_no_node() {
        check(Case {
            name: "invalid value in an affinity term",
            pod: required(json!([{"matchExpressions": [
                expr("foo", "NotIn", &["invalid value: ___@#$%^"])]}])),
            node_name: "",
            labels: json!({"foo": "bar"}),
            pre: all_nodes(),
            reject: Some(ERR_REASON_POD),
        });
    }

    fn preferred(terms: Value) -> Pod {
        pod(json!({"affinity": {"nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": terms}}}))
    }

    /// Runs PreScore (or not), Score and NormalizeScore over the nodes, in order; None when
    /// PreScore skips the pod.
    fn scores(pod: &Pod, nodes: &[NodeInfo], run_pre_score: bool) -> Option<Vec<i64>> {
        let feasible: Vec<&NodeInfo> = nodes.iter().collect();
        let snapshot = Snapshot {
            nodes: nodes.to_vec(),
        };
        let state = if run_pre_score {
            NodeAffinity.pre_score(pod, &feasible, &snapshot)?
        } else {
            no_state()
        };
        let mut scores: Vec<i64> = nodes
            .iter()
            .map(|n| NodeAffinity.score(&state, pod, n))
            .collect();
        NodeAffinity.normalize(&state, pod, &mut scores);
        Some(scores)
    }

    /// Upstream `TestNodeAffinityPriority`, without the `addedAffinity` cases and the
    /// broken-affinity PreScore error.
    #[test]
    fn score() {
        let label1 = json!({"foo": "bar"});
        let label2 = json!({"key": "value"});
        let label3 = json!({"az": "az1"});
        let label4 = json!({"abc": "az11", "def": "az22"});
        let label5 = json!({"foo": "bar", "key": "value", "az": "az1"});
        let affinity1 = json!([{"weight": 2, "preference": {"matchExpressions": [
            expr("foo", "In", &["bar"])]}}]);
        let affinity2 = json!([
            {"weight": 2, "preference": {"matchExpressions": [expr("foo", "In", &["bar"])]}},
            {"weight": 4, "preference": {"matchExpressions": [expr("key", "In", &["value"])]}},
            {"weight": 5, "preference": {"matchExpressions": [
                expr("foo", "In", &["bar"]),
                expr("key", "In", &["value"]),
                expr("az", "In", &["az1"])]}}
        ]);
        let nodes = |labels: [&Value; 3]| -> Vec<NodeInfo> {
            labels
                .iter()
                .enumerate()
                .map(|(i, l)| node(&format!("node{i}"), (*l).clone()))
                .collect()
        };

        // "all nodes are same priority as NodeAffinity is nil" (PreScore not run).
        let no_affinity = pod(json!({}));
        assert_eq!(
            scores(&no_affinity, &nodes([&label1, &label2, &label3]), false),
            Some(vec![0, 0, 0])
        );
        // "Skip is returned in PreScore when NodeAffinity is nil".
        assert_eq!(
            scores(&no_affinity, &nodes([&label1, &label2, &label3]), true),
            None
        );

        let cases = [
            (
                "no node matches the preferred terms, all score zero",
                &affinity1,
                [&label4, &label2, &label3],
                true,
                vec![0, 0, 0],
            ),
            (
                "only node1 matches the preferred terms",
                &affinity1,
                [&label1, &label2, &label3],
                true,
                vec![MAX_NODE_SCORE, 0, 0],
            ),
            (
                "all nodes match the preferred terms, with different priorities",
                &affinity2,
                [&label1, &label5, &label2],
                true,
                vec![18, MAX_NODE_SCORE, 36],
            ),
            (
                "priorities are right even if PreScore is not called",
                &affinity2,
                [&label1, &label5, &label2],
                false,
                vec![18, MAX_NODE_SCORE, 36],
            ),
        ];
        for (name, terms, labels, run_pre_score, want) in cases {
            let got = scores(&preferred(terms.clone()), &nodes(labels), run_pre_score);
            assert_eq!(got, Some(want), "{name}");
        }
    }
}

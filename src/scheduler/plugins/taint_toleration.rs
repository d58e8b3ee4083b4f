//! TaintToleration: a pod goes only where it tolerates every `NoSchedule` and `NoExecute`
//! taint, and prefers nodes with fewer `PreferNoSchedule` taints it does not tolerate
//! (upstream `pkg/scheduler/framework/plugins/tainttoleration/taint_toleration.go`).
//!
//! Toleration matching follows `k8s.io/component-helpers/scheduling/corev1/helpers.go`
//! (`TolerationsTolerateTaint`, `FindMatchingUntoleratedTaint`) and k8s.io/api's
//! `Toleration.ToleratesTaint`. The `Lt`/`Gt` operators are behind the alpha feature gate
//! `TaintTolerationComparisonOperators`, off by default in v1.36: such a toleration tolerates
//! nothing, as upstream with the gate off.

use k8s_openapi::api::core::v1::{Node, Taint, Toleration};

use crate::scheduler::framework::{
    FilterPlugin, MAX_NODE_SCORE, NodeInfo, ScorePlugin, Snapshot, State, Status,
    default_normalize, state_of,
};
use crate::scheduler::pod::Pod;

pub const NAME: &str = "TaintToleration";
/// The default profile's score weight.
pub const WEIGHT: i64 = 3;

/// Upstream's Filter reason, word for word (it does not name the taint).
pub const ERR_REASON_UNTOLERATED: &str = "node(s) had untolerated taint(s)";

pub const EFFECT_NO_SCHEDULE: &str = "NoSchedule";
pub const EFFECT_PREFER_NO_SCHEDULE: &str = "PreferNoSchedule";
pub const EFFECT_NO_EXECUTE: &str = "NoExecute";

/// Upstream `Toleration.ToleratesTaint`: an empty effect matches every effect, an empty key
/// (with `Exists`) every key; `Exists` matches any value, `Equal` (or no operator) the same
/// value.
pub fn toleration_tolerates_taint(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or_default();
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or_default();
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or_default() {
        "" | "Equal" => {
            toleration.value.as_deref().unwrap_or_default()
                == taint.value.as_deref().unwrap_or_default()
        }
        "Exists" => true,
        // "Lt", "Gt" (feature gate off) and unknown operators.
        _ => false,
    }
}

/// Upstream `TolerationsTolerateTaint`: whether any of the tolerations tolerates the taint.
pub fn tolerations_tolerate_taint(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations
        .iter()
        .any(|t| toleration_tolerates_taint(t, taint))
}

/// Upstream `FindMatchingUntoleratedTaint`: the first taint selected by `include` that no
/// toleration tolerates.
pub fn find_matching_untolerated_taint<'a>(
    taints: &'a [Taint],
    tolerations: &[Toleration],
    include: impl Fn(&Taint) -> bool,
) -> Option<&'a Taint> {
    taints
        .iter()
        .filter(|t| include(t))
        .find(|t| !tolerations_tolerate_taint(tolerations, t))
}

/// Upstream `helper.DoNotScheduleTaintsFilterFunc`: the taints that keep pods off a node.
pub fn is_do_not_schedule_taint(taint: &Taint) -> bool {
    taint.effect == EFFECT_NO_SCHEDULE || taint.effect == EFFECT_NO_EXECUTE
}

/// The pod's tolerations (none without a spec).
pub fn pod_tolerations(pod: &Pod) -> &[Toleration] {
    pod.spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or_default()
}

/// The node's taints (none without a spec).
pub fn node_taints(node: &Node) -> &[Taint] {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or_default()
}

/// Upstream `getAllTolerationPreferNoSchedule`: only these can tolerate a
/// `PreferNoSchedule` taint, so scoring looks at nothing else.
fn tolerations_prefer_no_schedule(tolerations: &[Toleration]) -> Vec<Toleration> {
    tolerations
        .iter()
        .filter(|t| {
            let effect = t.effect.as_deref().unwrap_or_default();
            effect.is_empty() || effect == EFFECT_PREFER_NO_SCHEDULE
        })
        .cloned()
        .collect()
}

/// Upstream `countIntolerableTaintsPreferNoSchedule`.
fn count_intolerable_prefer_no_schedule(taints: &[Taint], tolerations: &[Toleration]) -> i64 {
    let intolerable = taints
        .iter()
        .filter(|t| t.effect == EFFECT_PREFER_NO_SCHEDULE)
        .filter(|t| !tolerations_tolerate_taint(tolerations, t))
        .count();
    i64::try_from(intolerable).unwrap_or(i64::MAX)
}

/// What PreScore keeps for Score (upstream `preScoreState`).
struct PreScoreState {
    tolerations_prefer_no_schedule: Vec<Toleration>,
}

pub struct TaintToleration;

impl FilterPlugin for TaintToleration {
    fn name(&self) -> &'static str {
        NAME
    }

    fn filter(&self, _state: &State, pod: &Pod, node: &NodeInfo) -> Status {
        let untolerated = find_matching_untolerated_taint(
            node_taints(&node.node),
            pod_tolerations(pod),
            is_do_not_schedule_taint,
        );
        match untolerated {
            Some(_) => Status::unresolvable(ERR_REASON_UNTOLERATED),
            None => Status::success(),
        }
    }
}

impl ScorePlugin for TaintToleration {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_score(&self, pod: &Pod, _feasible: &[&NodeInfo], _snapshot: &Snapshot) -> Option<State> {
        Some(Box::new(PreScoreState {
            tolerations_prefer_no_schedule: tolerations_prefer_no_schedule(pod_tolerations(pod)),
        }))
    }

    /// The number of `PreferNoSchedule` taints the pod does not tolerate: lower is better.
    fn score(&self, state: &State, _pod: &Pod, node: &NodeInfo) -> i64 {
        let state = state_of::<PreScoreState>(state);
        count_intolerable_prefer_no_schedule(
            node_taints(&node.node),
            &state.tolerations_prefer_no_schedule,
        )
    }

    fn normalize(&self, _state: &State, _pod: &Pod, scores: &mut [i64]) {
        default_normalize(MAX_NODE_SCORE, true, scores);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{Value, json};

    use super::*;
    use crate::scheduler::framework::no_state;

    fn pod_with_tolerations(tolerations: Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "pod1"},
            "spec": {"containers": [], "tolerations": tolerations}
        }))
        .unwrap()
    }

    fn node_with_taints(name: &str, taints: Value) -> NodeInfo {
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"taints": taints}
        }))
        .unwrap();
        NodeInfo::new(Arc::new(node))
    }

    /// k8s.io/api `TestTolerationToleratesTaint`, the cases with the comparison-operator
    /// gate off (the default), plus what `Lt`/`Gt` do with it off.
    #[test]
    fn toleration_tolerates_taint_cases() {
        let cases = [
            (
                "same key and effect, Exists, taint has no value",
                json!({"key": "foo", "operator": "Exists", "effect": "NoSchedule"}),
                json!({"key": "foo", "effect": "NoSchedule"}),
                true,
            ),
            (
                "same key and effect, Exists, taint has some value",
                json!({"key": "foo", "operator": "Exists", "effect": "NoSchedule"}),
                json!({"key": "foo", "value": "bar", "effect": "NoSchedule"}),
                true,
            ),
            (
                "same effect, empty key and Exists matches all taints",
                json!({"key": "", "operator": "Exists", "effect": "NoSchedule"}),
                json!({"key": "foo", "value": "bar", "effect": "NoSchedule"}),
                true,
            ),
            (
                "same key, effect and value, Equal",
                json!({"key": "foo", "operator": "Equal", "value": "bar", "effect": "NoSchedule"}),
                json!({"key": "foo", "value": "bar", "effect": "NoSchedule"}),
                true,
            ),
            (
                "same key and effect, different values, Equal",
                json!({"key": "foo", "operator": "Equal", "value": "value1", "effect": "NoSchedule"}),
                json!({"key": "foo", "value": "value2", "effect": "NoSchedule"}),
                false,
            ),
            (
                "same key and value, different effects, Equal",
                json!({"key": "foo", "operator": "Equal", "value": "bar", "effect": "NoSchedule"}),
                json!({"key": "foo", "value": "bar", "effect": "NoExecute"}),
                false,
            ),
            (
                "Gt with the gate off tolerates nothing",
                json!({"key": "node.kubernetes.io/sla", "operator": "Gt", "value": "750", "effect": "NoSchedule"}),
                json!({"key": "node.kubernetes.io/sla", "value": "950", "effect": "NoSchedule"}),
                false,
            ),
            (
                "Lt with the gate off tolerates nothing",
                json!({"key": "node.kubernetes.io/sla", "operator": "Lt", "value": "950", "effect": "NoSchedule"}),
                json!({"key": "node.kubernetes.io/sla", "value": "800", "effect": "NoSchedule"}),
                false,
            ),
        ];
        for (name, toleration, taint, want) in cases {
            let toleration: Toleration = serde_json::from_value(toleration).unwrap();
            let taint: Taint = serde_json::from_value(taint).unwrap();
            assert_eq!(
                toleration_tolerates_taint(&toleration, &taint),
                want,
                "{name}"
            );
        }
    }

    /// Upstream `TestTaintTolerationFilter` and `TestTaintTolerationFilterWithFeatureGate`
    /// (the cases with the gate off).
    #[test]
    fn filter() {
        let untolerated = Some(ERR_REASON_UNTOLERATED);
        let cases = [
            (
                "a pod having no tolerations can't be scheduled onto a node with nonempty taints",
                json!([]),
                json!([{"key": "dedicated", "value": "user1", "effect": "NoSchedule"}]),
                untolerated,
            ),
            (
                "a pod which can be scheduled on a dedicated node assigned to user1 with effect NoSchedule",
                json!([{"key": "dedicated", "value": "user1", "effect": "NoSchedule"}]),
                json!([{"key": "dedicated", "value": "user1", "effect": "NoSchedule"}]),
                None,
            ),
            (
                "a pod which can't be scheduled on a dedicated node assigned to user2 with effect NoSchedule",
                json!([{"key": "dedicated", "operator": "Equal", "value": "user2", "effect": "NoSchedule"}]),
                json!([{"key": "dedicated", "value": "user1", "effect": "NoSchedule"}]),
                untolerated,
            ),
            (
                "a toleration with operator Exists tolerates the taints on the node",
                json!([{"key": "foo", "operator": "Exists", "effect": "NoSchedule"}]),
                json!([{"key": "foo", "value": "bar", "effect": "NoSchedule"}]),
                None,
            ),
            (
                "multiple tolerations, multiple taints, all tolerated",
                json!([
                    {"key": "dedicated", "operator": "Equal", "value": "user2", "effect": "NoSchedule"},
                    {"key": "foo", "operator": "Exists", "effect": "NoSchedule"}
                ]),
                json!([
                    {"key": "dedicated", "value": "user2", "effect": "NoSchedule"},
                    {"key": "foo", "value": "bar", "effect": "NoSchedule"}
                ]),
                None,
            ),
            (
                "keys and values match, but the (non-empty) effect doesn't",
                json!([{"key": "foo", "operator": "Equal", "value": "bar", "effect": "PreferNoSchedule"}]),
                json!([{"key": "foo", "value": "bar", "effect": "NoSchedule"}]),
                untolerated,
            ),
            (
                "keys and values match, the toleration's effect is empty, the taint's NoSchedule",
                json!([{"key": "foo", "operator": "Equal", "value": "bar"}]),
                json!([{"key": "foo", "value": "bar", "effect": "NoSchedule"}]),
                None,
            ),
            (
                "key and value don't match, but the taint's effect is PreferNoSchedule",
                json!([{"key": "dedicated", "operator": "Equal", "value": "user2", "effect": "NoSchedule"}]),
                json!([{"key": "dedicated", "value": "user1", "effect": "PreferNoSchedule"}]),
                None,
            ),
            (
                "no toleration, but the taint's effect is PreferNoSchedule",
                json!([]),
                json!([{"key": "dedicated", "value": "user1", "effect": "PreferNoSchedule"}]),
                None,
            ),
            (
                "Gt toleration cannot be scheduled when feature gate is disabled",
                json!([{"key": "node.kubernetes.io/sla", "operator": "Gt", "value": "750", "effect": "NoSchedule"}]),
                json!([{"key": "node.kubernetes.io/sla", "value": "950", "effect": "NoSchedule"}]),
                untolerated,
            ),
            (
                "Lt toleration cannot be scheduled when feature gate is disabled",
                json!([{"key": "node.kubernetes.io/sla", "operator": "Lt", "value": "950", "effect": "NoSchedule"}]),
                json!([{"key": "node.kubernetes.io/sla", "value": "800", "effect": "NoSchedule"}]),
                untolerated,
            ),
            (
                "mixed tolerations (Equal and Gt), gate disabled: only Equal is honored",
                json!([
                    {"key": "dedicated", "operator": "Equal", "value": "user1", "effect": "NoSchedule"},
                    {"key": "node.kubernetes.io/sla", "operator": "Gt", "value": "750", "effect": "NoSchedule"}
                ]),
                json!([{"key": "dedicated", "value": "user1", "effect": "NoSchedule"}]),
                None,
            ),
            (
                "mixed tolerations, the Gt toleration needed but ignored with the gate disabled",
                json!([
                    {"key": "dedicated", "operator": "Equal", "value": "user1", "effect": "NoSchedule"},
                    {"key": "node.kubernetes.io/sla", "operator": "Gt", "value": "750", "effect": "NoSchedule"}
                ]),
                json!([
                    {"key": "dedicated", "value": "user1", "effect": "NoSchedule"},
                    {"key": "node.kubernetes.io/sla", "value": "950", "effect": "NoSchedule"}
                ]),
                untolerated,
            ),
            (
                "a NoExecute taint keeps an intolerant pod off too",
                json!([]),
                json!([{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]),
                untolerated,
            ),
        ];
        for (name, tolerations, taints, want) in cases {
            let pod = pod_with_tolerations(tolerations);
            let node = node_with_taints("nodeA", taints);
            let status = TaintToleration.filter(&no_state(), &pod, &node);
            let want = match want {
                Some(reason) => Status::unresolvable(reason),
                None => Status::success(),
            };
            assert_eq!(status, want, "{name}");
        }
    }

    fn scores(pod: &Pod, nodes: &[NodeInfo]) -> Vec<i64> {
        let feasible: Vec<&NodeInfo> = nodes.iter().collect();
        let snapshot = Snapshot {
            nodes: nodes.to_vec(),
        };
        let state = TaintToleration
            .pre_score(pod, &feasible, &snapshot)
            .expect("TaintToleration scores every pod");
        let mut scores: Vec<i64> = nodes
            .iter()
            .map(|n| TaintToleration.score(&state, pod, n))
            .collect();
        TaintToleration.normalize(&state, pod, &mut scores);
        scores
    }

    /// Upstream `TestTaintTolerationScore` (the cases with the comparison-operator gate off).
    #[test]
    fn score() {
        let arm = json!({"key": "cpu-type", "value": "arm64", "effect": "PreferNoSchedule"});
        let ssd = json!({"key": "disk-type", "value": "ssd", "effect": "PreferNoSchedule"});
        let cases = [
            (
                "a node whose taints the pod tolerates scores higher than one with intolerable taints",
                json!([{"key": "foo", "operator": "Equal", "value": "bar", "effect": "PreferNoSchedule"}]),
                vec![
                    json!([{"key": "foo", "value": "bar", "effect": "PreferNoSchedule"}]),
                    json!([{"key": "foo", "value": "blah", "effect": "PreferNoSchedule"}]),
                ],
                vec![MAX_NODE_SCORE, 0],
            ),
            (
                "nodes whose taints are all tolerated score the same, however many they have",
                json!([
                    {"key": "cpu-type", "operator": "Equal", "value": "arm64", "effect": "PreferNoSchedule"},
                    {"key": "disk-type", "operator": "Equal", "value": "ssd", "effect": "PreferNoSchedule"}
                ]),
                vec![json!([]), json!([arm]), json!([arm, ssd])],
                vec![MAX_NODE_SCORE, MAX_NODE_SCORE, MAX_NODE_SCORE],
            ),
            (
                "the more intolerable taints a node has, the lower it scores",
                json!([{"key": "foo", "operator": "Equal", "value": "bar", "effect": "PreferNoSchedule"}]),
                vec![json!([]), json!([arm]), json!([arm, ssd])],
                vec![MAX_NODE_SCORE, 50, 0],
            ),
            (
                "only PreferNoSchedule taints and tolerations count",
                json!([
                    {"key": "cpu-type", "operator": "Equal", "value": "arm64", "effect": "NoSchedule"},
                    {"key": "disk-type", "operator": "Equal", "value": "ssd", "effect": "NoSchedule"}
                ]),
                vec![
                    json!([]),
                    json!([{"key": "cpu-type", "value": "arm64", "effect": "NoSchedule"}]),
                    json!([arm, ssd]),
                ],
                vec![MAX_NODE_SCORE, MAX_NODE_SCORE, 0],
            ),
            (
                "no taints and no tolerations: the untainted node wins",
                json!([]),
                vec![json!([]), json!([arm])],
                vec![MAX_NODE_SCORE, 0],
            ),
        ];
        for (name, tolerations, taints, want) in cases {
            let pod = pod_with_tolerations(tolerations);
            let nodes: Vec<NodeInfo> = taints
                .into_iter()
                .enumerate()
                .map(|(i, t)| node_with_taints(&format!("node{i}"), t))
                .collect();
            assert_eq!(scores(&pod, &nodes), want, "{name}");
        }
    }
}

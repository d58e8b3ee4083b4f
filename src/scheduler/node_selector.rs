//! Node selectors (upstream `k8s.io/component-helpers/scheduling/corev1/nodeaffinity`): the
//! pod's `nodeSelector` and required node affinity, and node selector terms, matched against
//! a node's labels and fields.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, NodeSelectorRequirement, NodeSelectorTerm};

use super::pod::Pod;

/// Whether a requirement holds for `value` (the label's value, None when the node has no
/// such label), as `nodeSelectorRequirementsAsSelector` builds it.
pub fn requirement_matches(requirement: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = requirement.values.as_deref().unwrap_or_default();
    match requirement.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| values.iter().all(|x| x != v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        // One integer value; a label that is not an integer does not match.
        "Gt" | "Lt" => {
            let (Some(v), [bound]) = (value, values) else {
                return false;
            };
            match (v.parse::<i64>(), bound.parse::<i64>()) {
                (Ok(v), Ok(bound)) if requirement.operator == "Gt" => v > bound,
                (Ok(v), Ok(bound)) => v < bound,
                _ => false,
            }
        }
        _ => false,
    }
}

/// A valid label value (upstream `IsValidLabelValue`): at most 63 characters, alphanumeric
/// at both ends, `-`, `_` and `.` inside, or empty.
fn is_valid_label_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    if bytes.is_empty() {
        return true;
    }
    let alnum = |b: &u8| b.is_ascii_alphanumeric();
    bytes.len() <= 63
        && alnum(&bytes[0])
        && alnum(&bytes[bytes.len() - 1])
        && bytes
            .iter()
            .all(|b| alnum(b) || matches!(b, b'-' | b'_' | b'.'))
}

/// Upstream builds a label selector from the expressions and a term whose values are not
/// valid label values matches no node.
fn values_valid(requirement: &NodeSelectorRequirement) -> bool {
    requirement
        .values
        .iter()
        .flatten()
        .all(|v| is_valid_label_value(v))
}

/// Whether a term matches: all its label expressions and all its field expressions (only
/// `metadata.name` exists). A term with neither matches no node.
pub fn term_matches(term: &NodeSelectorTerm, node: &Node) -> bool {
    let expressions = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if expressions.is_empty() && fields.is_empty() {
        return false;
    }
    if !expressions.iter().all(values_valid) {
        return false;
    }
    let labels = node.metadata.labels.as_ref();
    let labels_match = expressions
        .iter()
        .all(|r| requirement_matches(r, labels.and_then(|l| l.get(&r.key)).map(String::as_str)));
    let fields_match = fields.iter().all(|r| {
        r.key == "metadata.name"
            && matches!(r.operator.as_str(), "In" | "NotIn")
            && requirement_matches(r, node.metadata.name.as_deref())
    });
    labels_match && fields_match
}

/// Whether any term matches (upstream `NodeSelector.Match`; no terms match nothing).
pub fn any_term_matches(terms: &[NodeSelectorTerm], node: &Node) -> bool {
    terms.iter().any(|t| term_matches(t, node))
}

fn selector_matches(selector: &BTreeMap<String, String>, node: &Node) -> bool {
    let labels = node.metadata.labels.as_ref();
    selector
        .iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

/// Upstream `GetRequiredNodeAffinity(pod).Match(node)`: the pod's `nodeSelector` and its
/// required node affinity terms (if any) both hold for the node.
pub fn required_affinity_matches(pod: &Pod, node: &Node) -> bool {
    let Some(spec) = pod.spec.as_ref() else {
        return true;
    };
    if let Some(selector) = spec.node_selector.as_ref()
        && !selector_matches(selector, node)
    {
        return false;
    }
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    match required {
        Some(selector) => any_term_matches(&selector.node_selector_terms, node),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn node(labels: serde_json::Value) -> Node {
        serde_json::from_value(json!({"metadata": {"name": "node-1", "labels": labels}})).unwrap()
    }

    fn requirement(key: &str, operator: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator: operator.into(),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        }
    }

    #[test]
    fn operators() {
        let cases = [
            ("In", &["a", "b"][..], Some("b"), true),
            ("In", &["a"][..], None, false),
            ("NotIn", &["a"][..], None, true),
            ("NotIn", &["a"][..], Some("a"), false),
            ("Exists", &[][..], Some(""), true),
            ("DoesNotExist", &[][..], Some("x"), false),
            ("Gt", &["5"][..], Some("6"), true),
            ("Gt", &["5"][..], Some("5"), false),
            ("Lt", &["5"][..], Some("4"), true),
            ("Lt", &["5"][..], Some("x"), false),
            ("Gt", &["5"][..], None, false),
        ];
        for (op, values, value, want) in cases {
            assert_eq!(
                requirement_matches(&requirement("k", op, values), value),
                want,
                "{op} {values:?} {value:?}"
            );
        }
    }

    #[test]
    fn node_selector_and_required_terms_must_both_hold() {
        let n = node(json!({"zone": "a", "disk": "ssd"}));
        let pod = |spec: serde_json::Value| -> Pod {
            serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).unwrap()
        };
        let terms = |exprs: serde_json::Value| {
            json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
                {"nodeSelectorTerms": exprs}}})
        };
        assert!(required_affinity_matches(
            &pod(json!({"containers": []})),
            &n
        ));
        assert!(required_affinity_matches(
            &pod(json!({"containers": [], "nodeSelector": {"zone": "a"}})),
            &n
        ));
        assert!(!required_affinity_matches(
            &pod(json!({"containers": [], "nodeSelector": {"zone": "b"}})),
            &n
        ));
        // Terms are ORed, expressions within a term ANDed.
        let either = terms(json!([
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]},
            {"matchExpressions": [{"key": "disk", "operator": "Exists"}]}
        ]));
        assert!(required_affinity_matches(
            &pod(json!({"containers": [], "affinity": either})),
            &n
        ));
        let empty_term = terms(json!([{}]));
        assert!(!required_affinity_matches(
            &pod(json!({"containers": [], "affinity": empty_term})),
            &n
        ));
        let by_name = terms(json!([{"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": ["node-1"]}]}]));
        assert!(required_affinity_matches(
            &pod(json!({"containers": [], "affinity": by_name})),
            &n
        ));
    }
}

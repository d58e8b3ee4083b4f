//! Pure decisions of a sync: how many pods to create, which pods to delete, and the pod to
//! create (upstream `manageReplicas`, `getPodsToDelete`, `GetPodFromTemplate`).

use std::collections::HashMap;
use std::sync::Arc;

use crate::controllers::cached_pod::CachedPod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use serde_json::{Map, Value, json};

use super::BURST_REPLICAS;
use crate::api::MiniReplicaSet;
use crate::controllers::pod;
use crate::controllers::ranking::{self, Ranked};

/// What a sync should do about the number of pods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    Create(usize),
    Delete(usize),
    Nothing,
}

/// Compares the number of active pods with `replicas`; at most [`BURST_REPLICAS`] either way.
pub fn plan(replicas: i32, active: usize) -> Plan {
    let diff = active as i64 - i64::from(replicas);
    let count = (diff.unsigned_abs() as usize).min(BURST_REPLICAS);
    match diff.signum() {
        -1 => Plan::Create(count),
        1 => Plan::Delete(count),
        _ => Plan::Nothing,
    }
}

/// The `count` pods to delete first (see [`ranking`] for the order). `related` are the pods
/// of every MiniReplicaSet with the same controlling owner (a MiniDeployment's old and new
/// sets): a node crowded with them loses its pods first.
pub fn pods_to_delete<'a>(
    active: &'a [Arc<CachedPod>],
    related: &[Arc<CachedPod>],
    count: usize,
    now: Timestamp,
) -> Vec<&'a CachedPod> {
    let mut on_node: HashMap<&str, usize> = HashMap::new();
    for pod in related.iter().filter(|p| pod::is_active(p)) {
        *on_node.entry(node_name(pod)).or_default() += 1;
    }
    let mut ranked: Vec<Ranked<'a>> = active
        .iter()
        .map(|pod| Ranked {
            pod,
            rank: on_node.get(node_name(pod)).copied().unwrap_or(0),
        })
        .collect();
    if count < ranked.len() {
        ranking::sort_for_deletion(&mut ranked, now);
    }
    ranked.into_iter().take(count).map(|r| r.pod).collect()
}

fn node_name(pod: &CachedPod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("")
}

/// The controller reference minik8s puts on its pods: deleting the MiniReplicaSet in the
/// foreground waits for them (blockOwnerDeletion), and the garbage collector removes them.
pub fn controller_ref(rs: &MiniReplicaSet) -> OwnerReference {
    OwnerReference {
        api_version: "minik8s.dev/v1alpha1".into(),
        kind: "MiniReplicaSet".into(),
        name: rs.name_any(),
        uid: rs.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// `generateName` of the pods: `<name>-`, or the bare name when that would be too long.
pub fn generate_name(owner: &str) -> String {
    if owner.len() < 253 {
        format!("{owner}-")
    } else {
        owner.to_owned()
    }
}

/// The pod to create, from the template as written: labels, annotations and finalizers of
/// the template's metadata, the whole spec (fields unknown to this build included), the
/// controller reference and a generated name.
pub fn pod_manifest(rs: &MiniReplicaSet) -> Value {
    let template = rs.spec.template.raw();
    let template_meta = template.get("metadata").and_then(Value::as_object);
    let copied = |field: &str, empty: Value| {
        template_meta
            .and_then(|m| m.get(field))
            .cloned()
            .unwrap_or(empty)
    };
    let mut metadata = Map::new();
    metadata.insert("generateName".into(), json!(generate_name(&rs.name_any())));
    metadata.insert(
        "namespace".into(),
        json!(rs.namespace().unwrap_or_default()),
    );
    metadata.insert("labels".into(), copied("labels", json!({})));
    metadata.insert("annotations".into(), copied("annotations", json!({})));
    let finalizers = copied("finalizers", json!([]));
    if finalizers.as_array().is_some_and(|f| !f.is_empty()) {
        metadata.insert("finalizers".into(), finalizers);
    }
    metadata.insert("ownerReferences".into(), json!([controller_ref(rs)]));
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": template.get("spec").cloned().unwrap_or(json!({})),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rs(replicas: i32) -> MiniReplicaSet {
        serde_json::from_value(json!({
            "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniReplicaSet",
            "metadata": {"name": "web", "namespace": "ns", "uid": "rs-uid"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {
                        "labels": {"app": "web"}, "annotations": {"note": "kept"},
                        "finalizers": ["example.com/keep"], "name": "ignored", "namespace": "ignored"
                    },
                    "spec": {"containers": [{"name": "c", "image": "i", "futureField": 1}], "futurePodField": true}
                }
            }
        }))
        .unwrap()
    }

    fn pods(nodes: &[&str]) -> Vec<Arc<CachedPod>> {
        nodes
            .iter()
            .enumerate()
            .map(|(i, node)| {
                Arc::new(
                    serde_json::from_value(json!({
                        "metadata": {"name": format!("p{i}"), "uid": format!("u{i}"), "creationTimestamp": "2026-01-01T00:00:00Z"},
                        "spec": {"nodeName": node, "containers": []},
                        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
                    }))
                    .unwrap(),
                )
            })
            .collect()
    }

    fn now() -> Timestamp {
        "2026-01-02T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn creates_or_deletes_the_difference_up_to_the_burst_limit() {
        assert_eq!(plan(3, 1), Plan::Create(2));
        assert_eq!(plan(2000, 0), Plan::Create(BURST_REPLICAS));
        assert_eq!(plan(1, 1), Plan::Nothing);
        assert_eq!(plan(0, 0), Plan::Nothing);
        assert_eq!(plan(2, 5), Plan::Delete(3));
        assert_eq!(plan(0, 700), Plan::Delete(BURST_REPLICAS));
    }

    #[test]
    fn deletes_all_pods_without_ranking_when_all_must_go() {
        let active = pods(&["a", "b"]);
        assert_eq!(pods_to_delete(&active, &[], 2, now()).len(), 2);
    }

    #[test]
    fn deletes_from_the_node_most_crowded_with_siblings() {
        let active = pods(&["a", "b", "c"]);
        // Sibling pods (of sets with the same owner) crowd node b.
        let related = pods(&["b", "b", "b", "a"]);
        let victims = pods_to_delete(&active, &related, 1, now());
        assert_eq!(
            victims[0].spec.as_ref().unwrap().node_name.as_deref(),
            Some("b")
        );
    }

    #[test]
    fn the_pod_copies_template_metadata_and_the_whole_spec() {
        let pod = pod_manifest(&rs(1));
        assert_eq!(pod["metadata"]["generateName"], "web-");
        assert_eq!(pod["metadata"]["namespace"], "ns");
        assert_eq!(pod["metadata"]["labels"], json!({"app": "web"}));
        assert_eq!(pod["metadata"]["annotations"], json!({"note": "kept"}));
        assert_eq!(pod["metadata"]["finalizers"], json!(["example.com/keep"]));
        assert!(
            pod["metadata"].get("name").is_none(),
            "the template's name is not copied"
        );
        assert_eq!(pod["metadata"]["ownerReferences"][0]["uid"], "rs-uid");
        assert_eq!(pod["metadata"]["ownerReferences"][0]["controller"], true);
        assert_eq!(
            pod["metadata"]["ownerReferences"][0]["blockOwnerDeletion"],
            true
        );
        assert_eq!(pod["spec"]["futurePodField"], true);
        assert_eq!(pod["spec"]["containers"][0]["futureField"], 1);
    }

    #[test]
    fn generate_name_falls_back_to_the_name_when_too_long() {
        assert_eq!(generate_name("web"), "web-");
        let long = "a".repeat(253);
        assert_eq!(generate_name(&long), long);
    }
}

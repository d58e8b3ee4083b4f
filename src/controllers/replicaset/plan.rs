//! Pure decisions of a sync: how many pods to create, which pods to delete, and the pod to
//! create (upstream `manageReplicas`, `getPodsToDelete`, `GetPodFromTemplate`).

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use serde_json::{Map, Value, json};

use super::BURST_REPLICAS;
use crate::api::MiniReplicaSet;
use crate::controllers::pod;
use crate::controllers::ranking::{self, Ranked};

/// What a sync should do about the number of pods.
#[derive(Debug, PartialEq)]
pub enum Plan<'a> {
    Create(usize),
    Delete(Vec<&'a Pod>),
    Nothing,
}

/// Compares the active pods with `replicas`. `related` are the active pods of every
/// MiniReplicaSet with the same controlling owner (a MiniDeployment's old and new sets): a
/// node crowded with them loses its pods first.
pub fn plan<'a>(
    replicas: i32,
    active: &'a [Arc<Pod>],
    related: &[Arc<Pod>],
    now: Timestamp,
) -> Plan<'a> {
    let diff = active.len() as i64 - i64::from(replicas);
    if diff < 0 {
        Plan::Create((-diff as usize).min(BURST_REPLICAS))
    } else if diff > 0 {
        Plan::Delete(pods_to_delete(
            active,
            related,
            (diff as usize).min(BURST_REPLICAS),
            now,
        ))
    } else {
        Plan::Nothing
    }
}

/// The `count` pods to delete first (see [`ranking`] for the order).
pub fn pods_to_delete<'a>(
    active: &'a [Arc<Pod>],
    related: &[Arc<Pod>],
    count: usize,
    now: Timestamp,
) -> Vec<&'a Pod> {
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

fn node_name(pod: &Pod) -> &str {
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

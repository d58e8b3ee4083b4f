//! The pod as the controller-manager caches it: only the fields its controllers read.
//!
//! The shared pod informer holds every pod of the cluster, and a pod as the API serves it is
//! mostly of no use to these controllers (images, commands, environment, volumes,
//! tolerations, container states, most conditions). Decoded as `k8s_openapi`'s `Pod`, each
//! cached pod costs about 12 KiB even with the managed fields dropped; most of it is the
//! inline size of the typed structs (a `Container` alone is over 2 KiB). Decoding straight
//! into this projection skips all of that, so a cached pod costs about a quarter as much, and
//! the bytes that are not kept are never allocated.
//!
//! Field names and shapes follow `Pod`, so the code that reads a cached pod reads as it would
//! read a whole one. Kept: the metadata (of the annotations, the deletion cost only); of the
//! spec the node, hostname, subdomain, and each container's name, ports and restart policy;
//! of the status the phase, pod IPs, the Ready condition and each container's restart count.
//! Nothing ever writes a cached pod back: a pod the controllers change is patched by name.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ContainerPort, Pod, PodCondition, PodIP};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Deserializer, Serialize};

use super::ranking::DELETION_COST;

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct CachedPod {
    #[serde(default, deserialize_with = "metadata_read_by_controllers")]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<CachedPodSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<CachedPodStatus>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedPodSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subdomain: Option<String>,
    #[serde(default)]
    pub containers: Vec<CachedContainer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_containers: Option<Vec<CachedContainer>>,
}

/// A container's name and ports (named target ports resolve against them) and its restart
/// policy (an init container with `Always` is a sidecar, whose ports and restarts count).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedContainer {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<ContainerPort>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedPodStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    #[serde(default, rename = "podIP", skip_serializing_if = "Option::is_none")]
    pub pod_ip: Option<String>,
    #[serde(default, rename = "podIPs", skip_serializing_if = "Option::is_none")]
    pub pod_ips: Option<Vec<PodIP>>,
    /// The Ready condition only: no controller here reads another.
    #[serde(
        default,
        deserialize_with = "ready_condition_only",
        skip_serializing_if = "Option::is_none"
    )]
    pub conditions: Option<Vec<PodCondition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_statuses: Option<Vec<CachedContainerStatus>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_container_statuses: Option<Vec<CachedContainerStatus>>,
}

/// What ranking pods for deletion reads of a container's status.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedContainerStatus {
    pub name: String,
    #[serde(default)]
    pub restart_count: i32,
}

crate::runtime::pod_projection::pod_projection!(CachedPod);

/// The projection of a whole pod, exactly as the informer would decode it from the API.
impl From<&Pod> for CachedPod {
    fn from(pod: &Pod) -> Self {
        let json = serde_json::to_value(pod).expect("a Pod serializes");
        serde_json::from_value(json).expect("a serialized Pod decodes as a CachedPod")
    }
}

impl From<Pod> for CachedPod {
    fn from(pod: Pod) -> Self {
        Self::from(&pod)
    }
}

fn metadata_read_by_controllers<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<ObjectMeta, D::Error> {
    let mut metadata = ObjectMeta::deserialize(deserializer)?;
    metadata.managed_fields = None;
    metadata.annotations = metadata
        .annotations
        .take()
        .map(|annotations| {
            annotations
                .into_iter()
                .filter(|(key, _)| key == DELETION_COST)
                .collect::<BTreeMap<_, _>>()
        })
        .filter(|kept| !kept.is_empty());
    Ok(metadata)
}

fn ready_condition_only<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<PodCondition>>, D::Error> {
    let conditions = Option::<Vec<PodCondition>>::deserialize(deserializer)?;
    Ok(conditions.map(|conditions| {
        conditions
            .into_iter()
            .filter(|c| c.type_ == "Ready")
            .collect()
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A pod as a node reports it, with most of what the API serves.
    fn served_pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": {
                "name": "web-1", "namespace": "ns", "uid": "u1", "resourceVersion": "7",
                "labels": {"app": "web"},
                "annotations": {DELETION_COST: "5", "note": "dropped"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "name": "web", "uid": "rs", "controller": true}],
                "managedFields": [{"manager": "kubectl", "operation": "Apply"}],
                "deletionTimestamp": "2026-06-01T12:00:00Z"
            },
            "spec": {
                "nodeName": "node-1", "hostname": "h", "subdomain": "s",
                "containers": [{"name": "app", "image": "app:v1", "env": [{"name": "A", "value": "1"}],
                    "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]}],
                "initContainers": [{"name": "proxy", "image": "proxy", "restartPolicy": "Always",
                    "ports": [{"name": "admin", "containerPort": 9901}]}],
                "tolerations": [{"key": "k", "operator": "Exists"}]
            },
            "status": {
                "phase": "Running", "podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}],
                "hostIP": "192.168.0.1",
                "conditions": [
                    {"type": "PodScheduled", "status": "True"},
                    {"type": "Ready", "status": "True", "lastTransitionTime": "2026-06-01T11:00:00Z"}
                ],
                "containerStatuses": [{"name": "app", "restartCount": 3, "ready": true,
                    "image": "app:v1", "imageID": "", "state": {"running": {}}}],
                "initContainerStatuses": [{"name": "proxy", "restartCount": 1, "ready": true,
                    "image": "proxy", "imageID": ""}]
            }
        }))
        .unwrap()
    }

    #[test]
    fn keeps_every_field_the_controllers_read() {
        let pod = CachedPod::from(served_pod());
        let expected: CachedPod = serde_json::from_value(json!({
            "metadata": {
                "name": "web-1", "namespace": "ns", "uid": "u1", "resourceVersion": "7",
                "labels": {"app": "web"},
                "annotations": {DELETION_COST: "5"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "name": "web", "uid": "rs", "controller": true}],
                "deletionTimestamp": "2026-06-01T12:00:00Z"
            },
            "spec": {
                "nodeName": "node-1", "hostname": "h", "subdomain": "s",
                "containers": [{"name": "app",
                    "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]}],
                "initContainers": [{"name": "proxy", "restartPolicy": "Always",
                    "ports": [{"name": "admin", "containerPort": 9901}]}]
            },
            "status": {
                "phase": "Running", "podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}],
                "conditions": [
                    {"type": "Ready", "status": "True", "lastTransitionTime": "2026-06-01T11:00:00Z"}
                ],
                "containerStatuses": [{"name": "app", "restartCount": 3}],
                "initContainerStatuses": [{"name": "proxy", "restartCount": 1}]
            }
        }))
        .unwrap();
        assert_eq!(pod, expected);
    }

    #[test]
    fn a_pod_without_annotations_or_status_decodes() {
        let pod: CachedPod =
            serde_json::from_value(json!({"metadata": {"name": "p", "annotations": {"a": "b"}}}))
                .unwrap();
        assert_eq!(pod.metadata.annotations, None);
        assert_eq!((pod.spec, pod.status), (None, None));
    }
}

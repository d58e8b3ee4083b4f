//! What the scheduler keeps of a pod. Its informer caches every pod of the cluster, and most of
//! a pod is of no use to a scheduling decision (commands, environment, probes, mounts, most
//! volumes, container states, annotations). So the scheduler reads pods into these types of
//! its own, which hold only the fields something in it reads, with k8s-openapi's names and
//! types, and the rest of each object is skipped as it is decoded. A k8s-openapi `Pod` is about
//! 2.5 KiB before any of its strings and a `Container` or a `Volume` kilobytes more; these are
//! a fraction of that, at every one of the cluster's pods (docs/scheduler.md, "A pod of its
//! own").
//!
//! The names are k8s-openapi's (`Pod`, `PodSpec`, `spec.containers` …), so that the plugins
//! read as upstream's do; a field missing here is a compile error where it is read, not a
//! silent difference.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, ContainerPort, EphemeralVolumeSource, ImageVolumeSource,
    PersistentVolumeClaimVolumeSource, PodCondition, PodResourceClaim, PodSchedulingGate,
    ResourceRequirements, Toleration, TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde::{Deserialize, Serialize};

/// The pod conditions something in the scheduler reads: its own `PodScheduled` (written only
/// when it changes), `DisruptionTarget` (preemption) and `PodResizePending` (requests).
const CONDITIONS_READ: [&str; 3] = ["PodScheduled", "DisruptionTarget", "PodResizePending"];

/// A pod, as the scheduler reads it (the API's `v1` `Pod`, narrowed).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[serde(default)]
pub struct Pod {
    pub metadata: ObjectMeta,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<PodSpec>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<PodStatus>,
}

crate::runtime::pod_projection::pod_projection!(Pod);

/// Of the spec: what the filters, scores, queue and preemption read.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    pub containers: Vec<Container>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_containers: Option<Vec<Container>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overhead: Option<BTreeMap<String, Quantity>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preemption_policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_claims: Option<Vec<PodResourceClaim>>,
    /// Pod-level resources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduler_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduling_gates: Option<Vec<PodSchedulingGate>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topology_spread_constraints: Option<Vec<TopologySpreadConstraint>>,
    /// Only volumes that need binding or carry an image; the others (the service account
    /// token, config maps, empty dirs) are dropped as they are read.
    #[serde(
        deserialize_with = "volumes_read",
        skip_serializing_if = "Option::is_none"
    )]
    pub volumes: Option<Vec<Volume>>,
}

/// Of a container (regular, init or sidecar): its requests, ports and image.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Container {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<ContainerPort>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// `Always` makes an init container a sidecar.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<String>,
}

/// Of a volume: whether it needs a claim bound (not supported, said so) or pulls an image
/// (ImageLocality).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Volume {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ephemeral: Option<EphemeralVolumeSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageVolumeSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim: Option<PersistentVolumeClaimVolumeSource>,
}

impl Volume {
    fn is_read(&self) -> bool {
        self.persistent_volume_claim.is_some() || self.ephemeral.is_some() || self.image.is_some()
    }
}

fn volumes_read<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<Volume>>, D::Error> {
    let volumes: Option<Vec<Volume>> = Option::deserialize(deserializer)?;
    Ok(volumes.map(|all| all.into_iter().filter(Volume::is_read).collect()))
}

/// Of the status: the phase, the conditions read, the nominated node, when it started (for
/// preemption's order) and what in-place resize reports of the containers' resources.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodStatus {
    #[serde(
        deserialize_with = "conditions_read",
        skip_serializing_if = "Option::is_none"
    )]
    pub conditions: Option<Vec<PodCondition>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_statuses: Option<Vec<ContainerStatus>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_container_statuses: Option<Vec<ContainerStatus>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nominated_node_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
}

fn conditions_read<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<PodCondition>>, D::Error> {
    let conditions: Option<Vec<PodCondition>> = Option::deserialize(deserializer)?;
    Ok(conditions.map(|all| {
        all.into_iter()
            .filter(|c| CONDITIONS_READ.contains(&c.type_.as_str()))
            .collect()
    }))
}

/// Of a container's status: the resources in-place resize reports and has allocated
/// (`resources::container_requests`); not its state.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ContainerStatus {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allocated_resources: Option<BTreeMap<String, Quantity>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

/// The informer's transform: annotations are metadata no decision reads (and the largest part
/// of many pods, `kubectl apply`'s last applied configuration among them).
pub fn keep_what_scheduling_reads(pod: &mut Pod) {
    pod.metadata.annotations = None;
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    type Whole = k8s_openapi::api::core::v1::Pod;

    /// A pod as the API server and a kubelet leave it, with everything the scheduler reads
    /// and much that it does not.
    fn whole() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "ns", "uid": "uid-p",
                "labels": {"app": "web"},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
            "spec": {
                "nodeName": "n1",
                "schedulerName": "minik8s-scheduler",
                "priority": 10,
                "preemptionPolicy": "Never",
                "nodeSelector": {"disk": "ssd"},
                "overhead": {"cpu": "10m"},
                "resources": {"requests": {"cpu": "1"}},
                "schedulingGates": [{"name": "wait"}],
                "resourceClaims": [{"name": "gpu", "resourceClaimName": "gpu-claim"}],
                "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
                    {"nodeSelectorTerms": [{"matchExpressions": [
                        {"key": "zone", "operator": "In", "values": ["a"]}]}]}}},
                "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone",
                    "whenUnsatisfiable": "DoNotSchedule",
                    "labelSelector": {"matchLabels": {"app": "web"}}}],
                "tolerations": [{"key": "dedicated", "operator": "Exists"}],
                "restartPolicy": "Always",
                "serviceAccountName": "default",
                "terminationGracePeriodSeconds": 30,
                "dnsPolicy": "ClusterFirst",
                "containers": [{
                    "name": "app", "image": "app:1", "command": ["/app"], "args": ["--x"],
                    "env": [{"name": "A", "value": "1"}],
                    "ports": [{"containerPort": 80, "hostPort": 8080, "protocol": "TCP"}],
                    "resources": {"requests": {"cpu": "500m", "memory": "256Mi"}},
                    "resizePolicy": [{"resourceName": "cpu", "restartPolicy": "NotRequired"}],
                    "readinessProbe": {"httpGet": {"path": "/", "port": 80}},
                    "volumeMounts": [{"name": "token", "mountPath": "/var/run/secrets"}],
                }],
                "initContainers": [{
                    "name": "proxy", "image": "proxy:1", "restartPolicy": "Always",
                    "ports": [{"containerPort": 9000, "hostPort": 9000}],
                    "resources": {"requests": {"cpu": "100m"}},
                }],
                "ephemeralContainers": [{"name": "debug", "image": "busybox"}],
                "volumes": [
                    {"name": "token", "projected": {"sources": [
                        {"serviceAccountToken": {"path": "token"}}]}},
                    {"name": "model", "image": {"reference": "model:1"}},
                    {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                ],
            },
            "status": {
                "phase": "Running",
                "hostIP": "10.0.0.1",
                "podIP": "10.1.0.1",
                "qosClass": "Burstable",
                "nominatedNodeName": "n2",
                "startTime": "2026-01-01T00:00:00Z",
                "conditions": [{"type": "Ready", "status": "True"},
                               {"type": "PodScheduled", "status": "True"},
                               {"type": "PodResizePending", "status": "True",
                                "reason": "Infeasible"}],
                "containerStatuses": [{
                    "name": "app", "image": "app:1", "imageID": "sha256:1", "ready": true,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
                    "allocatedResources": {"cpu": "700m"},
                    "resources": {"requests": {"cpu": "700m"}},
                }],
                "initContainerStatuses": [{
                    "name": "proxy", "image": "proxy:1", "imageID": "sha256:2",
                    "ready": true, "restartCount": 1,
                    "allocatedResources": {"cpu": "100m"},
                }],
            },
        })
    }

    /// Every field kept comes through with its value, under its own name, and nothing else
    /// does: a misspelt name would read as absent here, not pass unnoticed.
    #[test]
    fn a_pod_read_keeps_exactly_what_scheduling_reads() {
        let mut pod: Pod = serde_json::from_value(whole()).unwrap();
        keep_what_scheduling_reads(&mut pod);
        let mut expected = whole();
        let drop = |object: &mut Value, keys: &[&str]| {
            let map = object.as_object_mut().unwrap();
            keys.iter()
                .for_each(|k| assert!(map.remove(*k).is_some(), "{k}"));
        };
        drop(&mut expected, &["apiVersion", "kind"]);
        drop(&mut expected["metadata"], &["annotations"]);
        let spec = &mut expected["spec"];
        drop(
            spec,
            &[
                "restartPolicy",
                "serviceAccountName",
                "terminationGracePeriodSeconds",
                "dnsPolicy",
                "ephemeralContainers",
            ],
        );
        drop(
            &mut spec["containers"][0],
            &[
                "command",
                "args",
                "env",
                "resizePolicy",
                "readinessProbe",
                "volumeMounts",
            ],
        );
        spec["volumes"].as_array_mut().unwrap().remove(0);
        let status = &mut expected["status"];
        drop(status, &["hostIP", "podIP", "qosClass"]);
        status["conditions"].as_array_mut().unwrap().remove(0);
        drop(
            &mut status["containerStatuses"][0],
            &["image", "imageID", "ready", "restartCount", "state"],
        );
        drop(
            &mut status["initContainerStatuses"][0],
            &["image", "imageID", "ready", "restartCount"],
        );
        assert_eq!(serde_json::to_value(&pod).unwrap(), expected);
    }

    #[test]
    fn a_pod_of_the_api_reads_as_the_same_pod() {
        let whole: Whole = serde_json::from_value(whole()).unwrap();
        let read: Pod = serde_json::from_value(serde_json::to_value(&whole).unwrap()).unwrap();
        let direct: Pod = serde_json::from_value(super::tests::whole()).unwrap();
        assert_eq!(read, direct);
        assert_eq!(read.metadata, whole.metadata);
    }

    /// What a pod costs in the informer before its strings and maps (1048 bytes against
    /// 2464, a container 184 against 2336): the reason for this module, held to it.
    #[test]
    fn a_pod_read_is_a_fraction_of_the_api_type() {
        use std::mem::size_of;
        type WholeContainer = k8s_openapi::api::core::v1::Container;
        type WholeStatus = k8s_openapi::api::core::v1::ContainerStatus;
        let pod = (size_of::<Pod>(), size_of::<Whole>());
        assert!(pod.0 * 2 <= pod.1, "{pod:?}");
        let container = (size_of::<Container>(), size_of::<WholeContainer>());
        assert!(container.0 * 4 <= container.1, "{container:?}");
        let status = (size_of::<ContainerStatus>(), size_of::<WholeStatus>());
        assert!(status.0 * 4 <= status.1, "{status:?}");
    }
}

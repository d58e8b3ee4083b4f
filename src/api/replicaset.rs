//! MiniReplicaSet: the twin of `apps/v1` ReplicaSet.

use k8s_openapi::api::apps::v1::ReplicaSetStatus;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::{PodTemplate, cel};

/// Desired state of a MiniReplicaSet; fields and defaults as in `apps/v1` ReplicaSetSpec.
// `printcolumn(...)` repeats its keys by design.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "minik8s.dev",
    version = "v1alpha1",
    kind = "MiniReplicaSet",
    namespaced,
    shortname = "mrs",
    category = "minik8s",
    status = "MiniReplicaSetStatus",
    derive = "PartialEq",
    doc = "MiniReplicaSet keeps a stable set of replica pods running, like a ReplicaSet.",
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.selector"
    ),
    printcolumn(
        name = "Desired",
        type_ = "integer",
        json_path = ".spec.replicas",
        description = "Number of desired pods"
    ),
    printcolumn(
        name = "Current",
        type_ = "integer",
        json_path = ".status.replicas",
        description = "Number of pods created"
    ),
    printcolumn(
        name = "Ready",
        type_ = "integer",
        json_path = ".status.readyReplicas",
        description = "Number of ready pods"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Containers",
        type_ = "string",
        json_path = ".spec.template.spec.containers[*].name",
        priority = 1
    ),
    printcolumn(
        name = "Images",
        type_ = "string",
        json_path = ".spec.template.spec.containers[*].image",
        priority = 1
    ),
    printcolumn(
        name = "Selector",
        type_ = "string",
        json_path = ".status.selector",
        priority = 1
    )
)]
#[x_kube(validation = cel::selector_not_empty("replicaset"))]
#[x_kube(validation = cel::selector_matches_template_labels())]
#[x_kube(validation = cel::selector_requirements_valid()[0].clone())]
#[x_kube(validation = cel::selector_requirements_valid()[1].clone())]
#[serde(rename_all = "camelCase")]
pub struct MiniReplicaSetSpec {
    /// Number of desired pods. Defaults to 1.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 0))]
    pub replicas: i32,

    /// Minimum number of seconds a newly created pod must be Ready, with no container
    /// crashing, to count as available. Defaults to 0.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub min_ready_seconds: i32,

    /// Label query over the pods this MiniReplicaSet counts. Must match the template's labels.
    #[schemars(transform = super::schema::bound_label_selector)]
    pub selector: LabelSelector,

    /// The pods to create when there are too few.
    pub template: PodTemplate,
}

/// Observed state of a MiniReplicaSet: the fields of `apps/v1` ReplicaSetStatus, plus the
/// serialized selector that the scale subresource reports (for `kubectl scale` and HPAs).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
pub struct MiniReplicaSetStatus {
    #[serde(flatten)]
    pub status: ReplicaSetStatus,

    /// The selector as a label query string, published for the scale subresource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
}

fn default_replicas() -> i32 {
    1
}

//! MiniDeployment: the twin of `apps/v1` Deployment.

use k8s_openapi::api::apps::v1::DeploymentStatus;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::core::{Reason, Rule};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{PodTemplate, cel};

/// Desired state of a MiniDeployment; fields and defaults as in `apps/v1` DeploymentSpec.
// `printcolumn(...)` repeats its keys by design.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "minik8s.dev",
    version = "v1alpha1",
    kind = "MiniDeployment",
    namespaced,
    shortname = "mdeploy",
    category = "minik8s",
    status = "MiniDeploymentStatus",
    derive = "PartialEq",
    doc = "MiniDeployment declares pods and rolls them out through MiniReplicaSets, like a Deployment.",
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
        name = "Ready",
        type_ = "integer",
        json_path = ".status.readyReplicas",
        description = "Number of ready pods"
    ),
    printcolumn(
        name = "Up-to-date",
        type_ = "integer",
        json_path = ".status.updatedReplicas",
        description = "Pods of the current template"
    ),
    printcolumn(
        name = "Available",
        type_ = "integer",
        json_path = ".status.availableReplicas",
        description = "Pods ready for at least minReadySeconds"
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
#[x_kube(validation = cel::selector_not_empty("deployment"))]
#[x_kube(validation = cel::selector_matches_template_labels())]
#[x_kube(validation = cel::selector_requirements_valid()[0].clone())]
#[x_kube(validation = cel::selector_requirements_valid()[1].clone())]
#[x_kube(validation = progress_deadline_after_min_ready())]
#[serde(rename_all = "camelCase")]
pub struct MiniDeploymentSpec {
    /// Number of desired pods. Defaults to 1.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 0))]
    pub replicas: i32,

    /// Label query over the pods of this MiniDeployment. Must match the template's labels.
    #[schemars(transform = super::schema::bound_label_selector)]
    pub selector: LabelSelector,

    /// The pods to run. A change here starts a rollout.
    pub template: PodTemplate,

    /// How old pods are replaced by new ones. Defaults to RollingUpdate with 25% / 25%.
    #[serde(default = "DeploymentStrategy::default_rolling_update")]
    pub strategy: DeploymentStrategy,

    /// Minimum number of seconds a new pod must be Ready to count as available. Defaults to 0.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub min_ready_seconds: i32,

    /// Number of old MiniReplicaSets kept for rollback. Defaults to 10.
    #[serde(default = "default_revision_history_limit")]
    #[schemars(range(min = 0))]
    pub revision_history_limit: i32,

    /// A paused MiniDeployment is scaled but not rolled out.
    #[serde(default)]
    pub paused: bool,

    /// Seconds a rollout may go without progress before it is reported as failed
    /// (Progressing=False, ProgressDeadlineExceeded). Defaults to 600.
    #[serde(default = "default_progress_deadline_seconds")]
    #[schemars(range(min = 0))]
    pub progress_deadline_seconds: i32,
}

/// How a MiniDeployment replaces old pods with new ones.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new("self.type != 'Recreate' || !has(self.rollingUpdate)")
    .message("rollingUpdate may not be specified when strategy `type` is 'Recreate'")
    .field_path(".rollingUpdate")
    .reason(Reason::FieldValueForbidden))]
#[serde(rename_all = "camelCase")]
pub struct DeploymentStrategy {
    /// Recreate or RollingUpdate. Defaults to RollingUpdate.
    #[serde(rename = "type", default)]
    pub type_: StrategyType,

    /// Rolling update parameters; only with type RollingUpdate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_update: Option<RollingUpdateDeployment>,
}

impl DeploymentStrategy {
    fn default_rolling_update() -> Self {
        Self {
            type_: StrategyType::RollingUpdate,
            rolling_update: Some(RollingUpdateDeployment::default()),
        }
    }
}

/// The kind of rollout.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StrategyType {
    /// Kill all existing pods before creating new ones.
    Recreate,
    /// Replace old pods by new ones gradually, within maxSurge and maxUnavailable.
    #[default]
    RollingUpdate,
}

/// Bounds of a rolling update.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new(format!("!({} && {})", cel::is_zero("self.maxSurge"), cel::is_zero("self.maxUnavailable")))
    .message("may not be 0 when `maxSurge` is 0")
    .field_path(".maxUnavailable")
    .reason(Reason::FieldValueInvalid))]
#[serde(rename_all = "camelCase")]
pub struct RollingUpdateDeployment {
    /// Pods that may be unavailable during the update: a number or a percentage of desired
    /// pods, rounded down. Defaults to 25%.
    #[serde(default = "twenty_five_percent")]
    #[x_kube(validation = cel::int_or_percent()[0].clone())]
    #[x_kube(validation = cel::int_or_percent()[1].clone())]
    #[x_kube(validation = cel::at_most_100_percent())]
    #[schemars(extend("maxLength" = 16))]
    pub max_unavailable: IntOrString,

    /// Pods that may be created above the desired number: a number or a percentage of desired
    /// pods, rounded up. Defaults to 25%.
    #[serde(default = "twenty_five_percent")]
    #[x_kube(validation = cel::int_or_percent()[0].clone())]
    #[x_kube(validation = cel::int_or_percent()[1].clone())]
    #[schemars(extend("maxLength" = 16))]
    pub max_surge: IntOrString,
}

impl Default for RollingUpdateDeployment {
    fn default() -> Self {
        Self {
            max_unavailable: twenty_five_percent(),
            max_surge: twenty_five_percent(),
        }
    }
}

/// Observed state of a MiniDeployment: the fields of `apps/v1` DeploymentStatus, plus the
/// serialized selector that the scale subresource reports (for `kubectl scale` and HPAs).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct MiniDeploymentStatus {
    #[serde(flatten)]
    pub status: DeploymentStatus,

    /// The selector as a label query string, published for the scale subresource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
}

fn progress_deadline_after_min_ready() -> Rule {
    Rule::new("self.progressDeadlineSeconds > self.minReadySeconds")
        .message("must be greater than minReadySeconds")
        .field_path(".progressDeadlineSeconds")
        .reason(Reason::FieldValueInvalid)
}

fn default_replicas() -> i32 {
    1
}

fn default_revision_history_limit() -> i32 {
    10
}

fn default_progress_deadline_seconds() -> i32 {
    600
}

fn twenty_five_percent() -> IntOrString {
    IntOrString::String("25%".into())
}

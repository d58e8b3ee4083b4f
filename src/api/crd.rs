//! The CustomResourceDefinitions of every minik8s kind, generated from the Rust types.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use super::{MiniDeployment, MiniEndpoints, MiniReplicaSet, MiniService};

/// All minik8s CRDs, in a stable order.
pub fn all() -> Vec<CustomResourceDefinition> {
    vec![
        MiniReplicaSet::crd(),
        MiniDeployment::crd(),
        MiniService::crd(),
        MiniEndpoints::crd(),
    ]
}

/// File name of a CRD under `crds/`: `<plural>.<group>.yaml`, as `kubectl get crd` names it.
pub fn file_name(crd: &CustomResourceDefinition) -> String {
    format!(
        "{}.yaml",
        crd.metadata
            .name
            .as_deref()
            .expect("generated CRDs are named")
    )
}

/// One CRD as YAML, the form checked in under `crds/`.
pub fn to_yaml(crd: &CustomResourceDefinition) -> String {
    serde_norway::to_string(crd).expect("a CRD serializes to YAML")
}

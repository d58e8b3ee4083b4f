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

#[cfg(test)]
mod tests {
    use super::*;

    fn version(crd: &CustomResourceDefinition) -> &k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinitionVersion{
        &crd.spec.versions[0]
    }

    #[test]
    fn every_kind_is_namespaced_in_the_minik8s_group_and_category() {
        let names: Vec<_> = all().iter().map(|c| c.spec.names.kind.clone()).collect();
        assert_eq!(
            names,
            [
                "MiniReplicaSet",
                "MiniDeployment",
                "MiniService",
                "MiniEndpoints"
            ]
        );
        for crd in all() {
            assert_eq!(crd.spec.group, "minik8s.dev");
            assert_eq!(crd.spec.scope, "Namespaced");
            assert_eq!(crd.spec.names.categories, Some(vec!["minik8s".into()]));
            assert_eq!(version(&crd).name, "v1alpha1");
            assert!(version(&crd).served && version(&crd).storage);
        }
    }

    #[test]
    fn workloads_have_status_and_scale_subresources_with_a_selector() {
        for crd in &all()[..2] {
            let sub = version(crd).subresources.as_ref().unwrap();
            assert!(sub.status.is_some());
            let scale = sub.scale.as_ref().unwrap();
            assert_eq!(scale.spec_replicas_path, ".spec.replicas");
            assert_eq!(scale.status_replicas_path, ".status.replicas");
            assert_eq!(
                scale.label_selector_path.as_deref(),
                Some(".status.selector")
            );
        }
    }

    #[test]
    fn file_names_are_the_crd_names() {
        let files: Vec<_> = all().iter().map(file_name).collect();
        assert_eq!(
            files,
            [
                "minireplicasets.minik8s.dev.yaml",
                "minideployments.minik8s.dev.yaml",
                "miniservices.minik8s.dev.yaml",
                "miniendpoints.minik8s.dev.yaml"
            ]
        );
    }

    #[test]
    fn selectors_and_template_labels_are_bounded_for_cel_cost_estimation() {
        use serde_json::json;
        for crd in &all()[..2] {
            let schema = serde_json::to_value(&version(crd).schema).unwrap();
            let spec = &schema["openAPIV3Schema"]["properties"]["spec"]["properties"];
            let selector = &spec["selector"]["properties"];
            assert_eq!(selector["matchLabels"]["maxProperties"], json!(100));
            assert_eq!(
                selector["matchLabels"]["additionalProperties"]["maxLength"],
                json!(63)
            );
            let requirement = &selector["matchExpressions"]["items"]["properties"];
            assert_eq!(selector["matchExpressions"]["maxItems"], json!(100));
            assert_eq!(requirement["key"]["maxLength"], json!(317));
            assert_eq!(requirement["values"]["maxItems"], json!(100));
            assert_eq!(requirement["values"]["items"]["maxLength"], json!(63));
            let labels = &spec["template"]["properties"]["metadata"]["properties"]["labels"];
            assert_eq!(labels["additionalProperties"]["maxLength"], json!(63));
        }
    }

    #[test]
    fn crds_stay_well_under_the_client_side_apply_limit() {
        // `kubectl apply` without --server-side stores the object in a 256 KiB annotation.
        for crd in all() {
            let size = serde_json::to_vec(&crd).unwrap().len();
            assert!(size < 200 * 1024, "{} is {size} bytes", file_name(&crd));
        }
    }
}

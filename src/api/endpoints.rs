//! MiniEndpoints: the twin of `core/v1` Endpoints, written by the MiniService controller only.
//!
//! Like Endpoints it has no `spec`: `subsets` sits at the top level, so `kubectl get mep x -o
//! yaml` reads the same as `kubectl get ep x -o yaml`. The kube derive always nests a `spec`,
//! so this type implements the resource traits by hand.

use k8s_openapi::api::core::v1::EndpointSubset;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::{Metadata, NamespaceResourceScope, Resource};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{CATEGORY, GROUP, VERSION, schema};

/// The addresses and ports of the pods a MiniService selects.
#[derive(Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MiniEndpoints {
    pub metadata: ObjectMeta,
    /// Groups of addresses that share one set of ports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subsets: Vec<EndpointSubset>,
}

/// Written with `apiVersion` and `kind`, as the API server requires on create and update (the
/// derived kinds and k8s-openapi's types add them the same way).
impl Serialize for MiniEndpoints {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire<'a> {
            api_version: &'static str,
            kind: &'static str,
            metadata: &'a ObjectMeta,
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            subsets: &'a [EndpointSubset],
        }
        Wire {
            api_version: <Self as Resource>::API_VERSION,
            kind: <Self as Resource>::KIND,
            metadata: &self.metadata,
            subsets: &self.subsets,
        }
        .serialize(serializer)
    }
}

impl Resource for MiniEndpoints {
    const API_VERSION: &'static str = "minik8s.dev/v1alpha1";
    const GROUP: &'static str = GROUP;
    const KIND: &'static str = "MiniEndpoints";
    const VERSION: &'static str = VERSION;
    const URL_PATH_SEGMENT: &'static str = "miniendpoints";
    type Scope = NamespaceResourceScope;
}

impl Metadata for MiniEndpoints {
    type Ty = ObjectMeta;

    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl MiniEndpoints {
    /// The CustomResourceDefinition of MiniEndpoints, built with the same schema settings as
    /// the derived kinds.
    pub fn crd() -> CustomResourceDefinition {
        let subset = schema::crd_generator().subschema_for::<EndpointSubset>();
        serde_json::from_value(json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": { "name": format!("{}.{GROUP}", Self::URL_PATH_SEGMENT) },
            "spec": {
                "group": GROUP,
                "names": {
                    "kind": Self::KIND,
                    "plural": Self::URL_PATH_SEGMENT,
                    "singular": "miniendpoints",
                    "shortNames": ["mep"],
                    "categories": [CATEGORY],
                },
                "scope": "Namespaced",
                "versions": [{
                    "name": VERSION,
                    "served": true,
                    "storage": true,
                    "additionalPrinterColumns": [
                        { "name": "Addresses", "type": "string", "jsonPath": ".subsets[*].addresses[*].ip",
                          "description": "Ready addresses" },
                        { "name": "Not-ready", "type": "string", "jsonPath": ".subsets[*].notReadyAddresses[*].ip",
                          "description": "Addresses of pods that are not ready" },
                        { "name": "Ports", "type": "string", "jsonPath": ".subsets[*].ports[*].port" },
                        { "name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp" },
                    ],
                    "schema": { "openAPIV3Schema": {
                        "description": "MiniEndpoints lists the addresses of the pods a MiniService selects, like Endpoints.",
                        "type": "object",
                        "properties": {
                            "subsets": {
                                "description": "Groups of addresses that share one set of ports.",
                                "type": "array",
                                "items": subset,
                            },
                        },
                    }},
                }],
            },
        }))
        .expect("the MiniEndpoints CRD is well-formed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_with_api_version_and_kind() {
        let endpoints: MiniEndpoints =
            serde_json::from_value(json!({"metadata": {"name": "web"}})).unwrap();
        let written = serde_json::to_value(&endpoints).unwrap();
        assert_eq!(
            written,
            json!({"apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniEndpoints",
                   "metadata": {"name": "web"}})
        );
        let back: MiniEndpoints = serde_json::from_value(written).unwrap();
        assert_eq!(back, endpoints);
    }
}

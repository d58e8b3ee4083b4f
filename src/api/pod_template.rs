//! The pod template of MiniReplicaSet and MiniDeployment.
//!
//! The template is kept as the JSON the user wrote rather than as a typed `PodTemplateSpec`,
//! because a typed struct silently drops every field this build does not know (a field added
//! in a newer Kubernetes release, say). The schema still validates every known field; unknown
//! ones are preserved at every level so they reach the Pod untouched.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PodTemplateSpec;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::schema;

/// A pod template, stored verbatim.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PodTemplate(Map<String, Value>);

impl PodTemplate {
    /// The template exactly as written, unknown fields included.
    pub fn raw(&self) -> &Map<String, Value> {
        &self.0
    }

    /// A typed view for reading known fields. Never write this view back: it has lost any
    /// field this build does not know.
    pub fn typed(&self) -> Result<PodTemplateSpec, serde_json::Error> {
        serde_json::from_value(Value::Object(self.0.clone()))
    }

    /// The template's labels (`metadata.labels`), empty when there are none.
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.0
            .get("metadata")
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object)
            .map(|labels| {
                labels
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl From<Map<String, Value>> for PodTemplate {
    fn from(raw: Map<String, Value>) -> Self {
        Self(raw)
    }
}

impl JsonSchema for PodTemplate {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PodTemplate".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut template = generator.subschema_for::<PodTemplateSpec>();
        // Descriptions of the whole Pod API would make the CRD several hundred KB; users read
        // them with `kubectl explain pod.spec` instead.
        schema::strip_descriptions(&mut template);
        schema::preserve_unknown_fields(&mut template);
        schema::bound_template_labels(&mut template);
        template.insert(
            "description".into(),
            "Pod template, as in a Deployment (see `kubectl explain pod`). Fields unknown to \
             this version of minik8s are kept and passed on to the Pod."
                .into(),
        );
        template
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn template() -> PodTemplate {
        serde_json::from_value(json!({
            "metadata": {"labels": {"app": "web", "tier": "front"}},
            "spec": {
                "futurePodField": {"nested": [1, 2]},
                "containers": [{"name": "web", "image": "nginx", "futureContainerField": "x"}]
            }
        }))
        .unwrap()
    }

    #[test]
    fn unknown_fields_survive_a_serde_round_trip() {
        let value = serde_json::to_value(template()).unwrap();
        assert_eq!(value["spec"]["futurePodField"], json!({"nested": [1, 2]}));
        assert_eq!(value["spec"]["containers"][0]["futureContainerField"], "x");
    }

    #[test]
    fn typed_view_reads_known_fields() {
        let typed = template().typed().unwrap();
        assert_eq!(
            typed.spec.unwrap().containers[0].image.as_deref(),
            Some("nginx")
        );
    }

    #[test]
    fn labels_are_read_from_metadata() {
        let labels = template().labels();
        assert_eq!(labels.get("app").map(String::as_str), Some("web"));
        assert_eq!(labels.len(), 2);
        assert!(PodTemplate::default().labels().is_empty());
    }

    #[test]
    fn schema_validates_known_fields_and_keeps_unknown_ones() {
        let schema = schema::crd_generator().into_root_schema_for::<PodTemplate>();
        let spec = &schema.as_value()["properties"]["spec"];
        assert_eq!(spec["x-kubernetes-preserve-unknown-fields"], json!(true));
        let container = &spec["properties"]["containers"]["items"];
        assert_eq!(
            container["x-kubernetes-preserve-unknown-fields"],
            json!(true)
        );
        assert!(
            container["required"]
                .as_array()
                .unwrap()
                .contains(&json!("name"))
        );
        let labels = &schema.as_value()["properties"]["metadata"]["properties"]["labels"];
        assert_eq!(labels["additionalProperties"]["maxLength"], json!(63));
    }
}

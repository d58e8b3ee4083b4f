//! Helpers that reshape generated JSON schemas for the Kubernetes structural-schema rules.

use schemars::generate::SchemaSettings;
use schemars::{Schema, SchemaGenerator};
use serde_json::{Value, json};

/// A schema generator with the settings kube's CustomResource derive uses for CRDs: OpenAPI v3,
/// everything inlined, structural.
pub(super) fn crd_generator() -> SchemaGenerator {
    SchemaSettings::openapi3()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .with_transform(schemars::transform::AddNullable::default())
        .with_transform(kube::core::schema::StructuralSchemaRewriter)
        .with_transform(kube::core::schema::OptionalEnum)
        .with_transform(kube::core::schema::OptionalIntOrString)
        .into_generator()
}

/// Removes every `description` below `schema`.
pub(super) fn strip_descriptions(schema: &mut Schema) {
    visit_nodes(schema, &mut |node| {
        node.remove("description");
    });
}

/// Marks every object that lists its properties with `x-kubernetes-preserve-unknown-fields`,
/// so the API server keeps fields the schema does not name instead of pruning them.
pub(super) fn preserve_unknown_fields(schema: &mut Schema) {
    visit_nodes(schema, &mut |node| {
        if node.contains_key("properties") {
            node.insert("x-kubernetes-preserve-unknown-fields".into(), json!(true));
        }
    });
}

fn visit_nodes(schema: &mut Schema, visit: &mut impl FnMut(&mut serde_json::Map<String, Value>)) {
    if let Some(root) = schema.as_object_mut() {
        let mut value = Value::Object(std::mem::take(root));
        walk(&mut value, visit);
        if let Value::Object(walked) = value {
            *root = walked;
        }
    }
}

/// Calls `visit` on every schema object below and including `value`.
fn walk(value: &mut Value, visit: &mut impl FnMut(&mut serde_json::Map<String, Value>)) {
    match value {
        Value::Object(node) => {
            visit(node);
            for (key, child) in node.iter_mut() {
                // Property *names* live in `properties`; their values are schemas. Defaults and
                // enums hold data, not schemas, so they are left alone.
                if matches!(key.as_str(), "default" | "enum" | "example") {
                    continue;
                }
                if key == "properties" {
                    if let Value::Object(props) = child {
                        for prop in props.values_mut() {
                            walk(prop, visit);
                        }
                    }
                } else {
                    walk(child, visit);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| walk(item, visit)),
        _ => {}
    }
}

/// Label values are at most 63 characters, and qualified label keys at most 253 + 1 + 63.
/// The API server validates that too; stating it in the schema bounds the cost of CEL rules
/// that compare labels, which the API server estimates before it accepts a CRD.
pub(super) const LABEL_VALUE_MAX: u64 = 63;
pub(super) const LABEL_KEY_MAX: u64 = 317;
/// Upper bound on selector terms (matchLabels entries, matchExpressions, values per
/// expression). Built-in kinds set none; CEL cost estimation needs one.
pub(super) const SELECTOR_TERMS_MAX: u64 = 100;

/// Bounds a `LabelSelector` schema (see the constants above).
pub(super) fn bound_label_selector(schema: &mut Schema) {
    let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(Value::Object(match_labels)) = props.get_mut("matchLabels") {
        match_labels.insert("maxProperties".into(), json!(SELECTOR_TERMS_MAX));
        if let Some(Value::Object(values)) = match_labels.get_mut("additionalProperties") {
            values.insert("maxLength".into(), json!(LABEL_VALUE_MAX));
        }
    }
    if let Some(Value::Object(exprs)) = props.get_mut("matchExpressions") {
        exprs.insert("maxItems".into(), json!(SELECTOR_TERMS_MAX));
        let item_props = exprs
            .get_mut("items")
            .and_then(|i| i.get_mut("properties"))
            .and_then(Value::as_object_mut);
        if let Some(item_props) = item_props {
            if let Some(Value::Object(key)) = item_props.get_mut("key") {
                key.insert("maxLength".into(), json!(LABEL_KEY_MAX));
            }
            if let Some(Value::Object(values)) = item_props.get_mut("values") {
                values.insert("maxItems".into(), json!(SELECTOR_TERMS_MAX));
                if let Some(Value::Object(item)) = values.get_mut("items") {
                    item.insert("maxLength".into(), json!(LABEL_VALUE_MAX));
                }
            }
        }
    }
}

/// Bounds the label values of a pod template's `metadata.labels`.
pub(super) fn bound_template_labels(schema: &mut Schema) {
    let values = schema
        .get_mut("properties")
        .and_then(|p| p.get_mut("metadata"))
        .and_then(|m| m.get_mut("properties"))
        .and_then(|p| p.get_mut("labels"))
        .and_then(|l| l.get_mut("additionalProperties"))
        .and_then(Value::as_object_mut);
    if let Some(values) = values {
        values.insert("maxLength".into(), json!(LABEL_VALUE_MAX));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sample() -> Schema {
        Schema::try_from(json!({
            "description": "root",
            "type": "object",
            "properties": {
                "description": {"description": "a field named description", "type": "string"},
                "child": {
                    "type": "object",
                    "default": {"description": "data, not a schema"},
                    "properties": {"x": {"type": "integer", "description": "x"}}
                },
                "list": {"type": "array", "items": {"type": "object", "properties": {}}}
            }
        }))
        .unwrap()
    }

    #[test]
    fn strip_descriptions_keeps_properties_and_defaults_named_description() {
        let mut schema = sample();
        strip_descriptions(&mut schema);
        let value = schema.as_value();
        assert!(value.get("description").is_none());
        assert_eq!(
            value["properties"]["description"],
            json!({"type": "string"})
        );
        assert!(
            value["properties"]["child"]["properties"]["x"]
                .get("description")
                .is_none()
        );
        assert_eq!(
            value["properties"]["child"]["default"],
            json!({"description": "data, not a schema"})
        );
    }

    #[test]
    fn preserve_unknown_fields_marks_every_object_with_properties() {
        let mut schema = sample();
        preserve_unknown_fields(&mut schema);
        let value = schema.as_value();
        let marked = |v: &Value| v["x-kubernetes-preserve-unknown-fields"] == json!(true);
        assert!(marked(value));
        assert!(marked(&value["properties"]["child"]));
        assert!(marked(&value["properties"]["list"]["items"]));
        assert!(!marked(&value["properties"]["description"]));
    }
}

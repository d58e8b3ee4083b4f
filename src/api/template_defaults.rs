//! A pod template in the form that decides whether two templates are "the same".
//!
//! For a Deployment, the API server fills in every default of the pod template
//! (`SetObjectDefaults_PodTemplate` in pkg/apis/core/v1: `imagePullPolicy`, `protocol: TCP`,
//! `terminationMessagePath`, probe timings, volume modes …), rounds quantities up to
//! milli-units, and drops empty values when it stores it; the deployment controller then
//! compares templates with semantic equality (`apiequality.Semantic.DeepEqual`: quantities by
//! value, nil and empty lists and maps alike). So re-applying a manifest that only spells out a
//! default, or writes `cpu: 1` as `1000m`, does not start a rollout.
//!
//! A MiniDeployment keeps its template exactly as written (so no field is lost), which means
//! the controller must do what the API server did before comparing: [`semantic_form`] applies
//! the same defaults, reduces quantities to their value, and drops what Go would read as
//! unset. Unknown fields are kept and compared as written.

use serde_json::{Map, Value, json};

use super::quantity::Quantity;

/// The template with the API server's defaults filled in, quantities reduced to their value
/// and unset values removed. Two templates are semantically equal when these are equal.
pub fn semantic_form(template: &Map<String, Value>) -> Value {
    let mut template = Value::Object(template.clone());
    if let Some(spec) = template.get_mut("spec").and_then(Value::as_object_mut) {
        default_pod_spec(spec);
    }
    drop_unset(&mut template, "");
    template
}

/// `SetDefaults_PodSpec` and the generated defaults of everything inside a pod spec.
fn default_pod_spec(spec: &mut Map<String, Value>) {
    default_str(spec, "dnsPolicy", "ClusterFirst");
    default_str(spec, "restartPolicy", "Always");
    default_str(spec, "schedulerName", "default-scheduler");
    default_value(spec, "securityContext", json!({}));
    default_value(spec, "terminationGracePeriodSeconds", json!(30));
    for key in ["containers", "initContainers", "ephemeralContainers"] {
        for container in objects(spec, key) {
            default_container(container);
        }
    }
    for volume in objects(spec, "volumes") {
        default_volume(volume);
    }
    round_resource_list(spec, "overhead");
    if let Some(resources) = object(spec, "resources") {
        round_resource_list(resources, "limits");
        round_resource_list(resources, "requests");
    }
}

/// `SetDefaults_Container` with its ports, env, resources, probes and lifecycle hooks.
fn default_container(container: &mut Map<String, Value>) {
    let image = container.get("image").and_then(Value::as_str).unwrap_or("");
    let policy = default_pull_policy(image);
    default_str(container, "imagePullPolicy", policy);
    default_str(container, "terminationMessagePath", "/dev/termination-log");
    default_str(container, "terminationMessagePolicy", "File");
    for port in objects(container, "ports") {
        default_str(port, "protocol", "TCP");
    }
    for env in objects(container, "env") {
        if let Some(source) = object(env, "valueFrom") {
            if let Some(field) = object(source, "fieldRef") {
                default_str(field, "apiVersion", "v1");
            }
            if let Some(file) = object(source, "fileKeyRef") {
                default_value(file, "optional", json!(false));
            }
        }
    }
    if let Some(resources) = object(container, "resources") {
        round_resource_list(resources, "limits");
        round_resource_list(resources, "requests");
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(probe) = object(container, probe) {
            default_probe(probe);
        }
    }
    if let Some(lifecycle) = object(container, "lifecycle") {
        for hook in ["postStart", "preStop"] {
            if let Some(get) = object(lifecycle, hook).and_then(|h| object(h, "httpGet")) {
                default_http_get(get);
            }
        }
    }
}

/// `ParseImageName`: no tag and no digest means `latest`, which is pulled `Always`; an image
/// name that does not parse (empty, upper case) gets `IfNotPresent`.
fn default_pull_policy(image: &str) -> &'static str {
    let (name, digest) = image.split_once('@').unwrap_or((image, ""));
    let last_part = name.rsplit('/').next().unwrap_or(name);
    let tag = last_part.split_once(':').map(|(_, tag)| tag).unwrap_or("");
    let parses = !name.is_empty() && !name.chars().any(|c| c.is_ascii_uppercase());
    if parses && (tag == "latest" || (tag.is_empty() && digest.is_empty())) {
        "Always"
    } else {
        "IfNotPresent"
    }
}

/// `SetDefaults_Probe` (a zero counts as unset: these are plain integers in Go) and the
/// defaults of its handlers.
fn default_probe(probe: &mut Map<String, Value>) {
    for (key, default) in [
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ] {
        if probe.get(key).is_none_or(|v| v.is_null() || v == &json!(0)) {
            probe.insert(key.into(), json!(default));
        }
    }
    if let Some(get) = object(probe, "httpGet") {
        default_http_get(get);
    }
    if let Some(grpc) = object(probe, "grpc") {
        default_value(grpc, "service", json!(""));
    }
}

fn default_http_get(get: &mut Map<String, Value>) {
    default_str(get, "path", "/");
    default_str(get, "scheme", "HTTP");
}

/// `SetDefaults_Volume` and the defaults of each volume source.
fn default_volume(volume: &mut Map<String, Value>) {
    let has_source = volume
        .iter()
        .any(|(key, value)| key != "name" && !value.is_null());
    if !has_source {
        volume.insert("emptyDir".into(), json!({}));
    }
    for source in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(source) = object(volume, source) {
            default_value(source, "defaultMode", json!(0o644));
        }
    }
    if let Some(host_path) = object(volume, "hostPath") {
        default_value(host_path, "type", json!(""));
    }
    if let Some(downward) = object(volume, "downwardAPI") {
        default_field_refs(downward);
    }
    if let Some(projected) = object(volume, "projected") {
        for source in objects(projected, "sources") {
            if let Some(downward) = object(source, "downwardAPI") {
                default_field_refs(downward);
            }
            if let Some(token) = object(source, "serviceAccountToken") {
                default_value(token, "expirationSeconds", json!(3600));
            }
        }
    }
    if let Some(iscsi) = object(volume, "iscsi") {
        default_str(iscsi, "iscsiInterface", "default");
    }
    if let Some(rbd) = object(volume, "rbd") {
        default_str(rbd, "pool", "rbd");
        default_str(rbd, "user", "admin");
        default_str(rbd, "keyring", "/etc/ceph/keyring");
    }
    if let Some(disk) = object(volume, "azureDisk") {
        default_value(disk, "cachingMode", json!("ReadWrite"));
        default_value(disk, "fsType", json!("ext4"));
        default_value(disk, "readOnly", json!(false));
        default_value(disk, "kind", json!("Shared"));
    }
    if let Some(scale_io) = object(volume, "scaleIO") {
        default_str(scale_io, "storageMode", "ThinProvisioned");
        default_str(scale_io, "fsType", "xfs");
    }
    if let Some(image) = object(volume, "image") {
        let reference = image.get("reference").and_then(Value::as_str).unwrap_or("");
        let policy = default_pull_policy(reference);
        default_str(image, "pullPolicy", policy);
    }
    if let Some(empty_dir) = object(volume, "emptyDir")
        && let Some(Value::String(limit)) = empty_dir.get("sizeLimit")
        && let Some(value) = Quantity::parse(limit)
    {
        empty_dir.insert("sizeLimit".into(), json!(value.value_key()));
    }
    if let Some(claim) = object(volume, "ephemeral")
        .and_then(|e| object(e, "volumeClaimTemplate"))
        .and_then(|t| object(t, "spec"))
    {
        default_value(claim, "volumeMode", json!("Filesystem"));
        if let Some(resources) = object(claim, "resources") {
            round_resource_list(resources, "limits");
            round_resource_list(resources, "requests");
        }
    }
}

fn default_field_refs(downward: &mut Map<String, Value>) {
    for item in objects(downward, "items") {
        if let Some(field) = object(item, "fieldRef") {
            default_str(field, "apiVersion", "v1");
        }
    }
}

/// `SetDefaults_ResourceList`: every quantity rounded up to milli-units; here also reduced
/// to its value, so that spellings compare equal.
fn round_resource_list(parent: &mut Map<String, Value>, key: &str) {
    let Some(list) = object(parent, key) else {
        return;
    };
    for value in list.values_mut() {
        let quantity = match value {
            Value::String(text) => Quantity::parse(text),
            Value::Number(number) => Quantity::parse(&number.to_string()),
            _ => None,
        };
        if let Some(quantity) = quantity {
            *value = json!(quantity.rounded_up_to_milli().value_key());
        }
    }
}

/// A string field that Go reads as unset when it is empty.
fn default_str(object: &mut Map<String, Value>, key: &str, default: &str) {
    if object
        .get(key)
        .is_none_or(|v| v.is_null() || v.as_str() == Some(""))
    {
        object.insert(key.into(), json!(default));
    }
}

/// A pointer field in Go: unset only when absent or null.
fn default_value(object: &mut Map<String, Value>, key: &str, default: Value) {
    if object.get(key).is_none_or(Value::is_null) {
        object.insert(key.into(), default);
    }
}

fn object<'a>(parent: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    parent.get_mut(key).and_then(Value::as_object_mut)
}

fn objects<'a>(
    parent: &'a mut Map<String, Value>,
    key: &str,
) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    parent
        .get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

/// Maps, and structs held by value in Go: empty means the same as absent. Any other empty
/// object (`emptyDir: {}`, `securityContext: {}`) is a pointer to a struct and means something.
const EMPTY_OBJECT_IS_UNSET: &[&str] = &[
    "metadata",
    "labels",
    "annotations",
    "nodeSelector",
    "limits",
    "requests",
    "overhead",
    "resources",
];

/// Plain booleans in Go: `false` is the same as absent.
const FALSE_IS_UNSET: &[&str] = &[
    "stdin",
    "stdinOnce",
    "tty",
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "readOnly",
];

/// Plain integers in Go: `0` is the same as absent.
const ZERO_IS_UNSET: &[&str] = &["hostPort", "initialDelaySeconds"];

/// Removes what Go decodes as the zero value of a field that is not a pointer: null, empty
/// strings and lists everywhere, and the empty objects, `false`s and zeros listed above.
/// Children first, so an object left empty by its children goes too.
fn drop_unset(value: &mut Value, key: &str) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => {
            for item in items.iter_mut() {
                drop_unset(item, "");
            }
            items.is_empty()
        }
        Value::Object(fields) => {
            fields.retain(|child_key, child| !drop_unset(child, child_key));
            fields.is_empty() && EMPTY_OBJECT_IS_UNSET.contains(&key)
        }
        Value::Bool(b) => !*b && FALSE_IS_UNSET.contains(&key),
        Value::Number(n) => n.as_i64() == Some(0) && ZERO_IS_UNSET.contains(&key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(template: Value) -> Value {
        semantic_form(template.as_object().expect("an object"))
    }

    fn web(container: Value) -> Value {
        json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [container]}
        })
    }

    #[test]
    fn spelled_out_defaults_are_the_same_template() {
        let short =
            web(json!({"name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}));
        let long = json!({
            "metadata": {"labels": {"app": "web"}, "annotations": {}, "creationTimestamp": null},
            "spec": {
                "containers": [{
                    "name": "app", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent",
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    "resources": {}, "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File", "stdin": false, "env": []
                }],
                "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
                "schedulerName": "default-scheduler", "securityContext": {},
                "terminationGracePeriodSeconds": 30
            }
        });
        assert_eq!(form(short), form(long));
    }

    #[test]
    fn quantities_compare_by_value_after_rounding_to_milli_units() {
        let a = web(json!({"name": "app", "image": "i:1",
            "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": 2}}}));
        let b = web(json!({"name": "app", "image": "i:1",
            "resources": {"requests": {"cpu": "1000m", "memory": "1024Mi"}, "limits": {"cpu": "2000m"}}}));
        assert_eq!(form(a.clone()), form(b));
        let c = web(json!({"name": "app", "image": "i:1",
            "resources": {"requests": {"cpu": "1001m", "memory": "1Gi"}, "limits": {"cpu": 2}}}));
        assert_ne!(form(a), form(c));
    }

    #[test]
    fn real_changes_still_differ() {
        let base = web(json!({"name": "app", "image": "nginx:1.27"}));
        for changed in [
            web(json!({"name": "app", "image": "nginx:1.28"})),
            web(json!({"name": "app", "image": "nginx:1.27", "imagePullPolicy": "Always"})),
            web(json!({"name": "app", "image": "nginx:1.27", "securityContext": {}})),
            web(json!({"name": "app", "image": "nginx:1.27", "stdin": true})),
            web(json!({"name": "app", "image": "nginx:1.27", "someFutureField": "x"})),
        ] {
            assert_ne!(form(base.clone()), form(changed.clone()), "{changed}");
        }
    }

    #[test]
    fn the_pull_policy_follows_the_tag() {
        for (image, policy) in [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("registry.local:5000/nginx", "Always"),
            ("registry.local:5000/nginx:1.27", "IfNotPresent"),
            ("nginx@sha256:0123", "IfNotPresent"),
            ("nginx:1.27", "IfNotPresent"),
            ("", "IfNotPresent"),
            ("Nginx", "IfNotPresent"),
        ] {
            assert_eq!(default_pull_policy(image), policy, "{image:?}");
        }
    }

    #[test]
    fn probes_volumes_and_env_get_their_defaults() {
        let written = json!({"spec": {
            "containers": [{"name": "a", "image": "i:1",
                "readinessProbe": {"httpGet": {"port": 80}, "timeoutSeconds": 0},
                "env": [{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}],
            "volumes": [{"name": "scratch"}, {"name": "cfg", "configMap": {"name": "c"}}]
        }});
        let spec = &form(written)["spec"];
        assert_eq!(
            spec["containers"][0]["readinessProbe"],
            json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                   "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(
            spec["containers"][0]["env"][0]["valueFrom"]["fieldRef"]["apiVersion"],
            "v1"
        );
        assert_eq!(
            spec["volumes"][0],
            json!({"name": "scratch", "emptyDir": {}})
        );
        assert_eq!(spec["volumes"][1]["configMap"]["defaultMode"], 420);
    }
}

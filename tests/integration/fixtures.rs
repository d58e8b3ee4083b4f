//! Manifests shared by the tests: each is a built-in manifest, so that the minik8s twin is the
//! same document with `apiVersion` and `kind` changed.

use serde_json::{Value, json};

/// A Deployment manifest as users write them (probes, resources, named ports, …).
pub fn deployment(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, "tier": "web"}},
                "spec": {
                    "containers": [{
                        "name": "web",
                        "image": "registry.k8s.io/nginx-slim:0.27",
                        "ports": [{"name": "http", "containerPort": 80}],
                        "resources": {
                            "requests": {"cpu": "100m", "memory": "64Mi"},
                            "limits": {"cpu": 1, "memory": "128Mi"}
                        },
                        "readinessProbe": {"httpGet": {"path": "/", "port": "http"}},
                        "env": [{"name": "MODE", "value": "demo"}]
                    }],
                    "terminationGracePeriodSeconds": 5
                }
            }
        }
    })
}

/// A ReplicaSet manifest.
pub fn replicaset(name: &str) -> Value {
    let mut rs = deployment(name);
    rs["kind"] = json!("ReplicaSet");
    rs
}

/// A Service manifest with two named ports.
pub fn service(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "type": "ClusterIP",
            "sessionAffinity": "None",
            "selector": {"app": name},
            "ports": [
                {"name": "http", "port": 80, "targetPort": "http"},
                {"name": "metrics", "port": 9090, "protocol": "TCP"}
            ]
        }
    })
}

/// The minik8s twin of a built-in manifest: the same document, other apiVersion and kind.
pub fn mini(mut builtin: Value) -> Value {
    let kind = match builtin["kind"].as_str().unwrap() {
        "Deployment" => "MiniDeployment",
        "ReplicaSet" => "MiniReplicaSet",
        "Service" => "MiniService",
        other => panic!("no minik8s twin for {other}"),
    };
    builtin["apiVersion"] = json!("minik8s.dev/v1alpha1");
    builtin["kind"] = json!(kind);
    builtin
}

/// A small MiniReplicaSet (or, with `builtin`, its ReplicaSet twin) selecting `app: <name>`.
pub fn small_replicaset(name: &str, replicas: i32, builtin: bool) -> Value {
    let rs = json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]}
            }
        }
    });
    if builtin { rs } else { mini(rs) }
}

/// Two orphan pods with `app: <app>` that a scale-down must remove first: `<prefix>unscheduled`,
/// which no node can take, and `<prefix>not-ready`, which never becomes Ready.
pub fn unwanted_orphans(prefix: &str, app: &str) -> [Value; 2] {
    let unschedulable = json!({"nodeSelector": {"kubernetes.io/hostname": "no-such-node"}});
    let never_ready = json!({"sim.minik8s.dev/behavior": "never-ready"});
    [
        orphan_pod(
            &format!("{prefix}unscheduled"),
            app,
            unschedulable,
            json!({}),
        ),
        orphan_pod(&format!("{prefix}not-ready"), app, json!({}), never_ready),
    ]
}

/// A bare pod with `app: <app>`; `extra` is merged into its metadata (e.g. annotations).
pub fn orphan_pod(name: &str, app: &str, spec_extra: Value, annotations: Value) -> Value {
    let mut spec = json!({"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]});
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), spec_extra.as_object()) {
        spec.extend(extra.clone());
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": app}, "annotations": annotations},
        "spec": spec
    })
}

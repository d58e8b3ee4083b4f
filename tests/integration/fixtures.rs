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

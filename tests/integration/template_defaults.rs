//! The controller's idea of "the same template" checked against the API server's own: each
//! template is defaulted by the API server (a dry-run PodTemplate, defaulted exactly as a
//! Deployment's template is), and its semantic form must equal that of the template as
//! written. A default the controller does not know, or a quantity it reads differently,
//! fails here.

use k8s_openapi::api::core::v1::PodTemplate;
use kube::api::PostParams;
use minik8s::api::template_defaults::semantic_form;
use serde_json::{Value, json};

use crate::common::TestNamespace;

fn templates() -> Vec<Value> {
    vec![
        json!({"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}),
        json!({"metadata": {"labels": {"app": "a"}, "annotations": {}}, "spec": {
            "containers": [{
                "name": "c", "image": "registry.local:5000/team/app:1.2@sha256:0123456789012345678901234567890123456789012345678901234567890123",
                "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}, {"containerPort": 81, "hostPort": 0}],
                "env": [
                    {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "EMPTY", "value": ""}
                ],
                "resources": {
                    "requests": {"cpu": "0.0001", "memory": "1.5Gi", "ephemeral-storage": "1e9"},
                    "limits": {"cpu": 2, "memory": "2048Mi"}
                },
                "livenessProbe": {"httpGet": {"port": 80}, "initialDelaySeconds": 0},
                "readinessProbe": {"tcpSocket": {"port": 80}, "timeoutSeconds": 0, "periodSeconds": 5},
                "startupProbe": {"grpc": {"port": 9000}},
                "lifecycle": {"preStop": {"httpGet": {"port": 80, "path": "/stop"}}},
                "volumeMounts": [{"name": "scratch", "mountPath": "/s", "readOnly": false}],
                "stdin": false, "tty": false
            }],
            "initContainers": [{"name": "init", "image": "busybox:latest", "command": ["true"]}],
            "volumes": [
                {"name": "scratch"},
                {"name": "sized", "emptyDir": {"sizeLimit": "1024Mi"}},
                {"name": "cfg", "configMap": {"name": "c"}},
                {"name": "sec", "secret": {"secretName": "s"}},
                {"name": "host", "hostPath": {"path": "/tmp"}},
                {"name": "down", "downwardAPI": {"items": [{"path": "n", "fieldRef": {"fieldPath": "metadata.name"}}]}},
                {"name": "proj", "projected": {"sources": [
                    {"serviceAccountToken": {"path": "token"}},
                    {"downwardAPI": {"items": [{"path": "l", "fieldRef": {"fieldPath": "metadata.labels"}}]}}
                ]}},
                {"name": "eph", "ephemeral": {"volumeClaimTemplate": {"spec": {
                    "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}
                }}}}
            ],
            "hostNetwork": false,
            "nodeSelector": {},
            "overhead": {"cpu": "250m"}
        }}),
        json!({"spec": {
            "containers": [{"name": "c", "image": "app:v1", "resources": {}}],
            "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "securityContext": {},
            "terminationGracePeriodSeconds": 30, "schedulerName": "default-scheduler"
        }}),
    ]
}

#[tokio::test]
async fn semantic_form_matches_the_api_servers_defaults() {
    let ns = TestNamespace::new("template-defaults").await;
    let api = ns.api::<PodTemplate>();
    for (i, template) in templates().into_iter().enumerate() {
        let object: PodTemplate = serde_json::from_value(json!({
            "metadata": {"name": format!("t{i}")},
            "template": template,
        }))
        .unwrap();
        let defaulted = api
            .create(
                &PostParams {
                    dry_run: true,
                    ..Default::default()
                },
                &object,
            )
            .await
            .unwrap_or_else(|e| panic!("template {i} refused: {e}"));
        let server = serde_json::to_value(defaulted.template.expect("a template")).unwrap();
        let ours = semantic_form(template.as_object().unwrap());
        let theirs = semantic_form(server.as_object().unwrap());
        assert_eq!(
            ours, theirs,
            "template {i}:\n ours:   {ours}\n server: {server}"
        );
    }
    ns.cleanup().await;
}

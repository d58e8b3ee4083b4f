//! Built-in manifests become minik8s objects by changing apiVersion and kind, defaults are the
//! built-in ones, and pod-template fields this build does not know survive.

use kube::Api;
use minik8s::api::deployment::StrategyType;
use minik8s::api::service::Protocol;
use minik8s::api::{MiniDeployment, MiniReplicaSet, MiniService};
use serde_json::json;

use crate::common::TestNamespace;
use crate::fixtures;

#[tokio::test]
async fn a_deployment_manifest_with_only_kind_changed_is_a_minideployment() {
    let ns = TestNamespace::new("twin").await;
    let builtin = fixtures::deployment("web");
    let created = ns
        .create::<MiniDeployment>(fixtures::mini(builtin.clone()))
        .await
        .unwrap_or_else(|e| panic!("refused: {}", e.message));
    // Every field the user wrote is there, as written.
    assert_eq!(
        created.data["spec"]["template"],
        builtin["spec"]["template"]
    );
    assert_eq!(
        created.data["spec"]["selector"],
        builtin["spec"]["selector"]
    );

    // The built-in defaults were applied.
    let deploy: MiniDeployment = ns.api().get("web").await.unwrap();
    assert_eq!(deploy.spec.replicas, 2);
    assert_eq!(deploy.spec.revision_history_limit, 10);
    assert_eq!(deploy.spec.progress_deadline_seconds, 600);
    assert_eq!(deploy.spec.min_ready_seconds, 0);
    assert!(!deploy.spec.paused);
    assert_eq!(deploy.spec.strategy.type_, StrategyType::RollingUpdate);
    let rolling = deploy.spec.strategy.rolling_update.unwrap();
    assert_eq!(
        serde_json::to_value(&rolling).unwrap(),
        json!({"maxSurge": "25%", "maxUnavailable": "25%"})
    );
    ns.cleanup().await;
}

#[tokio::test]
async fn defaults_match_the_builtin_kinds() {
    let ns = TestNamespace::new("defaults").await;
    let mut minimal = fixtures::mini(fixtures::deployment("minimal"));
    minimal["spec"].as_object_mut().unwrap().remove("replicas");
    ns.create::<MiniDeployment>(minimal.clone()).await.unwrap();
    let mut rs = minimal.clone();
    rs["kind"] = json!("MiniReplicaSet");
    ns.create::<MiniReplicaSet>(rs).await.unwrap();
    let mut svc = fixtures::mini(fixtures::service("minimal"));
    svc["spec"] = json!({"selector": {"app": "minimal"}, "ports": [{"port": 8080}]});
    ns.create::<MiniService>(svc).await.unwrap();

    let deploy: MiniDeployment = ns.api().get("minimal").await.unwrap();
    assert_eq!(deploy.spec.replicas, 1);
    let rs: MiniReplicaSet = ns.api().get("minimal").await.unwrap();
    assert_eq!(rs.spec.replicas, 1);
    assert_eq!(rs.spec.min_ready_seconds, 0);
    let svc: MiniService = ns.api().get("minimal").await.unwrap();
    let port = &svc.spec.ports[0];
    assert_eq!(port.protocol, Protocol::Tcp);
    assert_eq!(
        port.effective_target_port(),
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(8080)
    );
    assert_eq!(serde_json::to_value(svc.spec.type_).unwrap(), "ClusterIP");
    ns.cleanup().await;
}

#[tokio::test]
async fn a_service_manifest_with_only_kind_changed_is_a_miniservice() {
    let ns = TestNamespace::new("svc-twin").await;
    let mut builtin = fixtures::service("web");
    // Fields minik8s does not act on are kept as written.
    builtin["spec"]["internalTrafficPolicy"] = json!("Cluster");
    builtin["spec"]["ipFamilyPolicy"] = json!("SingleStack");
    let created = ns
        .create::<MiniService>(fixtures::mini(builtin.clone()))
        .await
        .unwrap_or_else(|e| panic!("refused: {}", e.message));
    assert_eq!(created.data["spec"]["sessionAffinity"], "None");
    assert_eq!(created.data["spec"]["internalTrafficPolicy"], "Cluster");
    assert_eq!(created.data["spec"]["ipFamilyPolicy"], "SingleStack");
    assert_eq!(created.data["spec"]["ports"][0]["targetPort"], "http");
    ns.cleanup().await;
}

#[tokio::test]
async fn pod_template_fields_unknown_to_this_build_survive_create_and_get() {
    let ns = TestNamespace::new("unknown").await;
    let mut manifest = fixtures::mini(fixtures::deployment("future"));
    let template = &mut manifest["spec"]["template"];
    template["spec"]["futurePodField"] = json!({"mode": "fast", "level": 3});
    template["spec"]["containers"][0]["futureContainerField"] = json!("kept");
    template["spec"]["containers"][0]["resources"]["futureResourceField"] = json!(["a", "b"]);
    template["metadata"]["futureMetadataField"] = json!(true);
    let expected = manifest["spec"]["template"].clone();
    ns.create::<MiniDeployment>(manifest.clone()).await.unwrap();
    let mut rs_manifest = manifest;
    rs_manifest["kind"] = json!("MiniReplicaSet");
    ns.create::<MiniReplicaSet>(rs_manifest).await.unwrap();

    // Read back untyped: exactly what was written.
    let stored = ns.dynamic::<MiniDeployment>().get("future").await.unwrap();
    assert_eq!(stored.data["spec"]["template"], expected);
    let stored = ns.dynamic::<MiniReplicaSet>().get("future").await.unwrap();
    assert_eq!(stored.data["spec"]["template"], expected);

    // Read back typed: the template keeps the unknown fields for the controllers.
    let deploy: MiniDeployment = Api::namespaced(ns.client.clone(), &ns.name)
        .get("future")
        .await
        .unwrap();
    assert_eq!(
        serde_json::Value::Object(deploy.spec.template.raw().clone()),
        expected
    );
    ns.cleanup().await;
}

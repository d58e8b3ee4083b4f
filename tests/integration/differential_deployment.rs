//! The same manifest as a built-in Deployment and as a MiniDeployment, side by side, through
//! the same steps; the observable outcome must match.

use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet};
use kube::ResourceExt;
use kube::api::{ListParams, Patch, PatchParams};
use minik8s::api::{MiniDeployment, MiniReplicaSet};
use serde_json::{Value, json};

use crate::common::{Controllers, TestNamespace, eventually};

const TIMEOUT: Duration = Duration::from_secs(90);

fn deployment(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 6,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}},
            "template": {
                "metadata": {
                    "labels": {"app": name},
                    "annotations": {"sim.minik8s.dev/behavior": "ready-after", "sim.minik8s.dev/ready-after": "1s"}
                },
                "spec": {"containers": [{"name": "app", "image": "app:v1"}]}
            }
        }
    })
}

async fn status(ns: &TestNamespace, builtin: bool) -> (Option<i64>, i32, DeploymentStatus) {
    if builtin {
        let d = ns.api::<Deployment>().get("builtin").await.unwrap();
        (
            d.metadata.generation,
            d.spec.replicas.unwrap_or(1),
            d.status.unwrap_or_default(),
        )
    } else {
        let d = ns.api::<MiniDeployment>().get("mini").await.unwrap();
        (
            d.metadata.generation,
            d.spec.replicas,
            d.status.map(|s| s.status).unwrap_or_default(),
        )
    }
}

async fn both_complete(ns: &TestNamespace) {
    for builtin in [true, false] {
        eventually(
            TIMEOUT,
            if builtin {
                "built-in rollout"
            } else {
                "mini rollout"
            },
            || async {
                let (generation, replicas, s) = status(ns, builtin).await;
                s.observed_generation == generation
                    && [s.replicas, s.updated_replicas, s.available_replicas] == [Some(replicas); 3]
            },
        )
        .await;
    }
}

async fn patch_both(ns: &TestNamespace, patch: Value) {
    ns.api::<Deployment>()
        .patch("builtin", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    ns.api::<MiniDeployment>()
        .patch("mini", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

/// (revision, image, spec.replicas) of each set, by revision.
async fn sets(ns: &TestNamespace, builtin: bool) -> Vec<(String, String, i32)> {
    let mut sets: Vec<(String, String, i32)> = if builtin {
        let list = ns
            .api::<ReplicaSet>()
            .list(&ListParams::default())
            .await
            .unwrap()
            .items;
        list.into_iter()
            .map(|rs| {
                let revision = rs
                    .annotations()
                    .get("deployment.kubernetes.io/revision")
                    .cloned()
                    .unwrap_or_default();
                let spec = rs.spec;
                let image = spec.template.unwrap().spec.unwrap().containers[0]
                    .image
                    .clone()
                    .unwrap_or_default();
                (revision, image, spec.replicas.unwrap_or(0))
            })
            .collect()
    } else {
        let list = ns
            .api::<MiniReplicaSet>()
            .list(&ListParams::default())
            .await
            .unwrap()
            .items;
        list.into_iter()
            .map(|rs| {
                let revision = rs
                    .annotations()
                    .get("minik8s.dev/revision")
                    .cloned()
                    .unwrap_or_default();
                let image = rs.spec.template.raw()["spec"]["containers"][0]["image"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                (revision, image, rs.spec.replicas)
            })
            .collect()
    };
    sets.sort();
    sets
}

/// (type, status, reason) of each condition.
fn conditions(s: &DeploymentStatus) -> Vec<(String, String, String)> {
    let mut c: Vec<_> = s
        .conditions
        .iter()
        .flatten()
        .map(|c| {
            (
                c.type_.clone().unwrap_or_default(),
                c.status.clone().unwrap_or_default(),
                c.reason.clone().unwrap_or_default(),
            )
        })
        .collect();
    c.sort();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_and_mini_deployments_roll_out_alike() {
    let ns = TestNamespace::new("diff-deploy").await;
    let _controllers = Controllers::start(
        &ns.name,
        Some(minik8s::runtime::client::RateLimit::CONTROLLER_MANAGER),
    );
    let builtin = deployment("builtin");
    let mut mini = deployment("mini");
    mini["apiVersion"] = json!("minik8s.dev/v1alpha1");
    mini["kind"] = json!("MiniDeployment");
    ns.create::<Deployment>(builtin).await.unwrap();
    ns.create::<MiniDeployment>(mini).await.unwrap();
    both_complete(&ns).await;

    // An image change, then a rollback-free second change, then a resize.
    patch_both(&ns, json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:v2"}]}}}})).await;
    both_complete(&ns).await;
    patch_both(&ns, json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:v3"}]}}}})).await;
    both_complete(&ns).await;
    patch_both(&ns, json!({"spec": {"replicas": 4}})).await;
    both_complete(&ns).await;

    let expected = vec![
        ("1".to_string(), "app:v1".to_string(), 0),
        ("2".to_string(), "app:v2".to_string(), 0),
        ("3".to_string(), "app:v3".to_string(), 4),
    ];
    assert_eq!(sets(&ns, true).await, expected, "built-in");
    assert_eq!(sets(&ns, false).await, expected, "minik8s");

    let (_, _, b) = status(&ns, true).await;
    let (_, _, m) = status(&ns, false).await;
    let counts = |s: &DeploymentStatus| {
        [
            s.replicas,
            s.updated_replicas,
            s.ready_replicas,
            s.available_replicas,
            s.unavailable_replicas.or(Some(0)),
        ]
    };
    assert_eq!(counts(&m), counts(&b));
    assert_eq!(conditions(&m), conditions(&b));
    ns.cleanup().await;
}

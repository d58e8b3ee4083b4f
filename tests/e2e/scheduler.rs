//! minik8s-scheduler places a pod that names it, and says so as kube-scheduler does.

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{ListParams, PostParams};
use serde_json::json;

use crate::support::{Namespace, TIMEOUT, eventually};

/// The schedulerName the release's scheduler answers to (`scheduler.name`, by default
/// minik8s-scheduler).
fn scheduler_name() -> String {
    std::env::var("MINIK8S_E2E_SCHEDULER_NAME").unwrap_or_else(|_| "minik8s-scheduler".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minik8s_scheduler_binds_the_pods_that_name_it() {
    let ns = Namespace::new("scheduler").await;
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "placed"},
        "spec": {
            "schedulerName": scheduler_name(),
            "containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10",
                            "resources": {"requests": {"cpu": "10m", "memory": "8Mi"}}}]
        }
    }))
    .unwrap();
    let pods = ns.api::<Pod>();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    eventually(TIMEOUT, "the pod bound", || async {
        pods.get("placed")
            .await
            .unwrap()
            .spec
            .and_then(|s| s.node_name)
            .is_some()
    })
    .await;
    let node = pods
        .get("placed")
        .await
        .unwrap()
        .spec
        .unwrap()
        .node_name
        .unwrap();
    let expected = format!("Successfully assigned {}/placed to {node}", ns.name);
    eventually(TIMEOUT, "the Scheduled event", || async {
        ns.api::<Event>()
            .list(&ListParams::default().fields("involvedObject.name=placed"))
            .await
            .unwrap()
            .items
            .iter()
            .any(|e| {
                e.reason.as_deref() == Some("Scheduled") && e.message.as_deref() == Some(&expected)
            })
    })
    .await;
    ns.delete().await;
}

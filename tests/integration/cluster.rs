//! The local control plane behaves like a real cluster for what the controllers' tests need:
//! built-in Deployments become Ready, the scheduler binds pods, the garbage collector deletes
//! owned pods, and kwok's simulated kubelets play the documented pod behaviours.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams};
use serde_json::json;

use crate::common::{TestNamespace, eventually};
use crate::fixtures;

const TIMEOUT: Duration = Duration::from_secs(60);

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

#[tokio::test]
async fn builtin_deployment_is_scheduled_becomes_ready_and_is_garbage_collected() {
    let ns = TestNamespace::new("builtin").await;
    let mut manifest = fixtures::deployment("web");
    manifest["spec"]["replicas"] = json!(3);
    ns.create::<Deployment>(manifest).await.unwrap();

    let deployments = ns.api::<Deployment>();
    eventually(TIMEOUT, "3 ready replicas", || async {
        let d = deployments.get("web").await.unwrap();
        d.status.and_then(|s| s.ready_replicas) == Some(3)
    })
    .await;

    // The default scheduler bound every pod, and kwok gave each an IP from its node's range.
    let pods = ns
        .api::<Pod>()
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap();
    assert_eq!(pods.items.len(), 3);
    for pod in &pods.items {
        let node = pod.spec.as_ref().unwrap().node_name.as_deref();
        assert!(
            node.is_some_and(|n| n.starts_with("kwok-node-")),
            "unscheduled: {pod:?}"
        );
        let ip = pod.status.as_ref().unwrap().pod_ip.as_deref().unwrap_or("");
        assert!(
            ip.starts_with("10.244."),
            "pod IP {ip:?} is not from a node's podCIDR"
        );
        assert!(is_ready(pod) && phase(pod) == "Running");
    }

    // Deleting the Deployment lets the garbage collector remove its ReplicaSet and pods.
    deployments
        .delete("web", &DeleteParams::background())
        .await
        .unwrap();
    let pod_api = ns.api::<Pod>();
    eventually(TIMEOUT, "garbage collection of the pods", || async {
        pod_api
            .list(&ListParams::default().labels("app=web"))
            .await
            .unwrap()
            .items
            .is_empty()
    })
    .await;
    ns.cleanup().await;
}

fn pod_with(name: &str, annotations: serde_json::Value) -> serde_json::Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}
    })
}

#[tokio::test]
async fn pod_behaviours_follow_their_annotations() {
    let ns = TestNamespace::new("behaviours").await;
    let started = Instant::now();
    ns.create::<Pod>(pod_with("ready", json!({})))
        .await
        .unwrap();
    ns.create::<Pod>(pod_with(
        "never",
        json!({"sim.minik8s.dev/behavior": "never-ready"}),
    ))
    .await
    .unwrap();
    ns.create::<Pod>(pod_with(
        "later",
        json!({"sim.minik8s.dev/behavior": "ready-after", "sim.minik8s.dev/ready-after": "3s"}),
    ))
    .await
    .unwrap();
    ns.create::<Pod>(pod_with(
        "fails",
        json!({"sim.minik8s.dev/behavior": "fail"}),
    ))
    .await
    .unwrap();

    let pods = ns.api::<Pod>();
    eventually(TIMEOUT, "the default pod to be Ready", || async {
        is_ready(&pods.get("ready").await.unwrap())
    })
    .await;
    eventually(TIMEOUT, "the failing pod to fail", || async {
        phase(&pods.get("fails").await.unwrap()) == "Failed"
    })
    .await;
    eventually(
        TIMEOUT,
        "never-ready and ready-after pods to run",
        || async {
            let never = pods.get("never").await.unwrap();
            let later = pods.get("later").await.unwrap();
            phase(&never) == "Running" && phase(&later) == "Running"
        },
    )
    .await;
    let later = pods.get("later").await.unwrap();
    assert!(
        is_ready(&later) == (started.elapsed() >= Duration::from_secs(3)),
        "ready-after pod was Ready before its delay"
    );
    assert!(
        later.status.unwrap().pod_ip.is_some(),
        "a running pod has an IP"
    );

    eventually(TIMEOUT, "the ready-after pod to become Ready", || async {
        is_ready(&pods.get("later").await.unwrap())
    })
    .await;
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "Ready before its 3s delay"
    );
    // Give never-ready every chance to turn Ready before checking that it did not.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let never = pods.get("never").await.unwrap();
    assert_eq!(phase(&never), "Running");
    assert!(!is_ready(&never), "never-ready pod became Ready");
    ns.cleanup().await;
}

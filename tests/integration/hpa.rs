//! A HorizontalPodAutoscaler scales a MiniDeployment through its scale subresource exactly as
//! it scales the built-in twin: the same load (KWOK's simulated CPU usage, read by
//! metrics-server), the same target, the same size in the end.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Event;
use kube::api::ListParams;
use minik8s::api::MiniDeployment;
use serde_json::{Value, json};

use crate::common::{Controllers, TestNamespace};

/// Scaling takes two rescales (1 → 3 → 4), each once metrics-server has scraped the new pods
/// twice (15 s apart) and the autoscaler has synced (every 15 s): about 1–2 minutes. On a
/// loaded machine the scrapes lag; CI runs whose whole suite took 1.7× its usual time went
/// past 240 s.
const TIMEOUT: Duration = Duration::from_secs(420);

/// One pod asking for 100m CPU and using 150m: 150% of its request.
fn deployment(app: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": app},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": app}},
            "template": {
                "metadata": {"labels": {"app": app}, "annotations": {"kwok.x-k8s.io/usage-cpu": "150m"}},
                "spec": {"containers": [{"name": "web", "image": "registry.k8s.io/pause:3.10",
                                         "resources": {"requests": {"cpu": "100m"}}}]}
            }
        }
    })
}

/// The sizes the autoscaler `name` chose, in order (its SuccessfulRescale events).
async fn rescales(ns: &TestNamespace, name: &str) -> Vec<String> {
    let events = ns
        .api::<Event>()
        .list(&ListParams::default().fields(&format!(
            "involvedObject.kind=HorizontalPodAutoscaler,involvedObject.name={name}"
        )))
        .await
        .unwrap();
    let mut rescales: Vec<(Option<_>, String)> = events
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("SuccessfulRescale"))
        .map(|e| {
            let size = e
                .message
                .unwrap_or_default()
                .split(';')
                .next()
                .unwrap_or_default()
                .to_owned();
            (e.first_timestamp.map(|t| t.0), size)
        })
        .collect();
    rescales.sort();
    rescales.into_iter().map(|(_, size)| size).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_autoscaler_scales_a_minideployment_as_it_scales_its_builtin_twin() {
    let ns = TestNamespace::new("hpa").await;
    let _controllers = Controllers::start(&ns.name, None);
    // Different labels, so that neither autoscaler counts the other's pods.
    ns.create::<Deployment>(deployment("builtin"))
        .await
        .unwrap();
    let mut twin = deployment("mini");
    twin["apiVersion"] = json!("minik8s.dev/v1alpha1");
    twin["kind"] = json!("MiniDeployment");
    ns.create::<MiniDeployment>(twin).await.unwrap();
    // As a user would: 50% CPU of requests, 1 to 4 replicas (kubectl finds the
    // MiniDeployment's scale subresource).
    for target in ["deployment/builtin", "minideployment/mini"] {
        ns.kubectl(&["autoscale", target, "--cpu=50%", "--min=1", "--max=4"]);
    }
    let replicas = |kind: &'static str, name: &'static str| {
        let ns = &ns;
        async move {
            let value: Value = match kind {
                "Deployment" => {
                    serde_json::to_value(ns.api::<Deployment>().get(name).await.unwrap())
                }
                _ => serde_json::to_value(ns.api::<MiniDeployment>().get(name).await.unwrap()),
            }
            .unwrap();
            (
                value["spec"]["replicas"].as_i64(),
                value["status"]["availableReplicas"].as_i64(),
            )
        }
    };
    // Waits for both, and on timeout says where each side stood.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let builtin = replicas("Deployment", "builtin").await;
        let mini = replicas("MiniDeployment", "mini").await;
        if builtin == (Some(4), Some(4)) && mini == (Some(4), Some(4)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {TIMEOUT:?} waiting for both twins scaled to 4 by their \
             autoscalers; (replicas, available): built-in {builtin:?} after rescales {:?}, \
             minik8s {mini:?} after rescales {:?}",
            rescales(&ns, "builtin").await,
            rescales(&ns, "mini").await
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // Each autoscaler read the same utilization.
    let builtin = ns
        .api::<HorizontalPodAutoscaler>()
        .get("builtin")
        .await
        .unwrap();
    let mini = ns
        .api::<HorizontalPodAutoscaler>()
        .get("mini")
        .await
        .unwrap();
    let utilization = |h: &HorizontalPodAutoscaler| {
        h.status
            .as_ref()
            .and_then(|s| s.current_metrics.as_ref())
            .and_then(|m| m.first()?.resource.as_ref()?.current.average_utilization)
    };
    // 150m used of 100m asked, as rates over the scrapes' windows: about 150%.
    for (side, hpa) in [("built-in", &builtin), ("minik8s", &mini)] {
        let seen = utilization(hpa);
        assert!(
            seen.is_some_and(|u| (135..=165).contains(&u)),
            "{side}: {seen:?}"
        );
    }
    // The intermediate sizes depend on when metrics-server first measured each new pod (its
    // first rate can be high), so only the direction and the end are the same by design.
    for name in ["builtin", "mini"] {
        let steps = rescales(&ns, name).await;
        assert_eq!(
            steps.last().map(String::as_str),
            Some("New size: 4"),
            "{name}: {steps:?}"
        );
        assert!(steps.is_sorted(), "{name} only scaled up: {steps:?}");
    }
    ns.cleanup().await;
}

//! The built-in endpoints controller as the oracle: a Service and a MiniService with the same
//! selector and ports over the same pods, driven through the same steps; at every step the
//! MiniEndpoints must list what the Endpoints lists.
//!
//! Compared: the subsets (ports within a subset and the subsets themselves put in one order
//! first — upstream orders them by a hash of their Go representation, see docs/endpoints.md),
//! the labels except `endpoints.kubernetes.io/managed-by` (each controller writes its own
//! name), and the over-capacity annotation. The trigger-time annotation is not compared: it
//! carries each service's own creation time and each controller's own sync timing.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{EndpointSubset, Endpoints, Pod, Service};
use kube::ResourceExt;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use minik8s::api::{MiniEndpoints, MiniService};
use serde_json::{Value, json};

use crate::common::{Controllers, TestNamespace, eventually_explained};
use crate::endpoints::{create_pod, names, pod};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Subsets in one order: addresses are already sorted by both controllers; ports and subsets
/// are sorted here by content.
fn normalized(subsets: &[EndpointSubset]) -> Vec<EndpointSubset> {
    let mut subsets = subsets.to_vec();
    for s in &mut subsets {
        if let Some(ports) = s.ports.as_mut() {
            ports.sort_by_key(|p| (p.name.clone(), p.port, p.protocol.clone()));
        }
        for addresses in [&mut s.addresses, &mut s.not_ready_addresses] {
            for a in addresses.iter_mut().flatten() {
                if let Some(r) = a.target_ref.as_mut() {
                    r.resource_version = None;
                }
            }
        }
    }
    subsets.sort_by_key(|s| serde_json::to_string(s).unwrap());
    subsets
}

fn compared_labels(labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut labels = labels.clone();
    labels.remove("endpoints.kubernetes.io/managed-by");
    labels
}

fn over_capacity(annotations: &BTreeMap<String, String>) -> Option<String> {
    annotations
        .get("endpoints.kubernetes.io/over-capacity")
        .cloned()
}

/// Waits until the built-in Endpoints lists `ready`/`not_ready` pods (counts) and the
/// MiniEndpoints says the same; panics with both on timeout.
async fn same(ns: &TestNamespace, svc: &str, ready: usize, not_ready: usize, step: &str) {
    let what = format!("{svc}, step '{step}': the same endpoints on both sides");
    eventually_explained(TIMEOUT, &what, || async {
        let builtin: Option<Endpoints> = ns.api().get_opt(svc).await.unwrap();
        let mini: Option<MiniEndpoints> = ns.api().get_opt(svc).await.unwrap();
        let (Some(b), Some(m)) = (builtin, mini) else {
            return Err("an Endpoints or MiniEndpoints is missing".into());
        };
        let b_subsets = normalized(b.subsets.as_deref().unwrap_or_default());
        let m_subsets = normalized(&m.subsets);
        let (r, n) = names(&b_subsets);
        if (r.len(), n.len()) == (ready, not_ready)
            && b_subsets == m_subsets
            && compared_labels(b.labels()) == compared_labels(m.labels())
            && over_capacity(b.annotations()) == over_capacity(m.annotations())
        {
            return Ok(());
        }
        Err(format!(
            "\nbuilt-in {} {:?}\nminik8s  {} {:?}",
            serde_json::to_string(&b_subsets).unwrap(),
            compared_labels(b.labels()),
            serde_json::to_string(&m_subsets).unwrap(),
            compared_labels(m.labels()),
        ))
    })
    .await;
}

/// A Service manifest and its MiniService twin.
async fn both(ns: &TestNamespace, name: &str, spec: Value) {
    let manifest = json!({"metadata": {"name": name, "labels": {"team": "blue"}}, "spec": spec});
    let mut builtin = manifest.clone();
    builtin["apiVersion"] = json!("v1");
    builtin["kind"] = json!("Service");
    ns.create::<Service>(builtin).await.unwrap();
    let mut mini = manifest;
    mini["apiVersion"] = json!("minik8s.dev/v1alpha1");
    mini["kind"] = json!("MiniService");
    ns.create::<MiniService>(mini).await.unwrap();
}

async fn patch_both(ns: &TestNamespace, name: &str, patch: Value) {
    let params = PatchParams::default();
    ns.api::<Service>()
        .patch(name, &params, &Patch::Merge(&patch))
        .await
        .unwrap();
    ns.api::<MiniService>()
        .patch(name, &params, &Patch::Merge(&patch))
        .await
        .unwrap();
}

async fn scale(ns: &TestNamespace, replicas: i32) {
    ns.api::<ReplicaSet>()
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": replicas}})),
        )
        .await
        .unwrap();
}

async fn replicaset_pods(ns: &TestNamespace) -> Vec<Pod> {
    let pods = ns
        .api::<Pod>()
        .list(&ListParams::default().labels("app=web,from=rs"))
        .await
        .unwrap();
    pods.items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect()
}

#[tokio::test]
async fn endpoints_equal_the_builtin_through_every_step() {
    let ns = TestNamespace::new("diff-ep").await;
    let _controllers = Controllers::start(&ns.name, None);
    let mut template = pod("x", json!({"app": "web", "from": "rs"}), json!({}));
    template["metadata"].as_object_mut().unwrap().remove("name");
    ns.create::<ReplicaSet>(json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web", "from": "rs"}},
                 "template": {"metadata": template["metadata"], "spec": template["spec"]}},
    }))
    .await
    .unwrap();
    // One pod also offers the metrics port; the others leave that port out.
    let mut metrics = pod("metrics", json!({"app": "web"}), json!({}));
    metrics["spec"]["containers"][0]["ports"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "metrics", "containerPort": 9100}));
    metrics["spec"]["hostname"] = json!("m");
    metrics["spec"]["subdomain"] = json!("headless");
    ns.create::<Pod>(metrics).await.unwrap();
    both(
        &ns,
        "web",
        json!({"selector": {"app": "web"}, "ports": [
            {"name": "http", "port": 80, "targetPort": "http"},
            {"name": "metrics", "port": 9090, "targetPort": "metrics"}]}),
    )
    .await;
    both(
        &ns,
        "headless",
        json!({"selector": {"app": "web"}, "clusterIP": "None"}),
    )
    .await;
    both(
        &ns,
        "headless-ports",
        json!({"selector": {"app": "web"}, "clusterIP": "None",
               "ports": [{"port": 80, "targetPort": 8080}]}),
    )
    .await;
    let check = |ready: usize, not_ready: usize, step: &'static str| {
        let ns = &ns;
        async move {
            same(ns, "web", ready, not_ready, step).await;
            same(ns, "headless", ready, not_ready, step).await;
            same(ns, "headless-ports", ready, not_ready, step).await;
        }
    };
    check(4, 0, "start").await;

    scale(&ns, 5).await;
    check(6, 0, "scaled up").await;
    scale(&ns, 2).await;
    check(3, 0, "scaled down").await;

    let victim = replicaset_pods(&ns).await[0].name_any();
    ns.api::<Pod>()
        .delete(&victim, &DeleteParams::default())
        .await
        .unwrap();
    check(3, 0, "pod deleted and replaced").await;

    let relabelled = replicaset_pods(&ns).await[0].name_any();
    ns.api::<Pod>()
        .patch(
            &relabelled,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"app": "moved", "from": "elsewhere"}}})),
        )
        .await
        .unwrap();
    check(3, 0, "pod relabelled and replaced").await;

    ns.create::<Pod>(pod(
        "never",
        json!({"app": "web"}),
        json!({"sim.minik8s.dev/behavior": "never-ready"}),
    ))
    .await
    .unwrap();
    ns.create::<Pod>(pod(
        "later",
        json!({"app": "web"}),
        json!({"sim.minik8s.dev/behavior": "ready-after", "sim.minik8s.dev/ready-after": "4s"}),
    ))
    .await
    .unwrap();
    check(3, 2, "two pods not ready").await;
    check(4, 1, "one turned ready").await;

    patch_both(
        &ns,
        "web",
        json!({"spec": {"publishNotReadyAddresses": true}}),
    )
    .await;
    same(&ns, "web", 5, 0, "publishNotReadyAddresses on").await;
    patch_both(
        &ns,
        "web",
        json!({"spec": {"publishNotReadyAddresses": false}}),
    )
    .await;
    same(&ns, "web", 4, 1, "publishNotReadyAddresses off").await;

    // Terminating pods (needs the terminate-after kwok behaviour: checked first).
    let slow = json!({"sim.minik8s.dev/behavior": "terminate-after",
                      "sim.minik8s.dev/terminate-after": "15s"});
    crate::endpoints::assert_slow_terminations(&ns, &slow).await;
    ns.create::<Pod>(pod("slow", json!({"app": "web"}), slow))
        .await
        .unwrap();
    check(5, 1, "slow-to-stop pod running").await;
    patch_both(
        &ns,
        "web",
        json!({"spec": {"publishNotReadyAddresses": true}}),
    )
    .await;
    same(&ns, "web", 6, 0, "publishing, before the deletion").await;
    ns.api::<Pod>()
        .delete("slow", &DeleteParams::default())
        .await
        .unwrap();
    same(&ns, "headless", 4, 1, "pod terminating").await;
    same(&ns, "web", 6, 0, "pod terminating, published").await;
    patch_both(
        &ns,
        "web",
        json!({"spec": {"publishNotReadyAddresses": false}}),
    )
    .await;
    same(&ns, "web", 4, 1, "pod terminating, not published").await;
    ns.cleanup().await;
}

/// More than 1000 addresses: both keep 1000 of them (the same ones) and mark the object
/// `over-capacity: truncated`. The local cluster has room for the 1001 pods (run-integration.sh
/// starts it with 12 nodes of 110 pods).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_1000_addresses_are_truncated_alike() {
    use futures::StreamExt;

    let ns = TestNamespace::new("diff-ep-big").await;
    let _controllers = Controllers::start_with(minik8s::manager::Options {
        namespace: Some(ns.name.clone()),
        rate_limit: None,
        controllers: [minik8s::manager::ControllerName::Endpoints].into(),
        ..Default::default()
    });
    both(
        &ns,
        "big",
        json!({"selector": {"app": "big"}, "ports": [{"port": 80, "targetPort": 8080}]}),
    )
    .await;
    let created: Vec<()> = futures::stream::iter(0..1001)
        .map(|i| create_pod(&ns, pod(&format!("p{i}"), json!({"app": "big"}), json!({}))))
        .buffer_unordered(32)
        .collect()
        .await;
    assert_eq!(created.len(), 1001);
    crate::common::eventually(Duration::from_secs(240), "1001 pods running", || async {
        let pods = ns.api::<Pod>().list(&ListParams::default()).await.unwrap();
        pods.items
            .iter()
            .filter(|p| p.status.as_ref().and_then(|s| s.pod_ip.as_ref()).is_some())
            .count()
            == 1001
    })
    .await;
    same(&ns, "big", 1000, 0, "1001 ready pods").await;
    let mini: MiniEndpoints = ns.api().get("big").await.unwrap();
    assert_eq!(
        over_capacity(mini.annotations()).as_deref(),
        Some("truncated")
    );
    ns.cleanup().await;
}

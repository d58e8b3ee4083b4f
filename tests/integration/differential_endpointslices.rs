//! A built-in Service and a MiniService with the same selector and ports over the same pods:
//! at every step the minik8s EndpointSlices of `mini-<name>` carry the same endpoints
//! (addresses, conditions, node, zone, pod) with the same ports as the built-in controller's
//! slices of `<name>`. Slices are compared as one set of endpoints per service: how the
//! endpoints are split into slices depends on timing.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Service};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use minik8s::api::MiniService;
use serde_json::{Value, json};

use crate::common::{Controllers, TestNamespace};
use crate::endpointslices::{Seen, endpoints, ours, pod, slices};

const BUILTIN: &str = "endpointslice-controller.k8s.io";
const TIMEOUT: Duration = Duration::from_secs(60);

/// Creates the built-in Service and the MiniService `name` from one spec.
async fn twins(ns: &TestNamespace, name: &str, spec: Value) {
    ns.create::<Service>(json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec
    }))
    .await
    .unwrap();
    ns.create::<MiniService>(json!({
        "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniService",
        "metadata": {"name": name}, "spec": spec
    }))
    .await
    .unwrap();
}

async fn patch_both(ns: &TestNamespace, name: &str, patch: Value) {
    let p = Patch::Merge(patch);
    ns.api::<Service>()
        .patch(name, &PatchParams::default(), &p)
        .await
        .unwrap();
    ns.api::<MiniService>()
        .patch(name, &PatchParams::default(), &p)
        .await
        .unwrap();
}

/// Waits until both services show the same endpoints and those satisfy `check`.
async fn same(
    ns: &TestNamespace,
    name: &str,
    what: &str,
    check: impl Fn(&BTreeSet<Seen>) -> bool,
) -> BTreeSet<Seen> {
    let mut last = (BTreeSet::new(), BTreeSet::new());
    let result = tokio::time::timeout(TIMEOUT, async {
        loop {
            let builtin = endpoints(&slices(ns, name, BUILTIN).await);
            let mini = ours(ns, name).await;
            if builtin == mini && check(&mini) {
                return mini;
            }
            last = (builtin, mini);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    match result {
        Ok(seen) => seen,
        Err(_) => panic!(
            "{what}: the endpoints differ or are not as expected\nbuilt-in: {:#?}\nminik8s: {:#?}",
            last.0, last.1
        ),
    }
}

fn ready(seen: &BTreeSet<Seen>) -> usize {
    seen.iter().filter(|s| s.conditions.0 == Some(true)).count()
}

fn find<'a>(seen: &'a BTreeSet<Seen>, pod: &str) -> Option<&'a Seen> {
    seen.iter().find(|s| s.pod == pod)
}

async fn scale(ns: &TestNamespace, replicas: i32) {
    ns.api::<Deployment>()
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": replicas}})),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minik8s_slices_match_the_builtin_slices() {
    let ns = TestNamespace::new("diff-eps").await;
    let _controllers = Controllers::start(&ns.name, None);
    twins(
        &ns,
        "web",
        json!({"selector": {"app": "web"},
               "ports": [{"name": "http", "port": 80, "targetPort": "http"},
                         {"name": "metrics", "port": 9090}]}),
    )
    .await;
    // No pods yet: both have a placeholder and no endpoints.
    same(&ns, "web", "no pods", |s| s.is_empty()).await;
    // The Deployment's selector has a label the bare pods below lack, so it leaves them alone.
    ns.create::<Deployment>(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web", "from": "deploy"}},
                 "template": {"metadata": {"labels": {"app": "web", "from": "deploy"}},
                              "spec": {"containers": [{"name": "app", "image": "app:v1",
                                  "ports": [{"name": "http", "containerPort": 8080}]}]}}}
    }))
    .await
    .unwrap();
    same(&ns, "web", "2 replicas", |s| s.len() == 2 && ready(s) == 2).await;

    scale(&ns, 4).await;
    same(&ns, "web", "scaled up to 4", |s| {
        s.len() == 4 && ready(s) == 4
    })
    .await;

    // Delete a pod: it leaves both, its replacement joins both.
    let pods = ns
        .api::<Pod>()
        .list(&ListParams::default().labels("from=deploy"))
        .await
        .unwrap();
    let victim = pods.items[0].metadata.name.clone().unwrap();
    ns.api::<Pod>()
        .delete(&victim, &DeleteParams::default())
        .await
        .unwrap();
    same(&ns, "web", "a pod deleted and replaced", |s| {
        s.len() == 4 && ready(s) == 4 && find(s, &victim).is_none()
    })
    .await;

    scale(&ns, 1).await;
    same(&ns, "web", "scaled down to 1", |s| s.len() == 1).await;

    // A pod without the named port: only the metrics port.
    ns.create::<Pod>(pod("noport", json!({"app": "web"}), None, None))
        .await
        .unwrap();
    same(&ns, "web", "a pod without the named port", |s| {
        find(s, "noport").is_some_and(|e| e.ports.len() == 1)
    })
    .await;

    // Not ready, then ready.
    let mut slow = pod(
        "slow",
        json!({"app": "web"}),
        Some(8080),
        Some("ready-after"),
    );
    slow["metadata"]["annotations"]["sim.minik8s.dev/ready-after"] = json!("8s");
    ns.create::<Pod>(slow).await.unwrap();
    same(&ns, "web", "a pod not ready yet", |s| {
        find(s, "slow").is_some_and(|e| e.conditions == (Some(false), Some(false), Some(false)))
    })
    .await;
    same(&ns, "web", "the pod turned ready", |s| {
        find(s, "slow").is_some_and(|e| e.conditions == (Some(true), Some(true), Some(false)))
    })
    .await;

    // publishNotReadyAddresses on and off.
    ns.create::<Pod>(pod(
        "never",
        json!({"app": "web"}),
        Some(8080),
        Some("never-ready"),
    ))
    .await
    .unwrap();
    same(&ns, "web", "a never-ready pod", |s| {
        find(s, "never").is_some_and(|e| e.conditions.0 == Some(false))
    })
    .await;
    patch_both(
        &ns,
        "web",
        json!({"spec": {"publishNotReadyAddresses": true}}),
    )
    .await;
    same(&ns, "web", "publishNotReadyAddresses on", |s| {
        find(s, "never").is_some_and(|e| e.conditions == (Some(true), Some(false), Some(false)))
    })
    .await;
    patch_both(
        &ns,
        "web",
        json!({"spec": {"publishNotReadyAddresses": false}}),
    )
    .await;
    same(&ns, "web", "publishNotReadyAddresses off", |s| {
        find(s, "never").is_some_and(|e| e.conditions.0 == Some(false)) && s.len() == 4
    })
    .await;

    // A pod that takes a while to stop: terminating (not ready, still serving) in both, then
    // gone from both once it has stopped, with nothing else changing meanwhile (minik8s holds
    // that last removal for up to 1 s, docs/endpoints.md).
    let slow = json!({"sim.minik8s.dev/behavior": "terminate-after",
                      "sim.minik8s.dev/terminate-after": "8s"});
    crate::endpoints::assert_slow_terminations(&ns, &slow).await;
    let mut stopping = pod("stopping", json!({"app": "web"}), Some(8080), None);
    stopping["metadata"]["annotations"] = slow;
    ns.create::<Pod>(stopping).await.unwrap();
    same(&ns, "web", "a slow-to-stop pod ready", |s| {
        find(s, "stopping").is_some_and(|e| e.conditions == (Some(true), Some(true), Some(false)))
    })
    .await;
    ns.api::<Pod>()
        .delete("stopping", &DeleteParams::default())
        .await
        .unwrap();
    same(&ns, "web", "the pod terminating", |s| {
        find(s, "stopping").is_some_and(|e| e.conditions == (Some(false), Some(true), Some(true)))
    })
    .await;
    same(&ns, "web", "the pod stopped and gone", |s| {
        find(s, "stopping").is_none() && s.len() == 4
    })
    .await;
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_slices_match_the_builtin_slices() {
    let ns = TestNamespace::new("diff-eps-hl").await;
    let _controllers = Controllers::start(&ns.name, None);
    twins(
        &ns,
        "db",
        json!({"selector": {"app": "db"}, "clusterIP": "None"}),
    )
    .await;
    for name in ["db-0", "db-1"] {
        ns.create::<Pod>(pod(name, json!({"app": "db"}), None, None))
            .await
            .unwrap();
    }
    ns.create::<Pod>(pod("db-2", json!({"app": "db"}), None, Some("never-ready")))
        .await
        .unwrap();
    same(&ns, "db", "headless, no ports", |s| {
        s.len() == 3 && ready(s) == 2 && s.iter().all(|e| e.ports.is_empty())
    })
    .await;
    ns.api::<Pod>()
        .delete("db-0", &DeleteParams::default())
        .await
        .unwrap();
    same(&ns, "db", "headless, a pod deleted", |s| s.len() == 2).await;
    ns.cleanup().await;
}

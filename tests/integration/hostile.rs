//! Objects that pass admission but are wrong at run time: each gets a condition or an event
//! that says what to fix, the controller retries it with backoff instead of a hot loop (as
//! its metrics show), and the objects next to it keep being served.

use std::time::Duration;

use k8s_openapi::api::core::v1::Event;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use minik8s::api::{MiniDeployment, MiniEndpoints, MiniReplicaSet, MiniService};
use serde_json::json;

use crate::chaos::{Restartable, controller_manager_serving, rolled_out};
use crate::common::{TestNamespace, eventually};
use crate::fixtures;

/// A port nobody listens on now, for the controller manager's metrics.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `minik8s_<name>{<labels>}` summed over the series whose labels contain every `label`.
async fn metric(port: u16, name: &str, labels: &[&str]) -> f64 {
    let body = reqwest_text(port).await;
    body.lines()
        .filter(|l| {
            l.starts_with(&format!("minik8s_{name}{{"))
                || l.starts_with(&format!("minik8s_{name} "))
        })
        .filter(|l| labels.iter().all(|label| l.contains(label)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

async fn reqwest_text(port: u16) -> String {
    let url = format!("http://127.0.0.1:{port}/metrics");
    let output = tokio::process::Command::new("curl")
        .args(["-sf", &url])
        .output()
        .await
        .expect("curl runs");
    assert!(output.status.success(), "GET {url}: the metrics are served");
    String::from_utf8(output.stdout).unwrap()
}

async fn events_for(ns: &TestNamespace, name: &str) -> Vec<Event> {
    ns.api::<Event>()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(name))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_wrong_at_run_time_are_reported_retried_with_backoff_and_others_served() {
    let ns = TestNamespace::new("hostile").await;
    let port = free_port();
    let namespace = ns.name.clone();
    let mut controllers = Restartable::start(move || {
        controller_manager_serving(&namespace, 0, &format!("127.0.0.1:{port}"))
    });

    // A container name the API server refuses for pods (not a DNS label); the MiniReplicaSet's
    // schema takes the template as written, as the built-in's would reach the same refusal
    // only when it creates the pods.
    let mut refused = fixtures::small_replicaset("bad-name", 2, false);
    refused["spec"]["template"]["spec"]["containers"][0]["name"] = json!("Bad_Name");
    ns.create::<MiniReplicaSet>(refused).await.unwrap();

    // A MiniDeployment whose revision and rollback annotations are garbage: ignored, as
    // upstream ignores them, and it rolls out.
    let mut garbage = crate::chaos::deployment("garbage", 2, "app:1", None);
    garbage["metadata"]["annotations"] = json!({
        "minik8s.dev/rollback-to": "not-a-number",
        "minik8s.dev/revision": "-5",
    });
    ns.create::<MiniDeployment>(garbage).await.unwrap();

    // Two MiniReplicaSets that each name the other as their controller: an owner loop.
    let a = ns
        .create::<MiniReplicaSet>(fixtures::small_replicaset("loop-a", 1, false))
        .await
        .unwrap();
    let owner = |rs: &kube::api::DynamicObject| {
        json!([{"apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniReplicaSet",
                "name": rs.name_any(), "uid": rs.meta().uid, "controller": true}])
    };
    let mut b = fixtures::small_replicaset("loop-b", 1, false);
    b["metadata"]["ownerReferences"] = owner(&a);
    let b = ns.create::<MiniReplicaSet>(b).await.unwrap();
    let loop_patch = json!({"metadata": {"ownerReferences": owner(&b)}});
    ns.api::<MiniReplicaSet>()
        .patch(
            "loop-a",
            &PatchParams::default(),
            &Patch::Merge(&loop_patch),
        )
        .await
        .unwrap();

    // A MiniService whose selector matches nothing.
    ns.create::<MiniService>(json!({
        "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniService",
        "metadata": {"name": "nothing"},
        "spec": {"selector": {"app": "no-such-app"}, "ports": [{"port": 80}]}
    }))
    .await
    .unwrap();

    // And a healthy MiniReplicaSet beside them all.
    ns.create::<MiniReplicaSet>(fixtures::small_replicaset("healthy", 3, false))
        .await
        .unwrap();

    let ready = |name: &'static str, replicas: i32| {
        let api = ns.api::<MiniReplicaSet>();
        move || {
            let api = api.clone();
            async move {
                api.get(name)
                    .await
                    .ok()
                    .and_then(|rs| rs.status)
                    .is_some_and(|s| {
                        s.status.ready_replicas == Some(replicas) && s.status.replicas == replicas
                    })
            }
        }
    };
    eventually(
        Duration::from_secs(60),
        "the healthy set ready",
        ready("healthy", 3),
    )
    .await;
    eventually(
        Duration::from_secs(60),
        "both sets of the owner loop ready",
        || async { ready("loop-a", 1)().await && ready("loop-b", 1)().await },
    )
    .await;
    eventually(
        Duration::from_secs(60),
        "the MiniDeployment with garbage annotations rolled out",
        || rolled_out(&ns, "garbage", "app:1", 2),
    )
    .await;
    let garbage = ns.api::<MiniDeployment>().get("garbage").await.unwrap();
    assert_eq!(
        garbage
            .annotations()
            .get("minik8s.dev/revision")
            .map(String::as_str),
        Some("1"),
        "the garbage revision did not pull the first revision below 1"
    );
    eventually(
        Duration::from_secs(30),
        "an empty MiniEndpoints for the selector of nothing",
        || async {
            ns.api::<MiniEndpoints>()
                .get_opt("nothing")
                .await
                .unwrap()
                .is_some_and(|e| {
                    e.subsets
                        .iter()
                        .all(|s| s.addresses.as_ref().is_none_or(Vec::is_empty))
                })
        },
    )
    .await;

    // The refused template: a condition and an event that say what the API server refused.
    eventually(
        Duration::from_secs(30),
        "ReplicaFailure on the refused template",
        || async {
            let rs = ns.api::<MiniReplicaSet>().get("bad-name").await.unwrap();
            rs.status
                .and_then(|s| s.status.conditions)
                .into_iter()
                .flatten()
                .any(|c| {
                    c.type_.as_deref() == Some("ReplicaFailure")
                        && c.reason.as_deref() == Some("FailedCreate")
                        && c.message.as_deref().is_some_and(|m| m.contains("Bad_Name"))
                })
        },
    )
    .await;
    eventually(
        Duration::from_secs(30),
        "a FailedCreate event naming the container",
        || async {
            events_for(&ns, "bad-name").await.iter().any(|e| {
                e.reason.as_deref() == Some("FailedCreate")
                    && e.type_.as_deref() == Some("Warning")
                    && e.message.as_deref().is_some_and(|m| m.contains("Bad_Name"))
            })
        },
    )
    .await;

    // Retried with backoff, not in a hot loop: over 15 s a handful of failed syncs (upstream's
    // per-object backoff doubles from 5 ms), and the object counted in the backoff gauge.
    let errors = |port| {
        metric(
            port,
            "syncs_total",
            &[
                "controller=\"minireplicaset-controller\"",
                "result=\"error\"",
            ],
        )
    };
    let before = errors(port).await;
    tokio::time::sleep(Duration::from_secs(15)).await;
    let failed = errors(port).await - before;
    println!("failed syncs of the refused template in 15 s: {failed}");
    assert!(failed >= 1.0, "the refused template is retried");
    assert!(failed <= 12.0, "{failed} failed syncs in 15 s: a hot loop");
    assert!(
        metric(
            port,
            "backoff_entries",
            &["controller=\"minireplicaset-controller\""]
        )
        .await
            >= 1.0,
        "the refused template is in the backoff gauge"
    );
    assert!(controllers.is_running(), "the controller manager exited");

    // The other objects are still served: a scale of the healthy set goes through at once.
    let scale = json!({"spec": {"replicas": 5}});
    ns.api::<MiniReplicaSet>()
        .patch("healthy", &PatchParams::default(), &Patch::Merge(&scale))
        .await
        .unwrap();
    eventually(
        Duration::from_secs(30),
        "the healthy set scaled",
        ready("healthy", 5),
    )
    .await;
    controllers.kill();
    ns.cleanup().await;
}

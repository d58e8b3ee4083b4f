//! The MiniReplicaSet controller against the real API server: each behaviour of the built-in
//! ReplicaSet controller that users can observe.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::ResourceExt;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use minik8s::api::MiniReplicaSet;
use minik8s::runtime::client::RateLimit;
use serde_json::json;

use crate::common::{Controllers, PodCounter, TestNamespace, eventually};
use crate::fixtures;

const TIMEOUT: Duration = Duration::from_secs(60);

/// Active pods (not terminal, not being deleted) with `app=<app>`.
pub async fn active_pods(ns: &TestNamespace, app: &str) -> Vec<Pod> {
    let pods = ns
        .api::<Pod>()
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .unwrap();
    pods.items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            !matches!(
                p.status.as_ref().and_then(|s| s.phase.as_deref()),
                Some("Succeeded" | "Failed")
            )
        })
        .collect()
}

fn controlled_by(pod: &Pod, uid: &str) -> bool {
    pod.owner_references()
        .iter()
        .any(|r| r.controller == Some(true) && r.uid == uid)
}

/// Waits until the MiniReplicaSet's status satisfies `check`.
pub async fn wait_for_status(
    ns: &TestNamespace,
    name: &str,
    what: &str,
    check: impl Fn(&k8s_openapi::api::apps::v1::ReplicaSetStatus) -> bool,
) -> MiniReplicaSet {
    let api = ns.api::<MiniReplicaSet>();
    let mut last = None;
    let start = Instant::now();
    while start.elapsed() < TIMEOUT {
        let rs = api.get(name).await.unwrap();
        if rs.status.as_ref().is_some_and(|s| check(&s.status)) {
            return rs;
        }
        last = rs.status;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}; last status: {last:?}");
}

async fn scale(ns: &TestNamespace, name: &str, replicas: i32) {
    ns.api::<MiniReplicaSet>()
        .patch_scale(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": replicas}})),
        )
        .await
        .unwrap();
}

fn settled(replicas: i32) -> impl Fn(&k8s_openapi::api::apps::v1::ReplicaSetStatus) -> bool {
    move |s| {
        s.replicas == replicas
            && s.ready_replicas == Some(replicas)
            && s.available_replicas == Some(replicas)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scales_up_and_down_and_reports_status() {
    let ns = TestNamespace::new("rs-scale").await;
    let controllers = Controllers::start(&ns.name, None);
    ns.create::<MiniReplicaSet>(fixtures::small_replicaset("web", 3, false))
        .await
        .unwrap();
    let rs = wait_for_status(&ns, "web", "3 available", settled(3)).await;
    let status = rs.status.unwrap();
    assert_eq!(status.status.fully_labeled_replicas, Some(3));
    assert_eq!(status.status.observed_generation, rs.metadata.generation);
    assert_eq!(status.selector.as_deref(), Some("app=web"));
    let uid = rs.metadata.uid.unwrap();
    let pods = active_pods(&ns, "web").await;
    assert_eq!(pods.len(), 3);
    for pod in &pods {
        assert!(
            pod.name_any().starts_with("web-"),
            "generateName: {}",
            pod.name_any()
        );
        let owner = &pod.owner_references()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str()),
            ("MiniReplicaSet", uid.as_str())
        );
        assert_eq!(owner.block_owner_deletion, Some(true));
    }

    ns.kubectl(&["scale", "mrs/web", "--replicas=5"]);
    wait_for_status(&ns, "web", "5 available", settled(5)).await;
    scale(&ns, "web", 1).await;
    wait_for_status(&ns, "web", "1 available", settled(1)).await;
    eventually(TIMEOUT, "one pod left", || async {
        active_pods(&ns, "web").await.len() == 1
    })
    .await;

    let events = ns
        .api::<Event>()
        .list(&ListParams::default())
        .await
        .unwrap();
    let reasons: Vec<_> = events
        .items
        .iter()
        .filter_map(|e| e.reason.as_deref())
        .collect();
    assert!(reasons.contains(&"SuccessfulCreate"), "{reasons:?}");
    assert!(reasons.contains(&"SuccessfulDelete"), "{reasons:?}");
    // A graceful stop (SIGTERM) lets the controller finish and return promptly.
    tokio::time::timeout(Duration::from_secs(10), controllers.stop())
        .await
        .expect("graceful shutdown took over 10 s");
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaces_a_deleted_pod() {
    let ns = TestNamespace::new("rs-replace").await;
    let _controllers = Controllers::start(&ns.name, None);
    ns.create::<MiniReplicaSet>(fixtures::small_replicaset("web", 2, false))
        .await
        .unwrap();
    wait_for_status(&ns, "web", "2 available", settled(2)).await;
    delete_one_and_wait_for_its_replacement(&ns, "web", 2).await;
    ns.cleanup().await;
}

/// Deletes one pod of `app` and waits until `replicas` active pods are there without it.
async fn delete_one_and_wait_for_its_replacement(ns: &TestNamespace, app: &str, replicas: usize) {
    let victim = active_pods(ns, app).await[0].name_any();
    ns.api::<Pod>()
        .delete(&victim, &DeleteParams::default())
        .await
        .unwrap();
    eventually(TIMEOUT, "a replacement pod", || async {
        let pods = active_pods(ns, app).await;
        pods.len() == replicas && pods.iter().all(|p| p.name_any() != victim)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_batch_period_a_deleted_pod_is_replaced_once_the_period_is_over() {
    let ns = TestNamespace::new("rs-batch").await;
    let period = Duration::from_secs(1);
    let _controllers = Controllers::start_with(minik8s::manager::Options {
        namespace: Some(ns.name.clone()),
        replicaset_batch_period: period,
        ..Default::default()
    });
    ns.create::<MiniReplicaSet>(fixtures::small_replicaset("web", 3, false))
        .await
        .unwrap();
    wait_for_status(&ns, "web", "3 available", settled(3)).await;
    // Until then the pods' own last changes may hold a batch open; a deletion would ride on it.
    tokio::time::sleep(2 * period).await;
    let deleted = Instant::now();
    // The deletion's pod events are the only trigger, and they wait out the period.
    delete_one_and_wait_for_its_replacement(&ns, "web", 3).await;
    let waited = deleted.elapsed();
    assert!(
        waited >= period,
        "replaced after {waited:?}, within the batch period"
    );
    wait_for_status(&ns, "web", "3 available again", settled(3)).await;
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopts_orphans_and_releases_pods_whose_labels_change() {
    let ns = TestNamespace::new("rs-claim").await;
    // The orphan exists first: the set adopts it and creates only one more pod.
    ns.create::<Pod>(fixtures::orphan_pod("orphan", "web", json!({}), json!({})))
        .await
        .unwrap();
    let _controllers = Controllers::start(&ns.name, None);
    let rs = ns
        .create::<MiniReplicaSet>(fixtures::small_replicaset("web", 2, false))
        .await
        .unwrap();
    let uid = rs.metadata.uid.unwrap();
    wait_for_status(&ns, "web", "2 available", settled(2)).await;
    let orphan = ns.api::<Pod>().get("orphan").await.unwrap();
    assert!(
        controlled_by(&orphan, &uid),
        "orphan not adopted: {:?}",
        orphan.metadata.owner_references
    );
    assert_eq!(active_pods(&ns, "web").await.len(), 2);

    // Relabel the adopted pod: the set releases it and makes a replacement.
    ns.api::<Pod>()
        .patch(
            "orphan",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"app": "gone"}}})),
        )
        .await
        .unwrap();
    eventually(TIMEOUT, "release of the relabelled pod", || async {
        let pod = ns.api::<Pod>().get("orphan").await.unwrap();
        pod.owner_references().is_empty()
    })
    .await;
    eventually(TIMEOUT, "a replacement for the released pod", || async {
        active_pods(&ns, "web").await.len() == 2
    })
    .await;
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaves_pods_of_other_controllers_alone() {
    let ns = TestNamespace::new("rs-foreign").await;
    let _controllers = Controllers::start(&ns.name, None);
    // A built-in ReplicaSet and a MiniReplicaSet select the same labels.
    let builtin = ns
        .create::<ReplicaSet>(fixtures::small_replicaset("web", 2, true))
        .await
        .unwrap();
    let mini = ns
        .create::<MiniReplicaSet>(fixtures::small_replicaset("web", 3, false))
        .await
        .unwrap();
    wait_for_status(&ns, "web", "3 available", settled(3)).await;
    eventually(TIMEOUT, "2 + 3 pods", || async {
        active_pods(&ns, "web").await.len() == 5
    })
    .await;
    // Stays so: neither adopts, deletes nor releases the other's pods.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pods = active_pods(&ns, "web").await;
    let builtin_uid = builtin.metadata.uid.unwrap();
    let mini_uid = mini.metadata.uid.unwrap();
    assert_eq!(
        pods.iter()
            .filter(|p| controlled_by(p, &builtin_uid))
            .count(),
        2
    );
    assert_eq!(
        pods.iter().filter(|p| controlled_by(p, &mini_uid)).count(),
        3
    );
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_down_removes_unscheduled_and_not_ready_pods_first() {
    let ns = TestNamespace::new("rs-rank").await;
    let _controllers = Controllers::start(&ns.name, None);
    ns.create::<MiniReplicaSet>(fixtures::small_replicaset("web", 3, false))
        .await
        .unwrap();
    wait_for_status(&ns, "web", "3 available", settled(3)).await;
    // Two orphans join: one that no node can take, one that never becomes Ready. The set
    // adopts them and, having 5 for 3, deletes exactly those two.
    for orphan in fixtures::unwanted_orphans("", "web") {
        ns.create::<Pod>(orphan).await.unwrap();
    }
    eventually(TIMEOUT, "both orphans deleted", || async {
        let names: Vec<String> = active_pods(&ns, "web")
            .await
            .iter()
            .map(|p| p.name_any())
            .collect();
        names.len() == 3 && !names.iter().any(|n| n == "unscheduled" || n == "not-ready")
    })
    .await;
    wait_for_status(&ns, "web", "3 available", settled(3)).await;
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_ready_seconds_delays_availability() {
    let ns = TestNamespace::new("rs-minready").await;
    let _controllers = Controllers::start(&ns.name, None);
    let mut manifest = fixtures::small_replicaset("web", 2, false);
    manifest["spec"]["minReadySeconds"] = json!(3);
    let created = Instant::now();
    ns.create::<MiniReplicaSet>(manifest).await.unwrap();
    wait_for_status(&ns, "web", "2 ready, 0 available", |s| {
        s.ready_replicas == Some(2) && s.available_replicas == Some(0)
    })
    .await;
    wait_for_status(&ns, "web", "2 available", settled(2)).await;
    // Ready times have whole-second precision, so availability may come up to 1 s early.
    assert!(
        created.elapsed() >= Duration::from_secs(2),
        "available before minReadySeconds"
    );
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_failure_is_reported_while_a_quota_refuses_pods() {
    let ns = crate::common::quota_namespace("rs-quota").await;
    let _controllers = Controllers::start(&ns.name, None);
    ns.create::<MiniReplicaSet>(fixtures::small_replicaset("web", 4, false))
        .await
        .unwrap();
    let rs = wait_for_status(&ns, "web", "a ReplicaFailure condition", |s| {
        s.conditions
            .iter()
            .flatten()
            .any(|c| c.type_.as_deref() == Some("ReplicaFailure"))
    })
    .await;
    let status = rs.status.unwrap().status;
    let condition = status.conditions.unwrap().into_iter().next().unwrap();
    assert_eq!(condition.reason.as_deref(), Some("FailedCreate"));
    assert_eq!(condition.status.as_deref(), Some("True"));
    assert!(condition.message.unwrap().contains("exceeded quota"));
    // Events are written by the recorder a moment after the status that reports the failure.
    crate::common::eventually(Duration::from_secs(15), "a FailedCreate event", || async {
        let events = ns
            .api::<Event>()
            .list(&ListParams::default())
            .await
            .unwrap();
        events
            .items
            .iter()
            .any(|e| e.reason.as_deref() == Some("FailedCreate"))
    })
    .await;
    assert_eq!(active_pods(&ns, "web").await.len(), 2);

    // Within the quota again: the condition goes away after a clean sync.
    scale(&ns, "web", 2).await;
    wait_for_status(&ns, "web", "no ReplicaFailure", |s| {
        s.conditions.is_none() && s.replicas == 2
    })
    .await;
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_cascades_to_pods_unless_orphaned() {
    let ns = TestNamespace::new("rs-delete").await;
    let _controllers = Controllers::start(&ns.name, None);
    ns.create::<MiniReplicaSet>(fixtures::small_replicaset("cascade", 2, false))
        .await
        .unwrap();
    ns.create::<MiniReplicaSet>(fixtures::small_replicaset("orphaned", 2, false))
        .await
        .unwrap();
    wait_for_status(&ns, "cascade", "2 available", settled(2)).await;
    wait_for_status(&ns, "orphaned", "2 available", settled(2)).await;

    // The garbage collector (in kube-controller-manager) deletes the owned pods. It learns
    // about new CRDs by discovery every 30 s, hence the long timeout.
    ns.api::<MiniReplicaSet>()
        .delete("cascade", &DeleteParams::foreground())
        .await
        .unwrap();
    eventually(
        Duration::from_secs(120),
        "the pods to be garbage collected",
        || async { active_pods(&ns, "cascade").await.is_empty() },
    )
    .await;

    ns.api::<MiniReplicaSet>()
        .delete("orphaned", &DeleteParams::orphan())
        .await
        .unwrap();
    eventually(
        Duration::from_secs(120),
        "the owner references to be removed",
        || async {
            let pods = active_pods(&ns, "orphaned").await;
            pods.len() == 2 && pods.iter().all(|p| p.owner_references().is_empty())
        },
    )
    .await;
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_200_pods_at_once_never_overshoots() {
    let ns = TestNamespace::new("rs-burst").await;
    let counter = PodCounter::start(ns.client.clone(), &ns.name, "app=burst").await;
    let _controllers = Controllers::start(&ns.name, None);
    ns.create::<MiniReplicaSet>(fixtures::small_replicaset("burst", 200, false))
        .await
        .unwrap();
    eventually(Duration::from_secs(120), "200 pods", || async {
        active_pods(&ns, "burst").await.len() == 200
    })
    .await;
    // Give any duplicate creation the chance to show.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(counter.max(), 200, "the pod count went above 200");
    assert_eq!(active_pods(&ns, "burst").await.len(), 200);
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_restarted_mid_scale_creates_no_extra_pods() {
    let ns = TestNamespace::new("rs-restart").await;
    let counter = PodCounter::start(ns.client.clone(), &ns.name, "app=restart").await;
    // Slow the first controller down so that the crash lands in the middle of the scale-up.
    let slow = RateLimit::new(10.0, 5);
    let controllers = Controllers::start(&ns.name, slow);
    ns.create::<MiniReplicaSet>(fixtures::small_replicaset("restart", 60, false))
        .await
        .unwrap();
    eventually(TIMEOUT, "the scale-up to start", || async {
        active_pods(&ns, "restart").await.len() >= 10
    })
    .await;
    controllers.kill();
    let midway = active_pods(&ns, "restart").await.len();
    assert!(
        midway < 60,
        "the scale-up finished before the crash ({midway} pods)"
    );

    let _controllers = Controllers::start(&ns.name, None);
    wait_for_status(&ns, "restart", "60 available", settled(60)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(counter.max(), 60, "the pod count went above 60");
    assert_eq!(active_pods(&ns, "restart").await.len(), 60);
    ns.cleanup().await;
}

/// Each decision is logged at info level in kube-controller-manager's words and keys
/// (`replicaSet="ns/name"`, `pod="ns/name"`), so the two logs read side by side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_are_logged_in_kube_controller_managers_words() {
    use std::process::{Command, Stdio};
    let ns = TestNamespace::new("rs-logs").await;
    let mut controller = Command::new(env!("CARGO_BIN_EXE_minik8s"))
        .args(["controller-manager", "--controllers", "replicaset"])
        .args(["--namespace", &ns.name, "--health-address", "127.0.0.1:0"])
        .args(["--log-format", "json", "--log-level", "info"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    ns.create::<MiniReplicaSet>(fixtures::small_replicaset("web", 2, false))
        .await
        .unwrap();
    wait_for_status(&ns, "web", "2 available", settled(2)).await;
    scale(&ns, "web", 1).await;
    wait_for_status(&ns, "web", "1 available", settled(1)).await;
    let _ = controller.kill();
    let output = controller.wait_with_output().unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let key = format!("{}/web", ns.name);
    let logged = |message: &str, field: &str, value: i64| {
        lines.iter().any(|l| {
            l["level"] == "INFO"
                && l["message"] == message
                && l["replicaSet"] == key.as_str()
                && l[field] == value
        })
    };
    assert!(logged("Too few replicas", "creating", 2), "{lines:#?}");
    assert!(logged("Too many replicas", "deleting", 1), "{lines:#?}");
    ns.cleanup().await;
}

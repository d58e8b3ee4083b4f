//! The same operations on a built-in ReplicaSet and a MiniReplicaSet, side by side on one
//! cluster; what users see must match.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetStatus};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::ResourceExt;
use kube::api::{ListParams, Patch, PatchParams};
use minik8s::api::MiniReplicaSet;
use serde_json::json;

use crate::common::{Controllers, PodCounter, TestNamespace, eventually};
use crate::fixtures;
use crate::replicaset::active_pods;

const TIMEOUT: Duration = Duration::from_secs(60);

async fn status(ns: &TestNamespace, builtin: bool) -> (Option<i64>, ReplicaSetStatus) {
    if builtin {
        let rs = ns.api::<ReplicaSet>().get("builtin").await.unwrap();
        (rs.metadata.generation, rs.status.unwrap_or_default())
    } else {
        let rs = ns.api::<MiniReplicaSet>().get("mini").await.unwrap();
        (
            rs.metadata.generation,
            rs.status.map(|s| s.status).unwrap_or_default(),
        )
    }
}

/// The status fields users compare, with absent counts read as 0 (the built-in omits zeros).
fn visible(status: &ReplicaSetStatus) -> [i32; 5] {
    [
        status.replicas,
        status.fully_labeled_replicas.unwrap_or(0),
        status.ready_replicas.unwrap_or(0),
        status.available_replicas.unwrap_or(0),
        status.terminating_replicas.unwrap_or(0),
    ]
}

async fn scale_both(ns: &TestNamespace, replicas: i32) {
    let patch = Patch::Merge(json!({"spec": {"replicas": replicas}}));
    ns.api::<ReplicaSet>()
        .patch_scale("builtin", &PatchParams::default(), &patch)
        .await
        .unwrap();
    ns.api::<MiniReplicaSet>()
        .patch_scale("mini", &PatchParams::default(), &patch)
        .await
        .unwrap();
}

/// Waits until both report `replicas` pods, all available, for their latest generation.
async fn both_settled(ns: &TestNamespace, replicas: i32) {
    for builtin in [true, false] {
        eventually(
            TIMEOUT,
            &format!(
                "{} settled at {replicas}",
                if builtin { "builtin" } else { "mini" }
            ),
            || async {
                let (generation, s) = status(ns, builtin).await;
                s.observed_generation == generation
                    && visible(&s) == [replicas, replicas, replicas, replicas, 0]
            },
        )
        .await;
    }
}

async fn event_reasons(ns: &TestNamespace, kind: &str) -> BTreeSet<String> {
    let events = ns
        .api::<Event>()
        .list(&ListParams::default())
        .await
        .unwrap();
    events
        .items
        .into_iter()
        .filter(|e| e.involved_object.kind.as_deref() == Some(kind))
        .filter_map(|e| e.reason)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_and_mini_replicasets_behave_alike() {
    let ns = TestNamespace::new("diff-rs").await;
    let _controllers = Controllers::start(
        &ns.name,
        Some(minik8s::runtime::client::RateLimit::CONTROLLER_MANAGER),
    );
    let builtin_count = PodCounter::start(ns.client.clone(), &ns.name, "app=builtin").await;
    let mini_count = PodCounter::start(ns.client.clone(), &ns.name, "app=mini").await;
    ns.create::<ReplicaSet>(fixtures::small_replicaset("builtin", 10, true))
        .await
        .unwrap();
    ns.create::<MiniReplicaSet>(fixtures::small_replicaset("mini", 10, false))
        .await
        .unwrap();
    both_settled(&ns, 10).await;

    // Scale-down with mixed readiness: each gets an unschedulable and a never-ready orphan,
    // adopts them, and must delete exactly those two.
    for app in ["builtin", "mini"] {
        for orphan in fixtures::unwanted_orphans(&format!("{app}-"), app) {
            ns.create::<Pod>(orphan).await.unwrap();
        }
    }
    for app in ["builtin", "mini"] {
        eventually(
            TIMEOUT,
            &format!("{app} to delete its two orphans"),
            || async {
                let pods = active_pods(&ns, app).await;
                pods.len() == 10
                    && pods.iter().all(|p| {
                        !p.name_any().ends_with("unscheduled")
                            && !p.name_any().ends_with("not-ready")
                    })
            },
        )
        .await;
    }
    both_settled(&ns, 10).await;

    scale_both(&ns, 4).await;
    both_settled(&ns, 4).await;
    scale_both(&ns, 7).await;
    both_settled(&ns, 7).await;

    // 10 pods, plus the two orphans while they wait to be deleted; never more.
    for (who, counter) in [("built-in", &builtin_count), ("mini", &mini_count)] {
        assert!(
            (10..=12).contains(&counter.max()),
            "{who}: peak of {} pods",
            counter.max()
        );
    }
    let (_, builtin_status) = status(&ns, true).await;
    let (_, mini_status) = status(&ns, false).await;
    assert_eq!(visible(&mini_status), visible(&builtin_status));
    assert_eq!(mini_status.conditions, builtin_status.conditions);

    // Events are written in the background on both sides: wait for them to show.
    let expected = BTreeSet::from([
        "SuccessfulCreate".to_string(),
        "SuccessfulDelete".to_string(),
    ]);
    for kind in ["ReplicaSet", "MiniReplicaSet"] {
        eventually(
            Duration::from_secs(30),
            &format!("{kind} events"),
            || async { event_reasons(&ns, kind).await == expected },
        )
        .await;
    }
    ns.cleanup().await;
}

//! Upstream's own unit-test tables of the shared controller helpers (k8s.io/kubernetes
//! v1.36.3, `pkg/controller/controller_utils_test.go`), run against `expectations`, `ranking`,
//! `pod`, `claim` and the pieces of the two controllers that use them. Each test names the
//! upstream test function it comes from and keeps its case names.
//!
//! Not ported: the pod-creation, patch and taint helpers (API calls, not pure), and
//! `TestFindMinNextPodAvailability`'s status-evaluation delay (minik8s computes the status and
//! the next check at one instant). The `disablePodDeletioncost` case of
//! `TestSortingActivePodsWithRanks` is a non-default feature-gate setting: minik8s always
//! honours pod-deletion-cost, as upstream does by default.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::controllers::cached_pod::CachedPod;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::claim::{self, Claim, Owner};
use super::deployment::util as deployment_util;
use super::expectations::{Expectations, TIMEOUT};
use super::pod;
use super::ranking::{self, DELETION_COST, Ranked};
use super::replicaset::status as replicaset_status;
use crate::api::MiniReplicaSet;

const NOW: &str = "2026-06-01T12:00:00Z";

fn now() -> Timestamp {
    NOW.parse().unwrap()
}

fn ago(d: SignedDuration) -> Option<String> {
    Some((now() - d).to_string())
}

fn hours(h: i64) -> SignedDuration {
    SignedDuration::from_hours(h)
}

/// A month before NOW, as upstream's `now.AddDate(0, -1, 0)`.
const MONTH_AGO: &str = "2026-05-01T12:00:00Z";

fn pod_from(value: Value) -> CachedPod {
    serde_json::from_value(value).unwrap()
}

fn container_status(name: &str, restarts: i32) -> Value {
    json!({"name": name, "restartCount": restarts, "ready": true, "image": "i", "imageID": ""})
}

// ---------------------------------------------------------------------------------------------
// Expectations

/// `TestControllerExpectations`. minik8s keeps upstream's UID-tracking flavour only (the one
/// the ReplicaSet controller uses): a sync expects either creations or deletions, never both,
/// so the first part sets creations alone. Expectations expire after the fixed 5 minutes
/// (upstream's test uses a 30 s TTL).
#[test]
fn controller_expectations() {
    let e = Expectations::default();
    let start = Instant::now();
    let rc = "default/foobar";
    e.expect_creations(rc, 10, start);
    for _ in 0..11 {
        e.creation_observed(rc);
    }
    assert!(
        e.satisfied(rc, start),
        "Expectations have been surpassed: satisfied"
    );

    // "Old expectations are cleared because of ttl"
    e.expect_creations(rc, 1, start);
    assert!(!e.satisfied(rc, start), "new expectations are not met");
    assert!(
        e.satisfied(rc, start + TIMEOUT + Duration::from_nanos(1)),
        "Expectations should have expired but didn't"
    );
}

/// `TestUIDExpectations`: deletions of five pods each, for controllers sharing one tracker.
#[test]
fn uid_expectations() {
    let e = Expectations::default();
    let at = Instant::now();
    for (name, replicas) in [
        ("Replication controller with 2 replicas", 2),
        ("Replication controller with 1 replica", 1),
        ("Replication controller with no replicas", 0),
        ("Replication controller with 5 replicas", 5),
    ] {
        let rc = format!("default/rc-{replicas}");
        let pods: Vec<String> = (0..5)
            .map(|i| format!("default/pod{i}-rc-{replicas}"))
            .collect();
        e.expect_deletions(&rc, pods.clone(), at);
        assert!(!e.satisfied(&rc, at), "{name}: satisfied before deletion");
        for p in &pods {
            e.deletion_observed(&rc, p);
        }
        assert!(e.satisfied(&rc, at), "{name}: not satisfied after deletion");
        e.forget(&rc);
        assert!(e.satisfied(&rc, at), "{name}: forgotten");
    }
}

// ---------------------------------------------------------------------------------------------
// Pod filters

/// upstream `newPodList(nil, count, Running, rc)`: pods labelled foo=bar in "default".
fn pod_list(count: usize) -> Vec<Value> {
    (0..count)
        .map(|i| {
            json!({
                "metadata": {"name": format!("pod{i}"), "namespace": "default", "labels": {"foo": "bar"}},
                "status": {"phase": "Running"}
            })
        })
        .collect()
}

/// `TestCountTerminatingPods`.
#[test]
fn count_terminating_pods() {
    let mut pods = pod_list(7);
    pods[0]["status"]["phase"] = json!("Succeeded");
    pods[1]["status"]["phase"] = json!("Failed");
    pods[2]["status"]["phase"] = json!("Pending");
    pods[2]["metadata"]["deletionTimestamp"] = json!(NOW);
    pods[3]["status"]["phase"] = json!("Running");
    pods[3]["metadata"]["deletionTimestamp"] = json!(NOW);
    let terminating = pods
        .into_iter()
        .map(pod_from)
        .filter(pod::is_terminating)
        .count();
    assert_eq!(terminating, 2);
}

/// `TestActivePodFiltering`.
#[test]
fn active_pod_filtering() {
    let mut pods = pod_list(5);
    for (i, (name, phase)) in [
        ("pod-1", "Succeeded"),
        ("pod-2", "Failed"),
        ("pod-3", ""),
        ("pod-4", ""),
        ("pod-5", ""),
    ]
    .into_iter()
    .enumerate()
    {
        pods[i]["metadata"]["name"] = json!(name);
        pods[i]["status"]["phase"] = json!(phase);
    }
    let active: Vec<String> = pods
        .into_iter()
        .map(pod_from)
        .filter(pod::is_active)
        .map(|p| p.metadata.name.unwrap())
        .collect();
    assert_eq!(active, ["pod-3", "pod-4", "pod-5"], "Filters active pods");
}

/// `TestClaimedPodFiltering`: the pods a set already controls and selects (`Claim::Keep`).
#[test]
fn claimed_pod_filtering() {
    let rs = "rs-uid";
    let reference = |uid: &str, controller: Option<bool>| json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "x", "uid": uid, "controller": controller});
    let other = || reference("other-uid", Some(true));
    let cases: Vec<(&str, Option<&str>, Vec<Value>)> = vec![
        // single owner reference
        ("claimed-1", Some("bar"), vec![reference(rs, Some(true))]),
        (
            "wrong-selector-1",
            Some("baz"),
            vec![reference(rs, Some(true))],
        ),
        ("non-controller-1", Some("bar"), vec![reference(rs, None)]),
        ("other-controller-1", Some("bar"), vec![other()]),
        ("other-workload-1", Some("bee"), vec![other()]),
        ("standalone-pod-1", Some("beetle"), vec![]),
        // additional owner reference with controller=false
        (
            "claimed-2",
            Some("bar"),
            vec![reference("u1", Some(false)), reference(rs, Some(true))],
        ),
        (
            "wrong-selector-2",
            Some("baz"),
            vec![reference("u1", Some(false)), reference(rs, Some(true))],
        ),
        (
            "non-controller-2",
            Some("bar"),
            vec![reference("u1", Some(false)), reference(rs, Some(false))],
        ),
        (
            "other-controller-2",
            Some("bar"),
            vec![reference("u1", Some(false)), other()],
        ),
        (
            "other-workload-1",
            Some("bee"),
            vec![reference("u1", Some(false)), other()],
        ),
        (
            "standalone-pod-1",
            Some("beetle"),
            vec![reference("u1", Some(false))],
        ),
        // additional owner reference with controller=nil
        (
            "claimed-3",
            Some("bar"),
            vec![reference("u1", None), reference(rs, Some(true))],
        ),
        (
            "wrong-selector-3",
            None,
            vec![reference("u1", None), reference(rs, Some(true))],
        ),
        (
            "non-controller-3",
            Some("bar"),
            vec![reference("u1", None), reference(rs, None)],
        ),
        (
            "other-controller-3",
            Some("bar"),
            vec![reference("u1", None), other()],
        ),
        ("other-workload-1", Some("bee"), vec![reference("u1", None)]),
        (
            "standalone-pod-1",
            Some("beetle"),
            vec![reference("u1", None)],
        ),
    ];
    let owner = Owner {
        uid: rs,
        namespace: "default",
        being_deleted: false,
    };
    let claimed: Vec<&str> = cases
        .iter()
        .filter(|(name, foo, references)| {
            let p = pod_from(json!({
                "metadata": {
                    "name": name, "namespace": "default",
                    "labels": foo.map(|f| json!({"foo": f})),
                    "ownerReferences": references,
                },
                "status": {"phase": "Running"}
            }));
            claim::decide(&p.metadata, owner, *foo == Some("bar")) == Claim::Keep
        })
        .map(|(name, _, _)| *name)
        .collect();
    assert_eq!(
        claimed,
        ["claimed-1", "claimed-2", "claimed-3"],
        "Filters claimed pods"
    );
}

/// `TestActiveReplicaSetsFiltering` (upstream's nil entry has no counterpart).
#[test]
fn active_replica_sets_filtering() {
    let rs = |name: &str, replicas: i32| -> Arc<MiniReplicaSet> {
        Arc::new(
            serde_json::from_value(json!({
                "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniReplicaSet",
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"replicas": replicas, "selector": {"matchLabels": {"foo": "bar"}}, "template": {}}
            }))
            .unwrap(),
        )
    };
    let active = deployment_util::active(&[rs("zero", 0), rs("foo", 1), rs("bar", 2)]);
    let names: Vec<&str> = active
        .iter()
        .map(|rs| rs.metadata.name.as_deref().unwrap())
        .collect();
    assert_eq!(names, ["foo", "bar"], "Filters active replica sets");
}

// ---------------------------------------------------------------------------------------------
// Ranking

/// A small deterministic shuffle (upstream uses `rand.Perm`).
fn shuffled<T: Clone>(items: &[T], seed: u64) -> Vec<T> {
    let mut items = items.to_vec();
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    for i in (1..items.len()).rev() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        items.swap(i, (state >> 33) as usize % (i + 1));
    }
    items
}

/// `TestSortingActivePods` (upstream's `ActivePods`; minik8s has the ranked order only, which
/// with every rank equal gives the same order for these pods), over 20 shuffles.
#[test]
fn sorting_active_pods() {
    let ready = |since: Option<&str>| json!([{"type": "Ready", "status": "True", "lastTransitionTime": since}]);
    let restarts = |a: i32, b: i32| json!([container_status("a", a), container_status("b", b)]);
    let pods = [
        json!({"metadata": {"name": "unscheduled"}, "spec": {"containers": []}, "status": {"phase": "Pending"}}),
        json!({"metadata": {"name": "scheduledButPending"}, "spec": {"nodeName": "bar", "containers": []}, "status": {"phase": "Pending"}}),
        json!({"metadata": {"name": "unknownPhase"}, "spec": {"nodeName": "foo", "containers": []}, "status": {"phase": "Unknown"}}),
        json!({"metadata": {"name": "runningButNotReady"}, "spec": {"nodeName": "foo", "containers": []}, "status": {"phase": "Running"}}),
        json!({"metadata": {"name": "runningNoLastTransitionTime"}, "spec": {"nodeName": "foo", "containers": []},
               "status": {"phase": "Running", "conditions": ready(None), "containerStatuses": restarts(3, 0)}}),
        json!({"metadata": {"name": "runningWithLastTransitionTime"}, "spec": {"nodeName": "foo", "containers": []},
               "status": {"phase": "Running", "conditions": ready(Some(NOW)), "containerStatuses": restarts(3, 0)}}),
        json!({"metadata": {"name": "runningLongerTime"}, "spec": {"nodeName": "foo", "containers": []},
               "status": {"phase": "Running", "conditions": ready(Some(MONTH_AGO)), "containerStatuses": restarts(3, 0)}}),
        json!({"metadata": {"name": "lowerSidecarContainerRestartCount", "creationTimestamp": NOW},
               "spec": {"nodeName": "foo", "containers": [], "initContainers": [{"name": "sidecar", "restartPolicy": "Always"}]},
               "status": {"phase": "Running", "conditions": ready(Some(MONTH_AGO)), "containerStatuses": restarts(2, 1),
                          "initContainerStatuses": [container_status("sidecar", 2)]}}),
        json!({"metadata": {"name": "lowerContainerRestartCount", "creationTimestamp": NOW}, "spec": {"nodeName": "foo", "containers": []},
               "status": {"phase": "Running", "conditions": ready(Some(MONTH_AGO)), "containerStatuses": restarts(2, 1)}}),
        json!({"metadata": {"name": "oldest", "creationTimestamp": MONTH_AGO}, "spec": {"nodeName": "foo", "containers": []},
               "status": {"phase": "Running", "conditions": ready(Some(MONTH_AGO)), "containerStatuses": restarts(2, 1)}}),
    ];
    let pods: Vec<CachedPod> = pods.into_iter().map(pod_from).collect();
    let want: Vec<&str> = pods
        .iter()
        .map(|p| p.metadata.name.as_deref().unwrap())
        .collect();
    for seed in 0..20 {
        let mut ranked: Vec<Ranked> = shuffled(&pods.iter().collect::<Vec<_>>(), seed)
            .into_iter()
            .map(|pod| Ranked { pod, rank: 0 })
            .collect();
        ranking::sort_for_deletion(&mut ranked, now());
        let got: Vec<&str> = ranked
            .iter()
            .map(|r| r.pod.metadata.name.as_deref().unwrap())
            .collect();
        assert_eq!(got, want, "shuffle {seed}");
    }
}

/// upstream's `pod(name, node, phase, ready, restarts, sideRestarts, readySince, created,
/// annotations)` of `TestSortingActivePodsWithRanks`: every pod has a sidecar init container.
#[allow(clippy::too_many_arguments)]
fn ranked_pod(
    name: &str,
    node: &str,
    phase: &str,
    ready: bool,
    restarts: i32,
    side_restarts: i32,
    ready_since: Option<String>,
    created: Option<String>,
    annotations: Value,
) -> CachedPod {
    let mut status = json!({"phase": phase});
    if ready {
        status["conditions"] =
            json!([{"type": "Ready", "status": "True", "lastTransitionTime": ready_since}]);
        status["containerStatuses"] = json!([container_status("c", restarts)]);
        status["initContainerStatuses"] = json!([container_status("sidecar", side_restarts)]);
    }
    pod_from(json!({
        "metadata": {"name": name, "creationTimestamp": created, "annotations": annotations},
        "spec": {"nodeName": node, "containers": [], "initContainers": [{"name": "sidecar", "restartPolicy": "Always"}]},
        "status": status
    }))
}

/// `TestSortingActivePodsWithRanks` (LogarithmicScaleDown is GA).
#[test]
fn sorting_active_pods_with_ranks() {
    let zero = || None;
    let at_now = || Some(NOW.to_string());
    let month = || Some(MONTH_AGO.to_string());
    let none = json!(null);
    let p = ranked_pod;
    let unscheduled = p(
        "unscheduled",
        "",
        "Pending",
        false,
        0,
        0,
        zero(),
        zero(),
        none.clone(),
    );
    let scheduled_pending = p(
        "pending",
        "node",
        "Pending",
        false,
        0,
        0,
        zero(),
        zero(),
        none.clone(),
    );
    let unknown_phase = p(
        "unknown-phase",
        "node",
        "Unknown",
        false,
        0,
        0,
        zero(),
        zero(),
        none.clone(),
    );
    let not_ready = p(
        "not-ready",
        "node",
        "Running",
        false,
        0,
        0,
        zero(),
        zero(),
        none.clone(),
    );
    let ready_no_ltt = p(
        "ready-no-last-transition-time",
        "node",
        "Running",
        true,
        0,
        0,
        zero(),
        zero(),
        none.clone(),
    );
    let ready_now = p(
        "ready-now",
        "node",
        "Running",
        true,
        0,
        0,
        at_now(),
        at_now(),
        none.clone(),
    );
    let ready_then = p(
        "ready-then",
        "node",
        "Running",
        true,
        0,
        0,
        month(),
        month(),
        none.clone(),
    );
    let high_restarts = p(
        "ready-high-restarts",
        "node",
        "Running",
        true,
        9001,
        0,
        at_now(),
        at_now(),
        none.clone(),
    );
    let high_side_restarts = p(
        "ready-high-restarts",
        "node",
        "Running",
        true,
        9001,
        9001,
        at_now(),
        at_now(),
        none.clone(),
    );
    let now_created_then = p(
        "ready-now-created-then",
        "node",
        "Running",
        true,
        0,
        0,
        at_now(),
        month(),
        none.clone(),
    );
    let low_cost = p(
        "low-deletion-cost",
        "node",
        "Running",
        true,
        0,
        0,
        at_now(),
        month(),
        json!({DELETION_COST: "10"}),
    );
    let high_cost = p(
        "high-deletion-cost",
        "node",
        "Running",
        true,
        0,
        0,
        at_now(),
        month(),
        json!({DELETION_COST: "100"}),
    );
    let unscheduled_5h = p(
        "unscheduled-5-hours",
        "",
        "Pending",
        false,
        0,
        0,
        ago(hours(5)),
        ago(hours(5)),
        none.clone(),
    );
    let unscheduled_8h = p(
        "unscheduled-10-hours",
        "",
        "Pending",
        false,
        0,
        0,
        ago(hours(8)),
        ago(hours(8)),
        none.clone(),
    );
    let ready_2h = p(
        "ready-2-hours",
        "",
        "Running",
        true,
        0,
        0,
        ago(hours(2)),
        month(),
        none.clone(),
    );
    let ready_5h = p(
        "ready-5-hours",
        "",
        "Running",
        true,
        0,
        0,
        ago(hours(5)),
        month(),
        none.clone(),
    );
    let ready_10h = p(
        "ready-10-hours",
        "",
        "Running",
        true,
        0,
        0,
        ago(hours(8)),
        month(),
        none.clone(),
    );

    let less = |a: &CachedPod, rank_a: usize, b: &CachedPod, rank_b: usize| {
        ranking::delete_before(
            &Ranked {
                pod: a,
                rank: rank_a,
            },
            &Ranked {
                pod: b,
                rank: rank_b,
            },
            now(),
        )
    };

    let equality: [(&CachedPod, &CachedPod); 11] = [
        (&unscheduled, &unscheduled),
        (&scheduled_pending, &scheduled_pending),
        (&unknown_phase, &unknown_phase),
        (&not_ready, &not_ready),
        (&now_created_then, &now_created_then),
        (&ready_now, &ready_now),
        (&ready_then, &ready_then),
        (&high_restarts, &high_restarts),
        (&now_created_then, &now_created_then),
        (&unscheduled_5h, &unscheduled_8h),
        (&ready_5h, &ready_10h),
    ];
    for (i, (p1, p2)) in equality.into_iter().enumerate() {
        assert!(
            !less(p1, 1, p2, 1) && !less(p2, 1, p1, 1),
            "Equality tests {i}: {:?} and {:?}",
            p1.metadata.name,
            p2.metadata.name
        );
    }

    /// A pod and its rank.
    type WithRank<'a> = (&'a CachedPod, usize);
    let inequality: [(WithRank, WithRank); 16] = [
        ((&unscheduled, 1), (&scheduled_pending, 2)),
        ((&unscheduled, 2), (&scheduled_pending, 1)),
        ((&scheduled_pending, 1), (&unknown_phase, 2)),
        ((&unknown_phase, 1), (&not_ready, 2)),
        ((&not_ready, 1), (&ready_no_ltt, 1)),
        ((&ready_no_ltt, 1), (&ready_now, 1)),
        ((&ready_now, 2), (&ready_no_ltt, 1)),
        ((&ready_now, 1), (&ready_then, 1)),
        ((&ready_now, 2), (&ready_then, 1)),
        ((&high_restarts, 1), (&ready_now, 1)),
        ((&high_side_restarts, 1), (&high_restarts, 1)),
        ((&ready_now, 2), (&high_restarts, 1)),
        ((&ready_now, 1), (&now_created_then, 1)),
        ((&now_created_then, 2), (&ready_now, 1)),
        ((&low_cost, 2), (&high_cost, 1)),
        ((&ready_2h, 1), (&ready_5h, 1)),
    ];
    for (i, ((lesser, rank_l), (greater, rank_g))) in inequality.into_iter().enumerate() {
        assert!(
            less(lesser, rank_l, greater, rank_g),
            "Inequality tests {i}: {:?} (rank {rank_l}) should be less than {:?} (rank {rank_g})",
            lesser.metadata.name,
            greater.metadata.name
        );
        assert!(
            !less(greater, rank_g, lesser, rank_l),
            "Inequality tests {i}: {:?} (rank {rank_g}) should not be less than {:?} (rank {rank_l})",
            greater.metadata.name,
            lesser.metadata.name
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Availability checks

/// `TestNextPodAvailabilityCheck`, through `pod::until_available`.
#[test]
fn next_pod_availability_check() {
    let pod = |ready: bool, before_secs: i64, with_time: bool| {
        let since = with_time.then(|| (now() - SignedDuration::from_secs(before_secs)).to_string());
        pod_from(json!({"status": {"conditions": [
            {"type": "Ready", "status": if ready { "True" } else { "False" }, "lastTransitionTime": since}
        ]}}))
    };
    let cases = [
        ("not ready", pod(false, 0, true), 0, None),
        ("no minReadySeconds defined", pod(true, 0, true), 0, None),
        ("lastTransitionTime is zero", pod(true, 0, false), 1, None),
        (
            "just became ready - available in 1s",
            pod(true, 0, true),
            1,
            Some(SignedDuration::from_secs(1)),
        ),
        (
            "ready for 20s - available in 10s",
            pod(true, 20, true),
            30,
            Some(SignedDuration::from_secs(10)),
        ),
        ("available", pod(true, 51, true), 50, None),
    ];
    for (name, p, min_ready, expected) in cases {
        assert_eq!(
            pod::until_available(&p, min_ready, now()),
            expected,
            "{name}"
        );
    }
}

/// `TestFindMinNextPodAvailabilitySimpleCheck`, through what the MiniReplicaSet controller
/// asks after writing its status (`replicaset::status::next_availability_check`).
#[test]
fn find_min_next_pod_availability_simple_check() {
    let pod = |name: &str, ready: bool, before_secs: i64| -> Arc<CachedPod> {
        let (status, since) = if ready {
            (
                "True",
                Some((now() - SignedDuration::from_secs(before_secs)).to_string()),
            )
        } else {
            ("False", None)
        };
        Arc::new(pod_from(json!({
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": "node0", "containers": []},
            "status": {"conditions": [{"type": "Ready", "status": status, "lastTransitionTime": since}]}
        })))
    };
    let cases = [
        ("no pods", vec![], 0, None),
        (
            "unready pods",
            vec![pod("pod1", false, 0), pod("pod2", false, 0)],
            0,
            None,
        ),
        (
            "ready pods with no minReadySeconds",
            vec![pod("pod1", true, 0), pod("pod2", true, 0)],
            0,
            None,
        ),
        (
            "unready and ready pods should find min next availability check",
            vec![
                pod("pod1", false, 0),
                pod("pod2", true, 2),
                pod("pod3", true, 0),
                pod("pod4", true, 4),
                pod("pod5", false, 0),
            ],
            10,
            Some(Duration::from_secs(6)),
        ),
        (
            "unready and available pods do not require min next availability check",
            vec![
                pod("pod1", false, 0),
                pod("pod2", true, 15),
                pod("pod3", true, 11),
                pod("pod4", true, 10),
                pod("pod5", false, 0),
            ],
            10,
            None,
        ),
    ];
    for (name, pods, min_ready, expected) in cases {
        let rs: MiniReplicaSet = serde_json::from_value(json!({
            "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniReplicaSet",
            "metadata": {"name": "rs", "namespace": "default"},
            "spec": {"replicas": 5, "minReadySeconds": min_ready, "selector": {"matchLabels": {"a": "b"}}, "template": {}}
        }))
        .unwrap();
        let status = replicaset_status::calculate(&rs, &pods, 0, None, now()).status;
        assert_eq!(
            replicaset_status::next_availability_check(min_ready, &status, &pods, now()),
            expected,
            "{name}"
        );
    }
}

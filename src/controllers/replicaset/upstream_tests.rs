//! Upstream's own unit-test tables (k8s.io/kubernetes v1.36.3, `pkg/controller/replicaset`),
//! run against the pure parts of the MiniReplicaSet controller. Each test names the upstream
//! test function it comes from and keeps its case names.
//!
//! Not ported, because what they exercise is the executor, the informers or the fake client
//! rather than a pure function: the sync, watch, expectations-on-events, adoption and
//! status-update tests of `replica_set_test.go`. The burst size of `manageReplicas` is covered
//! by `plan`'s own tests.

use std::cell::Cell;
use std::sync::Arc;

use crate::controllers::cached_pod::CachedPod;
use k8s_openapi::api::apps::v1::ReplicaSetStatus;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::plan;
use super::status::{self, Failure};
use crate::api::MiniReplicaSet;
use crate::controllers::{pod, slow_start};

fn now() -> Timestamp {
    "2026-06-01T12:00:00Z".parse().unwrap()
}

/// upstream `newReplicaSet(replicas, selector)`: template labels name=foo, type=production.
fn replica_set(replicas: i32, selector: Value, min_ready: i32, status: Value) -> MiniReplicaSet {
    serde_json::from_value(json!({
        "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniReplicaSet",
        "metadata": {"name": "foobar", "namespace": "default", "uid": "rs-uid"},
        "spec": {
            "replicas": replicas, "minReadySeconds": min_ready,
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": {"name": "foo", "type": "production"}}, "spec": {"containers": [{"name": "c", "image": "foo/bar"}]}}
        },
        "status": status,
    }))
    .unwrap()
}

/// upstream `newPod(name, rs, phase, lastTransitionTime, true)`: labelled with the set's
/// selector; a Running pod is Ready (since `ready_since`, if given).
fn new_pod(
    name: &str,
    labels: &Value,
    phase: &str,
    ready_since: Option<Timestamp>,
) -> Arc<CachedPod> {
    let conditions = if phase == "Running" {
        json!([{"type": "Ready", "status": "True", "lastTransitionTime": ready_since}])
    } else {
        json!([])
    };
    Arc::new(
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"), "labels": labels},
            "status": {"phase": phase, "conditions": conditions}
        }))
        .unwrap(),
    )
}

/// `TestCalculateStatus`. The DeploymentReplicaSetTerminatingReplicas gate is on by default
/// in v1.36 and minik8s always reports the count, so the expected terminatingReplicas is the
/// gate-on one (the number of terminating pods) for every case; the ReplicationController
/// case (gate on, feature off for that controller) does not apply.
#[test]
fn calculate_status() {
    let label_map = json!({"name": "foo"});
    let full_label_map = json!({"name": "foo", "type": "production"});
    let not_fully_labelled = replica_set(1, label_map.clone(), 0, json!(null));
    let fully_labelled = replica_set(2, full_label_map.clone(), 0, json!(null));
    let long_min_ready = 3600;
    let long_min_ready_rs = replica_set(1, full_label_map.clone(), long_min_ready, json!(null));
    let running = |name, labels: &Value| new_pod(name, labels, "Running", None);
    let ready_since = |secs_ago: i64| Some(now() - SignedDuration::from_secs(secs_ago));
    // (name, set, active pods, terminating pods, (replicas, fully labeled, ready, available))
    let cases = [
        (
            "1 fully labelled pod",
            &fully_labelled,
            vec![running("pod1", &full_label_map)],
            0,
            (1, 1, 1, 1),
        ),
        (
            "1 not fully labelled pod",
            &not_fully_labelled,
            vec![running("pod1", &label_map)],
            0,
            (1, 0, 1, 1),
        ),
        (
            "2 fully labelled pods",
            &fully_labelled,
            vec![
                running("pod1", &full_label_map),
                running("pod2", &full_label_map),
            ],
            0,
            (2, 2, 2, 2),
        ),
        (
            "2 fully labelled pods with DeploymentReplicaSetTerminatingReplicas",
            &fully_labelled,
            vec![
                running("pod1", &full_label_map),
                running("pod2", &full_label_map),
            ],
            0,
            (2, 2, 2, 2),
        ),
        (
            "2 not fully labelled pods",
            &not_fully_labelled,
            vec![running("pod1", &label_map), running("pod2", &label_map)],
            0,
            (2, 0, 2, 2),
        ),
        (
            "1 fully labelled pod, 1 not fully labelled pod",
            &not_fully_labelled,
            vec![
                running("pod1", &label_map),
                running("pod2", &full_label_map),
            ],
            0,
            (2, 1, 2, 2),
        ),
        (
            "1 non-ready pod",
            &fully_labelled,
            vec![new_pod("pod1", &full_label_map, "Pending", None)],
            0,
            (1, 1, 0, 0),
        ),
        (
            "1 ready but non-available pod",
            &long_min_ready_rs,
            vec![new_pod("pod1", &full_label_map, "Running", ready_since(0))],
            0,
            (1, 1, 1, 0),
        ),
        (
            "1 available pod with minReadySeconds",
            &long_min_ready_rs,
            vec![new_pod(
                "pod1",
                &full_label_map,
                "Running",
                ready_since(long_min_ready.into()),
            )],
            0,
            (1, 1, 1, 1),
        ),
        (
            "1 available pod for a long time with minReadySeconds",
            &long_min_ready_rs,
            vec![new_pod(
                "pod1",
                &full_label_map,
                "Running",
                ready_since(2 * i64::from(long_min_ready)),
            )],
            0,
            (1, 1, 1, 1),
        ),
        (
            "1 fully labelled pod and 1 terminating without DeploymentReplicaSetTerminatingReplicas",
            &fully_labelled,
            vec![running("pod1", &full_label_map)],
            1,
            (1, 1, 1, 1),
        ),
        (
            "1 fully labelled pods and 2 terminating with DeploymentReplicaSetTerminatingReplicas",
            &fully_labelled,
            vec![running("pod1", &full_label_map)],
            2,
            (1, 1, 1, 1),
        ),
    ];
    for (name, rs, active, terminating, (replicas, labeled, ready, available)) in cases {
        let s = status::calculate(rs, &active, terminating, None, now()).status;
        assert_eq!(
            s,
            ReplicaSetStatus {
                replicas,
                fully_labeled_replicas: Some(labeled),
                ready_replicas: Some(ready),
                available_replicas: Some(available),
                terminating_replicas: Some(terminating as i32),
                observed_generation: None,
                conditions: None,
            },
            "{name}"
        );
    }
}

/// `TestCalculateStatusConditions`. Upstream picks the reason from the sign of the pod
/// difference; minik8s's executor names it with the failure (creating: FailedCreate,
/// deleting: FailedDelete), so the failure passed here carries the reason upstream picks.
#[test]
fn calculate_status_conditions() {
    let labels = json!({"name": "foo"});
    let rs = replica_set(2, labels.clone(), 0, json!(null));
    let replica_failure_rs = replica_set(
        10,
        labels.clone(),
        0,
        json!({"replicas": 0, "conditions": [{"type": "ReplicaFailure", "status": "True"}]}),
    );
    let pods = |n: usize| -> Vec<Arc<CachedPod>> {
        (1..=n)
            .map(|i| new_pod(&format!("pod{i}"), &labels, "Running", None))
            .collect()
    };
    let failure = |reason| Failure {
        reason,
        message: "fake manageReplicasErr".into(),
    };
    let condition = |reason: Option<&str>, message: Option<&str>| json!([{"type": "ReplicaFailure", "status": "True", "reason": reason, "message": message}]);
    let cases = [
        (
            "manageReplicasErr != nil && failureCond == nil, diff < 0",
            &rs,
            pods(1),
            Some(failure("FailedCreate")),
            Some(condition(
                Some("FailedCreate"),
                Some("fake manageReplicasErr"),
            )),
        ),
        (
            "manageReplicasErr != nil && failureCond == nil, diff > 0",
            &rs,
            pods(3),
            Some(failure("FailedDelete")),
            Some(condition(
                Some("FailedDelete"),
                Some("fake manageReplicasErr"),
            )),
        ),
        (
            "manageReplicasErr == nil && failureCond != nil",
            &replica_failure_rs,
            pods(1),
            None,
            None,
        ),
        (
            "manageReplicasErr != nil && failureCond != nil",
            &replica_failure_rs,
            pods(1),
            Some(failure("FailedCreate")),
            Some(condition(None, None)),
        ),
        (
            "manageReplicasErr == nil && failureCond == nil",
            &rs,
            pods(1),
            None,
            None,
        ),
    ];
    for (name, rs, active, failure, expected) in cases {
        let s = status::calculate(rs, &active, 0, failure.as_ref(), now()).status;
        let got = s.conditions.map(|conditions| {
            // The transition time is now for a new condition; compare the rest.
            let mut got = serde_json::to_value(conditions).unwrap();
            for c in got.as_array_mut().unwrap() {
                c.as_object_mut().unwrap().remove("lastTransitionTime");
                for field in ["reason", "message"] {
                    if c.get(field).is_none() {
                        c[field] = Value::Null;
                    }
                }
            }
            got
        });
        assert_eq!(got, expected, "{name}");
    }
}

/// `TestSlowStartBatch`: the 1st, 2nd, … calls succeed up to `limit`, the later ones fail.
#[test]
fn slow_start_batch() {
    // (name, count, call limit, successes, error, calls)
    let cases = [
        ("callLimit = 0 (all fail)", 10, 0, 0, true, 1),
        ("callLimit = count (all succeed)", 10, 10, 10, false, 10),
        ("callLimit < count (some succeed)", 10, 5, 5, true, 7),
    ];
    for (name, count, limit, successes, error, calls) in cases {
        let made = Cell::new(0);
        let (ok, err) = futures::executor::block_on(slow_start::run(count, || {
            made.set(made.get() + 1);
            let n = made.get();
            async move { if n > limit { Err("fake error") } else { Ok(n) } }
        }));
        assert_eq!(ok.len(), successes, "{name}: successes");
        assert_eq!(err.is_some(), error, "{name}: error");
        assert_eq!(made.get(), calls, "{name}: calls");
    }
}

/// `TestGetPodsToDelete`.
#[test]
fn get_pods_to_delete() {
    let labels = json!({"name": "foo"});
    let with =
        |name: &str, phase: &str, node: Option<&str>, ready: Option<bool>| -> Arc<CachedPod> {
            let mut pod = (*new_pod(name, &labels, phase, None)).clone();
            let mut value = serde_json::to_value(&pod).unwrap();
            value["spec"] = json!({"nodeName": node, "containers": []});
            if let Some(ready) = ready {
                value["status"]["conditions"] =
                    json!([{"type": "Ready", "status": if ready { "True" } else { "False" }}]);
            }
            pod = serde_json::from_value(value).unwrap();
            Arc::new(pod)
        };
    let unscheduled_pending = with("unscheduled-pending-pod", "Pending", None, None);
    let scheduled_pending = with("scheduled-pending-pod", "Pending", Some("fake-node"), None);
    let not_ready = with(
        "scheduled-running-not-ready-pod",
        "Running",
        Some("fake-node"),
        Some(false),
    );
    let ready_node1 = with(
        "scheduled-running-ready-pod-on-node-1",
        "Running",
        Some("fake-node-1"),
        Some(true),
    );
    let ready_node2 = with(
        "scheduled-running-ready-pod-on-node-2",
        "Running",
        Some("fake-node-2"),
        Some(true),
    );
    let all_six = vec![
        ready_node1.clone(),
        ready_node1.clone(),
        ready_node2.clone(),
        not_ready.clone(),
        scheduled_pending.clone(),
        unscheduled_pending.clone(),
    ];
    type Case = (
        &'static str,
        Vec<Arc<CachedPod>>,
        Option<Vec<Arc<CachedPod>>>,
        usize,
        Vec<Arc<CachedPod>>,
    );
    let cases: Vec<Case> = vec![
        (
            "len(pods) = 0 (i.e., diff = 0 too)",
            vec![],
            None,
            0,
            vec![],
        ),
        (
            "diff = len(pods)",
            vec![not_ready.clone(), ready_node1.clone()],
            None,
            2,
            vec![not_ready.clone(), ready_node1.clone()],
        ),
        (
            "diff < len(pods)",
            vec![ready_node1.clone(), not_ready.clone()],
            None,
            1,
            vec![not_ready.clone()],
        ),
        (
            "various pod phases and conditions, diff = len(pods)",
            all_six.clone(),
            None,
            6,
            all_six.clone(),
        ),
        (
            "various pod phases and conditions, diff = len(pods), relatedPods empty",
            all_six.clone(),
            Some(vec![]),
            6,
            all_six.clone(),
        ),
        (
            "scheduled vs unscheduled, diff < len(pods)",
            vec![scheduled_pending.clone(), unscheduled_pending.clone()],
            None,
            1,
            vec![unscheduled_pending.clone()],
        ),
        (
            "ready vs not-ready, diff < len(pods)",
            vec![ready_node1.clone(), not_ready.clone(), not_ready.clone()],
            None,
            2,
            vec![not_ready.clone(), not_ready.clone()],
        ),
        (
            "ready and colocated with another ready pod vs not colocated, diff < len(pods)",
            vec![ready_node1.clone(), ready_node2.clone()],
            Some(vec![
                ready_node1.clone(),
                ready_node2.clone(),
                ready_node2.clone(),
            ]),
            1,
            vec![ready_node2.clone()],
        ),
        (
            "pending vs running, diff < len(pods)",
            vec![scheduled_pending.clone(), not_ready.clone()],
            None,
            1,
            vec![scheduled_pending.clone()],
        ),
        (
            "various pod phases and conditions, diff < len(pods)",
            vec![
                ready_node1.clone(),
                ready_node2.clone(),
                not_ready.clone(),
                scheduled_pending.clone(),
                unscheduled_pending.clone(),
            ],
            None,
            3,
            vec![
                unscheduled_pending.clone(),
                scheduled_pending.clone(),
                not_ready.clone(),
            ],
        ),
    ];
    let name = |p: &CachedPod| p.metadata.name.clone().unwrap();
    for (case, pods, related, diff, expected) in cases {
        let related = related.unwrap_or_else(|| pods.clone());
        let got: Vec<String> = plan::pods_to_delete(&pods, &related, diff, now())
            .into_iter()
            .map(name)
            .collect();
        let expected: Vec<String> = expected.iter().map(|p| name(p)).collect();
        assert_eq!(got, expected, "{case}");
    }
}

/// `TestGetPodKeys`: the keys expectations track deletions by.
#[test]
fn get_pod_keys() {
    let labels = json!({"name": "foo"});
    let pods = [
        new_pod("pod1", &labels, "Running", None),
        new_pod("pod2", &labels, "Running", None),
    ];
    let keys: Vec<String> = pods.iter().map(|p| pod::key(p)).collect();
    assert_eq!(keys, ["default/pod1", "default/pod2"], "len(pods) > 0");
}

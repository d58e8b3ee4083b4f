//! Upstream's own unit-test tables (k8s.io/kubernetes v1.36.3, `pkg/controller/deployment`),
//! run against the pure parts of the MiniDeployment controller. Each test names the upstream
//! test function it comes from, and each case keeps upstream's name (or its index when upstream
//! has none). Inputs are rebuilt with small builders; where minik8s expresses a thing
//! differently (a planner that returns steps rather than calling the API, a field the CRD
//! defaults instead of leaving nil), the test says how the case was mapped.
//!
//! Not ported, because the code they exercise is not a pure function here: `oldPodsRunning`
//! and `scaleDownOldReplicaSetsForRecreate` (the executor's recreate path), the controller
//! event-handler and informer tests of `deployment_controller_test.go`, and
//! `GetDeploymentsForReplicaSet` (a lister lookup).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{DeploymentCondition, DeploymentStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use serde_json::{Value, json};

use super::plan::{self, Bounds, Cleanable, Scale, SetView};
use super::status;
use super::util::{self, DESIRED_REPLICAS, MAX_REPLICAS, REVISION, reason};
use crate::api::deployment::RollingUpdateDeployment;
use crate::api::{MiniDeployment, MiniReplicaSet};

// ---------------------------------------------------------------------------------------------
// Builders.

type Sets = Vec<Arc<MiniReplicaSet>>;
type Names = &'static [&'static str];
/// (set, new size) of each scale step.
type Steps = &'static [(&'static str, i32)];

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// A MiniDeployment from its spec (merged over a small valid one) and status.
fn deployment(spec: Value, status: Value) -> MiniDeployment {
    let mut base = json!({
        "replicas": 1,
        "selector": {"matchLabels": {"foo": "bar"}},
        "template": {"metadata": {"labels": {"foo": "bar"}}, "spec": {"containers": [{"name": "c", "image": "foo/bar"}]}}
    });
    for (k, v) in spec.as_object().unwrap() {
        base[k] = v.clone();
    }
    serde_json::from_value(json!({
        "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniDeployment",
        "metadata": {"name": "foo", "namespace": "default"},
        "spec": base,
        "status": status,
    }))
    .unwrap()
}

/// Upstream's `newDeployment` helper: RollingUpdate with the given surge and unavailability.
fn rolling(replicas: i32, surge: Value, unavailable: Value) -> MiniDeployment {
    deployment(
        json!({"replicas": replicas, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}}),
        json!(null),
    )
}

fn recreate(replicas: i32) -> MiniDeployment {
    deployment(
        json!({"replicas": replicas, "strategy": {"type": "Recreate"}}),
        json!(null),
    )
}

/// A MiniReplicaSet: name, spec.replicas, creation time, annotations, status, template.
struct Rs {
    name: &'static str,
    replicas: i32,
    created: Option<&'static str>,
    annotations: Value,
    status: Value,
    template: Value,
    deleting: bool,
}

impl Rs {
    fn new(name: &'static str, replicas: i32) -> Self {
        Self {
            name,
            replicas,
            created: None,
            annotations: json!({}),
            status: json!(null),
            template: json!({}),
            deleting: false,
        }
    }
    fn created(mut self, at: &'static str) -> Self {
        self.created = Some(at);
        self
    }
    fn annotations(mut self, a: Value) -> Self {
        self.annotations = a;
        self
    }
    fn status(mut self, s: Value) -> Self {
        self.status = s;
        self
    }
    fn template(mut self, t: Value) -> Self {
        self.template = t;
        self
    }
    fn deleting(mut self) -> Self {
        self.deleting = true;
        self
    }
    fn build(self) -> Arc<MiniReplicaSet> {
        Arc::new(
            serde_json::from_value(json!({
                "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniReplicaSet",
                "metadata": {
                    "name": self.name, "namespace": "default", "uid": format!("uid-{}", self.name),
                    "creationTimestamp": self.created,
                    "deletionTimestamp": if self.deleting { json!("2026-01-01T00:00:00Z") } else { Value::Null },
                    "annotations": self.annotations,
                },
                "spec": {"replicas": self.replicas, "selector": {"matchLabels": {"foo": "bar"}}, "template": self.template},
                "status": self.status,
            }))
            .unwrap(),
        )
    }
}

fn b(replicas: i32, max_surge: i32, max_unavailable: i32) -> Bounds {
    Bounds {
        replicas,
        max_surge,
        max_unavailable,
    }
}

fn set(name: &str, replicas: i32, available: i32) -> SetView {
    SetView {
        name: name.into(),
        created: None,
        replicas,
        available,
        max_replicas: None,
    }
}

fn scale(name: &str, to: i32) -> Scale {
    Scale {
        name: name.into(),
        to,
    }
}

fn int_or(v: &str) -> IntOrString {
    v.parse::<i32>()
        .map(IntOrString::Int)
        .unwrap_or_else(|_| IntOrString::String(v.into()))
}

// ---------------------------------------------------------------------------------------------
// util/deployment_util_test.go

/// upstream `generatePodTemplateSpec(name, nodeName, annotations, labels)`.
fn pod_template(name: &str, node: &str, annotations: Value, labels: Value) -> Value {
    json!({"metadata": {"name": name, "annotations": annotations, "labels": labels}, "spec": {"nodeName": node}})
}

/// `TestEqualIgnoreHash`, every case in both orders.
#[test]
fn equal_ignore_hash() {
    const H: &str = util::POD_TEMPLATE_HASH;
    let cases = [
        (
            "Same spec, same labels",
            pod_template(
                "foo",
                "foo-node",
                json!({}),
                json!({H: "value-1", "something": "else"}),
            ),
            pod_template(
                "foo",
                "foo-node",
                json!({}),
                json!({H: "value-1", "something": "else"}),
            ),
            true,
        ),
        (
            "Same spec, only pod-template-hash label value is different",
            pod_template(
                "foo",
                "foo-node",
                json!({}),
                json!({H: "value-1", "something": "else"}),
            ),
            pod_template(
                "foo",
                "foo-node",
                json!({}),
                json!({H: "value-2", "something": "else"}),
            ),
            true,
        ),
        (
            "Same spec, the former doesn't have pod-template-hash label",
            pod_template("foo", "foo-node", json!({}), json!({"something": "else"})),
            pod_template(
                "foo",
                "foo-node",
                json!({}),
                json!({H: "value-2", "something": "else"}),
            ),
            true,
        ),
        (
            "Same spec, the label is different, the former doesn't have pod-template-hash label, same number of labels",
            pod_template("foo", "foo-node", json!({}), json!({"something": "else"})),
            pod_template("foo", "foo-node", json!({}), json!({H: "value-2"})),
            false,
        ),
        (
            "Same spec, the label is different, the latter doesn't have pod-template-hash label, same number of labels",
            pod_template("foo", "foo-node", json!({}), json!({H: "value-1"})),
            pod_template("foo", "foo-node", json!({}), json!({"something": "else"})),
            false,
        ),
        (
            "Same spec, the label is different, and the pod-template-hash label value is the same",
            pod_template("foo", "foo-node", json!({}), json!({H: "value-1"})),
            pod_template(
                "foo",
                "foo-node",
                json!({}),
                json!({H: "value-1", "something": "else"}),
            ),
            false,
        ),
        (
            "Different spec, same labels",
            pod_template(
                "foo",
                "foo-node",
                json!({"former": "value"}),
                json!({H: "value-1", "something": "else"}),
            ),
            pod_template(
                "foo",
                "foo-node",
                json!({"latter": "value"}),
                json!({H: "value-1", "something": "else"}),
            ),
            false,
        ),
        (
            "Different spec, different pod-template-hash label value",
            pod_template(
                "foo-1",
                "foo-node",
                json!({}),
                json!({H: "value-1", "something": "else"}),
            ),
            pod_template(
                "foo-2",
                "foo-node",
                json!({}),
                json!({H: "value-2", "something": "else"}),
            ),
            false,
        ),
        (
            "Different spec, the former doesn't have pod-template-hash label",
            pod_template(
                "foo-1",
                "foo-node-1",
                json!({}),
                json!({"something": "else"}),
            ),
            pod_template(
                "foo-2",
                "foo-node-2",
                json!({}),
                json!({H: "value-2", "something": "else"}),
            ),
            false,
        ),
        (
            "Different spec, different labels",
            pod_template("foo", "foo-node-1", json!({}), json!({"something": "else"})),
            pod_template("foo", "foo-node-2", json!({}), json!({"nothing": "else"})),
            false,
        ),
    ];
    for (name, former, latter, expected) in cases {
        let (former, latter) = (former.as_object().unwrap(), latter.as_object().unwrap());
        let equal = |a, b| util::template_without_hash(a) == util::template_without_hash(b);
        assert_eq!(equal(former, latter), expected, "{name}");
        assert_eq!(equal(latter, former), expected, "{name} (reverse order)");
    }
}

/// upstream `generateDeployment(image)`'s template, with an optional pod-template-hash label
/// and container name.
fn nginx_template(container: &str, hash: Option<&str>) -> Value {
    let mut labels = json!({"name": "nginx"});
    if let Some(hash) = hash {
        labels[util::POD_TEMPLATE_HASH] = json!(hash);
    }
    json!({
        "metadata": {"labels": labels},
        "spec": {
            "containers": [{"name": container, "image": "nginx", "imagePullPolicy": "Always", "terminationMessagePath": "/dev/termination-log"}],
            "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30, "restartPolicy": "Always",
            "securityContext": {}, "enableServiceLinks": true
        }
    })
}

fn nginx_deployment() -> MiniDeployment {
    deployment(
        json!({"selector": {"matchLabels": {"name": "nginx"}}, "template": nginx_template("nginx", None)}),
        json!(null),
    )
}

fn names(sets: &[Arc<MiniReplicaSet>]) -> Vec<String> {
    sets.iter().map(|rs| rs.name_any()).collect()
}

/// `TestFindNewReplicaSet` and `TestFindOldReplicaSets` (the "required" old sets upstream
/// returns are the active ones: `util::active`).
#[test]
fn find_new_and_old_replica_sets() {
    let d = nginx_deployment();
    let new = Rs::new("new", 1)
        .created("2026-01-01T00:01:00Z")
        .template(nginx_template("nginx", Some("hash")))
        .build();
    let new_dup = Rs::new("new-dup", 0)
        .created("2026-01-01T00:00:00Z")
        .template(nginx_template("nginx", Some("different-hash")))
        .build();
    let old = Rs::new("old", 0)
        .created("2025-12-31T23:59:00Z")
        .template(nginx_template("nginx-old-1", None))
        .build();

    // TestFindNewReplicaSet
    let (found, _) = util::split_new_and_old(&d, &[new.clone(), old.clone()]);
    assert_eq!(
        found.map(|rs| rs.name_any()).as_deref(),
        Some("new"),
        "Get new ReplicaSet with the same template as Deployment spec but different pod-template-hash value"
    );
    let (found, _) = util::split_new_and_old(&d, &[new.clone(), old.clone(), new_dup.clone()]);
    assert_eq!(
        found.map(|rs| rs.name_any()).as_deref(),
        Some("new-dup"),
        "Get the oldest new ReplicaSet when there are more than one ReplicaSet with the same template"
    );
    let (found, _) = util::split_new_and_old(&d, std::slice::from_ref(&old));
    assert!(found.is_none(), "Get nil new ReplicaSet");

    // TestFindOldReplicaSets: (name, sets, old, required old)
    let cases: [(&str, Sets, Names, Names); 4] = [
        (
            "Get old ReplicaSets",
            vec![new.clone(), old.clone()],
            &["old"],
            &[],
        ),
        (
            "Get old ReplicaSets with no new ReplicaSet",
            vec![old.clone()],
            &["old"],
            &[],
        ),
        (
            "Get old ReplicaSets with two new ReplicaSets, only the oldest new ReplicaSet is seen as new ReplicaSet",
            vec![old.clone(), new.clone(), new_dup.clone()],
            &["old", "new"],
            &["new"],
        ),
        ("Get empty old ReplicaSets", vec![new.clone()], &[], &[]),
    ];
    for (name, sets, expected, required) in cases {
        let (_, old) = util::split_new_and_old(&d, &sets);
        assert_eq!(names(&old), expected, "{name}");
        assert_eq!(names(&util::active(&old)), required, "{name} (required)");
    }
}

/// `TestGetReplicaCountForReplicaSets`: spec and actual counts, and the terminating count as
/// the deployment status reports it (nil when an observed set does not report it).
#[test]
fn get_replica_count_for_replica_sets() {
    let rs1 = Rs::new("rs1", 1)
        .status(json!({"observedGeneration": 1, "replicas": 2, "terminatingReplicas": 3}))
        .build();
    let rs2 = Rs::new("rs2", 2)
        .status(json!({"replicas": 3, "terminatingReplicas": 1}))
        .build();
    let rs3 = Rs::new("rs3", 3).status(json!({"replicas": 0})).build();
    let rs4 = Rs::new("rs4", 1)
        .status(json!({"observedGeneration": 1, "replicas": 1}))
        .build();
    let cases = [
        ("scaling down rs1", vec![&rs1], 1, 2, Some(3)),
        ("scaling down rs1 and rs2", vec![&rs1, &rs2], 3, 5, Some(4)),
        ("scaling up rs3", vec![&rs3], 3, 0, Some(0)),
        (
            "scaling down rs1 and rs2 and scaling up rs3",
            vec![&rs1, &rs2, &rs3],
            6,
            5,
            Some(4),
        ),
        (
            "invalid/unknown terminating status for rs4",
            vec![&rs4],
            1,
            1,
            None,
        ),
        (
            "invalid/unknown terminating status for rs4 with rs1, rs2 and rs3",
            vec![&rs1, &rs2, &rs3, &rs4],
            7,
            6,
            None,
        ),
    ];
    let d = rolling(1, json!(0), json!(1));
    for (name, sets, count, actual, terminating) in cases {
        let sets: Vec<Arc<MiniReplicaSet>> = sets.into_iter().cloned().collect();
        assert_eq!(util::spec_replicas(&sets), count, "{name}: count");
        assert_eq!(util::actual_replicas(&sets), actual, "{name}: actual");
        let status = status::calculate(&d, &sets, None, ts("2026-01-01T00:00:00Z"));
        assert_eq!(
            status.terminating_replicas, terminating,
            "{name}: terminating"
        );
    }
}

/// `TestResolveFenceposts`. The CRD cannot leave maxSurge or maxUnavailable unset (it defaults
/// them), so upstream's nil, which `ResolveFenceposts` reads as 0, is passed as 0. The cases
/// with a malformed value ("oops", "urg") are not ported: the CRD's validation rejects such a
/// MiniDeployment, so the planner never sees one.
#[test]
fn resolve_fenceposts() {
    let cases = [
        ("0%", "0%", 0, (0, 1)),
        ("39%", "39%", 10, (4, 3)),
        ("0", "39%", 10, (0, 3)),
        ("39%", "0", 10, (4, 0)),
        ("0", "0", 10, (0, 1)),
    ];
    for (i, (surge, unavailable, desired, expected)) in cases.into_iter().enumerate() {
        let bounds = RollingUpdateDeployment {
            max_surge: int_or(surge),
            max_unavailable: int_or(unavailable),
        };
        assert_eq!(util::fenceposts(&bounds, desired), expected, "case {i}");
    }
}

/// `TestNewRSNewReplicas` (RollingUpdate cases; the Recreate case is the executor scaling the
/// new set straight to spec.replicas). Upstream passes only `rs5` as "all" sets.
#[test]
fn new_rs_new_replicas() {
    let cases = [
        ("can not scale up - to newRSReplicas", 1, 5, 1, 5),
        ("scale up - to depReplicas", 6, 2, 10, 6),
    ];
    for (name, dep_replicas, new_replicas, surge, expected) in cases {
        let all = [set("rs5", 5, 0)];
        let new = set("new", new_replicas, 0);
        let got = plan::new_set_replicas(b(dep_replicas, surge, 1), &all, &new);
        assert_eq!(got, expected, "{name}");
    }
}

fn condition(type_: &str, status: &str, reason: &str) -> DeploymentCondition {
    DeploymentCondition {
        type_: Some(type_.into()),
        status: Some(status.into()),
        reason: Some(reason.into()),
        ..Default::default()
    }
}

fn cond_progressing() -> DeploymentCondition {
    condition(util::PROGRESSING, "False", "ForSomeReason")
}

fn cond_progressing2() -> DeploymentCondition {
    condition(util::PROGRESSING, "True", "BecauseItIs")
}

fn cond_available() -> DeploymentCondition {
    condition(util::AVAILABLE, "True", "AwesomeController")
}

fn with_conditions(conditions: Vec<DeploymentCondition>) -> DeploymentStatus {
    DeploymentStatus {
        conditions: Some(conditions),
        ..Default::default()
    }
}

/// `TestGetCondition`, `TestSetCondition`, `TestRemoveCondition`.
#[test]
fn get_set_remove_condition() {
    let example = with_conditions(vec![cond_progressing(), cond_available()]);
    assert!(
        util::condition(&example, util::AVAILABLE).is_some(),
        "condition exists"
    );
    assert!(
        util::condition(&example, util::REPLICA_FAILURE).is_none(),
        "condition does not exist"
    );

    let set_cases = [
        (
            "set for the first time",
            DeploymentStatus::default(),
            cond_available(),
            with_conditions(vec![cond_available()]),
        ),
        (
            "simple set",
            with_conditions(vec![cond_progressing()]),
            cond_available(),
            with_conditions(vec![cond_progressing(), cond_available()]),
        ),
        (
            "overwrite",
            with_conditions(vec![cond_progressing()]),
            cond_progressing2(),
            with_conditions(vec![cond_progressing2()]),
        ),
    ];
    for (name, mut status, cond, expected) in set_cases {
        util::set_condition(&mut status, cond);
        assert_eq!(status, expected, "{name}");
    }

    let remove_cases = [
        (
            "remove from empty status",
            DeploymentStatus::default(),
            util::PROGRESSING,
            DeploymentStatus::default(),
        ),
        (
            "simple remove",
            with_conditions(vec![cond_progressing()]),
            util::PROGRESSING,
            DeploymentStatus::default(),
        ),
        (
            "doesn't remove anything",
            example.clone(),
            util::REPLICA_FAILURE,
            example.clone(),
        ),
    ];
    for (name, mut status, type_, expected) in remove_cases {
        util::remove_condition(&mut status, type_);
        assert_eq!(status, expected, "{name}");
    }
}

fn counts(replicas: i32, updated: i32, ready: i32, available: i32) -> DeploymentStatus {
    DeploymentStatus {
        replicas: Some(replicas),
        updated_replicas: Some(updated),
        ready_replicas: Some(ready),
        available_replicas: Some(available),
        ..Default::default()
    }
}

/// `TestDeploymentComplete`.
#[test]
fn deployment_complete() {
    // (name, desired, current, updated, available, maxUnavailable, maxSurge)
    let cases = [
        (
            "not complete: min but not all pods become available",
            (5, 5, 5, 4, 1, 0),
            false,
        ),
        (
            "not complete: min availability is not honored",
            (5, 5, 5, 3, 1, 0),
            false,
        ),
        ("complete", (5, 5, 5, 5, 0, 0), true),
        (
            "not complete: all pods are available but not updated",
            (5, 5, 4, 5, 0, 0),
            false,
        ),
        (
            "not complete: still running old pods",
            (1, 2, 1, 1, 0, 1),
            false,
        ),
        (
            "not complete: one replica deployment never comes up",
            (1, 1, 1, 0, 1, 1),
            false,
        ),
    ];
    for (name, (desired, current, updated, available, unavailable, surge), expected) in cases {
        let d = rolling(desired, json!(surge), json!(unavailable));
        let status = counts(current, updated, 0, available);
        assert_eq!(util::is_complete(&d, &status), expected, "{name}");
    }
}

/// `TestDeploymentProgressing`.
#[test]
fn deployment_progressing() {
    let cases = [
        (
            "progressing: updated pods",
            (10, 4, 4, 4),
            (10, 6, 4, 4),
            true,
        ),
        ("not progressing", (10, 4, 4, 4), (10, 4, 4, 4), false),
        (
            "progressing: old pods removed",
            (10, 4, 6, 6),
            (8, 4, 6, 6),
            true,
        ),
        (
            "not progressing: less new pods",
            (10, 7, 3, 3),
            (10, 6, 3, 3),
            false,
        ),
        (
            "progressing: less overall but more new pods",
            (10, 4, 7, 7),
            (8, 8, 5, 5),
            true,
        ),
        (
            "progressing: more ready pods",
            (10, 10, 9, 8),
            (10, 10, 10, 8),
            true,
        ),
        (
            "progressing: more available pods",
            (10, 10, 10, 9),
            (10, 10, 10, 10),
            true,
        ),
    ];
    for (name, old, new, expected) in cases {
        let old = counts(old.0, old.1, old.2, old.3);
        let d = deployment(json!({}), serde_json::to_value(&old).unwrap());
        let new = counts(new.0, new.1, new.2, new.3);
        assert_eq!(util::is_progressing(&d, &new), expected, "{name}");
    }
}

/// `TestDeploymentTimedOut`. The CRD defaults progressDeadlineSeconds, so upstream's nil (no
/// deadline) is passed as its other spelling, i32::MAX; the caller (`status::rollout`) checks
/// for a deadline before asking.
#[test]
fn deployment_timed_out() {
    let time = |min: u8, sec: u8| ts(&format!("2016-01-01T00:{min:02}:{sec:02}Z"));
    let cases = [
        (
            "nil progressDeadlineSeconds specified - no timeout",
            "",
            i32::MAX,
            time(1, 9),
            time(1, 20),
            false,
        ),
        (
            "infinite progressDeadlineSeconds specified - no timeout",
            "",
            i32::MAX,
            time(1, 9),
            time(1, 20),
            false,
        ),
        (
            "progressDeadlineSeconds: 10s, now - started => 00:01:20 - 00:01:09 => 11s",
            "",
            10,
            time(1, 9),
            time(1, 20),
            true,
        ),
        (
            "progressDeadlineSeconds: 10s, now - started => 00:01:20 - 00:01:11 => 9s",
            "",
            10,
            time(1, 11),
            time(1, 20),
            false,
        ),
        (
            "previous status was a complete deployment",
            reason::NEW_RS_AVAILABLE,
            i32::MAX,
            Timestamp::UNIX_EPOCH,
            time(1, 20),
            false,
        ),
    ];
    for (name, reason, pds, from, now, expected) in cases {
        let d = deployment(json!({"progressDeadlineSeconds": pds}), json!(null));
        let mut c = condition(util::PROGRESSING, "True", reason);
        c.last_update_time = Some(Time(from));
        let status = with_conditions(vec![c]);
        let timed_out = status::has_progress_deadline(&d) && util::has_timed_out(&d, &status, now);
        assert_eq!(timed_out, expected, "{name}");
    }
}

/// `TestMaxUnavailable` (maxSurge 1 throughout).
#[test]
fn max_unavailable() {
    let cases = [
        ("maxUnavailable less than replicas", 10, "5", 5),
        ("maxUnavailable equal replicas", 10, "10", 10),
        ("maxUnavailable greater than replicas", 5, "10", 5),
        ("maxUnavailable with replicas is 0", 0, "10", 0),
        (
            "maxUnavailable less than replicas with percents",
            10,
            "50%",
            5,
        ),
        (
            "maxUnavailable equal replicas with percents",
            10,
            "100%",
            10,
        ),
        (
            "maxUnavailable greater than replicas with percents",
            5,
            "100%",
            5,
        ),
    ];
    for (name, replicas, unavailable, expected) in cases {
        let d = rolling(
            replicas,
            json!(1),
            serde_json::to_value(int_or(unavailable)).unwrap(),
        );
        assert_eq!(util::max_unavailable(&d), expected, "{name}");
    }
    assert_eq!(
        util::max_unavailable(&recreate(1)),
        0,
        "maxUnavailable with Recreate deployment strategy"
    );
}

/// `TestMinAvailable`: minik8s has no MinAvailable helper; the rolling planner and the
/// Available condition use spec.replicas − MaxUnavailable, which is what this checks. (The
/// Recreate case is upstream's helper answering 0, which nothing in the controller reads.)
#[test]
fn min_available() {
    let cases = [
        ("replicas greater than maxUnavailable", 10, "5", 5),
        ("replicas equal maxUnavailable", 10, "10", 0),
        ("replicas less than maxUnavailable", 5, "10", 0),
        ("replicas is 0", 0, "10", 0),
        (
            "replicas greater than maxUnavailable with percents",
            10,
            "60%",
            4,
        ),
        ("replicas equal maxUnavailable with percents", 10, "100%", 0),
        (
            "replicas less than maxUnavailable with percents",
            5,
            "100%",
            0,
        ),
    ];
    for (name, replicas, unavailable, expected) in cases {
        let d = rolling(
            replicas,
            json!(1),
            serde_json::to_value(int_or(unavailable)).unwrap(),
        );
        assert_eq!(
            d.spec.replicas - util::max_unavailable(&d),
            expected,
            "{name}"
        );
    }
}

/// `TestGetNonNegativeInt32FromAnnotation`, through the two readers of such annotations
/// (desired-replicas and max-replicas): an invalid value reads as absent.
#[test]
fn get_non_negative_int32_from_annotation() {
    let cases = [
        ("invalid empty", None, None),
        ("invalid", Some("invalid"), None),
        ("valid zero", Some("0"), Some(0)),
        ("valid", Some("13"), Some(13)),
        ("valid max", Some("2147483647"), Some(i32::MAX)),
        ("invalid max out of range", Some("2147483648"), None),
        ("invalid max out of range 2", Some("4294967296"), None),
    ];
    for (name, value, expected) in cases {
        let annotations = match value {
            Some(v) => json!({DESIRED_REPLICAS: v, MAX_REPLICAS: v, "foo": "2"}),
            None => json!({"foo": "2"}),
        };
        let rs = Rs::new("rs", 1).annotations(annotations).build();
        assert_eq!(util::desired_replicas_annotation(&rs), expected, "{name}");
        assert_eq!(util::max_replicas_annotation(&rs), expected, "{name}");
    }
}

/// `TestGetNonNegativeInt32FromAnnotation` "invalid negative": upstream parses these
/// annotations as unsigned, so "-1" is invalid (read as absent).
#[test]
fn get_non_negative_int32_from_annotation_rejects_negative() {
    let rs = Rs::new("rs", 1)
        .annotations(json!({DESIRED_REPLICAS: "-1", MAX_REPLICAS: "-1", "foo": "2"}))
        .build();
    assert_eq!(util::desired_replicas_annotation(&rs), None);
    assert_eq!(util::max_replicas_annotation(&rs), None);
}

/// `TestAnnotationUtils`. Upstream passes a 5-character history limit; minik8s's limit is
/// fixed at 2000 characters, so the history keeps every revision here and the check is on
/// its newest two entries, which upstream's limit keeps.
#[test]
fn annotation_utils() {
    let d = deployment(
        json!({"selector": {"matchLabels": {"name": "nginx"}}, "template": nginx_template("nginx", None)}),
        json!(null),
    );
    let mut d = d;
    d.metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(util::REVISION.into(), "1".into());

    // SetNewReplicaSetAnnotations
    let mut annotations = BTreeMap::new();
    for i in 10..20 {
        let next = i + 1;
        util::set_new_replicaset_annotations(&d, &mut annotations, next, true);
        if i >= 12 {
            let history = &annotations[util::REVISION_HISTORY];
            assert!(
                history.ends_with(&format!("{},{}", i - 1, i)),
                "revision history {history} at {next}"
            );
        }
        assert_eq!(annotations[util::REVISION], next.to_string());
    }

    // SetReplicasAnnotations
    assert!(util::set_replicas_annotations(&mut annotations, 10, 11));
    assert_eq!(annotations[util::DESIRED_REPLICAS], "10");
    assert_eq!(annotations[util::MAX_REPLICAS], "11");

    // IsSaturated
    annotations.insert(util::DESIRED_REPLICAS.into(), "1".into());
    let rs = Rs::new("rs", 1)
        .annotations(serde_json::to_value(&annotations).unwrap())
        .status(json!({"replicas": 1, "availableReplicas": 1}))
        .build();
    assert!(util::is_saturated(&d, &rs));
}

/// `TestReplicasAnnotationsNeedUpdate` (desired 10, max 20).
#[test]
fn replicas_annotations_need_update() {
    let cases = [
        ("test Annotations nil", json!({}), true),
        (
            "test desiredReplicas update",
            json!({DESIRED_REPLICAS: "8", MAX_REPLICAS: "20"}),
            true,
        ),
        (
            "test maxReplicas update",
            json!({DESIRED_REPLICAS: "10", MAX_REPLICAS: "16"}),
            true,
        ),
        (
            "test needn't update",
            json!({DESIRED_REPLICAS: "10", MAX_REPLICAS: "20"}),
            false,
        ),
    ];
    for (name, annotations, expected) in cases {
        let annotations: BTreeMap<String, String> = serde_json::from_value(annotations).unwrap();
        assert_eq!(
            util::replicas_annotations_need_update(&annotations, 10, 20),
            expected,
            "{name}"
        );
    }
}

/// `TestGetReplicaSetFraction`. The fraction is private to proportional scaling, so each case
/// runs `proportional_sizes` with the tested set beside a larger one whose max-replicas
/// annotation already equals the new deployment size + surge (its own fraction is 0, and it
/// absorbs the rounding leftover), and with enough room that the fraction is not clamped.
#[test]
fn get_replica_set_fraction() {
    // (name, replicas, status.replicas, surge, set replicas, max-replicas annotation,
    //  companion set replicas, expected fraction)
    let cases = [
        (
            "empty deployment always scales to 0",
            0,
            0,
            0,
            10,
            None,
            11,
            -10,
        ),
        (
            "unsynced deployment does not scale when max-replicas annotation is missing (removed by a 3rd party)",
            10,
            0,
            0,
            5,
            None,
            6,
            0,
        ),
        (
            "unsynced deployment does not scale when max-replicas annotation is incorrectly set to 0 (by a 3rd party)",
            10,
            0,
            0,
            5,
            Some(0),
            6,
            0,
        ),
        (
            "scale up by 1/5 should increase RS replicas by 1/5 when max-replicas annotation is missing (removed by a 3rd party)",
            120,
            100,
            0,
            50,
            None,
            55,
            10,
        ),
        (
            "scale up by 1/5 should increase RS replicas by 1/5 when max-replicas annotation is incorrectly set to 0 (by a 3rd party)",
            120,
            100,
            0,
            50,
            Some(0),
            55,
            10,
        ),
        (
            "scale up by 1/5 should increase RS replicas by 1/5",
            120,
            0,
            0,
            50,
            Some(100),
            55,
            10,
        ),
        (
            "scale up with maxSurge by 1/5 should increase RS replicas approximately by 1/5",
            120,
            0,
            10,
            50,
            Some(110),
            55,
            9,
        ),
        (
            "scale down by 1/6 should decrease RS replicas by 1/6",
            10,
            0,
            0,
            6,
            Some(12),
            7,
            -1,
        ),
        (
            "scale down with maxSurge by 1/6 should decrease RS replicas approximately by 1/6",
            100,
            0,
            10,
            50,
            Some(130),
            70,
            -8,
        ),
    ];
    for (name, replicas, status_replicas, surge, size, annotation, companion, expected) in cases {
        let tested = SetView {
            max_replicas: annotation,
            ..set("tested", size, size)
        };
        let other = SetView {
            max_replicas: Some(replicas + surge),
            ..set("companion", companion, companion)
        };
        let sizes =
            plan::proportional_sizes(b(replicas, surge, 1), status_replicas, &[tested, other]);
        assert_eq!(
            sizes[0].name, "companion",
            "{name}: the larger set goes first"
        );
        let got = sizes.iter().find(|s| s.name == "tested").unwrap().to - size;
        assert_eq!(got, expected, "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// util/hash_test.go and controller_utils_test.go TestComputeHash

/// `TestPodTemplateSpecHash`: 1000 templates differing in one image tag, no collision.
#[test]
fn pod_template_spec_hash() {
    let mut seen = std::collections::HashMap::new();
    for i in 0..1000 {
        let template = json!({
            "metadata": {"labels": {"app": "cats"}},
            "spec": {
                "containers": [{
                    "name": "cats",
                    "image": format!("registry/test/cats:v0.{i}.0"),
                    "ports": [{"name": "http", "containerPort": 9077, "protocol": "TCP"}],
                    "env": [
                        {"name": "DEPLOYMENT_ENVIRONMENT", "value": "cats-stubbed-functional"},
                        {"name": "APP_NAME", "value": "cats"}
                    ],
                    "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}},
                    "livenessProbe": {
                        "httpGet": {"path": "/private/status", "port": 9077, "scheme": "HTTP"},
                        "initialDelaySeconds": 30, "timeoutSeconds": 1, "periodSeconds": 10,
                        "successThreshold": 1, "failureThreshold": 3
                    },
                    "readinessProbe": {
                        "httpGet": {"path": "/private/status", "port": 9077, "scheme": "HTTP"},
                        "initialDelaySeconds": 1, "timeoutSeconds": 1, "periodSeconds": 10,
                        "successThreshold": 1, "failureThreshold": 3
                    },
                    "terminationMessagePath": "/dev/termination-log",
                    "imagePullPolicy": "IfNotPresent"
                }],
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 30,
                "dnsPolicy": "ClusterFirst",
                "securityContext": {}
            }
        });
        let hash = util::template_hash(template.as_object().unwrap(), None);
        if let Some(old) = seen.insert(hash, i) {
            panic!("hash collision, old: {old} new: {i}");
        }
    }
}

/// `TestComputeHash` (controller_utils_test.go): the collision count changes the hash.
#[test]
fn compute_hash() {
    let template = serde_json::Map::new();
    let cases = [
        ("simple", Some(1), Some(2)),
        ("using math.MaxInt64", None, Some(i32::MAX)),
    ];
    for (name, count, other) in cases {
        assert_ne!(
            util::template_hash(&template, count),
            util::template_hash(&template, other),
            "{name}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// sync_test.go

const NEW: &str = "2016-05-20T02:00:00Z";
const OLD: &str = "2016-05-20T01:00:00Z";
const OLDER: &str = "2016-05-20T00:00:00Z";

/// The sizes after a resize (`plan::resize`, which `Run::scale_only` carries out).
fn scale_event(
    d: &MiniDeployment,
    new: Option<&Arc<MiniReplicaSet>>,
    old: &[Arc<MiniReplicaSet>],
) -> BTreeMap<String, i32> {
    let mut sizes: BTreeMap<String, i32> = old
        .iter()
        .chain(new)
        .map(|rs| (rs.name_any(), rs.spec.replicas))
        .collect();
    let status_replicas = d
        .status
        .as_ref()
        .and_then(|s| s.status.replicas)
        .unwrap_or(0);
    for step in plan::resize(d, new, old, status_replicas).steps {
        sizes.insert(step.name, step.to);
    }
    sizes
}

/// `TestScale`, the cases the proportional-sizes test in `plan.rs` does not already cover.
/// Every set carries the replica annotations of the deployment before the resize, as
/// upstream's test sets them.
#[test]
fn scale_resize() {
    struct Case {
        name: &'static str,
        /// (replicas, maxSurge, maxUnavailable) after and before.
        after: (i32, i32, i32),
        before: (i32, i32),
        new: Option<(&'static str, i32, &'static str)>,
        old: &'static [(&'static str, i32, &'static str)],
        /// desired-replicas annotations that differ from the deployment size before.
        desired: &'static [(&'static str, i32)],
        new_available: Option<i32>,
        expected: &'static [(&'static str, i32)],
    }
    let cases = [
        Case {
            name: "normal scaling event: 10 -> 12",
            after: (12, 0, 0),
            before: (10, 0),
            new: Some(("foo-v1", 10, NEW)),
            old: &[],
            desired: &[],
            new_available: None,
            expected: &[("foo-v1", 12)],
        },
        Case {
            name: "normal scaling event: 10 -> 5",
            after: (5, 0, 0),
            before: (10, 0),
            new: Some(("foo-v1", 10, NEW)),
            old: &[],
            desired: &[],
            new_available: None,
            expected: &[("foo-v1", 5)],
        },
        Case {
            name: "proportional scaling (no new rs): 4 -> 5",
            after: (5, 0, 0),
            before: (4, 0),
            new: None,
            old: &[("foo-v2", 2, OLD), ("foo-v1", 2, OLDER)],
            desired: &[],
            new_available: None,
            expected: &[("foo-v2", 3), ("foo-v1", 2)],
        },
        Case {
            name: "proportional scaling: 0 -> 6",
            after: (6, 0, 0),
            before: (6, 0),
            new: Some(("foo-v3", 0, NEW)),
            old: &[("foo-v2", 0, OLD), ("foo-v1", 0, OLDER)],
            desired: &[],
            new_available: None,
            expected: &[("foo-v3", 6), ("foo-v2", 0), ("foo-v1", 0)],
        },
        Case {
            name: "failed rs update",
            after: (5, 0, 0),
            before: (5, 0),
            new: Some(("foo-v3", 2, NEW)),
            old: &[("foo-v2", 1, OLD), ("foo-v1", 1, OLDER)],
            desired: &[("foo-v2", 3)],
            new_available: None,
            expected: &[("foo-v3", 2), ("foo-v2", 2), ("foo-v1", 1)],
        },
        Case {
            name: "deployment with surge pods",
            after: (20, 2, 0),
            before: (10, 2),
            new: Some(("foo-v2", 6, NEW)),
            old: &[("foo-v1", 6, OLD)],
            desired: &[],
            new_available: None,
            expected: &[("foo-v2", 11), ("foo-v1", 11)],
        },
        Case {
            name: "change both surge and size",
            after: (50, 6, 0),
            before: (10, 3),
            new: Some(("foo-v2", 5, NEW)),
            old: &[("foo-v1", 8, OLD)],
            desired: &[],
            new_available: None,
            expected: &[("foo-v2", 22), ("foo-v1", 34)],
        },
        Case {
            name: "change both size and template",
            after: (14, 0, 0),
            before: (10, 0),
            new: None,
            old: &[("foo-v2", 7, NEW), ("foo-v1", 3, OLD)],
            desired: &[],
            new_available: None,
            expected: &[("foo-v2", 10), ("foo-v1", 4)],
        },
        Case {
            name: "saturated but broken new replica set does not affect old pods",
            after: (2, 1, 1),
            before: (2, 1),
            new: Some(("foo-v2", 2, NEW)),
            old: &[("foo-v1", 1, OLD)],
            desired: &[],
            new_available: Some(0),
            expected: &[("foo-v2", 2), ("foo-v1", 1)],
        },
    ];
    for case in cases {
        let (replicas, surge, unavailable) = case.after;
        let d = rolling(replicas, json!(surge), json!(unavailable));
        let (before, before_surge) = case.before;
        let build = |(name, size, created): (&'static str, i32, &'static str),
                     available: Option<i32>| {
            let desired = case
                .desired
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(before, |(_, v)| *v);
            let mut rs = Rs::new(name, size)
                .created(created)
                .annotations(json!({DESIRED_REPLICAS: desired.to_string(), MAX_REPLICAS: (desired + before_surge).to_string()}));
            if let Some(available) = available {
                rs = rs.status(json!({"replicas": size, "availableReplicas": available}));
            }
            rs.build()
        };
        let new = case.new.map(|n| build(n, case.new_available));
        let old: Vec<_> = case.old.iter().map(|o| build(*o, None)).collect();
        let got = scale_event(&d, new.as_ref(), &old);
        for (name, size) in case.expected {
            assert_eq!(got.get(*name), Some(size), "{}: {name}", case.name);
        }
    }
}

/// `TestGenerateReplicaSetName` (and the names `TestDeploymentController_generateReplicaSetName`
/// checks: the deployment part cut so that the whole fits 253 characters).
#[test]
fn generate_replica_set_name() {
    let cases = [
        (
            "short name",
            "my-deployment".to_string(),
            "abcde12345".to_string(),
            "my-deployment-abcde12345".to_string(),
        ),
        (
            "maximum length without truncating",
            "a".repeat(242),
            "abcde12345".to_string(),
            format!("{}-abcde12345", "a".repeat(242)),
        ),
        (
            "very long deployment name is truncated",
            "b".repeat(250),
            "abcde12345".to_string(),
            format!("{}-abcde12345", "b".repeat(242)),
        ),
    ];
    for (name, deployment, hash, want) in cases {
        assert_eq!(util::replicaset_name(&deployment, &hash), want, "{name}");
    }
}

/// `TestGenerateReplicaSetName` "very long hash is not truncated": when the hash leaves no
/// room, upstream keeps the whole deployment name. Real hashes have at most 10 characters.
#[test]
fn generate_replica_set_name_with_a_very_long_hash() {
    let (deployment, hash) = ("d".repeat(252), "h".repeat(252));
    assert_eq!(
        util::replicaset_name(&deployment, &hash),
        format!("{deployment}-{hash}")
    );
}

/// upstream `newRSWithStatus(name, specReplicas, statusReplicas)`.
fn rs_with_status(name: &'static str, spec: i32, status: i32) -> Arc<MiniReplicaSet> {
    Rs::new(name, spec)
        .status(json!({"replicas": status}))
        .build()
}

/// `TestDeploymentController_cleanupDeployment`.
#[test]
fn cleanup_deployment() {
    let already_deleted = Rs::new("foo-1", 0)
        .status(json!({"replicas": 0}))
        .deleting()
        .build();
    let cases = [
        (
            vec![
                rs_with_status("foo-1", 0, 0),
                rs_with_status("foo-2", 0, 0),
                rs_with_status("foo-3", 0, 0),
            ],
            1,
            2,
        ),
        (
            vec![
                rs_with_status("foo-1", 0, 0),
                rs_with_status("foo-2", 0, 1),
                rs_with_status("foo-3", 1, 0),
                rs_with_status("foo-4", 1, 1),
            ],
            0,
            1,
        ),
        (
            vec![rs_with_status("foo-1", 0, 0), rs_with_status("foo-2", 0, 0)],
            0,
            2,
        ),
        (
            vec![rs_with_status("foo-1", 1, 1), rs_with_status("foo-2", 1, 1)],
            0,
            0,
        ),
        (vec![already_deleted], 0, 0),
        (
            vec![
                rs_with_status("foo-1", 0, 0),
                rs_with_status("foo-2", 0, 0),
                rs_with_status("foo-3", 0, 0),
            ],
            i32::MAX,
            0,
        ),
    ];
    for (i, (old, limit, deletions)) in cases.into_iter().enumerate() {
        let deleted = plan::sets_to_delete(Cleanable::candidates(&old), limit);
        assert_eq!(deleted.len(), deletions, "scenario {i}: {deleted:?}");
    }
}

/// `TestDeploymentController_cleanupDeploymentOrder`: oldest revisions go first (a set
/// without a revision counts as revision 0), equal revisions by creation time.
#[test]
fn cleanup_deployment_order() {
    let rs = |name: &'static str, replicas: i32, created: &'static str, revision: &str| {
        let annotations = if revision.is_empty() {
            json!({})
        } else {
            json!({REVISION: revision})
        };
        Rs::new(name, replicas)
            .created(created)
            .annotations(annotations)
            .status(json!({"replicas": replicas}))
            .build()
    };
    const T0: &str = "2026-01-01T00:00:00Z";
    const T1: &str = "2026-01-01T00:01:00Z";
    const T2: &str = "2026-01-01T00:02:00Z";
    const T3: &str = "2026-01-01T00:03:00Z";
    let cases: [(Sets, i32, Names); 7] = [
        (
            vec![rs("foo-1", 0, T0, "1"), rs("foo-2", 0, T1, "2")],
            1,
            &["foo-1"],
        ),
        (
            vec![rs("foo-1", 0, T0, "2"), rs("foo-2", 0, T1, "1")],
            1,
            &["foo-2"],
        ),
        (
            vec![rs("foo-1", 0, T0, "1"), rs("foo-2", 0, T1, "")],
            1,
            &["foo-2"],
        ),
        (
            vec![rs("foo-1", 0, T0, ""), rs("foo-2", 0, T1, "2")],
            1,
            &["foo-1"],
        ),
        (
            vec![
                rs("foo-1", 1, T0, "1"),
                rs("foo-2", 0, T1, "2"),
                rs("foo-3", 0, T2, "3"),
            ],
            1,
            &["foo-2"],
        ),
        (
            vec![
                rs("foo-1", 1, T0, "1"),
                rs("foo-2", 1, T1, "2"),
                rs("foo-3", 0, T2, "3"),
            ],
            1,
            &[],
        ),
        (
            vec![
                rs("foo-1", 0, T0, "3"),
                rs("foo-2", 0, T1, "1"),
                rs("foo-3", 0, T2, "4"),
                rs("foo-4", 0, T3, "2"),
            ],
            2,
            &["foo-2", "foo-4"],
        ),
    ];
    for (i, (old, limit, expected)) in cases.into_iter().enumerate() {
        let mut deleted = plan::sets_to_delete(Cleanable::candidates(&old), limit);
        deleted.sort();
        assert_eq!(deleted, expected, "scenario {i}");
    }
}

// ---------------------------------------------------------------------------------------------
// rolling_test.go

/// `TestDeploymentController_cleanupUnhealthyReplicas`. The planner runs the cleanup of
/// unhealthy pods and then the scale-down of available ones in one call, and computes the
/// cleanup budget (maxCleanupCount) itself from the bounds: 10 old pods, no new set,
/// maxUnavailable 2, so the deployment size is chosen as 12 − maxCleanupCount. The first step
/// on the set is the cleanup; the expected steps spell out the scale-down that follows.
#[test]
fn cleanup_unhealthy_replicas() {
    // (old replicas, ready pods, maxCleanupCount, cleaned up, steps)
    let cases: [(i32, i32, i32, i32, Steps); 4] = [
        (10, 8, 1, 1, &[("foo-v2", 9)]),
        (10, 8, 3, 2, &[("foo-v2", 8), ("foo-v2", 7)]),
        (10, 8, 0, 0, &[]),
        // No unhealthy pod: nothing cleaned, the step is the scale-down (10 available, 7 needed).
        (10, 10, 3, 0, &[("foo-v2", 7)]),
    ];
    for (i, (replicas, ready, max_cleanup, cleaned, expected)) in cases.into_iter().enumerate() {
        let bounds = b(12 - max_cleanup, 2, 2);
        let old = set("foo-v2", replicas, ready);
        let plan = plan::scale_down_old_sets(bounds, &[old], &set("new", 0, 0));
        assert_eq!(plan.refused, None, "scenario {i}");
        let steps = plan.steps;
        let expected: Vec<Scale> = expected.iter().map(|(n, to)| scale(n, *to)).collect();
        assert_eq!(steps, expected, "scenario {i}");
        let first_is_cleanup = steps.first().is_some_and(|s| s.to >= ready);
        let got_cleaned = if first_is_cleanup {
            replicas - steps[0].to
        } else {
            0
        };
        assert_eq!(got_cleaned, cleaned, "scenario {i}: cleaned up");
    }
}

/// `TestDeploymentController_scaleDownOldReplicaSetsForRollingUpdate` (no new set, maxSurge
/// 0). Where the old set has unhealthy pods the planner first cleans them up (upstream's
/// `reconcileOldReplicaSets` does the same before this step); the assertion is that no
/// scale-down of available pods follows, as upstream expects.
#[test]
fn scale_down_old_replica_sets_for_rolling_update() {
    // (replicas, maxUnavailable, ready, old replicas, scale-down target)
    let cases = [
        (10, 0, 10, 10, Some(9)),
        (10, 2, 10, 10, Some(8)),
        (10, 2, 8, 10, None),
        (10, 2, 10, 0, None),
        (10, 2, 1, 10, None),
    ];
    for (i, (replicas, unavailable, ready, old_replicas, expected)) in cases.into_iter().enumerate()
    {
        let d = rolling(replicas, json!(0), json!(unavailable));
        let old = set("foo-v2", old_replicas, ready);
        let plan = plan::scale_down_old_sets(Bounds::of(&d), &[old], &set("new", 0, 0));
        assert_eq!(plan.refused, None, "scenario {i}");
        let steps = plan.steps;
        // The cleanup step, if any, takes the set down to no fewer than its available pods.
        let scale_down: Vec<&Scale> = steps
            .iter()
            .skip_while(|s| old_replicas > ready && s.to >= ready)
            .collect();
        assert_eq!(
            scale_down.last().map(|s| s.to),
            expected,
            "scenario {i}: {steps:?}"
        );
        assert!(scale_down.len() <= 1, "scenario {i}: one update at most");
    }
}

// ---------------------------------------------------------------------------------------------
// progress_test.go

const TEST_TIME: &str = "2017-02-15T18:49:00Z";

/// upstream `currentDeployment(pds, replicas, statusReplicas, updated, available, conditions)`
/// (a Recreate deployment; upstream's nil deadline is i32::MAX here).
fn current_deployment(
    pds: i32,
    replicas: i32,
    status: (i32, i32, i32),
    conditions: Vec<DeploymentCondition>,
) -> MiniDeployment {
    let status = DeploymentStatus {
        replicas: Some(status.0),
        updated_replicas: Some(status.1),
        available_replicas: Some(status.2),
        conditions: Some(conditions),
        ..Default::default()
    };
    deployment(
        json!({"replicas": replicas, "progressDeadlineSeconds": pds, "strategy": {"type": "Recreate"}}),
        serde_json::to_value(status).unwrap(),
    )
}

fn timed(type_: &str, status: &str, reason: &str, at: Option<&str>) -> DeploymentCondition {
    let at = at.map(|t| Time(ts(t)));
    DeploymentCondition {
        last_update_time: at.clone(),
        last_transition_time: at,
        ..condition(type_, status, reason)
    }
}

fn failed_timed_out() -> DeploymentCondition {
    timed(util::PROGRESSING, "False", reason::TIMED_OUT, None)
}

/// `TestRequeueStuckDeployment`. Upstream returns the time left before the deadline, enqueues
/// after one second more, and enqueues rate-limited ("now", returned as 0) when less than a
/// second is left; minik8s returns the delay itself: time left + 1 s, or 1 s for "now". It
/// is asked with the status about to be written, which upstream only does when that status
/// equals the deployment's current one; so the status here is the new counts with the
/// deployment's conditions.
#[test]
fn requeue_stuck_deployment() {
    let pds = 60;
    let failed = vec![failed_timed_out()];
    let stuck = vec![DeploymentCondition {
        last_update_time: Some(Time(ts(TEST_TIME))),
        ..condition(util::PROGRESSING, "True", "")
    }];
    let secs = Duration::from_secs;
    let cases = [
        (
            "nil progressDeadlineSeconds specified",
            current_deployment(i32::MAX, 4, (3, 3, 2), vec![]),
            (3, 3, 2),
            TEST_TIME,
            None,
        ),
        (
            "infinite progressDeadlineSeconds specified",
            current_deployment(i32::MAX, 4, (3, 3, 2), vec![]),
            (3, 3, 2),
            TEST_TIME,
            None,
        ),
        (
            "no progressing condition found",
            current_deployment(pds, 4, (3, 3, 2), vec![]),
            (3, 3, 2),
            TEST_TIME,
            None,
        ),
        (
            "complete deployment does not need to be requeued",
            current_deployment(pds, 3, (3, 3, 3), vec![]),
            (3, 3, 3),
            TEST_TIME,
            None,
        ),
        (
            "already failed deployment does not need to be requeued",
            current_deployment(pds, 3, (3, 3, 0), failed.clone()),
            (3, 3, 0),
            TEST_TIME,
            None,
        ),
        (
            "stuck deployment - 30s",
            current_deployment(pds, 3, (3, 3, 1), stuck.clone()),
            (3, 3, 1),
            "2017-02-15T18:49:30Z",
            Some(secs(31)),
        ),
        (
            "stuck deployment - 1s",
            current_deployment(pds, 3, (3, 3, 1), stuck.clone()),
            (3, 3, 1),
            "2017-02-15T18:49:59Z",
            Some(secs(2)),
        ),
        (
            "failed deployment - less than a second => now",
            current_deployment(pds, 3, (3, 3, 1), stuck.clone()),
            (3, 3, 1),
            "2017-02-15T18:49:59.000000001Z",
            Some(secs(1)),
        ),
        (
            "failed deployment - now",
            current_deployment(pds, 3, (3, 3, 1), stuck.clone()),
            (3, 3, 1),
            "2017-02-15T18:50:00Z",
            Some(secs(1)),
        ),
        (
            "failed deployment - 1s after deadline",
            current_deployment(pds, 3, (3, 3, 1), stuck.clone()),
            (3, 3, 1),
            "2017-02-15T18:50:01Z",
            Some(secs(1)),
        ),
        (
            "failed deployment - 60s after deadline",
            current_deployment(pds, 3, (3, 3, 1), stuck.clone()),
            (3, 3, 1),
            "2017-02-15T18:51:00Z",
            Some(secs(1)),
        ),
    ];
    for (name, d, (replicas, updated, available), now, expected) in cases {
        let status = DeploymentStatus {
            replicas: Some(replicas),
            updated_replicas: Some(updated),
            available_replicas: Some(available),
            conditions: d.status.as_ref().and_then(|s| s.status.conditions.clone()),
            ..Default::default()
        };
        assert_eq!(
            status::recheck_progress_after(&d, &status, ts(now)),
            expected,
            "{name}"
        );
    }
}

/// upstream `newRSWithAvailable(name, specReplicas, statusReplicas, availableReplicas)`.
fn rs_with_available(
    name: &'static str,
    spec: i32,
    status: i32,
    available: i32,
) -> Arc<MiniReplicaSet> {
    Rs::new(name, spec)
        .status(json!({"replicas": status, "availableReplicas": available}))
        .build()
}

/// `TestSyncRolloutStatus`. Upstream's checks of the condition times compare the expected
/// time with itself; here they are checked on the condition: "don't update
/// lastTransitionTime" keeps it, "do not update status" keeps the condition as it was.
#[test]
fn sync_rollout_status() {
    let pds = 60;
    let new_rs_available = timed(
        util::PROGRESSING,
        "True",
        reason::NEW_RS_AVAILABLE,
        Some(TEST_TIME),
    );
    let replica_set_updated = timed(
        util::PROGRESSING,
        "True",
        reason::REPLICA_SET_UPDATED,
        Some(TEST_TIME),
    );
    let now = ts("2017-02-15T19:49:00Z");
    let test_time = Some(Time(ts(TEST_TIME)));
    struct Case {
        name: &'static str,
        d: MiniDeployment,
        all: Vec<Arc<MiniReplicaSet>>,
        new: Option<Arc<MiniReplicaSet>>,
        /// (status, reason), None for no Progressing condition.
        expected: Option<(&'static str, &'static str)>,
        last_update: Option<Option<Time>>,
        last_transition: Option<Option<Time>>,
    }
    let cases = [
        Case {
            name: "General: remove Progressing condition and do not estimate progress if deployment has no Progress Deadline",
            d: current_deployment(i32::MAX, 3, (2, 2, 2), vec![replica_set_updated.clone()]),
            all: vec![rs_with_available("bar", 0, 1, 1)],
            new: Some(rs_with_available("foo", 3, 2, 2)),
            expected: None,
            last_update: None,
            last_transition: None,
        },
        Case {
            name: "General: do not estimate progress of deployment with only one active ReplicaSet",
            d: current_deployment(pds, 3, (3, 3, 3), vec![new_rs_available.clone()]),
            all: vec![rs_with_available("bar", 3, 3, 3)],
            new: None,
            expected: Some(("True", reason::NEW_RS_AVAILABLE)),
            last_update: Some(test_time.clone()),
            last_transition: Some(test_time.clone()),
        },
        Case {
            name: "DeploymentProgressing: dont update lastTransitionTime if deployment already has Progressing=True",
            d: current_deployment(pds, 3, (2, 2, 2), vec![replica_set_updated.clone()]),
            all: vec![rs_with_available("bar", 0, 1, 1)],
            new: Some(rs_with_available("foo", 3, 2, 2)),
            expected: Some(("True", reason::REPLICA_SET_UPDATED)),
            last_update: None,
            last_transition: Some(test_time.clone()),
        },
        Case {
            name: "DeploymentProgressing: update everything if deployment has Progressing=False",
            d: current_deployment(pds, 3, (2, 2, 2), vec![failed_timed_out()]),
            all: vec![rs_with_available("bar", 0, 1, 1)],
            new: Some(rs_with_available("foo", 3, 2, 2)),
            expected: Some(("True", reason::REPLICA_SET_UPDATED)),
            last_update: Some(Some(Time(now))),
            last_transition: Some(Some(Time(now))),
        },
        Case {
            name: "DeploymentProgressing: create Progressing condition if it does not exist",
            d: current_deployment(pds, 3, (2, 2, 2), vec![]),
            all: vec![rs_with_available("bar", 0, 1, 1)],
            new: Some(rs_with_available("foo", 3, 2, 2)),
            expected: Some(("True", reason::REPLICA_SET_UPDATED)),
            last_update: None,
            last_transition: None,
        },
        Case {
            name: "DeploymentComplete: dont update lastTransitionTime if deployment already has Progressing=True",
            d: current_deployment(pds, 3, (3, 3, 3), vec![replica_set_updated.clone()]),
            all: vec![],
            new: Some(rs_with_available("foo", 3, 3, 3)),
            expected: Some(("True", reason::NEW_RS_AVAILABLE)),
            last_update: None,
            last_transition: Some(test_time.clone()),
        },
        Case {
            name: "DeploymentComplete: update everything if deployment has Progressing=False",
            d: current_deployment(pds, 3, (3, 3, 3), vec![failed_timed_out()]),
            all: vec![],
            new: Some(rs_with_available("foo", 3, 3, 3)),
            expected: Some(("True", reason::NEW_RS_AVAILABLE)),
            last_update: Some(Some(Time(now))),
            last_transition: Some(Some(Time(now))),
        },
        Case {
            name: "DeploymentComplete: create Progressing condition if it does not exist",
            d: current_deployment(pds, 3, (3, 3, 3), vec![]),
            all: vec![],
            new: Some(rs_with_available("foo", 3, 3, 3)),
            expected: Some(("True", reason::NEW_RS_AVAILABLE)),
            last_update: None,
            last_transition: None,
        },
        Case {
            name: "DeploymentComplete: defend against NPE when newRS=nil",
            d: current_deployment(pds, 0, (3, 3, 3), vec![replica_set_updated.clone()]),
            all: vec![rs_with_available("foo", 0, 0, 0)],
            new: None,
            expected: Some(("True", reason::NEW_RS_AVAILABLE)),
            last_update: None,
            last_transition: None,
        },
        Case {
            name: "DeploymentTimedOut: update status if rollout exceeds Progress Deadline",
            d: current_deployment(pds, 3, (2, 2, 2), vec![replica_set_updated.clone()]),
            all: vec![],
            new: Some(rs_with_available("foo", 3, 2, 2)),
            expected: Some(("False", reason::TIMED_OUT)),
            last_update: None,
            last_transition: None,
        },
        Case {
            name: "DeploymentTimedOut: do not update status if deployment has existing timedOut condition",
            d: current_deployment(pds, 3, (2, 2, 2), vec![failed_timed_out()]),
            all: vec![],
            new: Some(rs_with_available("foo", 3, 2, 2)),
            expected: Some(("False", reason::TIMED_OUT)),
            last_update: Some(None),
            last_transition: Some(None),
        },
    ];
    for case in cases {
        let mut all = case.all.clone();
        all.extend(case.new.clone());
        let status = status::rollout(&case.d, &all, case.new.as_ref(), now);
        let c = util::condition(&status, util::PROGRESSING);
        let name = case.name;
        match case.expected {
            None => assert!(c.is_none(), "{name}: {c:?}"),
            Some((s, r)) => {
                let c = c.unwrap_or_else(|| panic!("{name}: no Progressing condition"));
                assert_eq!(
                    (c.status.as_deref(), c.reason.as_deref()),
                    (Some(s), Some(r)),
                    "{name}"
                );
                if let Some(t) = &case.last_update {
                    assert_eq!(&c.last_update_time, t, "{name}: lastUpdateTime");
                }
                if let Some(t) = &case.last_transition {
                    assert_eq!(&c.last_transition_time, t, "{name}: lastTransitionTime");
                }
            }
        }
    }
}

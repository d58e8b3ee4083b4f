//! Events and error messages, built-in twin beside minik8s twin: what `kubectl get events`,
//! `kubectl describe` and the status conditions show must read the same, with the objects'
//! own names masked.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, ReplicaSet};
use k8s_openapi::api::core::v1::{Event, Namespace};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use minik8s::api::{MiniDeployment, MiniReplicaSet};
use serde_json::{Value, json};

use crate::common::{Controllers, TestNamespace, eventually, eventually_explained, unique_name};
use crate::fixtures;

const TIMEOUT: Duration = Duration::from_secs(90);
const BUILTIN: &str = "builtin";
const MINI: &str = "mini";
const ROLLBACK_ANNOTATIONS: [&str; 2] = [
    "deprecated.deployment.rollback.to",
    "minik8s.dev/rollback-to",
];

/// A message with the twins' object names (`builtin…`, `mini…`: sets, pods, deployments)
/// replaced by `<name>`, so that the two sides compare word for word.
fn mask(message: &str) -> String {
    let mut out = String::new();
    let mut rest = message;
    'scan: while !rest.is_empty() {
        let at_word_start = !out
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-');
        if at_word_start {
            for name in [BUILTIN, MINI] {
                if let Some(after) = rest.strip_prefix(name)
                    && !after.starts_with(|c: char| c.is_ascii_alphanumeric())
                {
                    let end = after
                        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                        .unwrap_or(after.len());
                    out.push_str("<name>");
                    rest = &after[end..];
                    continue 'scan;
                }
            }
        }
        let c = rest.chars().next().unwrap();
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[test]
fn mask_replaces_only_the_twins_names() {
    assert_eq!(
        mask(r#"pods "builtin-x2b9k" is forbidden: exceeded quota: pods"#),
        r#"pods "<name>" is forbidden: exceeded quota: pods"#
    );
    assert_eq!(
        mask("Scaled up replica set mini-5d4f8b to 3; minimum availability"),
        "Scaled up replica set <name> to 3; minimum availability"
    );
    assert_eq!(
        mask(r#"Rolled back deployment "builtin""#),
        r#"Rolled back deployment "<name>""#
    );
}

/// The events about one object, as (reason, type, masked message, count), oldest first.
async fn events_about(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Vec<(String, String, String, i32)> {
    let api: Api<Event> = Api::namespaced(client.clone(), namespace);
    let mut events: Vec<Event> = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(name))
        .collect();
    events.sort_by_key(|e| e.first_timestamp.clone().map(|t| t.0));
    events
        .into_iter()
        .map(|e| {
            (
                e.reason.unwrap_or_default(),
                e.type_.unwrap_or_default(),
                mask(&e.message.unwrap_or_default()),
                e.count.unwrap_or(1),
            )
        })
        .collect()
}

/// The (reason, message) of a ReplicaFailure condition, masked.
fn replica_failure<'a>(
    conditions: impl IntoIterator<Item = (&'a str, Option<&'a str>, Option<&'a str>)>,
) -> Option<(String, String)> {
    conditions
        .into_iter()
        .find(|(type_, _, _)| *type_ == "ReplicaFailure")
        .map(|(_, reason, message)| {
            (
                reason.unwrap_or_default().to_owned(),
                mask(message.unwrap_or_default()),
            )
        })
}

async fn set_failure(ns: &TestNamespace, builtin: bool) -> Option<(String, String)> {
    let status = if builtin {
        ns.api::<ReplicaSet>()
            .get(BUILTIN)
            .await
            .unwrap()
            .status
            .unwrap_or_default()
    } else {
        let rs = ns.api::<MiniReplicaSet>().get(MINI).await.unwrap();
        rs.status.map(|s| s.status).unwrap_or_default()
    };
    let conditions = status.conditions.unwrap_or_default();
    replica_failure(conditions.iter().map(|c| {
        (
            c.type_.as_deref().unwrap_or(""),
            c.reason.as_deref(),
            c.message.as_deref(),
        )
    }))
}

fn deployment_conditions(
    builtin: Option<Deployment>,
    mini: Option<MiniDeployment>,
) -> Vec<DeploymentCondition> {
    builtin
        .and_then(|d| d.status)
        .or_else(|| mini.and_then(|d| d.status).map(|s| s.status))
        .and_then(|s| s.conditions)
        .unwrap_or_default()
}

async fn deployment_failure(
    ns: &TestNamespace,
    name: &str,
    builtin: bool,
) -> Option<(String, String)> {
    let conditions = if builtin {
        deployment_conditions(Some(ns.api::<Deployment>().get(name).await.unwrap()), None)
    } else {
        deployment_conditions(
            None,
            Some(ns.api::<MiniDeployment>().get(name).await.unwrap()),
        )
    };
    replica_failure(conditions.iter().map(|c| {
        (
            c.type_.as_deref().unwrap_or(""),
            c.reason.as_deref(),
            c.message.as_deref(),
        )
    }))
}

const QUOTA_MESSAGE: &str = r#"pods "<name>" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2"#;

fn side(builtin: bool) -> &'static str {
    if builtin { "built-in" } else { "minik8s" }
}

/// Waits until `read` gives the quota refusal as a ReplicaFailure condition. Both sides may
/// drop the condition for a moment at the start, as upstream does: a sync that runs while the
/// set still expects its first pods removes the set's ReplicaFailure (and a deployment copies
/// that), so a condition seen once can read None a moment later.
async fn reads_the_quota_refusal<F, Fut>(side: &str, object: &str, mut read: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<(String, String)>>,
{
    let expected = Some(("FailedCreate".to_string(), QUOTA_MESSAGE.to_string()));
    let what = format!("the {side} {object}'s ReplicaFailure condition to read the quota refusal");
    let expected = &expected;
    eventually_explained(TIMEOUT, &what, || {
        let reading = read();
        async move {
            let seen = reading.await;
            if seen == *expected {
                Ok(())
            } else {
                Err(format!("{seen:?}"))
            }
        }
    })
    .await;
}

/// The FailedCreate events of one side: all must say the quota message (the later ones
/// possibly aggregated); returns the first one's message.
async fn failed_create_messages(ns: &TestNamespace, name: &str) -> Vec<String> {
    events_about(&ns.client, &ns.name, name)
        .await
        .into_iter()
        .filter(|(reason, _, _, _)| reason == "FailedCreate")
        .map(|(_, type_, message, _)| {
            assert_eq!(type_, "Warning");
            message
        })
        .collect()
}

/// A quota refuses pods: the FailedCreate events and the ReplicaFailure condition carry the
/// API server's message, word for word as the built-in shows it. Quotas are per namespace, so
/// each twin has a namespace and a quota of its own (one shared quota would let the first
/// twin take both pods).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_refusals_read_alike() {
    let ns_builtin = crate::common::quota_namespace("ev-quota-b").await;
    let ns_mini = crate::common::quota_namespace("ev-quota-m").await;
    let _controllers = Controllers::start(&ns_mini.name, None);
    ns_builtin
        .create::<ReplicaSet>(fixtures::small_replicaset(BUILTIN, 4, true))
        .await
        .unwrap();
    ns_mini
        .create::<MiniReplicaSet>(fixtures::small_replicaset(MINI, 4, false))
        .await
        .unwrap();
    for (ns, builtin) in [(&ns_builtin, true), (&ns_mini, false)] {
        // The condition carries the error alone; the event says "Error creating: ".
        reads_the_quota_refusal(side(builtin), "set", || set_failure(ns, builtin)).await;
        eventually(TIMEOUT, "a FailedCreate event", || async {
            !failed_create_messages(ns, if builtin { BUILTIN } else { MINI })
                .await
                .is_empty()
        })
        .await;
    }
    for (ns, name) in [(&ns_builtin, BUILTIN), (&ns_mini, MINI)] {
        for message in failed_create_messages(ns, name).await {
            let message = message
                .strip_prefix("(combined from similar events): ")
                .unwrap_or(&message)
                .to_owned();
            assert_eq!(
                message,
                format!("Error creating: {QUOTA_MESSAGE}"),
                "{name}"
            );
        }
    }
    ns_builtin.cleanup().await;
    ns_mini.cleanup().await;
}

/// The same refusal through a Deployment: the set's ReplicaFailure condition is copied up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_refusals_reach_the_deployment_alike() {
    let ns_builtin = crate::common::quota_namespace("ev-dquota-b").await;
    let ns_mini = crate::common::quota_namespace("ev-dquota-m").await;
    let _controllers = Controllers::start(&ns_mini.name, None);
    let mut d = fixtures::small_replicaset(BUILTIN, 4, true);
    d["kind"] = json!("Deployment");
    ns_builtin.create::<Deployment>(d).await.unwrap();
    let mut d = fixtures::small_replicaset(MINI, 4, true);
    d["kind"] = json!("Deployment");
    ns_mini
        .create::<MiniDeployment>(fixtures::mini(d))
        .await
        .unwrap();
    for (ns, name, builtin) in [(&ns_builtin, BUILTIN, true), (&ns_mini, MINI, false)] {
        reads_the_quota_refusal(side(builtin), "deployment", || {
            deployment_failure(ns, name, builtin)
        })
        .await;
    }
    ns_builtin.cleanup().await;
    ns_mini.cleanup().await;
}

/// Per (reason, type): how many Event objects, their counts (sorted), and the masked
/// messages of the aggregated ones.
type EventSummary = BTreeMap<(String, String), (usize, Vec<i32>, Vec<String>)>;

async fn summary(ns: &TestNamespace, name: &str) -> EventSummary {
    let mut summary = EventSummary::new();
    for (reason, type_, message, count) in events_about(&ns.client, &ns.name, name).await {
        let entry = summary.entry((reason, type_)).or_default();
        entry.0 += 1;
        entry.1.push(count);
        if message.starts_with("(combined from similar events)") {
            entry.2.push(message);
        }
    }
    for entry in summary.values_mut() {
        entry.1.sort();
    }
    summary
}

async fn scale_sets(ns: &TestNamespace, replicas: i32) {
    let patch = Patch::Merge(json!({"spec": {"replicas": replicas}}));
    ns.api::<ReplicaSet>()
        .patch_scale(BUILTIN, &PatchParams::default(), &patch)
        .await
        .unwrap();
    ns.api::<MiniReplicaSet>()
        .patch_scale(MINI, &PatchParams::default(), &patch)
        .await
        .unwrap();
}

async fn sets_have(ns: &TestNamespace, replicas: i32) {
    eventually(
        TIMEOUT,
        &format!("both sets at {replicas} ready pods"),
        || async {
            let b = ns
                .api::<ReplicaSet>()
                .get(BUILTIN)
                .await
                .unwrap()
                .status
                .unwrap_or_default();
            let m = ns.api::<MiniReplicaSet>().get(MINI).await.unwrap();
            let m = m.status.map(|s| s.status).unwrap_or_default();
            [
                b.replicas,
                b.ready_replicas.unwrap_or(0),
                m.replicas,
                m.ready_replicas.unwrap_or(0),
            ] == [replicas; 4]
        },
    )
    .await;
}

/// More than 25 events about one object: client-go's correlator aggregates the 10th
/// SuccessfulCreate onwards into one Event, counts it, and its spam filter (per object and
/// type, across reasons) drops what is beyond 25 — so the scale-down's SuccessfulDelete
/// events are all dropped. Both twins must leave the same Events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_burst_is_correlated_alike() {
    let ns = TestNamespace::new("ev-burst").await;
    let _controllers = Controllers::start(
        &ns.name,
        Some(minik8s::runtime::client::RateLimit::CONTROLLER_MANAGER),
    );
    ns.create::<ReplicaSet>(fixtures::small_replicaset(BUILTIN, 0, true))
        .await
        .unwrap();
    ns.create::<MiniReplicaSet>(fixtures::small_replicaset(MINI, 0, false))
        .await
        .unwrap();
    scale_sets(&ns, 30).await;
    sets_have(&ns, 30).await;
    // 9 single events and one aggregate counted 16: 25 passed the spam filter.
    for name in [BUILTIN, MINI] {
        eventually(TIMEOUT, &format!("{name}'s creation events"), || async {
            summary(&ns, name)
                .await
                .values()
                .flat_map(|e| e.1.clone())
                .sum::<i32>()
                == 25
        })
        .await;
    }
    scale_sets(&ns, 0).await;
    sets_have(&ns, 0).await;
    // Deletion events, were any let through, are written within moments.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let builtin = summary(&ns, BUILTIN).await;
    let mini = summary(&ns, MINI).await;
    assert_eq!(mini, builtin);
    let created = (
        10,
        [vec![1; 9], vec![16]].concat(),
        vec!["(combined from similar events): Created pod: <name>".to_string()],
    );
    assert_eq!(
        builtin,
        EventSummary::from([(("SuccessfulCreate".into(), "Normal".into()), created)])
    );
    ns.cleanup().await;
}

/// A ValidatingAdmissionPolicy (with its binding) for one test namespace, removed on drop —
/// also when the test fails, since a policy left behind would keep refusing requests.
struct Policy {
    name: String,
}

impl Drop for Policy {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kubectl")
            .args([
                "delete",
                "validatingadmissionpolicybinding,validatingadmissionpolicy",
                &self.name,
                "--ignore-not-found",
            ])
            .output();
    }
}

impl Policy {
    /// Installs `validations` for `rules` in `namespace`, and waits until the API server
    /// enforces it (policies take effect a moment after they are created): until `probe`, a
    /// dry-run request the policy refuses, is refused.
    async fn install(
        client: &Client,
        namespace: &str,
        rules: Value,
        validations: Value,
        variables: Value,
        probe: impl AsyncFn() -> bool,
    ) -> Self {
        let name = unique_name("ev-policy");
        let policy: ValidatingAdmissionPolicy = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
                    "resourceRules": rules,
                },
                "variables": variables,
                "validations": validations,
            }
        }))
        .unwrap();
        let binding: ValidatingAdmissionPolicyBinding = serde_json::from_value(json!({
            "metadata": {"name": name},
            "spec": {"policyName": name, "validationActions": ["Deny"]}
        }))
        .unwrap();
        Api::<ValidatingAdmissionPolicy>::all(client.clone())
            .create(&PostParams::default(), &policy)
            .await
            .unwrap();
        Api::<ValidatingAdmissionPolicyBinding>::all(client.clone())
            .create(&PostParams::default(), &binding)
            .await
            .unwrap();
        let policy = Self { name };
        eventually(TIMEOUT, "the admission policy to be enforced", || async {
            probe().await
        })
        .await;
        policy
    }
}

fn small_deployment(name: &str) -> Value {
    let mut d = fixtures::small_replicaset(name, 2, true);
    d["kind"] = json!("Deployment");
    d
}

async fn create_deployments(ns: &TestNamespace) {
    ns.create::<Deployment>(small_deployment(BUILTIN))
        .await
        .unwrap();
    ns.create::<MiniDeployment>(fixtures::mini(small_deployment(MINI)))
        .await
        .unwrap();
}

async fn patch_deployments(ns: &TestNamespace, builtin: Value, mini: Value) {
    ns.api::<Deployment>()
        .patch(BUILTIN, &PatchParams::default(), &Patch::Merge(&builtin))
        .await
        .unwrap();
    ns.api::<MiniDeployment>()
        .patch(MINI, &PatchParams::default(), &Patch::Merge(&mini))
        .await
        .unwrap();
}

/// Both deployments have rolled out their latest generation, with no rollback pending.
async fn deployments_complete(ns: &TestNamespace) {
    eventually(TIMEOUT, "both rollouts to complete", || async {
        let b = ns.api::<Deployment>().get(BUILTIN).await.unwrap();
        let m = ns.api::<MiniDeployment>().get(MINI).await.unwrap();
        let pending = |a: &std::collections::BTreeMap<String, String>| {
            ROLLBACK_ANNOTATIONS.iter().any(|k| a.contains_key(*k))
        };
        let (bs, ms) = (
            b.status.clone().unwrap_or_default(),
            m.status.clone().map(|s| s.status).unwrap_or_default(),
        );
        !pending(b.annotations())
            && !pending(m.annotations())
            && bs.observed_generation == b.metadata.generation
            && ms.observed_generation == m.metadata.generation
            && [
                bs.updated_replicas,
                bs.available_replicas,
                ms.updated_replicas,
                ms.available_replicas,
            ] == [Some(2); 4]
    })
    .await;
}

/// Collects every Event written in `namespace` from now on (a watch, so that events deleted
/// with the namespace are still seen).
fn watch_events(
    client: &Client,
    namespace: &str,
) -> (Arc<Mutex<Vec<Event>>>, tokio::task::JoinHandle<()>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let api: Api<Event> = Api::namespaced(client.clone(), namespace);
    let sink = seen.clone();
    let task = tokio::spawn(async move {
        let mut stream = watcher::watcher(api, watcher::Config::default()).boxed();
        while let Some(event) = stream.next().await {
            if let Ok(watcher::Event::Apply(e) | watcher::Event::InitApply(e)) = event {
                sink.lock().unwrap().push(e);
            }
        }
    });
    (seen, task)
}

/// A namespace being deleted refuses every create with the NamespaceTerminating cause. The
/// built-in controllers stay silent then: no FailedCreate / ReplicaSetCreateError event, no
/// ReplicaFailure or ReplicaSetCreateError condition.
///
/// How the test sees it: a ValidatingAdmissionPolicy refuses to delete the (Mini)Deployments
/// and (Mini)ReplicaSets of the namespace, so they outlive the start of its deletion. The
/// namespace controller deletes their pods; the sets try to recreate them, and a new template
/// makes the deployments try to create a new set: all refused as NamespaceTerminating. Events
/// cannot be stored in a terminating namespace (the API server refuses them with the same
/// cause), so the conditions, which are status updates and still allowed, are what would show
/// a report; a watch on events from before the deletion also catches any warning written in
/// the moment before the namespace turned Terminating.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminating_namespace_is_not_reported() {
    let ns = TestNamespace::new("ev-nsdel").await;
    let controllers = Controllers::start(&ns.name, None);
    create_deployments(&ns).await;
    deployments_complete(&ns).await;
    let (events, watch) = watch_events(&ns.client, &ns.name);

    let deployments = ns.api::<Deployment>();
    let policy = Policy::install(
        &ns.client,
        &ns.name,
        json!([
            {"apiGroups": ["apps"], "apiVersions": ["*"], "operations": ["DELETE"], "resources": ["deployments", "replicasets"]},
            {"apiGroups": ["minik8s.dev"], "apiVersions": ["*"], "operations": ["DELETE"], "resources": ["minideployments", "minireplicasets"]}
        ]),
        json!([{"expression": "false", "message": "kept until the test has seen the namespace terminate"}]),
        json!([]),
        async || {
            let dry_run = DeleteParams { dry_run: true, ..DeleteParams::default() };
            deployments.delete(BUILTIN, &dry_run).await.is_err()
        },
    )
    .await;

    Api::<Namespace>::all(ns.client.clone())
        .delete(&ns.name, &DeleteParams::background())
        .await
        .unwrap();
    eventually(
        TIMEOUT,
        "the namespace controller to delete the pods",
        || async {
            crate::replicaset::active_pods(&ns, BUILTIN)
                .await
                .is_empty()
                && crate::replicaset::active_pods(&ns, MINI).await.is_empty()
        },
    )
    .await;
    let image = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.9"}]}}}});
    patch_deployments(&ns, image.clone(), image).await;
    // Both controllers react within a second; give them several tries.
    tokio::time::sleep(Duration::from_secs(10)).await;

    let sets = ns
        .api::<ReplicaSet>()
        .list(&ListParams::default())
        .await
        .unwrap();
    let mini_sets = ns
        .api::<MiniReplicaSet>()
        .list(&ListParams::default())
        .await
        .unwrap();
    let set_conditions: Vec<_> = sets
        .items
        .into_iter()
        .map(|rs| (rs.name_any(), rs.status.unwrap_or_default()))
        .chain(mini_sets.items.into_iter().map(|rs| {
            (
                rs.name_any(),
                rs.status.map(|s| s.status).unwrap_or_default(),
            )
        }))
        .map(|(name, s)| (name, s.conditions.unwrap_or_default()))
        .collect();
    assert_eq!(set_conditions.len(), 2, "the two old sets, and no new one");
    for (name, conditions) in set_conditions {
        assert!(conditions.is_empty(), "{name} reports {conditions:?}");
    }
    for builtin in [true, false] {
        let who = if builtin { BUILTIN } else { MINI };
        let conditions = if builtin {
            deployment_conditions(Some(deployments.get(BUILTIN).await.unwrap()), None)
        } else {
            deployment_conditions(
                None,
                Some(ns.api::<MiniDeployment>().get(MINI).await.unwrap()),
            )
        };
        let reasons: Vec<_> = conditions.iter().filter_map(|c| c.reason.clone()).collect();
        assert!(
            !reasons
                .iter()
                .any(|r| r == "ReplicaSetCreateError" || r == "FailedCreate"),
            "{who}'s deployment reports {reasons:?}"
        );
    }
    let warnings: Vec<String> = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.type_.as_deref() == Some("Warning"))
        .map(|e| format!("{:?}: {:?}", e.reason, e.message))
        .collect();
    assert!(warnings.is_empty(), "warnings: {warnings:?}");

    watch.abort();
    controllers.stop().await;
    drop(policy);
}

/// A rollback whose write fails the first times: the built-in records DeploymentRollback only
/// once the write succeeded, so once. The failure is forced alike on both twins by an
/// admission policy that refuses the rollback's write while the deployment is labelled
/// `hold`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_rollback_is_recorded_once() {
    let ns = TestNamespace::new("ev-rollback").await;
    let _controllers = Controllers::start(&ns.name, None);
    create_deployments(&ns).await;
    deployments_complete(&ns).await;
    let image = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.9"}]}}}});
    patch_deployments(&ns, image.clone(), image).await;
    deployments_complete(&ns).await;

    let deployments = ns.api::<Deployment>();
    let policy = Policy::install(
        &ns.client,
        &ns.name,
        json!([
            {"apiGroups": ["apps"], "apiVersions": ["*"], "operations": ["UPDATE"], "resources": ["deployments"]},
            {"apiGroups": ["minik8s.dev"], "apiVersions": ["*"], "operations": ["UPDATE"], "resources": ["minideployments"]}
        ]),
        json!([
            {"expression": "!variables.probed", "message": "probe"},
            {"expression": "!(variables.held && variables.asked && !variables.kept)", "message": "rollback held by the test"}
        ]),
        json!([
            {"name": "probed", "expression": "has(object.metadata.labels) && 'vap-probe' in object.metadata.labels"},
            {"name": "held", "expression": "has(object.metadata.labels) && 'hold' in object.metadata.labels"},
            {"name": "asked", "expression": format!("has(oldObject.metadata.annotations) && {:?}.exists(k, k in oldObject.metadata.annotations)", ROLLBACK_ANNOTATIONS)},
            {"name": "kept", "expression": format!("has(object.metadata.annotations) && {:?}.exists(k, k in object.metadata.annotations)", ROLLBACK_ANNOTATIONS)}
        ]),
        async || {
            let probe = json!({"metadata": {"labels": {"vap-probe": "true"}}});
            deployments
                .patch(BUILTIN, &PatchParams { dry_run: true, ..PatchParams::default() }, &Patch::Merge(&probe))
                .await
                .is_err()
        },
    )
    .await;

    let hold = json!({"metadata": {"labels": {"hold": "true"}}});
    patch_deployments(&ns, hold.clone(), hold).await;
    let ask = |key: &str| json!({"metadata": {"annotations": {key: "1"}}});
    patch_deployments(
        &ns,
        ask(ROLLBACK_ANNOTATIONS[0]),
        ask(ROLLBACK_ANNOTATIONS[1]),
    )
    .await;
    // Both controllers retry the refused write (5 ms backoff, doubling) several times.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let release = json!({"metadata": {"labels": {"hold": null}}});
    patch_deployments(&ns, release.clone(), release).await;
    deployments_complete(&ns).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let rollbacks = async |name: &str| -> Vec<(String, i32)> {
        events_about(&ns.client, &ns.name, name)
            .await
            .into_iter()
            .filter(|(reason, _, _, _)| reason == "DeploymentRollback")
            .map(|(_, _, message, count)| (message, count))
            .collect()
    };
    let builtin = rollbacks(BUILTIN).await;
    assert_eq!(
        builtin,
        [(
            r#"Rolled back deployment "<name>" to revision 1"#.to_string(),
            1
        )]
    );
    assert_eq!(rollbacks(MINI).await, builtin);
    drop(policy);
    ns.cleanup().await;
}

//! minik8s-scheduler against the API server, on kwok nodes made for each test, and side by
//! side with the cluster's kube-scheduler (default-scheduler) for the same pod specs.
//!
//! A FailedScheduling message counts every node of the cluster, so the tests that make nodes
//! take [`NODES`] for their whole run: while one holds it, the set of nodes does not change.
//! Each test's nodes carry a taint that only its own pods tolerate, so other tests' pods
//! never land on them.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::Api;
use kube::api::{DeleteParams, ListParams, PostParams};
use serde_json::{Value, json};

use crate::common::{TestNamespace, eventually};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Held by every test that makes nodes.
static NODES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// kwok nodes of one test: `<namespace>-<i>`, labelled and tainted with the namespace.
struct TestNodes {
    api: Api<Node>,
    names: Vec<String>,
}

impl TestNodes {
    /// Makes one node per entry: (cpu, extra labels, extra spec).
    async fn create(ns: &TestNamespace, nodes: &[(&str, Value, Value)]) -> Self {
        let api: Api<Node> = Api::all(ns.client.clone());
        let mut names = Vec::new();
        for (i, (cpu, labels, spec)) in nodes.iter().enumerate() {
            let name = format!("{}-{i}", ns.name);
            let mut all_labels = json!({
                "kubernetes.io/hostname": name, "type": "kwok",
                "minik8s.dev/test": ns.name,
                "topology.kubernetes.io/zone": format!("{}-zone-{}", ns.name, i % 2),
            });
            merge(&mut all_labels, labels.clone());
            let mut node_spec = json!({"taints": [
                {"key": "minik8s.dev/test", "value": ns.name, "effect": "NoSchedule"}]});
            merge(&mut node_spec, spec.clone());
            let node: Node = serde_json::from_value(json!({
                "metadata": {"name": name, "labels": all_labels,
                             "annotations": {"kwok.x-k8s.io/node": "fake"}},
                "spec": node_spec,
                "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"},
                           "capacity": {"cpu": cpu, "memory": "8Gi", "pods": "110"}},
            }))
            .unwrap();
            api.create(&PostParams::default(), &node).await.unwrap();
            names.push(name);
        }
        Self { api, names }
    }

    async fn delete(mut self) {
        for name in std::mem::take(&mut self.names) {
            let _ = self.api.delete(&name, &DeleteParams::default()).await;
        }
    }
}

/// A failed test's nodes go too, so they do not change the node count of later tests.
impl Drop for TestNodes {
    fn drop(&mut self) {
        let (api, names) = (self.api.clone(), std::mem::take(&mut self.names));
        if names.is_empty() {
            return;
        }
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async {
                for name in names {
                    let _ = api.delete(&name, &DeleteParams::default()).await;
                }
            })
        });
    }
}

fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p,
    }
}

/// A pod for `scheduler` that may run only on the test's nodes, requesting `cpu`, with
/// `extra` merged into its spec.
fn pod(ns: &TestNamespace, name: &str, scheduler: &str, cpu: &str, extra: Value) -> Pod {
    let mut spec = json!({
        "schedulerName": scheduler,
        "nodeSelector": {"minik8s.dev/test": ns.name},
        "tolerations": [{"key": "minik8s.dev/test", "operator": "Exists"}],
        "containers": [{"name": "app", "image": "app:v1",
                        "resources": {"requests": {"cpu": cpu}}}],
    });
    merge(&mut spec, extra);
    serde_json::from_value(
        json!({"metadata": {"name": name, "labels": {"app": name}}, "spec": spec}),
    )
    .unwrap()
}

/// The scheduler, in this process, for pods with `name` as schedulerName.
struct Scheduler(
    Option<tokio::sync::oneshot::Sender<()>>,
    tokio::task::JoinHandle<()>,
);

impl Scheduler {
    fn start(name: &str) -> Self {
        let options = minik8s::scheduler::run::Options {
            name: name.to_string(),
            rate_limit: None,
            seed: Some(1),
            ..Default::default()
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let profile = minik8s::scheduler::profile::default_profile(0);
            minik8s::scheduler::run::run(options, profile, async {
                let _ = stopped.await;
            })
            .await
            .expect("scheduler failed");
        });
        Self(Some(stop), task)
    }

    async fn stop(mut self) {
        if let Some(stop) = self.0.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.1).await;
    }
}

async fn node_of(ns: &TestNamespace, pod: &str) -> Option<String> {
    ns.api::<Pod>()
        .get(pod)
        .await
        .unwrap()
        .spec
        .and_then(|s| s.node_name)
}

/// The newest message of `reason` events about `pod`.
async fn last_event(ns: &TestNamespace, pod: &str, reason: &str) -> Option<String> {
    let events = ns
        .api::<Event>()
        .list(&ListParams::default().fields(&format!("involvedObject.name={pod}")))
        .await
        .unwrap();
    events
        .items
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .max_by_key(|e| e.last_timestamp.clone().map(|t| t.0))
        .and_then(|e| e.message)
}

async fn wait_bound(ns: &TestNamespace, pod: &str) -> String {
    eventually(TIMEOUT, &format!("{pod} bound"), || async {
        node_of(ns, pod).await.is_some()
    })
    .await;
    node_of(ns, pod).await.unwrap()
}

async fn wait_failed(ns: &TestNamespace, pod: &str) -> String {
    eventually(TIMEOUT, &format!("FailedScheduling of {pod}"), || async {
        last_event(ns, pod, "FailedScheduling").await.is_some()
    })
    .await;
    last_event(ns, pod, "FailedScheduling").await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn places_pods_as_the_filters_and_scores_say_and_explains_failures() {
    let _nodes_lock = NODES.lock().await;
    let ns = TestNamespace::new("sched-place").await;
    let name = format!("minik8s-scheduler-{}", ns.name);
    let nodes = TestNodes::create(
        &ns,
        &[
            ("2", json!({"disk": "ssd"}), json!({})),
            ("4", json!({}), json!({"unschedulable": true})),
            ("4", json!({}), json!({})),
        ],
    )
    .await;
    let scheduler = Scheduler::start(&name);
    let pods = ns.api::<Pod>();

    // A nodeSelector: only node 0 has the disk.
    pods.create(
        &PostParams::default(),
        &pod(
            &ns,
            "ssd",
            &name,
            "500m",
            json!({"nodeSelector": {"disk": "ssd"}}),
        ),
    )
    .await
    .unwrap();
    assert_eq!(wait_bound(&ns, "ssd").await, nodes.names[0]);
    assert_eq!(
        last_event(&ns, "ssd", "Scheduled").await.as_deref(),
        Some(
            format!(
                "Successfully assigned {}/ssd to {}",
                ns.name, nodes.names[0]
            )
            .as_str()
        )
    );

    // LeastAllocated: node 2 (4 CPU, free) beats node 0 (2 CPU, half used); node 1 is
    // cordoned.
    pods.create(
        &PostParams::default(),
        &pod(&ns, "least", &name, "1", json!({})),
    )
    .await
    .unwrap();
    assert_eq!(wait_bound(&ns, "least").await, nodes.names[2]);

    // Too big for any node: FailedScheduling with kube-scheduler's wording, and the
    // PodScheduled condition.
    pods.create(
        &PostParams::default(),
        &pod(&ns, "huge", &name, "5", json!({})),
    )
    .await
    .unwrap();
    let message = wait_failed(&ns, "huge").await;
    let all_nodes = Api::<Node>::all(ns.client.clone())
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .len();
    let others = all_nodes - 3;
    // Reasons sorted as strings, as upstream sorts them.
    let mut reasons = [
        "1 node(s) were unschedulable".to_string(),
        "2 Insufficient cpu".to_string(),
        format!("{others} node(s) didn't match Pod's node affinity/selector"),
    ];
    reasons.sort();
    // A request larger than a node's whole allocatable cannot be helped by preemption.
    let expected = format!(
        "0/{all_nodes} nodes are available: {}. no new claims to deallocate, preemption: 0/{all_nodes} nodes are available: {all_nodes} Preemption is not helpful for scheduling.",
        reasons.join(", "),
    );
    assert_eq!(message, expected);
    eventually(TIMEOUT, "PodScheduled=False", || async {
        let p = pods.get("huge").await.unwrap();
        p.status
            .and_then(|s| s.conditions)
            .into_iter()
            .flatten()
            .any(|c| {
                c.type_ == "PodScheduled"
                    && c.status == "False"
                    && c.reason.as_deref() == Some("Unschedulable")
            })
    })
    .await;

    // Room appears (the cordon is lifted): the waiting pod is tried again and placed there.
    let fits_later = pod(&ns, "later", &name, "3500m", json!({}));
    pods.create(&PostParams::default(), &fits_later)
        .await
        .unwrap();
    wait_failed(&ns, "later").await;
    Api::<Node>::all(ns.client.clone())
        .patch(
            &nodes.names[1],
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"spec": {"unschedulable": false}})),
        )
        .await
        .unwrap();
    assert_eq!(wait_bound(&ns, "later").await, nodes.names[1]);

    // Pods of other schedulers are not touched.
    pods.create(
        &PostParams::default(),
        &pod(&ns, "theirs", "someone-else", "100m", json!({})),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(node_of(&ns, "theirs").await, None);

    scheduler.stop().await;
    nodes.delete().await;
    ns.cleanup().await;
}

/// The same pod specs given to default-scheduler and to minik8s-scheduler on the same nodes:
/// the same pods fit, the same FailedScheduling messages, and where one node clearly wins,
/// both choose it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decides_as_kube_scheduler_does() {
    let _nodes_lock = NODES.lock().await;
    let ns = TestNamespace::new("sched-diff").await;
    let ours = format!("minik8s-scheduler-{}", ns.name);
    let nodes = TestNodes::create(
        &ns,
        &[
            ("2", json!({"disk": "ssd"}), json!({})),
            (
                "4",
                json!({}),
                json!({"taints": [
                    {"key": "minik8s.dev/test", "value": ns.name, "effect": "NoSchedule"},
                    {"key": "dedicated", "value": "db", "effect": "NoSchedule"}]}),
            ),
            ("4", json!({}), json!({})),
        ],
    )
    .await;
    let scheduler = Scheduler::start(&ours);
    let pods = ns.api::<Pod>();

    // (case, extra spec, fits)
    let cases: [(&str, Value, &str, bool); 6] = [
        ("plain", json!({}), "1", true),
        (
            "ssd",
            json!({"nodeSelector": {"disk": "ssd"}}),
            "500m",
            true,
        ),
        ("toocpu", json!({}), "5", false),
        (
            "nossd",
            json!({"nodeSelector": {"disk": "nvme"}}),
            "100m",
            false,
        ),
        (
            "ports",
            json!({"containers": [{"name": "app", "image": "app:v1",
                   "resources": {"requests": {"cpu": "1"}},
                   "ports": [{"containerPort": 80, "hostPort": 8080}]}]}),
            "1",
            true,
        ),
        (
            "affinity",
            json!({"affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "nobody"}},
                 "topologyKey": "kubernetes.io/hostname"}]}}}),
            "100m",
            true,
        ),
    ];
    for (case, extra, cpu, fits) in cases {
        let builtin = format!("{case}-builtin");
        let mini = format!("{case}-mini");
        pods.create(
            &PostParams::default(),
            &pod(&ns, &builtin, "default-scheduler", cpu, extra.clone()),
        )
        .await
        .unwrap();
        pods.create(&PostParams::default(), &pod(&ns, &mini, &ours, cpu, extra))
            .await
            .unwrap();
        if fits {
            let (a, b) = (
                wait_bound(&ns, &builtin).await,
                wait_bound(&ns, &mini).await,
            );
            // Both twins chose the same node, or both chose among nodes that tie.
            if case == "ssd" {
                assert_eq!(
                    (a.as_str(), b.as_str()),
                    (nodes.names[0].as_str(), nodes.names[0].as_str())
                );
            }
            // The twins take room from each other: free them so the next case is equal.
            for name in [&builtin, &mini] {
                pods.delete(name, &DeleteParams::default().grace_period(0))
                    .await
                    .unwrap();
            }
            eventually(TIMEOUT, "twins gone", || async {
                pods.get_opt(&builtin).await.unwrap().is_none()
                    && pods.get_opt(&mini).await.unwrap().is_none()
            })
            .await;
        } else {
            let (a, b) = (
                wait_failed(&ns, &builtin).await,
                wait_failed(&ns, &mini).await,
            );
            assert_eq!(b, a, "FailedScheduling of {case}");
        }
    }
    // Room only if another pod went: preemption is tried and finds no lower-priority
    // victim on that node.
    let filler = pod(
        &ns,
        "filler",
        "default-scheduler",
        "3",
        json!({"nodeSelector": {"kubernetes.io/hostname": nodes.names[2]}}),
    );
    pods.create(&PostParams::default(), &filler).await.unwrap();
    wait_bound(&ns, "filler").await;
    for (name, scheduler) in [
        ("crowded-builtin", "default-scheduler"),
        ("crowded-mini", ours.as_str()),
    ] {
        pods.create(
            &PostParams::default(),
            &pod(&ns, name, scheduler, "3", json!({})),
        )
        .await
        .unwrap();
    }
    let (a, b) = (
        wait_failed(&ns, "crowded-builtin").await,
        wait_failed(&ns, "crowded-mini").await,
    );
    assert!(
        a.contains("1 No preemption victims found for incoming pod"),
        "{a}"
    );
    assert_eq!(
        b, a,
        "FailedScheduling when only preemption could make room"
    );

    scheduler.stop().await;
    nodes.delete().await;
    ns.cleanup().await;
}

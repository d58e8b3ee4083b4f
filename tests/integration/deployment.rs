//! The MiniDeployment controller against the real API server. A watcher records every pod
//! state during rollouts and checks the surge and availability bounds throughout.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{ListParams, Patch, PatchParams};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use minik8s::api::{MiniDeployment, MiniReplicaSet};
use serde_json::{Value, json};

use crate::common::{Controllers, TestNamespace, eventually};

const TIMEOUT: Duration = Duration::from_secs(90);

fn manifest(name: &str, replicas: i32, image: &str, strategy: Value) -> Value {
    json!({
        "apiVersion": "minik8s.dev/v1alpha1",
        "kind": "MiniDeployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": strategy,
            "template": {
                "metadata": {
                    "labels": {"app": name},
                    // Slow enough that every rollout step is observable.
                    "annotations": {"sim.minik8s.dev/behavior": "ready-after", "sim.minik8s.dev/ready-after": "1s"}
                },
                "spec": {"containers": [{"name": "app", "image": image}]}
            }
        }
    })
}

async fn set_image(ns: &TestNamespace, name: &str, image: &str) {
    let patch =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}});
    ns.api::<MiniDeployment>()
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

/// Waits until the rollout of the current template is complete.
async fn wait_complete(ns: &TestNamespace, name: &str) -> MiniDeployment {
    let api = ns.api::<MiniDeployment>();
    let mut last = None;
    let deadline = std::time::Instant::now() + TIMEOUT;
    while std::time::Instant::now() < deadline {
        let d = api.get(name).await.unwrap();
        let replicas = d.spec.replicas;
        if let Some(s) = d.status.as_ref().map(|s| &s.status) {
            let complete = s.observed_generation == d.metadata.generation
                && s.updated_replicas == Some(replicas)
                && s.replicas == Some(replicas)
                && s.available_replicas == Some(replicas);
            if complete {
                return d;
            }
        }
        last = d.status;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("rollout of {name} did not complete; last status {last:?}");
}

async fn replica_sets(ns: &TestNamespace) -> Vec<MiniReplicaSet> {
    ns.api::<MiniReplicaSet>()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
}

fn revision(rs: &MiniReplicaSet) -> String {
    rs.annotations()
        .get("minik8s.dev/revision")
        .cloned()
        .unwrap_or_default()
}

fn image(rs: &MiniReplicaSet) -> String {
    rs.spec.template.raw()["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Every pod state seen: the most pods at once, the fewest Ready ones, and the pod-template
/// hashes that ever existed together.
#[derive(Default, Debug)]
pub struct Seen {
    pub max_pods: usize,
    pub min_ready: usize,
    pub hashes_together: usize,
}

pub struct PodWatch {
    seen: Arc<Mutex<Seen>>,
    task: tokio::task::JoinHandle<()>,
}

impl PodWatch {
    pub async fn start(ns: &TestNamespace, app: &str) -> Self {
        let api: Api<Pod> = Api::namespaced(ns.client.clone(), &ns.name);
        let seen = Arc::new(Mutex::new(Seen {
            min_ready: usize::MAX,
            ..Default::default()
        }));
        let record = seen.clone();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let config = watcher::Config::default().labels(&format!("app={app}"));
        let task = tokio::spawn(async move {
            let mut pods: HashMap<String, Pod> = HashMap::new();
            let mut ready_tx = Some(ready_tx);
            // Only complete states count: not the partial ones of a (re)list.
            let mut listing = true;
            let mut events = watcher::watcher(api, config).boxed();
            while let Some(Ok(event)) = events.next().await {
                match event {
                    watcher::Event::Apply(p) | watcher::Event::InitApply(p) => {
                        if p.metadata.deletion_timestamp.is_some() {
                            pods.remove(&p.name_any());
                        } else {
                            pods.insert(p.name_any(), p);
                        }
                    }
                    watcher::Event::Delete(p) => {
                        pods.remove(&p.name_any());
                    }
                    watcher::Event::Init => {
                        pods.clear();
                        listing = true;
                    }
                    watcher::Event::InitDone => {
                        listing = false;
                        if let Some(tx) = ready_tx.take() {
                            let _ = tx.send(());
                        }
                    }
                }
                if listing {
                    continue;
                }
                let ready = pods.values().filter(|p| is_ready(p)).count();
                let hashes: std::collections::HashSet<&str> = pods
                    .values()
                    .filter_map(|p| p.labels().get("pod-template-hash").map(String::as_str))
                    .collect();
                let mut seen = record.lock().unwrap();
                seen.max_pods = seen.max_pods.max(pods.len());
                seen.min_ready = seen.min_ready.min(ready);
                seen.hashes_together = seen.hashes_together.max(hashes.len());
            }
        });
        let _ = ready_rx.await;
        Self { seen, task }
    }

    pub fn seen(&self) -> Seen {
        let s = self.seen.lock().unwrap();
        Seen {
            max_pods: s.max_pods,
            min_ready: s.min_ready,
            hashes_together: s.hashes_together,
        }
    }
}

impl Drop for PodWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_update_stays_within_surge_and_availability() {
    let ns = TestNamespace::new("md-rolling").await;
    let _controllers = Controllers::start(&ns.name, None);
    let strategy =
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}});
    ns.create::<MiniDeployment>(manifest("web", 6, "app:v1", strategy))
        .await
        .unwrap();
    wait_complete(&ns, "web").await;

    let watch = PodWatch::start(&ns, "web").await;
    set_image(&ns, "web", "app:v2").await;
    let d = wait_complete(&ns, "web").await;
    let seen = watch.seen();
    assert!(
        seen.max_pods <= 7,
        "more than replicas + maxSurge pods: {seen:?}"
    );
    assert!(
        seen.min_ready >= 5,
        "fewer than replicas - maxUnavailable ready: {seen:?}"
    );
    assert_eq!(
        seen.hashes_together, 2,
        "old and new pods should overlap in a rolling update"
    );

    assert_eq!(
        d.annotations()
            .get("minik8s.dev/revision")
            .map(String::as_str),
        Some("2")
    );
    let status = d.status.unwrap().status;
    let progressing = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_.as_deref() == Some("Progressing"))
        .unwrap();
    assert_eq!(
        progressing.reason.as_deref(),
        Some("NewReplicaSetAvailable")
    );
    let available = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_.as_deref() == Some("Available"))
        .unwrap();
    assert_eq!(available.status.as_deref(), Some("True"));

    let mut sets = replica_sets(&ns).await;
    sets.sort_by_key(revision);
    assert_eq!(sets.len(), 2);
    assert_eq!(
        (revision(&sets[0]), image(&sets[0]), sets[0].spec.replicas),
        ("1".into(), "app:v1".into(), 0)
    );
    assert_eq!(
        (revision(&sets[1]), image(&sets[1]), sets[1].spec.replicas),
        ("2".into(), "app:v2".into(), 6)
    );
    let hash = sets[1].labels().get("pod-template-hash").unwrap();
    assert!(sets[1].name_any() == format!("web-{hash}"));
    assert_eq!(
        sets[1]
            .annotations()
            .get("minik8s.dev/desired-replicas")
            .map(String::as_str),
        Some("6")
    );
    assert_eq!(
        sets[1]
            .annotations()
            .get("minik8s.dev/max-replicas")
            .map(String::as_str),
        Some("7")
    );

    let events = ns
        .api::<Event>()
        .list(&ListParams::default())
        .await
        .unwrap();
    let scaling: Vec<String> = events
        .items
        .iter()
        .filter(|e| e.involved_object.kind.as_deref() == Some("MiniDeployment"))
        .filter_map(|e| e.message.clone())
        .collect();
    assert!(
        scaling
            .iter()
            .any(|m| m.starts_with("Scaled up replica set web-") && m.contains(" from ")),
        "{scaling:?}"
    );
    assert!(
        scaling
            .iter()
            .any(|m| m.starts_with("Scaled down replica set web-")),
        "{scaling:?}"
    );
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreate_removes_every_old_pod_before_creating_new_ones() {
    let ns = TestNamespace::new("md-recreate").await;
    let _controllers = Controllers::start(&ns.name, None);
    ns.create::<MiniDeployment>(manifest("web", 3, "app:v1", json!({"type": "Recreate"})))
        .await
        .unwrap();
    wait_complete(&ns, "web").await;
    let watch = PodWatch::start(&ns, "web").await;
    set_image(&ns, "web", "app:v2").await;
    wait_complete(&ns, "web").await;
    let seen = watch.seen();
    assert_eq!(
        seen.hashes_together, 1,
        "old and new pods existed together: {seen:?}"
    );
    assert_eq!(seen.min_ready, 0, "Recreate takes every old pod down first");
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_pause_resume_and_history_limit() {
    let ns = TestNamespace::new("md-history").await;
    let _controllers = Controllers::start(&ns.name, None);
    let mut m = manifest(
        "web",
        2,
        "app:v1",
        json!({"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}),
    );
    m["spec"]["revisionHistoryLimit"] = json!(1);
    ns.create::<MiniDeployment>(m).await.unwrap();
    wait_complete(&ns, "web").await;
    set_image(&ns, "web", "app:v2").await;
    wait_complete(&ns, "web").await;
    set_image(&ns, "web", "app:v3").await;
    wait_complete(&ns, "web").await;
    // revisionHistoryLimit 1: revision 1's set is gone, 2 and 3 remain.
    eventually(TIMEOUT, "history cleanup", || async {
        let mut revisions: Vec<String> = replica_sets(&ns).await.iter().map(revision).collect();
        revisions.sort();
        revisions == ["2", "3"]
    })
    .await;

    // Roll back to the previous revision (2), declaratively, by annotation.
    let api = ns.api::<MiniDeployment>();
    let patch = json!({"metadata": {"annotations": {"minik8s.dev/rollback-to": "0"}}});
    api.patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    eventually(TIMEOUT, "the rollback to v2", || async {
        let d = api.get("web").await.unwrap();
        d.spec.template.raw()["spec"]["containers"][0]["image"] == "app:v2"
            && !d.annotations().contains_key("minik8s.dev/rollback-to")
    })
    .await;
    let d = wait_complete(&ns, "web").await;
    assert_eq!(
        d.annotations()
            .get("minik8s.dev/revision")
            .map(String::as_str),
        Some("4")
    );
    let sets = replica_sets(&ns).await;
    let reused = sets.iter().find(|rs| image(rs) == "app:v2").unwrap();
    assert_eq!(revision(reused), "4");
    assert_eq!(
        reused
            .annotations()
            .get("minik8s.dev/revision-history")
            .map(String::as_str),
        Some("2")
    );
    let events = ns
        .api::<Event>()
        .list(&ListParams::default())
        .await
        .unwrap();
    assert!(
        events
            .items
            .iter()
            .any(|e| e.reason.as_deref() == Some("DeploymentRollback"))
    );

    // Paused: a template change does not roll out, but scaling still happens.
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"paused": true}})),
    )
    .await
    .unwrap();
    set_image(&ns, "web", "app:v4").await;
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 3}})),
    )
    .await
    .unwrap();
    eventually(TIMEOUT, "scaling while paused", || async {
        let d = api.get("web").await.unwrap();
        let s = d.status.map(|s| s.status).unwrap_or_default();
        s.replicas == Some(3) && s.observed_generation == d.metadata.generation
    })
    .await;
    assert!(
        replica_sets(&ns)
            .await
            .iter()
            .all(|rs| image(rs) != "app:v4"),
        "rolled out while paused"
    );
    let d = api.get("web").await.unwrap();
    let progressing = d
        .status
        .unwrap()
        .status
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_.as_deref() == Some("Progressing"))
        .unwrap();
    assert_eq!(
        (progressing.status.as_deref(), progressing.reason.as_deref()),
        (Some("Unknown"), Some("DeploymentPaused"))
    );

    // Resumed: the rollout continues.
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"paused": false}})),
    )
    .await
    .unwrap();
    wait_complete(&ns, "web").await;
    assert!(
        replica_sets(&ns)
            .await
            .iter()
            .any(|rs| image(rs) == "app:v4" && rs.spec.replicas == 3)
    );
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_rollout_exceeds_its_progress_deadline() {
    let ns = TestNamespace::new("md-deadline").await;
    let _controllers = Controllers::start(&ns.name, None);
    let mut m = manifest(
        "web",
        2,
        "app:v1",
        json!({"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}),
    );
    m["spec"]["progressDeadlineSeconds"] = json!(3);
    ns.create::<MiniDeployment>(m).await.unwrap();
    wait_complete(&ns, "web").await;
    // The new pods never become Ready.
    let patch = json!({"spec": {"template": {"metadata": {"annotations": {"sim.minik8s.dev/behavior": "never-ready"}}}}});
    let api = ns.api::<MiniDeployment>();
    api.patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    eventually(
        Duration::from_secs(30),
        "ProgressDeadlineExceeded",
        || async {
            let d = api.get("web").await.unwrap();
            d.status
                .and_then(|s| s.status.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| {
                    c.type_.as_deref() == Some("Progressing")
                        && c.status.as_deref() == Some("False")
                        && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
                })
        },
    )
    .await;
    // maxUnavailable 0: the old pods are all still there and available.
    let d = api.get("web").await.unwrap();
    assert_eq!(d.status.unwrap().status.available_replicas, Some(2));
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resizing_mid_rollout_scales_both_sets_proportionally() {
    let ns = TestNamespace::new("md-proportional").await;
    let _controllers = Controllers::start(&ns.name, None);
    let strategy = json!({"rollingUpdate": {"maxSurge": 2, "maxUnavailable": 0}});
    ns.create::<MiniDeployment>(manifest("web", 4, "app:v1", strategy))
        .await
        .unwrap();
    wait_complete(&ns, "web").await;
    // A stuck rollout: the new pods never become Ready, so it stops at 4 old + 2 new.
    let api = ns.api::<MiniDeployment>();
    let patch = json!({"spec": {"template": {"metadata": {"annotations": {"sim.minik8s.dev/behavior": "never-ready"}}}}});
    api.patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    eventually(TIMEOUT, "4 old + 2 new", || async {
        let mut sizes: Vec<i32> = replica_sets(&ns)
            .await
            .iter()
            .map(|rs| rs.spec.replicas)
            .collect();
        sizes.sort();
        sizes == [2, 4]
    })
    .await;
    // 4 → 8: the 6 (= 4 + surge 2) become 10 (= 8 + 2), split in proportion: 4 → 7, 2 → 3.
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 8}})),
    )
    .await
    .unwrap();
    eventually(TIMEOUT, "proportional sizes 7 and 3", || async {
        let mut sizes: Vec<i32> = replica_sets(&ns)
            .await
            .iter()
            .map(|rs| rs.spec.replicas)
            .collect();
        sizes.sort();
        sizes == [3, 7]
    })
    .await;
    ns.cleanup().await;
}

//! The same manifest as a built-in Deployment and as a MiniDeployment, side by side, through
//! the same steps; the observable outcome must match.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use kube::runtime::watcher;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet};
use kube::ResourceExt;
use kube::api::{ListParams, Patch, PatchParams};
use minik8s::api::{MiniDeployment, MiniReplicaSet};
use serde_json::{Value, json};

use crate::common::{Controllers, TestNamespace, eventually};

const TIMEOUT: Duration = Duration::from_secs(90);

fn deployment(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 6,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}},
            "template": {
                "metadata": {
                    "labels": {"app": name},
                    "annotations": {"sim.minik8s.dev/behavior": "ready-after", "sim.minik8s.dev/ready-after": "1s"}
                },
                "spec": {"containers": [{"name": "app", "image": "app:v1"}]}
            }
        }
    })
}

/// Creates the built-in twin and the minik8s twin of `deployment(..)`, both changed by `edit`.
async fn create_both(ns: &TestNamespace, edit: impl Fn(&mut Value)) {
    for builtin in [true, false] {
        let mut d = deployment(if builtin { "builtin" } else { "mini" });
        edit(&mut d);
        if builtin {
            ns.create::<Deployment>(d).await.unwrap();
        } else {
            d["apiVersion"] = json!("minik8s.dev/v1alpha1");
            d["kind"] = json!("MiniDeployment");
            ns.create::<MiniDeployment>(d).await.unwrap();
        }
    }
}

async fn status(ns: &TestNamespace, builtin: bool) -> (Option<i64>, i32, DeploymentStatus) {
    if builtin {
        let d = ns.api::<Deployment>().get("builtin").await.unwrap();
        (
            d.metadata.generation,
            d.spec.replicas.unwrap_or(1),
            d.status.unwrap_or_default(),
        )
    } else {
        let d = ns.api::<MiniDeployment>().get("mini").await.unwrap();
        (
            d.metadata.generation,
            d.spec.replicas,
            d.status.map(|s| s.status).unwrap_or_default(),
        )
    }
}

async fn both_complete(ns: &TestNamespace) {
    for builtin in [true, false] {
        eventually(
            TIMEOUT,
            if builtin {
                "built-in rollout"
            } else {
                "mini rollout"
            },
            || async {
                let (generation, replicas, s) = status(ns, builtin).await;
                s.observed_generation == generation
                    && [s.replicas, s.updated_replicas, s.available_replicas] == [Some(replicas); 3]
            },
        )
        .await;
    }
}

async fn patch_both(ns: &TestNamespace, patch: Value) {
    ns.api::<Deployment>()
        .patch("builtin", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    ns.api::<MiniDeployment>()
        .patch("mini", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

/// What the differential tests compare of a (Mini)ReplicaSet.
struct SetFacts {
    revision: String,
    revision_history: String,
    image: String,
    replicas: i32,
}

/// The facts of every set on one side; each kind keeps its revisions under its own prefix.
async fn set_facts(ns: &TestNamespace, builtin: bool) -> Vec<SetFacts> {
    let facts =
        |annotations: &std::collections::BTreeMap<String, String>, image: String, replicas: i32| {
            let prefix = if builtin {
                "deployment.kubernetes.io"
            } else {
                "minik8s.dev"
            };
            let get = |key: &str| {
                annotations
                    .get(&format!("{prefix}/{key}"))
                    .cloned()
                    .unwrap_or_default()
            };
            SetFacts {
                revision: get("revision"),
                revision_history: get("revision-history"),
                image,
                replicas,
            }
        };
    if builtin {
        let list = ns
            .api::<ReplicaSet>()
            .list(&ListParams::default())
            .await
            .unwrap()
            .items;
        list.iter()
            .map(|rs| {
                let template = rs.spec.template.as_ref().and_then(|t| t.spec.as_ref());
                let image = template
                    .and_then(|t| t.containers[0].image.clone())
                    .unwrap_or_default();
                facts(rs.annotations(), image, rs.spec.replicas.unwrap_or(0))
            })
            .collect()
    } else {
        let list = ns
            .api::<MiniReplicaSet>()
            .list(&ListParams::default())
            .await
            .unwrap()
            .items;
        list.iter()
            .map(|rs| {
                let image = rs.spec.template.raw()["spec"]["containers"][0]["image"]
                    .as_str()
                    .unwrap_or_default();
                facts(rs.annotations(), image.to_owned(), rs.spec.replicas)
            })
            .collect()
    }
}

/// (revision, image, spec.replicas) of each set, by revision.
async fn sets(ns: &TestNamespace, builtin: bool) -> Vec<(String, String, i32)> {
    let mut sets: Vec<_> = set_facts(ns, builtin)
        .await
        .into_iter()
        .map(|f| (f.revision, f.image, f.replicas))
        .collect();
    sets.sort();
    sets
}

/// (type, status, reason) of each condition.
fn conditions(s: &DeploymentStatus) -> Vec<(String, String, String)> {
    let mut c: Vec<_> = s
        .conditions
        .iter()
        .flatten()
        .map(|c| {
            (
                c.type_.clone().unwrap_or_default(),
                c.status.clone().unwrap_or_default(),
                c.reason.clone().unwrap_or_default(),
            )
        })
        .collect();
    c.sort();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_and_mini_deployments_roll_out_alike() {
    let ns = TestNamespace::new("diff-deploy").await;
    let _controllers = Controllers::start(
        &ns.name,
        Some(minik8s::runtime::client::RateLimit::CONTROLLER_MANAGER),
    );
    create_both(&ns, |_| {}).await;
    both_complete(&ns).await;

    // An image change, then a rollback-free second change, then a resize.
    patch_both(&ns, json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:v2"}]}}}})).await;
    both_complete(&ns).await;
    patch_both(&ns, json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:v3"}]}}}})).await;
    both_complete(&ns).await;
    patch_both(&ns, json!({"spec": {"replicas": 4}})).await;
    both_complete(&ns).await;

    let expected = vec![
        ("1".to_string(), "app:v1".to_string(), 0),
        ("2".to_string(), "app:v2".to_string(), 0),
        ("3".to_string(), "app:v3".to_string(), 4),
    ];
    assert_eq!(sets(&ns, true).await, expected, "built-in");
    assert_eq!(sets(&ns, false).await, expected, "minik8s");

    let (_, _, b) = status(&ns, true).await;
    let (_, _, m) = status(&ns, false).await;
    let counts = |s: &DeploymentStatus| {
        [
            s.replicas,
            s.updated_replicas,
            s.ready_replicas,
            s.available_replicas,
            s.unavailable_replicas.or(Some(0)),
        ]
    };
    assert_eq!(counts(&m), counts(&b));
    assert_eq!(conditions(&m), conditions(&b));
    ns.cleanup().await;
}

/// Sizes of each set by revision, and its revision history, for one side.
async fn history(ns: &TestNamespace, builtin: bool) -> Vec<(String, i32, String)> {
    let mut rows: Vec<_> = set_facts(ns, builtin)
        .await
        .into_iter()
        .map(|f| (f.revision, f.replicas, f.revision_history))
        .collect();
    rows.sort();
    rows
}

async fn progressing_reason(ns: &TestNamespace, builtin: bool) -> String {
    let (_, _, s) = status(ns, builtin).await;
    s.conditions
        .iter()
        .flatten()
        .find(|c| c.type_.as_deref() == Some("Progressing"))
        .and_then(|c| c.reason.clone())
        .unwrap_or_default()
}

/// Waits until both sides show the same set history and satisfy `check`, then returns it.
async fn both_show(
    ns: &TestNamespace,
    what: &str,
    check: impl Fn(&[(String, i32, String)]) -> bool,
) -> Vec<(String, i32, String)> {
    eventually(TIMEOUT, what, || async {
        let (b, m) = (history(ns, true).await, history(ns, false).await);
        b == m && check(&b)
    })
    .await;
    history(ns, false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_resized_rolled_back_and_paused_alike() {
    let ns = TestNamespace::new("diff-deploy2").await;
    let _controllers = Controllers::start(
        &ns.name,
        Some(minik8s::runtime::client::RateLimit::CONTROLLER_MANAGER),
    );
    create_both(&ns, |d| {
        d["spec"]["replicas"] = json!(4);
        d["spec"]["progressDeadlineSeconds"] = json!(4);
        d["spec"]["strategy"] =
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2, "maxUnavailable": 0}});
    })
    .await;
    both_complete(&ns).await;

    // A rollout whose pods never become Ready stalls at 4 old + 2 new and times out.
    patch_both(&ns, json!({"spec": {"template": {"metadata": {"annotations": {"sim.minik8s.dev/behavior": "never-ready"}}}}})).await;
    for builtin in [true, false] {
        eventually(TIMEOUT, "ProgressDeadlineExceeded", || async {
            progressing_reason(&ns, builtin).await == "ProgressDeadlineExceeded"
        })
        .await;
    }
    let stalled = both_show(&ns, "the stalled sets", |h| h.len() == 2).await;
    assert_eq!(stalled.iter().map(|r| r.1).collect::<Vec<_>>(), [4, 2]);

    // Resized mid-rollout: 6 (4 + surge 2) → 10 (8 + 2), in proportion.
    patch_both(&ns, json!({"spec": {"replicas": 8}})).await;
    let resized = both_show(&ns, "proportional sizes", |h| {
        h.iter().map(|r| r.1).sum::<i32>() == 10
    })
    .await;
    assert_eq!(resized.iter().map(|r| r.1).collect::<Vec<_>>(), [7, 3]);

    // Rolled back to revision 1 through each controller's rollback annotation.
    let api_b = ns.api::<Deployment>();
    let api_m = ns.api::<MiniDeployment>();
    let annotate = |key: &str| json!({"metadata": {"annotations": {key: "1"}}});
    api_b
        .patch(
            "builtin",
            &PatchParams::default(),
            &Patch::Merge(annotate("deprecated.deployment.rollback.to")),
        )
        .await
        .unwrap();
    api_m
        .patch(
            "mini",
            &PatchParams::default(),
            &Patch::Merge(annotate("minik8s.dev/rollback-to")),
        )
        .await
        .unwrap();
    both_complete(&ns).await;
    let rolled_back = both_show(&ns, "the rollback", |h| h.iter().any(|r| r.0 == "3")).await;
    assert_eq!(
        rolled_back,
        [
            ("2".to_string(), 0, String::new()),
            ("3".to_string(), 8, "1".to_string())
        ]
    );

    // Paused: a template change waits, a resize happens; resumed: the rollout goes on.
    patch_both(&ns, json!({"spec": {"paused": true}})).await;
    patch_both(&ns, json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:v9"}]}}}})).await;
    patch_both(&ns, json!({"spec": {"replicas": 5}})).await;
    let paused = both_show(&ns, "scaling while paused", |h| h.iter().any(|r| r.1 == 5)).await;
    assert_eq!(paused.len(), 2, "no new set while paused");
    for builtin in [true, false] {
        eventually(TIMEOUT, "DeploymentPaused", || async {
            progressing_reason(&ns, builtin).await == "DeploymentPaused"
        })
        .await;
    }
    patch_both(&ns, json!({"spec": {"paused": false}})).await;
    both_complete(&ns).await;
    both_show(&ns, "the resumed rollout", |h| {
        h.len() == 3 && h.iter().any(|r| r.0 == "4" && r.1 == 5)
    })
    .await;
    let (_, _, b) = status(&ns, true).await;
    let (_, _, m) = status(&ns, false).await;
    assert_eq!(conditions(&m), conditions(&b));
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreate_alike() {
    let ns = TestNamespace::new("diff-recreate").await;
    let _controllers = Controllers::start(
        &ns.name,
        Some(minik8s::runtime::client::RateLimit::CONTROLLER_MANAGER),
    );
    create_both(&ns, |d| {
        d["spec"]["replicas"] = json!(3);
        d["spec"]["strategy"] = json!({"type": "Recreate"});
    })
    .await;
    both_complete(&ns).await;
    let watch_b = crate::deployment::PodWatch::start(&ns, "builtin").await;
    let watch_m = crate::deployment::PodWatch::start(&ns, "mini").await;
    patch_both(&ns, json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:v2"}]}}}})).await;
    both_complete(&ns).await;
    let (b, m) = (watch_b.seen(), watch_m.seen());
    assert_eq!((b.hashes_together, b.min_ready), (1, 0), "built-in: {b:?}");
    assert_eq!(
        (m.hashes_together, m.min_ready, m.max_pods),
        (b.hashes_together, b.min_ready, b.max_pods),
        "mini: {m:?}"
    );
    assert_eq!(
        history(&ns, false).await.len(),
        history(&ns, true).await.len()
    );
    ns.cleanup().await;
}

/// The spelled-out form of `deployment(..)`'s template: every default the API server fills
/// in, and quantities written another way. Applying it changes nothing a Deployment compares.
fn spelled_out_template(name: &str) -> Value {
    json!({
        "metadata": {
            "labels": {"app": name},
            "annotations": {"sim.minik8s.dev/behavior": "ready-after", "sim.minik8s.dev/ready-after": "1s"},
            "creationTimestamp": null
        },
        "spec": {
            "containers": [{
                "name": "app", "image": "app:v1", "imagePullPolicy": "IfNotPresent",
                "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                "resources": {"requests": {"cpu": "0.1", "memory": "65536Ki"}},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File"
            }],
            "restartPolicy": "Always", "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler", "securityContext": {},
            "terminationGracePeriodSeconds": 30
        }
    })
}

/// Names of the pods of one side, sorted.
async fn pod_names(ns: &TestNamespace, app: &str) -> Vec<String> {
    let pods = ns
        .api::<k8s_openapi::api::core::v1::Pod>()
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .unwrap();
    let mut names: Vec<String> = pods.items.iter().map(|p| p.name_any()).collect();
    names.sort();
    names
}

async fn observed_generation_current(ns: &TestNamespace, builtin: bool) -> bool {
    let (generation, _, s) = status(ns, builtin).await;
    s.observed_generation == generation
}

/// Re-applying a manifest that spells out defaults or rewrites quantities (`cpu: 100m` ↔
/// `0.1`, `64Mi` ↔ `65536Ki`) is a no-op for a Deployment: the API server defaults its
/// template and the controller compares semantically. It must be one for a MiniDeployment too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reapplying_an_equal_template_rolls_neither() {
    let ns = TestNamespace::new("diff-reapply").await;
    let _controllers = Controllers::start(
        &ns.name,
        Some(minik8s::runtime::client::RateLimit::CONTROLLER_MANAGER),
    );
    create_both(&ns, |d| {
        d["spec"]["replicas"] = json!(3);
        d["spec"]["template"]["spec"]["containers"][0]["ports"] = json!([{"containerPort": 8080}]);
        d["spec"]["template"]["spec"]["containers"][0]["resources"] =
            json!({"requests": {"cpu": "100m", "memory": "64Mi"}});
    })
    .await;
    both_complete(&ns).await;
    let pods_before = [
        pod_names(&ns, "builtin").await,
        pod_names(&ns, "mini").await,
    ];

    for (name, builtin) in [("builtin", true), ("mini", false)] {
        let patch = json!({"spec": {"template": spelled_out_template(name)}});
        patch_one(&ns, builtin, patch).await;
    }
    for builtin in [true, false] {
        eventually(TIMEOUT, "the re-apply observed", || async {
            observed_generation_current(&ns, builtin).await
        })
        .await;
    }
    // Give a rollout, if one were starting, the time to show a second set.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let one_set = vec![("1".to_string(), "app:v1".to_string(), 3)];
    assert_eq!(sets(&ns, true).await, one_set, "built-in");
    assert_eq!(sets(&ns, false).await, one_set, "minik8s rolled out");
    let pods_after = [
        pod_names(&ns, "builtin").await,
        pod_names(&ns, "mini").await,
    ];
    assert_eq!(pods_after, pods_before, "no pod was replaced");

    // A real change still rolls both, so the check above can tell the difference.
    patch_both(&ns, json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:v2"}]}}}})).await;
    both_complete(&ns).await;
    assert_eq!(sets(&ns, true).await.len(), 2);
    assert_eq!(sets(&ns, false).await.len(), 2);
    ns.cleanup().await;
}

async fn patch_one(ns: &TestNamespace, builtin: bool, patch: Value) {
    if builtin {
        ns.api::<Deployment>()
            .patch("builtin", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
    } else {
        ns.api::<MiniDeployment>()
            .patch("mini", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
    }
}

/// Every size each set of one side was seen to have, in order, from a watch.
struct SizeWatch {
    sizes: Arc<Mutex<BTreeMap<String, Vec<i32>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl SizeWatch {
    async fn start(ns: &TestNamespace, builtin: bool) -> Self {
        let sizes = Arc::new(Mutex::new(BTreeMap::<String, Vec<i32>>::new()));
        let record = sizes.clone();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let client = ns.client.clone();
        let namespace = ns.name.clone();
        let task = tokio::spawn(async move {
            let mut ready_tx = Some(ready_tx);
            let note = |name: String, replicas: i32| {
                let mut sizes = record.lock().unwrap();
                let seen = sizes.entry(name).or_default();
                if seen.last() != Some(&replicas) {
                    seen.push(replicas);
                }
            };
            macro_rules! follow {
                ($kind:ty, $replicas:expr) => {{
                    let api: kube::Api<$kind> = kube::Api::namespaced(client, &namespace);
                    let mut events = watcher::watcher(api, watcher::Config::default()).boxed();
                    while let Some(Ok(event)) = events.next().await {
                        match event {
                            watcher::Event::Apply(rs) | watcher::Event::InitApply(rs) => {
                                note(rs.name_any(), $replicas(&rs))
                            }
                            watcher::Event::InitDone => {
                                if let Some(tx) = ready_tx.take() {
                                    let _ = tx.send(());
                                }
                            }
                            _ => {}
                        }
                    }
                }};
            }
            if builtin {
                follow!(ReplicaSet, |rs: &ReplicaSet| rs.spec.replicas.unwrap_or(1))
            } else {
                follow!(MiniReplicaSet, |rs: &MiniReplicaSet| rs.spec.replicas)
            }
        });
        ready_rx.await.expect("the set watch started");
        Self { sizes, task }
    }

    fn sizes(&self) -> BTreeMap<String, Vec<i32>> {
        self.sizes.lock().unwrap().clone()
    }
}

impl Drop for SizeWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `kubectl apply` of a manifest that lowers replicas and changes the image at once leaves
/// the old set's status counting more available pods than its new size until its controller
/// catches up. The built-in refuses to "clean up" such a set (it would raise it); no old set
/// may ever grow. The built-in's window is short; minik8s's is held open by running only the
/// MiniDeployment controller until the new set exists, so the stale status is certain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lowering_replicas_with_a_new_template_never_raises_an_old_set() {
    let ns = TestNamespace::new("diff-lower").await;
    let controllers = Controllers::start(&ns.name, None);
    create_both(&ns, |d| {
        d["spec"]["replicas"] = json!(10);
        d["spec"]["strategy"] =
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}});
    })
    .await;
    both_complete(&ns).await;
    controllers.stop().await;
    let watches = [
        SizeWatch::start(&ns, true).await,
        SizeWatch::start(&ns, false).await,
    ];
    let deployments_only = Controllers::start_with(minik8s::manager::Options {
        namespace: Some(ns.name.clone()),
        rate_limit: None,
        controllers: [minik8s::manager::ControllerName::Deployment].into(),
        ..Default::default()
    });
    patch_both(
        &ns,
        json!({"spec": {"replicas": 5, "template": {"spec": {"containers": [{"name": "app", "image": "app:v2"}]}}}}),
    )
    .await;
    eventually(TIMEOUT, "the new MiniReplicaSet", || async {
        watches[1].sizes().len() == 2
    })
    .await;
    // A few more syncs on the stale status (each write of the deployment brings one).
    tokio::time::sleep(Duration::from_secs(2)).await;
    deployments_only.stop().await;
    let _controllers = Controllers::start(&ns.name, None);
    both_complete(&ns).await;
    for (watch, side) in watches.iter().zip(["built-in", "minik8s"]) {
        let sizes = watch.sizes();
        assert_eq!(sizes.len(), 2, "{side}: {sizes:?}");
        // The first set is the old one: from 10 it only ever goes down.
        let old = sizes
            .values()
            .find(|seen| seen[0] == 10)
            .unwrap_or_else(|| panic!("{side}: no old set of 10 in {sizes:?}"));
        assert!(
            old.windows(2).all(|w| w[1] < w[0]),
            "{side}: the old set grew: {old:?}"
        );
    }
    let expected = vec![
        ("1".to_string(), "app:v1".to_string(), 0),
        ("2".to_string(), "app:v2".to_string(), 5),
    ];
    assert_eq!(sets(&ns, true).await, expected, "built-in");
    assert_eq!(sets(&ns, false).await, expected, "minik8s");
    ns.cleanup().await;
}

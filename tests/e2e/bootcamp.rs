//! The Kubernetes Basics tutorial's journey (kubernetes-bootcamp: create, get, scale, set
//! image, rollout status, an image that cannot be pulled stalls the rollout, undo) on a
//! built-in Deployment with kubectl and on its MiniDeployment twin with kubectl and minik8s,
//! side by side: each step must end the same way for both.
//!
//! The tutorial's broken image (a tag that does not exist) needs a registry; here it is an
//! image on a registry name that never resolves (`.invalid`), which the local cluster's
//! nodes report as a kubelet would (ErrImagePull, then ImagePullBackOff), as a real node does.

use std::process::Output;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, PostParams};
use minik8s::api::MiniDeployment;
use serde_json::{Value, json};

use crate::support::{Namespace, TIMEOUT, eventually, ok, run};

const NAME: &str = "kubernetes-bootcamp";
const V1: &str = "gcr.io/google-samples/kubernetes-bootcamp:v1";
const V2: &str = "docker.io/jocatalin/kubernetes-bootcamp:v2";
const UNPULLABLE: &str = "registry.invalid/google-samples/kubernetes-bootcamp:v10";

/// The built-in's output as it reads for the twin.
fn as_mini(text: &str) -> String {
    text.replace("deployment.apps/", "minideployment.minik8s.dev/")
}

/// replicas, ready, up-to-date, available, as `kubectl get` reads them from the status.
fn counts(ns: &Namespace, resource: &str) -> String {
    ok(run(ns.kubectl(
        &[
            "get",
            resource,
            "-o",
            "jsonpath={.status.replicas} {.status.readyReplicas} {.status.updatedReplicas} {.status.availableReplicas}",
        ],
    )))
}

fn images(ns: &Namespace, resource: &str) -> String {
    ok(run(ns.kubectl(&[
        "get",
        resource,
        "-o",
        "jsonpath={.spec.template.spec.containers[*].image}",
    ])))
}

/// `kubectl get RESOURCE --watch`, its lines collected as they come.
struct Watch {
    child: std::process::Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    reader: std::thread::JoinHandle<()>,
}

impl Watch {
    fn start(ns: &Namespace, resource: &str) -> Self {
        use std::io::BufRead;
        let mut child = ns
            .kubectl(&[
                "get",
                resource,
                "--watch",
                "-o",
                "jsonpath={.status.replicas} {.status.readyReplicas} {.status.updatedReplicas} {.status.availableReplicas}{\"\\n\"}",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let collected = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                collected.lock().unwrap().push(line);
            }
        });
        Self {
            child,
            lines,
            reader,
        }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    fn stop(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = self.reader.join();
        self.lines.lock().unwrap().clone()
    }
}

/// `rollout status` on both; both must end the same way (the lines before the last depend on
/// how often each controller writes its status).
fn status_of_both(ns: &Namespace, extra: &[&str]) -> (Output, Output) {
    let builtin =
        run(ns.kubectl(&[&["rollout", "status", &format!("deployment/{NAME}")], extra].concat()));
    let mini =
        run(ns.minik8s(&[&["rollout", "status", &format!("mdeploy/{NAME}")], extra].concat()));
    let last = |o: &Output| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .last()
            .map(as_mini)
            .unwrap_or_default()
    };
    assert_eq!(
        (
            builtin.status.code(),
            last(&builtin),
            as_mini(&String::from_utf8_lossy(&builtin.stderr))
        ),
        (
            mini.status.code(),
            last(&mini),
            String::from_utf8_lossy(&mini.stderr).into_owned()
        ),
        "rollout status {extra:?}"
    );
    (builtin, mini)
}

/// The waiting reasons of the pods that `owner_kind` owns (through their sets), sorted.
async fn waiting_reasons(ns: &Namespace, set_kind: &str) -> Vec<String> {
    let pods = ns.api::<Pod>().list(&ListParams::default()).await.unwrap();
    let mut reasons: Vec<String> = pods
        .items
        .iter()
        .filter(|p| {
            p.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| o.kind == set_kind)
        })
        .flat_map(|p| {
            p.status
                .iter()
                .flat_map(|s| s.container_statuses.iter().flatten())
        })
        .filter_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone())
        .collect();
    reasons.sort();
    reasons
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kubernetes_bootcamp_journey_ends_the_same_on_both_twins() {
    let ns = Namespace::new("bootcamp").await;

    // Create: the tutorial's `kubectl create deployment`, and its twin.
    let manifest: Value = serde_json::from_str(&ok(run(ns.kubectl(&[
        "create",
        "deployment",
        NAME,
        &format!("--image={V1}"),
        "--dry-run=client",
        "-o",
        "json",
    ]))))
    .unwrap();
    let created = ok(run(ns.kubectl(&[
        "create",
        "deployment",
        NAME,
        &format!("--image={V1}"),
    ])));
    assert_eq!(created, format!("deployment.apps/{NAME} created\n"));
    let mut twin = manifest;
    twin["apiVersion"] = json!("minik8s.dev/v1alpha1");
    twin["kind"] = json!("MiniDeployment");
    ns.api::<MiniDeployment>()
        .create(
            &PostParams::default(),
            &serde_json::from_value(twin).unwrap(),
        )
        .await
        .unwrap();
    status_of_both(&ns, &[]);
    assert_eq!(counts(&ns, &format!("deployment/{NAME}")), "1 1 1 1");
    assert_eq!(counts(&ns, &format!("mdeploy/{NAME}")), "1 1 1 1");

    // `kubectl wait` reads the Available condition of both alike.
    for resource in [format!("deployment/{NAME}"), format!("mdeploy/{NAME}")] {
        let met = ok(run(ns.kubectl(&[
            "wait",
            "--for=condition=Available",
            &resource,
            "--timeout=240s",
        ])));
        assert!(met.ends_with(&format!("/{NAME} condition met\n")), "{met}");
    }

    // Scale up: the same `kubectl scale` for both (the MiniDeployment has the scale
    // subresource), followed by `kubectl get -w` as a user would.
    let watches = [
        Watch::start(&ns, &format!("deployment/{NAME}")),
        Watch::start(&ns, &format!("mdeploy/{NAME}")),
    ];
    eventually(TIMEOUT, "both watches to print the object once", || async {
        watches.iter().all(|w| !w.lines().is_empty())
    })
    .await;
    for resource in [format!("deployments/{NAME}"), format!("mdeploy/{NAME}")] {
        ok(run(ns.kubectl(&["scale", &resource, "--replicas=4"])));
    }
    status_of_both(&ns, &[]);
    assert_eq!(counts(&ns, &format!("deployment/{NAME}")), "4 4 4 4");
    assert_eq!(counts(&ns, &format!("mdeploy/{NAME}")), "4 4 4 4");
    // What each watch printed: the counts at every change, from 1 1 1 1 to 4 4 4 4.
    for watch in watches {
        eventually(TIMEOUT, "the watch to print 4 4 4 4", || async {
            watch.lines().last().map(String::as_str) == Some("4 4 4 4")
        })
        .await;
        let lines = watch.stop();
        assert_eq!(
            lines.first().map(String::as_str),
            Some("1 1 1 1"),
            "{lines:?}"
        );
    }

    // Update: set image, then rollout status.
    let image = format!("{NAME}={V2}");
    let builtin = ok(run(ns.kubectl(&[
        "set",
        "image",
        &format!("deployments/{NAME}"),
        &image,
    ])));
    let mini = ok(run(ns.minik8s(&[
        "set",
        "image",
        &format!("mdeploy/{NAME}"),
        &image,
    ])));
    assert_eq!(as_mini(&builtin), mini);
    status_of_both(&ns, &[]);
    assert_eq!(images(&ns, &format!("mdeploy/{NAME}")), V2);

    // An image that cannot be pulled: the rollout stalls with the old pods still serving,
    // and status gives up after its timeout, the same way for both.
    let broken = format!("{NAME}={UNPULLABLE}");
    ok(run(ns.kubectl(&[
        "set",
        "image",
        &format!("deployments/{NAME}"),
        &broken,
    ])));
    ok(run(ns.minik8s(&[
        "set",
        "image",
        &format!("mdeploy/{NAME}"),
        &broken,
    ])));
    // A kubelet alternates between the two reasons as it retries.
    let pulling = |reasons: &[String]| {
        !reasons.is_empty()
            && reasons
                .iter()
                .all(|r| r == "ErrImagePull" || r == "ImagePullBackOff")
    };
    eventually(TIMEOUT, "the new pods to fail pulling", || async {
        let builtin = waiting_reasons(&ns, "ReplicaSet").await;
        let mini = waiting_reasons(&ns, "MiniReplicaSet").await;
        builtin.len() == mini.len() && pulling(&builtin) && pulling(&mini)
    })
    .await;
    let (builtin, _) = status_of_both(&ns, &["--timeout=5s"]);
    assert_eq!(builtin.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&builtin.stderr),
        "error: timed out waiting for the condition\n"
    );
    // 25% surge and unavailability of 4: one old pod goes, two new ones wait.
    let stalled = |resource: String| {
        let ns = &ns;
        async move {
            let d: Value =
                serde_json::from_str(&ok(run(ns.kubectl(&["get", &resource, "-o", "json"]))))
                    .unwrap();
            let s = &d["status"];
            (
                s["updatedReplicas"].clone(),
                s["availableReplicas"].clone(),
                s["unavailableReplicas"].clone(),
            )
        }
    };
    assert_eq!(
        stalled(format!("deployment/{NAME}")).await,
        stalled(format!("mdeploy/{NAME}")).await
    );

    // Undo: back to v2, and the rollout completes.
    let builtin = ok(run(ns.kubectl(&[
        "rollout",
        "undo",
        &format!("deployments/{NAME}"),
    ])));
    let mini = ok(run(ns.minik8s(&[
        "rollout",
        "undo",
        &format!("mdeploy/{NAME}"),
    ])));
    assert_eq!(as_mini(&builtin), mini);
    status_of_both(&ns, &["--timeout=240s"]);
    for resource in [format!("deployment/{NAME}"), format!("mdeploy/{NAME}")] {
        assert_eq!(images(&ns, &resource), V2, "{resource}");
        assert_eq!(counts(&ns, &resource), "4 4 4 4", "{resource}");
    }
    let builtin = ns.api::<Deployment>().get(NAME).await.unwrap();
    let mini = ns.api::<MiniDeployment>().get(NAME).await.unwrap();
    assert_eq!(
        builtin.metadata.annotations.unwrap()["deployment.kubernetes.io/revision"],
        mini.metadata.annotations.unwrap()["minik8s.dev/revision"],
        "the undo made the same revision"
    );
    ns.delete().await;
}

//! The Kubernetes Basics tutorial's journey (kubernetes-bootcamp: create, get, scale, set
//! image, rollout status, an image that cannot be pulled stalls the rollout, undo) on a
//! built-in Deployment with kubectl and on its MiniDeployment twin with kubectl and minik8s,
//! side by side: each step must end the same way for both.
//!
//! The tutorial's broken image (a tag that does not exist) needs a registry; here it is an
//! image on a registry name that never resolves (`.invalid`), which the local cluster's
//! nodes report as a kubelet would (ErrImagePull, then ImagePullBackOff), as a real node does.

use std::process::{Command, Output};
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use minik8s::api::MiniDeployment;
use serde_json::Value;

use crate::common::{Controllers, TestNamespace, eventually};
use crate::fixtures;

const NAME: &str = "kubernetes-bootcamp";
const V1: &str = "gcr.io/google-samples/kubernetes-bootcamp:v1";
const V2: &str = "docker.io/jocatalin/kubernetes-bootcamp:v2";
const UNPULLABLE: &str = "registry.invalid/google-samples/kubernetes-bootcamp:v10";
const TIMEOUT: Duration = Duration::from_secs(90);

fn run(mut command: Command) -> Output {
    command.output().expect("the command starts")
}

fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn kubectl(ns: &TestNamespace, args: &[&str]) -> Command {
    let mut command = Command::new("kubectl");
    command.args(args).args(["--namespace", &ns.name]);
    command
}

fn minik8s(ns: &TestNamespace, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_minik8s"));
    command.args(args).args(["--namespace", &ns.name]);
    command
}

/// The built-in's output as it reads for the twin.
fn as_mini(text: &str) -> String {
    text.replace("deployment.apps/", "minideployment.minik8s.dev/")
}

/// replicas, ready, up-to-date, available, as `kubectl get` reads them from the status.
fn counts(ns: &TestNamespace, resource: &str) -> String {
    ok(run(kubectl(
        ns,
        &[
            "get",
            resource,
            "-o",
            "jsonpath={.status.replicas} {.status.readyReplicas} {.status.updatedReplicas} {.status.availableReplicas}",
        ],
    )))
}

fn images(ns: &TestNamespace, resource: &str) -> String {
    ok(run(kubectl(
        ns,
        &[
            "get",
            resource,
            "-o",
            "jsonpath={.spec.template.spec.containers[*].image}",
        ],
    )))
}

/// `rollout status` on both; both must end the same way (the lines before the last depend on
/// how often each controller writes its status).
fn status_of_both(ns: &TestNamespace, extra: &[&str]) -> (Output, Output) {
    let builtin = run(kubectl(
        ns,
        &[&["rollout", "status", &format!("deployment/{NAME}")], extra].concat(),
    ));
    let mini = run(minik8s(
        ns,
        &[&["rollout", "status", &format!("mdeploy/{NAME}")], extra].concat(),
    ));
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
async fn waiting_reasons(ns: &TestNamespace, set_kind: &str) -> Vec<String> {
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
    let ns = TestNamespace::new("bootcamp").await;
    let _controllers = Controllers::start(&ns.name, None);

    // Create: the tutorial's `kubectl create deployment`, and its twin.
    let manifest: Value = serde_json::from_str(&ok(run(kubectl(
        &ns,
        &[
            "create",
            "deployment",
            NAME,
            &format!("--image={V1}"),
            "--dry-run=client",
            "-o",
            "json",
        ],
    ))))
    .unwrap();
    let created = ok(run(kubectl(
        &ns,
        &["create", "deployment", NAME, &format!("--image={V1}")],
    )));
    assert_eq!(created, format!("deployment.apps/{NAME} created\n"));
    ns.create::<MiniDeployment>(fixtures::mini(manifest))
        .await
        .unwrap();
    status_of_both(&ns, &[]);
    assert_eq!(counts(&ns, &format!("deployment/{NAME}")), "1 1 1 1");
    assert_eq!(counts(&ns, &format!("mdeploy/{NAME}")), "1 1 1 1");

    // `kubectl wait` reads the Available condition of both alike.
    for resource in [format!("deployment/{NAME}"), format!("mdeploy/{NAME}")] {
        let met = ok(run(kubectl(
            &ns,
            &[
                "wait",
                "--for=condition=Available",
                &resource,
                "--timeout=60s",
            ],
        )));
        assert!(met.ends_with(&format!("/{NAME} condition met\n")), "{met}");
    }

    // Scale up: the same `kubectl scale` for both (the MiniDeployment has the scale
    // subresource), followed by `kubectl get -w` as a user would.
    let watch = |resource: String| {
        kubectl(
            &ns,
            &[
                "get",
                &resource,
                "--watch",
                "-o",
                "jsonpath={.status.replicas} {.status.readyReplicas} {.status.updatedReplicas} {.status.availableReplicas}{\"\\n\"}",
            ],
        )
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap()
    };
    let watches = [
        watch(format!("deployment/{NAME}")),
        watch(format!("mdeploy/{NAME}")),
    ];
    for resource in [format!("deployments/{NAME}"), format!("mdeploy/{NAME}")] {
        ok(run(kubectl(&ns, &["scale", &resource, "--replicas=4"])));
    }
    status_of_both(&ns, &[]);
    assert_eq!(counts(&ns, &format!("deployment/{NAME}")), "4 4 4 4");
    assert_eq!(counts(&ns, &format!("mdeploy/{NAME}")), "4 4 4 4");
    // What each watch printed: the counts at every change, the first 1 1 1 1, the last
    // 4 4 4 4 (a moment after status saw it).
    tokio::time::sleep(Duration::from_secs(1)).await;
    for mut child in watches {
        let _ = child.kill();
        let printed = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
        let lines: Vec<&str> = printed.lines().collect();
        assert_eq!(lines.first(), Some(&"1 1 1 1"), "{printed}");
        assert_eq!(lines.last(), Some(&"4 4 4 4"), "{printed}");
    }

    // Update: set image, then rollout status.
    let image = format!("{NAME}={V2}");
    let builtin = ok(run(kubectl(
        &ns,
        &["set", "image", &format!("deployments/{NAME}"), &image],
    )));
    let mini = ok(run(minik8s(
        &ns,
        &["set", "image", &format!("mdeploy/{NAME}"), &image],
    )));
    assert_eq!(as_mini(&builtin), mini);
    status_of_both(&ns, &[]);
    assert_eq!(images(&ns, &format!("mdeploy/{NAME}")), V2);

    // An image that cannot be pulled: the rollout stalls with the old pods still serving,
    // and status gives up after its timeout, the same way for both.
    let broken = format!("{NAME}={UNPULLABLE}");
    ok(run(kubectl(
        &ns,
        &["set", "image", &format!("deployments/{NAME}"), &broken],
    )));
    ok(run(minik8s(
        &ns,
        &["set", "image", &format!("mdeploy/{NAME}"), &broken],
    )));
    eventually(TIMEOUT, "the new pods to back off pulling", || async {
        let builtin = waiting_reasons(&ns, "ReplicaSet").await;
        let mini = waiting_reasons(&ns, "MiniReplicaSet").await;
        builtin == mini && !builtin.is_empty() && builtin.iter().all(|r| r == "ImagePullBackOff")
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
                serde_json::from_str(&ok(run(kubectl(ns, &["get", &resource, "-o", "json"]))))
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
    let builtin = ok(run(kubectl(
        &ns,
        &["rollout", "undo", &format!("deployments/{NAME}")],
    )));
    let mini = ok(run(minik8s(
        &ns,
        &["rollout", "undo", &format!("mdeploy/{NAME}")],
    )));
    assert_eq!(as_mini(&builtin), mini);
    status_of_both(&ns, &["--timeout=90s"]);
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
    ns.cleanup().await;
}

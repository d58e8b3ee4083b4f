//! The Helm chart: lint-clean, accepted by the API server, installable; and the controllers
//! work with exactly the permissions it grants (and nothing more).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use kube::api::{DeleteParams, Patch, PatchParams};
use minik8s::api::{MiniDeployment, MiniEndpoints, MiniService};
use serde_json::json;

use crate::common::{TestNamespace, controller_manager_process, eventually, kubectl};

fn chart() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("charts/minik8s")
        .display()
        .to_string()
}

fn helm(args: &[&str]) -> String {
    let output = Command::new("helm")
        .args(args)
        .output()
        .expect("helm is not on PATH; run the tests through `make test`");
    assert!(
        output.status.success(),
        "helm {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_chart_is_lint_clean() {
    let out = helm(&["lint", "--strict", &chart()]);
    assert!(out.contains("0 chart(s) failed"), "{out}");
}

#[tokio::test]
async fn rendered_manifests_pass_server_side_dry_run() {
    let ns = TestNamespace::new("chart-render").await;
    for values in [
        vec![],
        vec![
            "--set",
            "leaderElection.enabled=false,replicas=2,log.format=plain",
        ],
    ] {
        let chart = chart();
        let mut args = vec!["template", "minik8s", &chart, "--namespace", &ns.name];
        args.extend(values);
        let rendered = helm(&args);
        let mut apply = Command::new("kubectl")
            .args([
                "apply",
                "--dry-run=server",
                "--namespace",
                &ns.name,
                "-f",
                "-",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        apply
            .stdin
            .take()
            .unwrap()
            .write_all(rendered.as_bytes())
            .unwrap();
        let output = apply.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "the API server refused the chart: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let out = String::from_utf8_lossy(&output.stdout);
        for kind in [
            "serviceaccount",
            "clusterrole.rbac",
            "clusterrolebinding.rbac",
            "deployment.apps",
            "service/",
        ] {
            assert!(out.contains(kind), "{kind} missing from:\n{out}");
        }
    }
    ns.cleanup().await;
}

/// Every pod the chart runs (the controller manager and the scheduler) is admitted by a
/// namespace that enforces the restricted Pod Security Standard, and a privileged pod is not:
/// the admission is real.
#[tokio::test]
async fn the_charts_pods_meet_the_restricted_pod_security_standard() {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::PostParams;

    let ns = TestNamespace::new("chart-restricted").await;
    kubectl(&[
        "label",
        "namespace",
        &ns.name,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/enforce-version=latest",
    ]);
    let rendered = helm(&["template", "minik8s", &chart(), "--namespace", &ns.name]);
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let pods = ns.api::<Pod>();
    let mut checked = Vec::new();
    for document in serde_norway::Deserializer::from_str(&rendered) {
        let object: serde_json::Value = serde::Deserialize::deserialize(document).unwrap();
        if object["kind"] != "Deployment" {
            continue;
        }
        let name = object["metadata"]["name"].as_str().unwrap().to_owned();
        let mut spec = object["spec"]["template"]["spec"].clone();
        // A dry run creates no service account; Pod Security does not look at it.
        spec.as_object_mut().unwrap().remove("serviceAccountName");
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": object["spec"]["template"]["metadata"]["labels"]},
            "spec": spec,
        }))
        .unwrap();
        if let Err(e) = pods.create(&dry_run, &pod).await {
            panic!("the chart's {name} pod is refused under the restricted standard: {e}");
        }
        checked.push(name);
    }
    assert_eq!(checked, ["minik8s", "minik8s-scheduler"]);
    let privileged: Pod = serde_json::from_value(json!({
        "metadata": {"name": "privileged"},
        "spec": {"containers": [{"name": "c", "image": "busybox", "securityContext": {"privileged": true}}]}
    }))
    .unwrap();
    match pods.create(&dry_run, &privileged).await {
        Err(kube::Error::Api(status)) => assert!(
            status
                .message
                .contains("violates PodSecurity \"restricted:latest\""),
            "{}",
            status.message
        ),
        other => panic!("a privileged pod should be refused: {other:?}"),
    }
    ns.cleanup().await;
}

/// Installs the chart into the test's namespace; returns the release name and a kubeconfig
/// for its service account `<release>-<account>`.
fn install_release(ns: &TestNamespace, account: &str) -> (String, std::path::PathBuf) {
    let release = format!("mk-{}", ns.name.rsplit('-').next().unwrap());
    helm(&[
        "install",
        &release,
        &chart(),
        "--namespace",
        &ns.name,
        "--wait=false",
    ]);
    let config = std::env::temp_dir().join(format!("{}-{account}-kubeconfig.json", ns.name));
    service_account_kubeconfig(&ns.name, &format!("{release}-{account}"), &config);
    (release, config)
}

/// A kubeconfig for the chart's service account, from a fresh token.
fn service_account_kubeconfig(namespace: &str, account: &str, path: &Path) {
    let token = kubectl(&[
        "create",
        "token",
        account,
        "--namespace",
        namespace,
        "--duration",
        "1h",
    ]);
    let server = kubectl(&[
        "config",
        "view",
        "--minify",
        "-o",
        "jsonpath={.clusters[0].cluster.server}",
    ]);
    let ca = kubectl(&[
        "config",
        "view",
        "--minify",
        "--raw",
        "--flatten",
        "-o",
        "jsonpath={.clusters[0].cluster.certificate-authority-data}",
    ]);
    let config = json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server, "certificate-authority-data": ca}}],
        "users": [{"name": account, "user": {"token": token.trim()}}],
        "contexts": [{"name": "sa", "context": {"cluster": "c", "user": account, "namespace": namespace}}],
        "current-context": "sa"
    });
    std::fs::write(path, serde_json::to_string(&config).unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controllers_work_with_the_charts_service_account_and_nothing_more() {
    let ns = TestNamespace::new("chart-rbac").await;
    let (release, config) = install_release(&ns, "minik8s");

    // The controllers as a local process, with the chart's identity (leader election too).
    let mut controller = controller_manager_process(&ns.name, "minik8s-controller-manager")
        .env("KUBECONFIG", &config)
        .spawn()
        .unwrap();

    let manifest = json!({
        "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniDeployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "app:v1"}]}}}
    });
    ns.create::<MiniDeployment>(manifest).await.unwrap();
    let api = ns.api::<MiniDeployment>();
    let rolled_out = |image: &'static str| {
        let api = api.clone();
        move || {
            let api = api.clone();
            async move {
                let d = api.get("web").await.unwrap();
                let s = d.status.clone().map(|s| s.status).unwrap_or_default();
                d.spec.template.raw()["spec"]["containers"][0]["image"] == image
                    && s.observed_generation == d.metadata.generation
                    && [s.updated_replicas, s.available_replicas, s.replicas] == [Some(3); 3]
            }
        }
    };
    eventually(
        Duration::from_secs(90),
        "the first rollout",
        rolled_out("app:v1"),
    )
    .await;
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:v2"}]}}}});
    api.patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    eventually(
        Duration::from_secs(90),
        "the rolling update",
        rolled_out("app:v2"),
    )
    .await;
    // The MiniService controllers: the MiniEndpoints (endpoints), and the Service mini-web,
    // its status and its slices (endpointslice).
    let service = json!({
        "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniService",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}
    });
    ns.create::<MiniService>(service).await.unwrap();
    let endpoints = ns.api::<MiniEndpoints>();
    eventually(Duration::from_secs(60), "the MiniEndpoints", || async {
        endpoints.get_opt("web").await.unwrap().is_some_and(|ep| {
            ep.subsets
                .iter()
                .map(|s| s.addresses.as_ref().map_or(0, Vec::len))
                .sum::<usize>()
                == 3
        })
    })
    .await;
    eventually(
        Duration::from_secs(60),
        "the MiniService's Service and slices",
        || async {
            let status = ns.api::<MiniService>().get("web").await.unwrap().status;
            let slices = crate::endpointslices::ours(&ns, "web").await;
            status.is_some_and(|s| s.cluster_ip.is_some()) && slices.len() == 3
        },
    )
    .await;
    // Orphaned, so that the controller, not the garbage collector, removes the MiniEndpoints.
    ns.api::<MiniService>()
        .delete("web", &DeleteParams::orphan())
        .await
        .unwrap();
    eventually(
        Duration::from_secs(60),
        "the MiniEndpoints removed",
        || async { endpoints.get_opt("web").await.unwrap().is_none() },
    )
    .await;
    assert!(
        controller.try_wait().unwrap().is_none(),
        "the controller exited: a permission is missing"
    );

    // Outside its role: refused.
    let secrets = Command::new("kubectl")
        .args(["get", "secrets", "--namespace", &ns.name])
        .env("KUBECONFIG", &config)
        .output()
        .unwrap();
    assert!(!secrets.status.success());
    assert!(
        String::from_utf8_lossy(&secrets.stderr).contains("forbidden"),
        "{}",
        String::from_utf8_lossy(&secrets.stderr)
    );

    let _ = controller.kill();
    let _ = controller.wait();
    let _ = std::fs::remove_file(&config);
    helm(&["uninstall", &release, "--namespace", &ns.name]);
    ns.cleanup().await;
}

/// minik8s-scheduler as a local process with the chart's scheduler service account: it
/// binds, records events, sets the PodScheduled condition and holds its Lease with nothing
/// more than the chart grants.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_works_with_its_charts_service_account() {
    use k8s_openapi::api::core::v1::{Event, Pod};
    let ns = TestNamespace::new("chart-sched").await;
    let (release, config) = install_release(&ns, "minik8s-scheduler");
    let name = format!("minik8s-scheduler-{}", ns.name);
    let mut scheduler = Command::new(env!("CARGO_BIN_EXE_minik8s"))
        .args([
            "scheduler",
            "--scheduler-name",
            &name,
            "--health-address",
            "127.0.0.1:0",
        ])
        .args(["--leader-elect", "--leader-elect-namespace", &ns.name])
        .args(["--log-level", "warn"])
        .env("KUBECONFIG", &config)
        .env("POD_NAME", "chart-test")
        .spawn()
        .unwrap();
    let pod = |pod_name: &str, cpu: &str| -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": pod_name},
            "spec": {"schedulerName": name, "containers": [{"name": "app", "image": "app:v1",
                     "resources": {"requests": {"cpu": cpu}}}]}
        }))
        .unwrap()
    };
    let pods = ns.api::<Pod>();
    pods.create(&Default::default(), &pod("fits", "10m"))
        .await
        .unwrap();
    pods.create(&Default::default(), &pod("too-big", "1000"))
        .await
        .unwrap();
    eventually(Duration::from_secs(60), "the pod bound", || async {
        pods.get("fits")
            .await
            .unwrap()
            .spec
            .and_then(|s| s.node_name)
            .is_some()
    })
    .await;
    eventually(
        Duration::from_secs(60),
        "PodScheduled=False and the events",
        || async {
            let condition = pods
                .get("too-big")
                .await
                .unwrap()
                .status
                .and_then(|s| s.conditions);
            let unschedulable = condition
                .into_iter()
                .flatten()
                .any(|c| c.type_ == "PodScheduled" && c.status == "False");
            let reasons: Vec<String> = ns
                .api::<Event>()
                .list(&Default::default())
                .await
                .unwrap()
                .items
                .into_iter()
                .filter_map(|e| e.reason)
                .collect();
            unschedulable
                && reasons.iter().any(|r| r == "Scheduled")
                && reasons.iter().any(|r| r == "FailedScheduling")
        },
    )
    .await;
    assert!(
        scheduler.try_wait().unwrap().is_none(),
        "the scheduler exited: a permission is missing"
    );
    let _ = scheduler.kill();
    let _ = scheduler.wait();
    let _ = std::fs::remove_file(&config);
    helm(&["uninstall", &release, "--namespace", &ns.name]);
    ns.cleanup().await;
}

//! What the integration and end-to-end suites both need to run the chart's `helm test` on the
//! local control plane, whose simulated nodes run no containers: a kubeconfig for a service
//! account, and a stand-in for the kubelet of the test pod. (Included by both test crates.)

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

/// A kubeconfig for `account`, from a fresh token, for the cluster of the current one.
pub fn service_account_kubeconfig(namespace: &str, account: &str, path: &Path) {
    let kubectl = |args: &[&str]| {
        let output = Command::new("kubectl").args(args).output().unwrap();
        assert!(
            output.status.success(),
            "kubectl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
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

/// What the test pod ran and how it ended.
pub struct TestPodRun {
    pub args: Vec<String>,
    pub output: Output,
}

/// Does for the running `helm test` pod in `namespace` what a kubelet would: runs the pod's
/// own command (`minik8s selftest ...`) with the pod's service account, and writes its exit
/// code as the pod's phase, so that `helm test` sees it end.
pub async fn run_helm_test_pod(
    client: &kube::Client,
    namespace: &str,
    timeout: Duration,
) -> TestPodRun {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let start = Instant::now();
    let pod = loop {
        let running = pods
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|p| {
                let hook = p
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get("helm.sh/hook"));
                hook.is_some_and(|h| h == "test")
                    && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
            });
        if let Some(pod) = running {
            break pod;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for the helm test pod running"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let name = pod.metadata.name.clone().unwrap();
    let spec = pod.spec.unwrap();
    let container = &spec.containers[0];
    let args = container.args.clone().unwrap_or_default();
    let config = std::env::temp_dir().join(format!("{namespace}-{name}-kubeconfig.json"));
    let account = spec.service_account_name.as_deref().unwrap();
    service_account_kubeconfig(namespace, account, &config);
    let output = Command::new(env!("CARGO_BIN_EXE_minik8s"))
        .args(&args)
        .env("KUBECONFIG", &config)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&config);
    let code = output.status.code().unwrap_or(1);
    let now = format!("{:.0}", k8s_openapi::jiff::Timestamp::now());
    let status = json!({"status": {
        "phase": if code == 0 { "Succeeded" } else { "Failed" },
        "containerStatuses": [{
            "name": container.name, "image": container.image, "imageID": "", "ready": false,
            "restartCount": 0,
            "state": {"terminated": {
                "exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" },
                "startedAt": now, "finishedAt": now
            }}
        }]
    }});
    pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
    TestPodRun { args, output }
}

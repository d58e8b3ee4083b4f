//! `helm test` of the release passes: the chart's test pod runs `minik8s selftest`, which
//! creates a MiniReplicaSet of one pod, waits for it to be ready and removes it.
//!
//! On simulated nodes (the local control plane) pods run nothing, so this test does for the
//! test pod what a kubelet would: once the pod is Running it runs the pod's command with the
//! pod's service account, and reports the exit code as the pod's phase.

use std::process::Command;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

use crate::support::{TIMEOUT, client, eventually, nodes_are_simulated, ok, release, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_test_passes() {
    let (release, namespace) = release();
    let client = client().await;
    let simulated = nodes_are_simulated(&client).await;
    let test = {
        let (release, namespace) = (release.clone(), namespace.clone());
        std::thread::spawn(move || {
            run({
                let mut helm = Command::new("helm");
                helm.args([
                    "test",
                    &release,
                    "--namespace",
                    &namespace,
                    "--timeout",
                    "5m",
                ]);
                helm
            })
        })
    };
    if simulated {
        act_as_the_kubelet_of_the_test_pod(&client, &namespace).await;
    }
    let report = ok(test.join().unwrap());
    assert!(report.contains("Succeeded"), "{report}");
}

async fn act_as_the_kubelet_of_the_test_pod(client: &kube::Client, namespace: &str) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let is_test_pod = |p: &Pod| {
        p.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("helm.sh/hook"))
            .is_some_and(|h| h == "test")
    };
    let running_test_pod = || async {
        pods.list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|p| {
                is_test_pod(p)
                    && p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
            })
    };
    eventually(TIMEOUT, "the helm test pod running", || async {
        running_test_pod().await.is_some()
    })
    .await;
    let pod = running_test_pod().await.unwrap();
    let name = pod.metadata.name.clone().unwrap();
    let spec = pod.spec.unwrap();
    let container = &spec.containers[0];
    let config = std::env::temp_dir().join(format!("{namespace}-{name}-kubeconfig.json"));
    service_account_kubeconfig(
        namespace,
        spec.service_account_name.as_deref().unwrap(),
        &config,
    );
    let output = Command::new(env!("CARGO_BIN_EXE_minik8s"))
        .args(container.args.iter().flatten())
        .env("KUBECONFIG", &config)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&config);
    print!("{}", String::from_utf8_lossy(&output.stdout));
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
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
    assert_eq!(code, 0, "minik8s {:?} failed", container.args);
}

/// A kubeconfig for `account`, from a fresh token, for the cluster of the current one.
fn service_account_kubeconfig(namespace: &str, account: &str, path: &std::path::Path) {
    let kubectl = |args: &[&str]| {
        ok(run({
            let mut command = Command::new("kubectl");
            command.args(args);
            command
        }))
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

//! `helm test` of the release passes: the chart's test pod runs `minik8s selftest`, which
//! creates a MiniReplicaSet of one pod, waits for it to be ready and removes it.
//!
//! On simulated nodes (the local control plane) pods run nothing, so this test does for the
//! test pod what a kubelet would: once the pod is Running it runs the pod's command with the
//! pod's service account, and reports the exit code as the pod's phase.

use std::process::Command;

use crate::support::{TIMEOUT, client, nodes_are_simulated, ok, release, run};

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
        let run = crate::kubelet::run_helm_test_pod(&client, &namespace, TIMEOUT).await;
        print!("{}", String::from_utf8_lossy(&run.output.stdout));
        eprint!("{}", String::from_utf8_lossy(&run.output.stderr));
        assert!(run.output.status.success(), "minik8s {:?} failed", run.args);
    }
    let report = ok(test.join().unwrap());
    assert!(report.contains("Succeeded"), "{report}");
}

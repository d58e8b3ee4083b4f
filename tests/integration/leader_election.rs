//! Two controller-manager processes with leader election: only the lease holder runs the
//! controllers; when it dies, the other takes over within the lease duration; a clean
//! shutdown gives the lease up.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use minik8s::api::MiniReplicaSet;
use minik8s::runtime::leader::LEASE_SECONDS;

use crate::common::{TestNamespace, controller_manager_process, eventually};
use crate::fixtures;
use crate::replicaset::{active_pods, wait_for_status};

fn replica(ns: &TestNamespace, identity: &str) -> Child {
    controller_manager_process(&ns.name, "minik8s")
        .args(["--kube-api-qps", "0"])
        .env("POD_NAME", identity)
        .spawn()
        .expect("the minik8s binary runs")
}

async fn holder(ns: &TestNamespace) -> Option<String> {
    let lease = ns.api::<Lease>().get_opt("minik8s").await.unwrap()?;
    lease.spec?.holder_identity.filter(|h| !h.is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_takes_over_when_the_leader_dies() {
    let ns = TestNamespace::new("leader").await;
    let mut first = replica(&ns, "first");
    eventually(
        Duration::from_secs(30),
        "first to hold the lease",
        || async { holder(&ns).await.as_deref() == Some("first") },
    )
    .await;
    let mut second = replica(&ns, "second");
    ns.create::<MiniReplicaSet>(fixtures::small_replicaset("web", 2, false))
        .await
        .unwrap();
    wait_for_status(&ns, "web", "2 ready", |s| s.ready_replicas == Some(2)).await;
    assert_eq!(
        holder(&ns).await.as_deref(),
        Some("first"),
        "the standby took the lease from a live leader"
    );

    // The leader dies (SIGKILL: no release): the standby takes over once the lease expires.
    first.kill().unwrap();
    first.wait().unwrap();
    let died = Instant::now();
    eventually(
        Duration::from_secs(2 * LEASE_SECONDS),
        "second to take over",
        || async { holder(&ns).await.as_deref() == Some("second") },
    )
    .await;
    let takeover = died.elapsed();
    // The standby counts the lease from when it last saw it renewed and tries every 2–4.4 s,
    // as client-go does.
    assert!(
        takeover <= minik8s::runtime::leader::TAKEOVER_AT_MOST,
        "takeover took {takeover:?}"
    );
    eprintln!("leader takeover after the leader died: {takeover:?}");

    // The new leader runs the controllers.
    ns.kubectl(&["scale", "mrs/web", "--replicas=3"]);
    eventually(
        Duration::from_secs(60),
        "the new leader to scale",
        || async { active_pods(&ns, "web").await.len() == 3 },
    )
    .await;

    // SIGTERM: a clean shutdown that gives the lease up.
    Command::new("kill")
        .args(["-TERM", &second.id().to_string()])
        .status()
        .unwrap();
    let exited = tokio::task::spawn_blocking(move || second.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exited.success(), "controller-manager exited with {exited}");
    assert_eq!(holder(&ns).await, None, "the lease was not released");
    ns.cleanup().await;
}

//! Two controller managers with leader election: only the lease holder runs the controllers;
//! when it dies, the other takes over within the lease duration.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use minik8s::api::MiniReplicaSet;
use minik8s::manager::Options;
use minik8s::runtime::leader::{Election, LEASE_SECONDS};

use crate::common::{Controllers, TestNamespace, eventually};
use crate::fixtures;
use crate::replicaset::{active_pods, wait_for_status};

fn replica(ns: &TestNamespace, identity: &str) -> Controllers {
    Controllers::start_with(Options {
        namespace: Some(ns.name.clone()),
        rate_limit: None,
        leader_election: Some(Election {
            namespace: ns.name.clone(),
            lease: "minik8s".into(),
            identity: identity.into(),
        }),
        ..Default::default()
    })
}

async fn holder(ns: &TestNamespace) -> Option<String> {
    let lease = ns.api::<Lease>().get_opt("minik8s").await.unwrap()?;
    lease.spec?.holder_identity
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_takes_over_when_the_leader_dies() {
    let ns = TestNamespace::new("leader").await;
    let first = replica(&ns, "first");
    eventually(
        Duration::from_secs(30),
        "first to hold the lease",
        || async { holder(&ns).await.as_deref() == Some("first") },
    )
    .await;
    let second = replica(&ns, "second");
    ns.create::<MiniReplicaSet>(fixtures::small_replicaset("web", 2, false))
        .await
        .unwrap();
    wait_for_status(&ns, "web", "2 ready", |s| s.ready_replicas == Some(2)).await;
    assert_eq!(
        holder(&ns).await.as_deref(),
        Some("first"),
        "the standby took the lease from a live leader"
    );

    // The leader dies without releasing the lease: the standby takes over once it expires.
    first.kill();
    let died = Instant::now();
    eventually(
        Duration::from_secs(2 * LEASE_SECONDS),
        "second to take over",
        || async { holder(&ns).await.as_deref() == Some("second") },
    )
    .await;
    let takeover = died.elapsed();
    // The lease expires LEASE_SECONDS after its last renewal; the standby looks every few seconds.
    assert!(
        takeover <= Duration::from_secs(LEASE_SECONDS + 5),
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

    // Shut down cleanly, it gives the lease up.
    tokio::time::timeout(Duration::from_secs(10), second.stop())
        .await
        .expect("graceful stop");
    eventually(
        Duration::from_secs(10),
        "the lease to be released",
        || async { holder(&ns).await.is_none_or(|h| h.is_empty()) },
    )
    .await;
    ns.cleanup().await;
}

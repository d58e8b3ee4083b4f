//! Two controller-manager replicas under load, the leader killed and then the next one paused
//! (SIGSTOP) past its lease. The API server's audit log is the witness: every request names
//! its replica in the User-Agent, so the log shows which replica wrote what, and when.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use super::invariants::{Bounds, Invariants};
use super::*;
use crate::common::{TestNamespace, eventually};

const LEASE: &str = "minik8s-chaos";

/// The audit log of the cluster KUBECONFIG points at (kwokctl keeps it beside the others).
fn audit_log() -> PathBuf {
    let kubeconfig = PathBuf::from(std::env::var_os("KUBECONFIG").expect("KUBECONFIG is set"));
    let log = kubeconfig.parent().unwrap().join("logs/audit.log");
    assert!(
        log.exists(),
        "{} is missing: this scenario needs the API server's audit log (make chaos starts a \
         cluster with one: MINIK8S_AUDIT=1 tests/cluster/up.sh)",
        log.display()
    );
    log
}

/// One audit event, as much of it as the scenario reads.
#[derive(Debug)]
struct Audited {
    at: Timestamp,
    verb: String,
    resource: String,
    name: String,
    namespace: String,
    user_agent: String,
    code: u16,
}

fn audited(log: &Path) -> Vec<Audited> {
    let text = std::fs::read_to_string(log).unwrap();
    text.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|e| e["stage"] == "ResponseComplete")
        .filter_map(|e| {
            let field = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            Some(Audited {
                at: e["requestReceivedTimestamp"].as_str()?.parse().ok()?,
                verb: field(&e["verb"]),
                resource: field(&e["objectRef"]["resource"]),
                name: field(&e["objectRef"]["name"]),
                namespace: field(&e["objectRef"]["namespace"]),
                user_agent: field(&e["userAgent"]),
                code: e["responseStatus"]["code"].as_u64().unwrap_or(0) as u16,
            })
        })
        .collect()
}

fn is_write(verb: &str) -> bool {
    matches!(
        verb,
        "create" | "update" | "patch" | "delete" | "deletecollection"
    )
}

/// The replica a request came from: the identity that ends minik8s's User-Agent.
fn from_replica(event: &Audited, identity: &str) -> bool {
    event.user_agent.ends_with(&format!(" {identity}"))
}

/// A leader-elected controller manager at QPS 20 named `identity` in the election (and in
/// its User-Agent), talking to the API server of `kubeconfig` when given.
fn elected_replica(
    namespace: &str,
    identity: &str,
    kubeconfig: Option<&Path>,
) -> std::process::Command {
    let mut command = controller_manager(namespace, 20, kubeconfig);
    command
        .args(["--leader-elect", "--leader-elect-namespace", namespace])
        .args(["--leader-elect-lease-name", LEASE])
        .env("POD_NAME", identity);
    command
}

async fn holder(ns: &TestNamespace) -> Option<String> {
    let lease = ns.api::<Lease>().get_opt(LEASE).await.ok()??;
    lease.spec?.holder_identity
}

async fn holder_becomes(ns: &TestNamespace, identity: &str, within: Duration) -> Duration {
    let start = Instant::now();
    eventually(within, &format!("{identity} holding the lease"), || async {
        holder(ns).await.as_deref() == Some(identity)
    })
    .await;
    start.elapsed()
}

fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

/// A replica's writes (other than to the lease) received after `since` (and before `until`,
/// when it led again from then on), and how long after `since` the last of them came.
fn writes_after(
    events: &[Audited],
    namespace: &str,
    identity: &str,
    since: Timestamp,
    until: Option<Timestamp>,
) -> (usize, f64) {
    let late: Vec<&Audited> = events
        .iter()
        .filter(|e| from_replica(e, identity) && is_write(&e.verb))
        .filter(|e| e.resource != "leases" && e.namespace == namespace && e.at > since)
        .filter(|e| until.is_none_or(|until| e.at < until))
        .collect();
    for e in late.iter().take(5) {
        println!("late write by {identity}: {e:?}");
    }
    let last = late
        .iter()
        .map(|e| {
            (e.at - since)
                .total(k8s_openapi::jiff::Unit::Second)
                .unwrap_or(0.0)
        })
        .fold(0.0, f64::max);
    (late.len(), last)
}

/// When `identity` first wrote the lease successfully after `since`: the moment it took over.
fn took_over_at(events: &[Audited], identity: &str, since: Timestamp) -> Timestamp {
    events
        .iter()
        .filter(|e| e.resource == "leases" && e.name == LEASE && is_write(&e.verb))
        .filter(|e| from_replica(e, identity) && (200..300).contains(&e.code) && e.at > since)
        .map(|e| e.at)
        .min()
        .unwrap_or_else(|| panic!("no successful lease write by {identity} in the audit log"))
}

/// The leader killed mid-rollout, then its successor paused past its lease mid-rollout and
/// resumed: the other replica takes over each time, the audit log shows no write by a
/// replica after its lease went to the other, and the rollouts complete within the
/// invariants.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "reads the API server's audit log: `make chaos` runs it on a cluster that writes one"]
async fn the_leader_killed_then_paused_past_its_lease() {
    let log = audit_log();
    let size = size();
    let ns = TestNamespace::new("chaos-leader").await;
    let name = "web";
    let replicas = size.replicas;
    let replica = |identity: &'static str| {
        let namespace = ns.name.clone();
        move || elected_replica(&namespace, identity, None)
    };
    let identities = ["replica-a", "replica-b"];
    let mut replicas_running = [
        Restartable::start(replica(identities[0])),
        Restartable::start(replica(identities[1])),
    ];
    ns.create::<MiniDeployment>(deployment(name, replicas, "app:1", None))
        .await
        .unwrap();
    eventually(Duration::from_secs(180), "the first rollout", || {
        rolled_out(&ns, name, "app:1", replicas)
    })
    .await;
    let (most, _) = rolling_bounds(replicas);
    let invariants = Invariants::watch(&ns, name, Bounds::rolling(replicas)).await;
    let first = holder(&ns).await.expect("a replica holds the lease");
    let (leader, standby) = if first == identities[0] {
        (0, 1)
    } else {
        (1, 0)
    };

    // The leader SIGKILLed mid-rollout: it never releases the lease, so the standby waits
    // for it to expire.
    set_image(&ns, name, "app:2").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let killed_at = Timestamp::now();
    replicas_running[leader].kill();
    let after_kill = holder_becomes(&ns, identities[standby], Duration::from_secs(60)).await;
    replicas_running[leader].kill_and_restart();

    // The new leader SIGSTOPped mid-rollout until the other has taken over, and a while
    // more, then resumed: it must notice it lost the lease and write nothing.
    set_image(&ns, name, "app:3").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let paused = replicas_running[standby].pid();
    let paused_at = Timestamp::now();
    signal(paused, "STOP");
    let after_pause = holder_becomes(&ns, identities[leader], Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    signal(paused, "CONT");
    let resumed = SystemTime::now();
    // It exits (as kube-controller-manager does) so that a fresh start competes again.
    while replicas_running[standby].is_running() {
        assert!(
            resumed.elapsed().unwrap() < Duration::from_secs(30),
            "the resumed replica still runs 30 s after it lost the lease"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let gave_up = resumed.elapsed().unwrap();

    eventually(Duration::from_secs(180), "the last rollout", || {
        rolled_out(&ns, name, "app:3", replicas)
    })
    .await;
    let seen = invariants.seen();
    // The audit backend writes in batches: give it time to flush the last ones.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let events = audited(&log);
    let lost_first = took_over_at(&events, identities[standby], killed_at);
    let lost_second = took_over_at(&events, identities[leader], paused_at);
    // The killed replica came back as the standby and led again from `lost_second` on.
    let (late_after_kill, _) = writes_after(
        &events,
        &ns.name,
        identities[leader],
        lost_first,
        Some(lost_second),
    );
    let (late_after_pause, last_late) =
        writes_after(&events, &ns.name, identities[standby], lost_second, None);
    let writes_by = |identity: &str| {
        events
            .iter()
            .filter(|e| from_replica(e, identity) && is_write(&e.verb) && e.resource != "leases")
            .count()
    };
    record(
        "leader-takeover",
        json!({
            "replicas": replicas, "takeover_after_kill_seconds": after_kill.as_secs_f64(),
            "takeover_after_pause_seconds": after_pause.as_secs_f64(),
            "resumed_replica_exited_seconds": gave_up.as_secs_f64(),
            "writes_after_lease_lost": late_after_kill + late_after_pause,
            "last_late_write_seconds": last_late,
            "writes_audited": writes_by(identities[0]) + writes_by(identities[1]),
            "max_pods": seen.max_active, "bound": most, "events_checked": seen.events,
        }),
    );
    assert!(
        writes_by(identities[0]) > 0 && writes_by(identities[1]) > 0,
        "the audit log names both replicas' writes (User-Agent)"
    );
    assert_eq!(
        late_after_kill + late_after_pause,
        0,
        "a replica wrote after its lease was lost"
    );
    assert!(
        after_kill <= minik8s::runtime::leader::TAKEOVER_AT_MOST + Duration::from_secs(1),
        "takeover after a kill took {after_kill:?}, more than the 15 s lease and two tries"
    );
    assert_held("leader takeover", &seen);
    ns.cleanup().await;
}

/// How a partition ends.
#[derive(Clone, Copy, Debug)]
enum Heal {
    /// What the network held is delivered, as TCP retransmits once a link is back.
    Deliver,
    /// What the network held is lost with the connections, as when TCP gave up or a NAT or
    /// load balancer dropped the flows.
    Drop,
}

/// The leader cut off from the API server (every connection of its own stalled, as a
/// partition holds them) until the other replica has taken over and 3 s more, twice: once the
/// held bytes are then delivered, once they are dropped. A replica can only know what its
/// network lets through, so the bound here is on what it *sends*: the audit log must show no
/// write by the partitioned replica after the takeover except those it had sent before its
/// fence closed and the network held, which all arrive the moment the partition heals.
/// When the held bytes are dropped, none arrive at all and the rollout keeps within its
/// invariants. When they are delivered, what they do is reported, not asserted: pod deletes
/// that the old leader planned before the partition, applied next to the new leader's, can
/// take availability below its bound (kube-controller-manager, which has no fence and writes
/// on for its whole renew deadline, is exposed the same way).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "reads the API server's audit log: `make chaos` runs it on a cluster that writes one"]
async fn the_leader_partitioned_past_its_lease() {
    use super::proxy::FaultyProxy;
    use super::scenarios::{api_server_address, kubeconfig_through};
    let log = audit_log();
    let size = size();
    let ns = TestNamespace::new("chaos-partition").await;
    let name = "web";
    let replicas = size.replicas;
    let identities = ["replica-a", "replica-b"];
    let proxies = [
        FaultyProxy::start(api_server_address()).await,
        FaultyProxy::start(api_server_address()).await,
    ];
    let configs = [
        kubeconfig_through(&proxies[0], &format!("{}-{}", ns.name, identities[0])),
        kubeconfig_through(&proxies[1], &format!("{}-{}", ns.name, identities[1])),
    ];
    let replica = |i: usize| {
        let (namespace, config, identity) = (ns.name.clone(), configs[i].clone(), identities[i]);
        move || elected_replica(&namespace, identity, Some(&config))
    };
    let mut running = [
        Restartable::start(replica(0)),
        Restartable::start(replica(1)),
    ];
    ns.create::<MiniDeployment>(deployment(name, replicas, "app:1", None))
        .await
        .unwrap();
    eventually(Duration::from_secs(180), "the first rollout", || {
        rolled_out(&ns, name, "app:1", replicas)
    })
    .await;
    let (most, fewest) = rolling_bounds(replicas);

    struct Round {
        heal: Heal,
        partitioned: usize,
        partitioned_at: Timestamp,
        healed_at: Timestamp,
        takeover: Duration,
        exited: Duration,
        seen: super::invariants::Seen,
    }
    let mut rounds = Vec::new();
    for (image, heal) in [("app:2", Heal::Deliver), ("app:3", Heal::Drop)] {
        let invariants = Invariants::watch(&ns, name, Bounds::rolling(replicas)).await;
        let leading = holder(&ns).await.expect("a replica holds the lease");
        let leader = identities.iter().position(|i| *i == leading).unwrap();
        let other = 1 - leader;
        set_image(&ns, name, image).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let partitioned_at = Timestamp::now();
        proxies[leader].stall();
        let takeover = holder_becomes(&ns, identities[other], Duration::from_secs(60)).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let healed_at = Timestamp::now();
        if let Heal::Drop = heal {
            proxies[leader].reset();
        }
        proxies[leader].flow();
        // Back in touch, it learns it lost the lease and exits, as kube-controller-manager.
        let healed = Instant::now();
        while running[leader].is_running() {
            assert!(
                healed.elapsed() < Duration::from_secs(30),
                "the partitioned replica still runs 30 s after the partition healed"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let exited = healed.elapsed();
        running[leader].kill_and_restart();
        eventually(
            Duration::from_secs(180),
            &format!("the rollout to {image}"),
            || rolled_out(&ns, name, image, replicas),
        )
        .await;
        rounds.push(Round {
            heal,
            partitioned: leader,
            partitioned_at,
            healed_at,
            takeover,
            exited,
            seen: invariants.seen(),
        });
    }
    // The audit backend writes in batches: give it time to flush the last ones.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let events = audited(&log);
    let mut figures = Vec::new();
    let mut late_after_heal = Vec::new();
    for round in &rounds {
        let (partitioned, other) = (
            identities[round.partitioned],
            identities[1 - round.partitioned],
        );
        let lost = took_over_at(&events, other, round.partitioned_at);
        // Until the partitioned replica leads again (it may, in a later round): a standby
        // only reads the lease, so its first successful write of it is its takeover. A
        // renewal held by the partition arrives with the old version and is refused.
        let leads_again = events
            .iter()
            .filter(|e| e.resource == "leases" && e.name == LEASE && is_write(&e.verb))
            .filter(|e| from_replica(e, partitioned) && (200..300).contains(&e.code))
            .map(|e| e.at)
            .filter(|at| *at > round.healed_at)
            .min();
        let late: Vec<&Audited> = events
            .iter()
            .filter(|e| from_replica(e, partitioned) && is_write(&e.verb))
            .filter(|e| e.resource != "leases" && e.namespace == ns.name && e.at > lost)
            .filter(|e| leads_again.is_none_or(|until| e.at < until))
            .collect();
        let seconds_after_heal: Vec<f64> = late
            .iter()
            .map(|e| {
                (e.at - round.healed_at)
                    .total(k8s_openapi::jiff::Unit::Second)
                    .unwrap_or(0.0)
            })
            .collect();
        for (e, s) in late.iter().zip(&seconds_after_heal).take(10) {
            println!(
                "{:?} heal: {partitioned} wrote {s:.2} s after the heal: {e:?}",
                round.heal
            );
        }
        figures.push(json!({
            "heal": format!("{:?}", round.heal).to_lowercase(),
            "takeover_seconds": round.takeover.as_secs_f64(),
            "partitioned_replica_exited_seconds_after_heal": round.exited.as_secs_f64(),
            "writes_after_lease_lost": late.len(),
            "latest_arrival_seconds_after_heal": seconds_after_heal.iter().copied().fold(0.0, f64::max),
            "late_writes_by_verb": late.iter().fold(BTreeMap::<String, usize>::new(), |mut by, e| {
                *by.entry(format!("{} {} {}", e.verb, e.resource, e.code)).or_default() += 1;
                by
            }),
            "max_pods": round.seen.max_active, "bound": most,
            "min_available": round.seen.min_available, "available_bound": fewest,
            "invariant_breaches": round.seen.violations.len(), "events_checked": round.seen.events,
        }));
        late_after_heal.push((round.heal, seconds_after_heal, &round.seen));
    }
    record(
        "leader-partitioned",
        json!({"replicas": replicas, "rounds": figures}),
    );
    for (heal, seconds, seen) in &late_after_heal {
        match heal {
            Heal::Deliver => assert!(
                seconds.iter().all(|s| (0.0..2.0).contains(s)),
                "a write by the partitioned replica reached the API server other than when the \
                 partition healed (seconds after the heal: {seconds:?}): it was sent after its \
                 fence closed"
            ),
            Heal::Drop => {
                assert!(
                    seconds.is_empty(),
                    "the partitioned replica wrote after its lease was lost, though the network \
                     dropped what it held (seconds after the heal: {seconds:?})"
                );
                assert_held("leader partitioned, held writes dropped", seen);
            }
        }
    }
    for config in &configs {
        let _ = std::fs::remove_file(config);
    }
    ns.cleanup().await;
}

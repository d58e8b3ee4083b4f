//! The controller runtime under conditions users do not see in a demo: an object the
//! controllers cannot decode, and long churn of objects created and deleted.

use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Event;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::core::DeserializeGuard;
use minik8s::api::{MiniDeployment, MiniReplicaSet};
use minik8s::manager::{Entries, Options};
use serde_json::{Value, json};

use crate::common::{Controllers, TestNamespace, eventually};
use crate::fixtures;

const TIMEOUT: Duration = Duration::from_secs(60);

/// `GET path` on the manager's health server: (status code, body).
async fn http_get(address: std::net::SocketAddr, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let response = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        stream.write_all(request.as_bytes()).ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        Some(response)
    })
    .await
    .ok()??;
    let code = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_owned();
    Some((code, body))
}

/// A local address nobody listens on (yet).
fn free_address() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// The value of the sample `name` in a Prometheus text exposition.
fn sample(exposition: &str, name: &str) -> Option<f64> {
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
}

/// A MiniDeployment of `replicas` pause pods selecting `app: <name>`.
fn small_deployment(name: &str, replicas: i32) -> Value {
    let mut deployment = fixtures::small_replicaset(name, replicas, true);
    deployment["kind"] = json!("Deployment");
    fixtures::mini(deployment)
}

#[tokio::test]
async fn an_undecodable_minireplicaset_does_not_stop_the_controllers() {
    let ns = TestNamespace::new("undecodable").await;
    // The API server's `date-time` format takes any number of fractional digits; the Rust
    // time type takes at most nine. Written through the status subresource, as another
    // version of a controller might write it.
    ns.create::<MiniReplicaSet>(fixtures::small_replicaset("bad", 0, false))
        .await
        .unwrap();
    ns.dynamic::<MiniReplicaSet>()
        .patch_status(
            "bad",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": 0, "conditions": [{
                "type": "ReplicaFailure", "status": "True",
                "lastTransitionTime": "2024-01-01T00:00:00.1234567891Z"
            }]}})),
        )
        .await
        .expect("the API server accepts the status");
    let guarded = ns
        .api::<DeserializeGuard<MiniReplicaSet>>()
        .get("bad")
        .await
        .unwrap();
    assert!(
        guarded.0.is_err(),
        "the object must be undecodable for this test to mean anything"
    );

    let health = free_address();
    let _controllers = Controllers::start_with(Options {
        namespace: Some(ns.name.clone()),
        rate_limit: None,
        health_address: Some(health),
        ..Default::default()
    });
    ns.create::<MiniReplicaSet>(fixtures::small_replicaset("good", 2, false))
        .await
        .unwrap();
    ns.create::<MiniDeployment>(small_deployment("web", 2))
        .await
        .unwrap();

    let status = |kind_api: kube::Api<kube::api::DynamicObject>, name: &'static str| async move {
        kind_api
            .get(name)
            .await
            .ok()
            .and_then(|o| o.data.get("status").cloned())
            .unwrap_or(Value::Null)
    };
    eventually(TIMEOUT, "the good MiniReplicaSet to have its pods", || {
        let api = ns.dynamic::<MiniReplicaSet>();
        async move { status(api, "good").await["replicas"] == 2 }
    })
    .await;
    eventually(
        TIMEOUT,
        "the MiniDeployment beside the bad set to roll out",
        || {
            let api = ns.dynamic::<MiniDeployment>();
            async move {
                let status = status(api, "web").await;
                status["updatedReplicas"] == 2 && status["replicas"] == 2
            }
        },
    )
    .await;
    eventually(TIMEOUT, "/readyz to answer 200", || async {
        http_get(health, "/readyz")
            .await
            .is_some_and(|(code, _)| code == 200)
    })
    .await;
    let (_, metrics) = http_get(health, "/metrics").await.unwrap();
    let skipped = sample(
        &metrics,
        r#"minik8s_informer_undecodable_objects_total{kind="MiniReplicaSet"}"#,
    );
    assert!(
        skipped.is_some_and(|n| n >= 1.0),
        "the skip is counted in /metrics: {skipped:?}"
    );
    // client-go's REST client metrics, labelled with the API server's host.
    assert!(
        metrics.lines().any(|l| l
            .starts_with(r#"rest_client_requests_total{code="200",method="GET",host="127.0.0.1:"#)),
        "rest_client_requests_total in /metrics"
    );
    // client_golang's process metrics, read from the controller-manager's /proc.
    let rss = sample(&metrics, "process_resident_memory_bytes");
    assert!(rss.is_some_and(|b| b > 1e6), "resident memory: {rss:?}");
    let cpu = sample(&metrics, "process_cpu_seconds_total");
    assert!(cpu.is_some_and(|s| s > 0.0), "cpu seconds: {cpu:?}");
    for name in [
        "process_start_time_seconds",
        "process_open_fds",
        "process_max_fds",
    ] {
        assert!(sample(&metrics, name).is_some_and(|v| v > 0.0), "{name}");
    }
    // client-go's work queue metrics, under kube-controller-manager's queue names.
    for queue in ["replicaset", "deployment"] {
        let adds = sample(
            &metrics,
            &format!(r#"workqueue_adds_total{{name="{queue}"}}"#),
        );
        assert!(adds.is_some_and(|n| n >= 1.0), "{queue} adds: {adds:?}");
        let depth = sample(&metrics, &format!(r#"workqueue_depth{{name="{queue}"}}"#));
        assert!(depth.is_some_and(|n| n >= 0.0), "{queue} depth: {depth:?}");
        let worked = sample(
            &metrics,
            &format!(r#"workqueue_work_duration_seconds_count{{name="{queue}"}}"#),
        );
        assert!(worked.is_some_and(|n| n >= 1.0), "{queue} work: {worked:?}");
    }
    eventually(TIMEOUT, "a Warning event on the bad object", || async {
        let events = ns
            .api::<Event>()
            .list(&ListParams::default().fields("involvedObject.name=bad"))
            .await
            .unwrap();
        events.items.iter().any(|e| {
            e.type_.as_deref() == Some("Warning")
                && e.reason.as_deref() == Some("FailedDecode")
                && e.involved_object.kind.as_deref() == Some("MiniReplicaSet")
        })
    })
    .await;
    ns.cleanup().await;
}

/// Resident memory of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// Creates `count` MiniReplicaSets labelled `batch=<batch>` (every other one with a pod),
/// waits until each with a pod has it, then deletes them all.
async fn churn(ns: &TestNamespace, batch: &str, count: usize) {
    let names: Vec<String> = (0..count).map(|i| format!("{batch}-{i}")).collect();
    futures::stream::iter(names.iter().enumerate())
        .for_each_concurrent(16, |(i, name)| async move {
            let mut rs = fixtures::small_replicaset(name, (i % 2) as i32, false);
            rs["metadata"]["labels"] = json!({"batch": batch});
            ns.create::<MiniReplicaSet>(rs).await.unwrap();
        })
        .await;
    let api = ns.dynamic::<MiniReplicaSet>();
    let selector = ListParams::default().labels(&format!("batch={batch}"));
    eventually(TIMEOUT, &format!("batch {batch} to have its pods"), || {
        let (api, selector) = (api.clone(), selector.clone());
        async move {
            let sets = api.list(&selector).await.unwrap().items;
            sets.len() == count
                && sets
                    .iter()
                    .all(|rs| rs.data["status"]["replicas"] == rs.data["spec"]["replicas"])
        }
    })
    .await;
    api.delete_collection(&DeleteParams::background(), &selector)
        .await
        .unwrap();
}

/// Waits until the controllers hold no entry for any object (all were deleted).
async fn drained(entries: &Entries, what: &str) {
    eventually(TIMEOUT, what, || async {
        entries.expectations() == 0 && entries.backoff() == 0
    })
    .await;
}

/// 1000 MiniReplicaSets (MINIK8S_SOAK_REPLICASETS to change it) created and deleted in
/// batches of 100: afterwards the controllers keep nothing for them, and resident memory is
/// where it was after the first batch.
#[tokio::test]
async fn churn_leaves_no_bookkeeping_and_memory_flat() {
    const BATCH: usize = 100;
    /// Allowed growth of resident memory between the first batch and the last. What the
    /// controllers kept per deleted set before (an expectations entry, a backoff entry) is a
    /// few hundred bytes, so this bounds leaks of whole objects, not of entries; the entry
    /// counts above are the exact check. Other tests running in this process add noise.
    const TOLERANCE_KIB: u64 = 24 * 1024;
    let total: usize = std::env::var("MINIK8S_SOAK_REPLICASETS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    let ns = TestNamespace::new("churn").await;
    let entries = Entries::default();
    let _controllers = Controllers::start_with(Options {
        namespace: Some(ns.name.clone()),
        rate_limit: None,
        entries: entries.clone(),
        ..Default::default()
    });
    let started = Instant::now();

    // Warm-up: caches, connection pools and allocator arenas reach their working size.
    churn(&ns, "b0", BATCH).await;
    drained(&entries, "the first batch's entries to go").await;
    let before = rss_kib();
    for batch in 1..total.div_ceil(BATCH) {
        churn(&ns, &format!("b{batch}"), BATCH).await;
    }
    drained(&entries, "every entry to go").await;
    let after = rss_kib();
    eprintln!(
        "churn of {total} MiniReplicaSets in {:.0?}: VmRSS {before} KiB after the first batch, \
         {after} KiB at the end ({:+} KiB)",
        started.elapsed(),
        after as i64 - before as i64
    );
    assert!(
        after <= before + TOLERANCE_KIB,
        "resident memory grew from {before} to {after} KiB"
    );
    ns.cleanup().await;
}

/// The controllers' client speaks HTTP/2 to the API server, as client-go does, so that a
/// burst of requests shares one connection instead of opening one each.
#[tokio::test]
async fn the_client_speaks_http2_to_the_api_server() {
    let client = minik8s::runtime::client::build(None)
        .await
        .expect("a client for KUBECONFIG; start a cluster with tests/cluster/up.sh");
    let request = http::Request::get("/version")
        .body(kube::client::Body::empty())
        .unwrap();
    let response = client.send(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), http::Version::HTTP_2);
}

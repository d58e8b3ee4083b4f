//! `make bench` (through tests/cluster/run-bench.sh): time until 1000 replicas are created and
//! Ready, built-in ReplicaSet against MiniReplicaSet on the same cluster, and the resident
//! memory of both controller managers afterwards.
//!
//!   --setting limited|unlimited   run one setting against the cluster in KUBECONFIG
//!   --summary                     print the table of every setting measured

mod common;

use std::time::{Duration, Instant};

use anyhow::bail;
use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::api::{DynamicObject, PostParams};
use kube::core::ApiResource;
use kube::{Api, Client, Resource};
use minik8s::api::MiniReplicaSet;
use serde::{Deserialize, Serialize};
use serde_json::json;

const REPLICAS: i32 = 1000;
const NAMESPACE: &str = "bench-replicaset";
const TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Serialize, Deserialize)]
struct Result {
    setting: String,
    replicas: i32,
    /// Client limit of both controllers; None when unlimited.
    qps: Option<f64>,
    burst: Option<u32>,
    builtin_seconds: f64,
    mini_seconds: f64,
    /// mini / built-in; below 1 means minik8s was faster.
    ratio: f64,
    /// N / QPS: no controller at this limit can create N pods faster.
    floor_seconds: Option<f64>,
    minik8s_rss_mib: f64,
    kube_controller_manager_rss_mib: f64,
    memory_ratio: f64,
    /// API calls each made about the bench namespace (audit log), until its set settled.
    #[serde(default)]
    builtin_calls: common::Calls,
    #[serde(default)]
    mini_calls: common::Calls,
    /// The ceiling: the same 1000 pods made by a creator with no logic (no sets, no status,
    /// no events; as many creates in flight as the API server takes), until all are Ready.
    #[serde(default)]
    ceiling_seconds: f64,
    /// mini / ceiling.
    #[serde(default)]
    ratio_ceiling: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Some(run) = common::start(NAMESPACE, "replicaset").await? else {
        return summary();
    };
    let common::Run {
        setting,
        qps,
        burst,
        client,
        mut controller,
    } = run;
    // Let its informer list before the clock starts, as kube-controller-manager's has.
    tokio::time::sleep(Duration::from_secs(2)).await;

    eprintln!("[bench] {setting}: built-in ReplicaSet, {REPLICAS} replicas");
    let builtin_from = common::now();
    let builtin_seconds = time_to_ready::<ReplicaSet>(&client, "builtin").await?;
    eprintln!("[bench] {setting}: built-in ready in {builtin_seconds:.1} s; MiniReplicaSet next");
    // Settled: the last status writes after readiness belong to the run.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mini_from = common::now();
    let mini_seconds = time_to_ready::<MiniReplicaSet>(&client, "mini").await?;
    eprintln!("[bench] {setting}: MiniReplicaSet ready in {mini_seconds:.1} s");

    // Settled before the next measurement, as after the built-in one.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let end = common::now();
    let ceiling_seconds = ceiling(&client, qps).await?;
    eprintln!("[bench] {setting}: ceiling (pods made directly) Ready in {ceiling_seconds:.1} s");

    // Steady state: both sets' pods exist and both managers cache them all.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let builtin = common::Caller::Builtin(&["replicaset-controller"]);
    let builtin_calls = common::calls(NAMESPACE, &builtin, builtin_from, mini_from).await?;
    let mini_calls = common::calls(NAMESPACE, &common::Caller::Minik8s, mini_from, end).await?;
    let minik8s_rss_mib = common::rss_mib(controller.id())?;
    let kcm_rss_mib = common::kube_controller_manager_rss_mib()?;
    controller.kill()?;
    let _ = controller.wait();

    let result = Result {
        setting: setting.clone(),
        replicas: REPLICAS,
        qps,
        burst,
        builtin_seconds,
        mini_seconds,
        ratio: mini_seconds / builtin_seconds,
        floor_seconds: qps.map(|q| f64::from(REPLICAS) / q),
        minik8s_rss_mib,
        kube_controller_manager_rss_mib: kcm_rss_mib,
        memory_ratio: minik8s_rss_mib / kcm_rss_mib,
        builtin_calls,
        mini_calls,
        ceiling_seconds,
        ratio_ceiling: mini_seconds / ceiling_seconds,
    };
    let path = common::save("replicaset", &setting, &result)?;
    print_table(&[result]);
    eprintln!("[bench] wrote {}", path.display());
    Ok(())
}

/// The ceiling: creates the 1000 pods a set would, with as many requests in flight as a
/// client with `qps` would have (unlimited: 512, the largest batch the controllers' slow start
/// sends), and returns the seconds until all are Ready.
async fn ceiling(client: &Client, qps: Option<f64>) -> anyhow::Result<f64> {
    use futures::StreamExt;
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::ListParams;
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let manifest = |i: i32| -> anyhow::Result<Pod> {
        Ok(serde_json::from_value(json!({
            "metadata": {"name": format!("ceiling-{i}"), "labels": {"app": "ceiling"}},
            "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]}
        }))?)
    };
    let start = Instant::now();
    let limiter = qps.map(|q| Duration::from_secs_f64(1.0 / q));
    let created: Vec<anyhow::Result<()>> = futures::stream::iter(0..REPLICAS)
        .map(|i| {
            let pods = pods.clone();
            async move {
                if let Some(every) = limiter {
                    // The same request rate as the limited controllers.
                    tokio::time::sleep_until((start + every * i as u32).into()).await;
                }
                pods.create(&PostParams::default(), &manifest(i)?).await?;
                Ok(())
            }
        })
        .buffer_unordered(512)
        .collect()
        .await;
    created.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
    let selector = ListParams::default().labels("app=ceiling");
    loop {
        let list = pods.list(&selector).await?;
        let ready = list
            .items
            .iter()
            .filter(|p| common::has_ready_condition(p))
            .count();
        if ready >= REPLICAS as usize {
            return Ok(start.elapsed().as_secs_f64());
        }
        if start.elapsed() > TIMEOUT {
            bail!("ceiling: only {ready} of {REPLICAS} ready after {TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Creates a 1000-replica set of kind `K` and returns the seconds until all are Ready.
async fn time_to_ready<K: Resource<DynamicType = ()>>(
    client: &Client,
    name: &str,
) -> anyhow::Result<f64> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), NAMESPACE, &ApiResource::erase::<K>(&()));
    let manifest = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "metadata": {"name": name},
        "spec": {
            "replicas": REPLICAS,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]}
            }
        }
    });
    let start = Instant::now();
    api.create(&PostParams::default(), &serde_json::from_value(manifest)?)
        .await?;
    let mut last_report = Instant::now();
    loop {
        let object = api.get(name).await?;
        let ready = object.data["status"]["readyReplicas"].as_i64().unwrap_or(0);
        if ready >= i64::from(REPLICAS) {
            return Ok(start.elapsed().as_secs_f64());
        }
        if start.elapsed() > TIMEOUT {
            bail!("{name}: only {ready} of {REPLICAS} ready after {TIMEOUT:?}");
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "[bench]   {name}: {ready}/{REPLICAS} ready after {:.0} s",
                start.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn summary() -> anyhow::Result<()> {
    print_table(&common::load::<Result>("replicaset")?);
    Ok(())
}

fn print_table(results: &[Result]) {
    println!();
    println!(
        "1000 replicas created and Ready — built-in ReplicaSet vs MiniReplicaSet (same cluster)"
    );
    println!(
        "{:<10} {:>10} {:>11} {:>11} {:>7} {:>9} {:>12} {:>12} {:>8} {:>14} {:>14}",
        "setting",
        "limit",
        "built-in s",
        "minik8s s",
        "ratio",
        "floor s",
        "minik8s MiB",
        "kcm MiB",
        "mem ratio",
        "built-in calls",
        "minik8s calls"
    );
    for r in results {
        let limit = r.qps.map_or("none".to_string(), |q| {
            format!("{q}/{}", r.burst.unwrap_or(0))
        });
        let floor = r
            .floor_seconds
            .map_or("-".to_string(), |f| format!("{f:.1}"));
        println!(
            "{:<10} {:>10} {:>11.1} {:>11.1} {:>7.2} {:>9} {:>12.1} {:>12.1} {:>8.2} {:>14} {:>14}",
            r.setting,
            limit,
            r.builtin_seconds,
            r.mini_seconds,
            r.ratio,
            floor,
            r.minik8s_rss_mib,
            r.kube_controller_manager_rss_mib,
            r.memory_ratio,
            r.builtin_calls.cell(),
            r.mini_calls.cell()
        );
    }
    for r in results {
        println!(
            "{:<10} ceiling (1000 pods made directly, no controller): {:.1} s; minik8s / ceiling {:.2}",
            r.setting, r.ceiling_seconds, r.ratio_ceiling
        );
    }
    println!("calls: writes/all requests about the bench namespace (audit log; watches left out)");
    for r in results {
        common::print_calls(&r.setting, &r.builtin_calls, &r.mini_calls);
    }
}

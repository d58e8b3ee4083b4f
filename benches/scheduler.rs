//! `make bench` (through tests/cluster/run-bench.sh), scheduler: how fast pods are placed, by
//! kube-scheduler, by minik8s-scheduler and by a binder with no logic at all (the ceiling of
//! this cluster), one after the other on the same cluster of (normally) 500 nodes. Then the
//! binder once more, writing after each binding the `Scheduled` event that both schedulers
//! write: the ceiling for the same writes.
//!
//! Each phase creates the same mix of unassigned pods (100m CPU, 128Mi each; 60% plain, 20%
//! spread over zones with maxSkew 1, 20% with required anti-affinity on hostname within
//! groups of 10), then starts its scheduler (a kube-scheduler of the bench's own, with the
//! default profile; minik8s-scheduler; the binder, the binder with events), so that every scheduler finds the same
//! 5000 pending pods. It measures pods/s from the first binding to the last, the start-up
//! (start to first binding), how evenly the nodes' CPU was requested, and the resident memory
//! of the scheduler's process, fresh for each phase.
//!
//!   --setting limited|unlimited|unlimited-1000   run against the cluster in KUBECONFIG (the
//!                                                last one names the 1000-node cluster)
//!   --summary                     print the table of every setting measured
//!
//! MINIK8S_BENCH_SCHEDULER_PODS changes the number of pods of each phase (default 5000).

// Each bench compiles the shared module on its own; this one uses only part of it.
#[allow(dead_code)]
mod common;

use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Event, EventSource, Node, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use minik8s::runtime::client::{self, RateLimit};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

const NAMESPACE: &str = "bench-scheduler";
const PODS: usize = 5000;
const CPU_MILLIS: f64 = 100.0;
/// Concurrent creations.
const CREATORS: usize = 16;
/// Concurrent bindings of the ceiling: as many as it takes to find the API server's rate
/// (over HTTP/2, 500 nodes: 8 in flight bound 473 pods/s, 64 bound 911, 256 bound 1004,
/// where kube-scheduler, unbounded, reached 559–595).
const BINDERS: usize = 256;
const PHASE_TIMEOUT: Duration = Duration::from_secs(300);
const BINDER: &str = "bench-binder";
const BINDER_WITH_EVENTS: &str = "bench-binder-events";
const ZONE: &str = "topology.kubernetes.io/zone";
const HOSTNAME: &str = "kubernetes.io/hostname";

#[derive(Debug, Serialize, Deserialize)]
struct Phase {
    name: String,
    /// From the scheduler's start to its first binding: its start-up and first list.
    startup_seconds: f64,
    /// From the first binding to the last.
    seconds: f64,
    pods_per_second: f64,
    /// Standard deviation over nodes of the fraction of node CPU requested by the pods.
    balance: f64,
    /// Resident memory of the scheduler's process once all its pods are bound (None for the
    /// binder, which runs inside the bench).
    rss_mib: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Result {
    setting: String,
    pods: usize,
    nodes: usize,
    zones: usize,
    /// Client limit of every phase's scheduler; None when unlimited (kube-scheduler: kwokctl's
    /// unlimited figures, 5000 QPS / burst 10000).
    qps: Option<f64>,
    burst: Option<u32>,
    /// kube-scheduler, minik8s-scheduler, ceiling, ceiling with events.
    phases: Vec<Phase>,
    /// minik8s / kube-scheduler, minik8s / ceiling and minik8s / ceiling with events, in
    /// pods/s (the last None in results saved before it was measured).
    ratio_kube: f64,
    ratio_ceiling: f64,
    #[serde(default)]
    ratio_ceiling_with_events: Option<f64>,
}

/// The settings this bench is run in, in the order of its table.
const SETTINGS: [&str; 3] = ["limited", "unlimited", "unlimited-1000"];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Some(setting) = common::setting_arg()? else {
        print_table(&common::load_settings::<Result>("scheduler", &SETTINGS)?);
        return Ok(());
    };
    let limit = match setting.as_str() {
        "limited" => RateLimit::new(RateLimit::SCHEDULER.qps, RateLimit::SCHEDULER.burst),
        "unlimited" | "unlimited-1000" => None,
        other => bail!("unknown setting {other}: one of {SETTINGS:?}"),
    };
    let pods = match std::env::var("MINIK8S_BENCH_SCHEDULER_PODS") {
        Ok(n) => n.parse().context("MINIK8S_BENCH_SCHEDULER_PODS")?,
        Err(_) => PODS,
    };
    let client = Client::try_default()
        .await
        .context("KUBECONFIG must point at the bench cluster")?;
    common::create_namespace(&client, NAMESPACE).await?;
    let nodes: Api<Node> = Api::all(client.clone());
    let nodes = nodes.list(&ListParams::default()).await?.items;
    let node_names: Vec<String> = nodes.iter().map(ResourceExt::name_any).collect();
    let mut zones: Vec<&String> = nodes.iter().filter_map(|n| n.labels().get(ZONE)).collect();
    zones.sort();
    zones.dedup();
    eprintln!(
        "[bench] {setting}: {pods} pods a phase on {} nodes in {} zones",
        nodes.len(),
        zones.len()
    );

    let mut phases = Vec::new();
    for placer in [
        Placer::KubeScheduler,
        Placer::Minik8s,
        Placer::Binder {
            nodes: node_names.clone(),
            events: false,
        },
        Placer::Binder {
            nodes: node_names.clone(),
            events: true,
        },
    ] {
        phases.push(phase(&client, placer, limit, pods, &nodes).await?);
        delete_pods(&client).await?;
    }
    let [kube, mini, ceiling, with_events] = &phases[..] else {
        unreachable!("four phases")
    };
    let result = Result {
        setting: setting.clone(),
        pods,
        nodes: nodes.len(),
        zones: zones.len(),
        qps: limit.map(|l| l.qps),
        burst: limit.map(|l| l.burst),
        ratio_kube: mini.pods_per_second / kube.pods_per_second,
        ratio_ceiling: mini.pods_per_second / ceiling.pods_per_second,
        ratio_ceiling_with_events: Some(mini.pods_per_second / with_events.pods_per_second),
        phases,
    };
    let path = common::save("scheduler", &setting, &result)?;
    print_table(&[result]);
    eprintln!("[bench] wrote {}", path.display());
    Ok(())
}

/// What places a phase's pods. Each is started only once all the phase's pods wait, so that
/// the time measured is placing, not keeping up with the bench's creations.
enum Placer {
    /// A kube-scheduler of the bench's own, with the default profile named
    /// [`KUBE_SCHEDULER_NAME`], so that the cluster's kube-scheduler leaves its pods alone.
    KubeScheduler,
    Minik8s,
    /// The ceiling: a binder with no logic, round-robin over these nodes; with `events`, it
    /// also writes each pod's `Scheduled` event, as the schedulers do.
    Binder {
        nodes: Vec<String>,
        events: bool,
    },
}

const KUBE_SCHEDULER_NAME: &str = "bench-kube-scheduler";

/// A started placer: a process of its own, or a task of the bench.
enum Running {
    Process(common::OwnedProcess),
    Task(tokio::task::JoinHandle<()>),
}

impl Placer {
    fn scheduler_name(&self) -> &'static str {
        match self {
            Placer::KubeScheduler => KUBE_SCHEDULER_NAME,
            Placer::Minik8s => minik8s::scheduler::SCHEDULER_NAME,
            Placer::Binder { events: false, .. } => BINDER,
            Placer::Binder { events: true, .. } => BINDER_WITH_EVENTS,
        }
    }

    async fn start(self, limit: Option<RateLimit>) -> anyhow::Result<Running> {
        let name = self.scheduler_name();
        Ok(match self {
            Placer::KubeScheduler => Running::Process(start_kube_scheduler(limit)?),
            Placer::Minik8s => Running::Process(start_scheduler(limit).await?),
            Placer::Binder { nodes, events } => {
                // Events through a client of their own, with a limit of their own, as both
                // schedulers write them.
                let event_client = if events {
                    Some(client::build(limit).await?)
                } else {
                    None
                };
                Running::Task(tokio::spawn(bind_round_robin(
                    client::build(limit).await?,
                    name,
                    nodes,
                    event_client,
                )))
            }
        })
    }
}

impl Running {
    fn rss_mib(&self) -> anyhow::Result<Option<f64>> {
        match self {
            Running::Process(child) => common::rss_mib(child.id()).map(Some),
            Running::Task(_) => Ok(None),
        }
    }

    fn exited(&mut self) -> anyhow::Result<Option<String>> {
        match self {
            Running::Process(child) => Ok(child.try_wait()?.map(|status| status.to_string())),
            Running::Task(task) => Ok(task.is_finished().then(|| "finished".to_string())),
        }
    }

    fn stop(self) {
        match self {
            // Stopped as it is dropped.
            Running::Process(child) => drop(child),
            Running::Task(task) => task.abort(),
        }
    }
}

/// Pod `i` of a phase. Of every ten, pods 6 and 7 are spread over zones (groups of about
/// 100), pods 8 and 9 kept on distinct nodes (groups of about 10), the rest plain.
fn pod(scheduler: &str, pods: usize, i: usize) -> anyhow::Result<Pod> {
    let mut labels = json!({"phase": scheduler});
    let mut spec = json!({
        "schedulerName": scheduler,
        "containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10",
            "resources": {"requests": {"cpu": format!("{CPU_MILLIS}m"), "memory": "128Mi"}}}],
    });
    // Its rank among the pods of its kind; consecutive ranks go to different groups.
    let rank = i / 10 * 2 + i % 2;
    let group = |kind: &str, size: usize| format!("{kind}-{}", rank % (pods / 5 / size).max(1));
    match i % 10 {
        6 | 7 => {
            labels["group"] = json!(group("spread", 100));
            spec["topologySpreadConstraints"] = json!([{
                "maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"group": labels["group"]}}}]);
        }
        8 | 9 => {
            labels["group"] = json!(group("apart", 10));
            spec["affinity"] = json!({"podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": HOSTNAME,
                    "labelSelector": {"matchLabels": {"group": labels["group"]}}}]}});
        }
        _ => {}
    }
    let metadata = json!({"name": format!("{scheduler}-{i}"), "labels": labels});
    Ok(serde_json::from_value(
        json!({"metadata": metadata, "spec": spec}),
    )?)
}

/// Pods seen bound: name → node, and when the first and the last of them were seen.
#[derive(Clone, Default)]
struct Bindings {
    nodes: HashMap<String, String>,
    first: Option<Instant>,
    last: Option<Instant>,
}

/// Creates `pods` pods for the placer, then starts it and waits until all are bound.
async fn phase(
    client: &Client,
    placer: Placer,
    limit: Option<RateLimit>,
    pods: usize,
    nodes: &[Node],
) -> anyhow::Result<Phase> {
    let scheduler = placer.scheduler_name();
    let api: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let bound: Arc<Mutex<Bindings>> = Arc::default();
    let (listed_tx, listed) = tokio::sync::oneshot::channel();
    let watch = {
        let config = watcher::Config::default().labels(&format!("phase={scheduler}"));
        let mut events = watcher::watcher(api.clone(), config).boxed();
        let bound = bound.clone();
        tokio::spawn(async move {
            let mut listed_tx = Some(listed_tx);
            while let Some(event) = events.next().await {
                match event {
                    Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => {
                        if let Some(node) = p.spec.as_ref().and_then(|s| s.node_name.clone()) {
                            let mut bound = bound.lock().unwrap();
                            if bound.nodes.insert(p.name_any(), node).is_none() {
                                let now = Instant::now();
                                bound.first.get_or_insert(now);
                                bound.last = Some(now);
                            }
                        }
                    }
                    Ok(watcher::Event::InitDone) => {
                        if let Some(tx) = listed_tx.take() {
                            let _ = tx.send(());
                        }
                    }
                    _ => {}
                }
            }
        })
    };
    listed.await.context("the pod watch ended before listing")?;

    eprintln!("[bench]   {scheduler}: creating {pods} pods, its scheduler not yet started");
    let creating = Instant::now();
    futures::stream::iter(0..pods)
        .map(|i| {
            let api = api.clone();
            async move {
                api.create(&PostParams::default(), &pod(scheduler, pods, i)?)
                    .await
                    .with_context(|| format!("creating pod {i}"))
            }
        })
        .buffer_unordered(CREATORS)
        .try_for_each(|_| async { Ok(()) })
        .await?;
    eprintln!(
        "[bench]   {scheduler}: created in {:.1} s; starting its scheduler",
        creating.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let mut running = placer.start(limit).await?;
    let placed = wait_bound(scheduler, pods, started, &bound, &mut running).await;
    let rss_mib = running.rss_mib();
    running.stop();
    watch.abort();
    let (placed, rss_mib) = (placed?, rss_mib?);
    let (Some(first), Some(last)) = (placed.first, placed.last) else {
        bail!("{scheduler}: no pod bound");
    };
    let seconds = last.duration_since(first).as_secs_f64();
    let result = Phase {
        name: scheduler.into(),
        startup_seconds: first.duration_since(started).as_secs_f64(),
        seconds,
        pods_per_second: pods as f64 / seconds,
        balance: balance(nodes, &placed.nodes),
        rss_mib,
    };
    eprintln!(
        "[bench]   {scheduler}: first bound {:.1} s after its start, all {pods} {seconds:.1} s \
         later ({:.0} pods/s), balance {:.4}, {}",
        result.startup_seconds,
        result.pods_per_second,
        result.balance,
        rss_mib.map_or("in the bench".into(), |m| format!("{m:.0} MiB resident")),
    );
    Ok(result)
}

/// Waits until `pods` pods are bound, reporting progress every 10 s.
async fn wait_bound(
    scheduler: &str,
    pods: usize,
    started: Instant,
    bound: &Mutex<Bindings>,
    running: &mut Running,
) -> anyhow::Result<Bindings> {
    let mut last_report = Instant::now();
    loop {
        {
            let bound = bound.lock().unwrap();
            if bound.nodes.len() >= pods {
                return Ok(bound.clone());
            }
            if started.elapsed() > PHASE_TIMEOUT {
                bail!(
                    "{scheduler}: only {} of {pods} pods bound after {PHASE_TIMEOUT:?}",
                    bound.nodes.len()
                );
            }
            if last_report.elapsed() > Duration::from_secs(10) {
                eprintln!(
                    "[bench]   {scheduler}: {}/{pods} bound after {:.0} s",
                    bound.nodes.len(),
                    started.elapsed().as_secs_f64()
                );
                last_report = Instant::now();
            }
        }
        if let Some(status) = running.exited()? {
            bail!("{scheduler}: its scheduler stopped before binding every pod: {status}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Standard deviation over nodes of the fraction of each node's CPU the pods request.
fn balance(nodes: &[Node], placed: &HashMap<String, String>) -> f64 {
    let mut on_node: HashMap<&str, usize> = HashMap::new();
    for node in placed.values() {
        *on_node.entry(node).or_default() += 1;
    }
    let fractions: Vec<f64> = nodes
        .iter()
        .map(|n| {
            let pods = on_node.get(n.name_any().as_str()).copied().unwrap_or(0);
            pods as f64 * CPU_MILLIS / cpu_millis(n)
        })
        .collect();
    let mean = fractions.iter().sum::<f64>() / fractions.len() as f64;
    let variance =
        fractions.iter().map(|f| (f - mean).powi(2)).sum::<f64>() / fractions.len() as f64;
    variance.sqrt()
}

/// Allocatable CPU of a node in millicores ("4" or "3500m").
fn cpu_millis(node: &Node) -> f64 {
    let cpu = node
        .status
        .as_ref()
        .and_then(|s| s.allocatable.as_ref())
        .and_then(|a| a.get("cpu"))
        .map_or("0", |q| q.0.as_str());
    match cpu.strip_suffix('m') {
        Some(millis) => millis.parse().unwrap_or(f64::NAN),
        None => cpu.parse::<f64>().unwrap_or(f64::NAN) * 1000.0,
    }
}

/// Deletes every pod of the namespace and waits until they are gone. The API server may give
/// up on a long deletecollection (its request timeout) before the last pod: ask again.
async fn delete_pods(client: &Client) -> anyhow::Result<()> {
    let api: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let now = DeleteParams {
        grace_period_seconds: Some(0),
        ..DeleteParams::default()
    };
    let start = Instant::now();
    while !api
        .list(&ListParams::default().limit(1))
        .await?
        .items
        .is_empty()
    {
        if start.elapsed() > PHASE_TIMEOUT {
            bail!("pods of {NAMESPACE} still there {PHASE_TIMEOUT:?} after their deletion");
        }
        if let Err(error) = api.delete_collection(&now, &ListParams::default()).await {
            eprintln!("[bench]   deleting the pods: {error}; again");
        }
    }
    Ok(())
}

/// Starts a kube-scheduler of the bench's own (the binary of the local control plane, on PATH)
/// whose only profile is the default one named [`KUBE_SCHEDULER_NAME`], at `limit` (kwokctl's
/// unlimited figures when None), with no leader election and no serving port.
fn start_kube_scheduler(limit: Option<RateLimit>) -> anyhow::Result<common::OwnedProcess> {
    let kubeconfig = std::env::var("KUBECONFIG").context("KUBECONFIG: the bench cluster")?;
    let limit = limit.unwrap_or(RateLimit {
        qps: 5000.0,
        burst: 10000,
    });
    let config =
        std::env::temp_dir().join(format!("bench-kube-scheduler-{}.yaml", std::process::id()));
    let text = format!(
        "apiVersion: kubescheduler.config.k8s.io/v1\n\
         kind: KubeSchedulerConfiguration\n\
         clientConnection:\n  kubeconfig: {kubeconfig}\n  qps: {}\n  burst: {}\n\
         leaderElection:\n  leaderElect: false\n\
         profiles:\n- schedulerName: {KUBE_SCHEDULER_NAME}\n",
        limit.qps, limit.burst
    );
    std::fs::write(&config, text)?;
    Command::new("kube-scheduler")
        .arg(format!("--config={}", config.display()))
        .args(["--secure-port=0", "-v=0"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(common::OwnedProcess)
        .context(
            "kube-scheduler of the local control plane, on PATH (tests/cluster/build-binaries.sh)",
        )
}

/// Starts minik8s-scheduler at `limit` and waits until its /readyz says its caches are full.
async fn start_scheduler(limit: Option<RateLimit>) -> anyhow::Result<common::OwnedProcess> {
    let bin = std::env::var("MINIK8S_BIN").context("MINIK8S_BIN: the release minik8s binary")?;
    // A free port, so that another minik8s-scheduler on this machine is no bother.
    let address = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let limit = limit.unwrap_or(RateLimit { qps: 0.0, burst: 1 });
    let mut scheduler = common::OwnedProcess(
        Command::new(bin)
            .args(["scheduler", "--health-address", &address.to_string()])
            .args(["--kube-api-qps", &limit.qps.to_string()])
            .args(["--kube-api-burst", &limit.burst.to_string()])
            .args(["--log-level", "warn"])
            .spawn()?,
    );
    let start = Instant::now();
    while !is_ready(address).await {
        if let Some(status) = scheduler.try_wait()? {
            bail!("minik8s scheduler exited: {status}");
        }
        if start.elapsed() > Duration::from_secs(60) {
            // Stopped as `scheduler` is dropped.
            bail!("minik8s scheduler not ready on {address} after 60 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(scheduler)
}

async fn is_ready(address: std::net::SocketAddr) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut stream) = tokio::net::TcpStream::connect(address).await else {
        return false;
    };
    let mut response = String::new();
    stream
        .write_all(b"GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .is_ok()
        && stream.read_to_string(&mut response).await.is_ok()
        && response.starts_with("HTTP/1.0 200")
}

/// The ceiling: binds each pending pod of scheduler `name` to the next node, and given an
/// event client then writes the pod's `Scheduled` event (each in a task of its own, as
/// kube-scheduler's event broadcaster writes each in a goroutine of its own).
async fn bind_round_robin(
    client: Client,
    name: &'static str,
    nodes: Vec<String>,
    event_client: Option<Client>,
) {
    let api: Api<Pod> = Api::namespaced(client, NAMESPACE);
    let event_api: Option<Api<Event>> =
        event_client.map(|client| Api::namespaced(client, NAMESPACE));
    let pending =
        watcher::Config::default().fields(&format!("spec.schedulerName={name},spec.nodeName="));
    let next = AtomicUsize::new(0);
    watcher::watcher(api.clone(), pending)
        .default_backoff()
        .applied_objects()
        .for_each_concurrent(BINDERS, |pod| async {
            let Ok(pod) = pod else { return };
            let node = &nodes[next.fetch_add(1, Ordering::Relaxed) % nodes.len()];
            let binding = json!({
                "apiVersion": "v1", "kind": "Binding",
                "metadata": {"name": pod.name_any(), "uid": pod.uid()},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node},
            });
            let bound: kube::Result<Value> = api
                .create_subresource("binding", &pod.name_any(), &PostParams::default(), &binding)
                .await;
            if let Err(error) = bound {
                eprintln!("[bench]   binder: {}: {error}", pod.name_any());
                return;
            }
            if let Some(event_api) = &event_api {
                let (event_api, event) = (event_api.clone(), scheduled_event(&pod, node, name));
                tokio::spawn(async move {
                    if let Err(error) = event_api.create(&PostParams::default(), &event).await {
                        eprintln!("[bench]   binder: event: {error}");
                    }
                });
            }
        })
        .await;
}

/// The `Scheduled` event a scheduler writes for a pod it bound.
fn scheduled_event(pod: &Pod, node: &str, component: &str) -> Event {
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    Event {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}.", pod.name_any())),
            namespace: Some(NAMESPACE.into()),
            ..Default::default()
        },
        involved_object: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            namespace: Some(NAMESPACE.into()),
            name: Some(pod.name_any()),
            uid: pod.uid(),
            ..Default::default()
        },
        reason: Some("Scheduled".into()),
        message: Some(format!(
            "Successfully assigned {NAMESPACE}/{} to {node}",
            pod.name_any()
        )),
        type_: Some("Normal".into()),
        source: Some(EventSource {
            component: Some(component.into()),
            host: None,
        }),
        count: Some(1),
        first_timestamp: Some(now.clone()),
        last_timestamp: Some(now),
        ..Default::default()
    }
}

fn print_table(results: &[Result]) {
    println!();
    for r in results.iter().take(1) {
        println!(
            "Scheduler — {} pods a phase (60% plain, 20% zone spread, 20% anti-affinity), created before \
             their scheduler starts; pods/s from the first binding to the last; ceil+ev: the \
             ceiling writing each pod's Scheduled event too",
            r.pods
        );
    }
    println!(
        "{:<15} {:>5} {:>9} {:>10} {:>10} {:>10} {:>13} {:>9} {:>9} {:>12} {:>17} {:>23} {:>9} {:>9}",
        "setting",
        "nodes",
        "limit",
        "kube pod/s",
        "mini pod/s",
        "ceil pod/s",
        "ceil+ev pod/s",
        "mini/kube",
        "mini/ceil",
        "mini/ceil+ev",
        "start-up kube/mini",
        "balance kube/mini/ceil",
        "kube MiB",
        "mini MiB"
    );
    for r in results {
        let limit = r.qps.map_or("none".to_string(), |q| {
            format!("{q}/{}", r.burst.unwrap_or(0))
        });
        let (kube, mini, ceiling, with_events) = match &r.phases[..] {
            [kube, mini, ceiling] => (kube, mini, ceiling, None),
            [kube, mini, ceiling, with_events] => (kube, mini, ceiling, Some(with_events)),
            _ => continue,
        };
        let with_events_rate =
            with_events.map_or("-".into(), |p| format!("{:.1}", p.pods_per_second));
        let ratio_with_events = r
            .ratio_ceiling_with_events
            .map_or("-".into(), |ratio| format!("{ratio:.2}"));
        let startup = format!("{:.1}/{:.1} s", kube.startup_seconds, mini.startup_seconds);
        let balance = format!(
            "{:.3}/{:.3}/{:.3}",
            kube.balance, mini.balance, ceiling.balance
        );
        let mib = |p: &Phase| p.rss_mib.map_or("-".into(), |m| format!("{m:.1}"));
        println!(
            "{:<15} {:>5} {:>9} {:>10.1} {:>10.1} {:>10.1} {:>13} {:>9.2} {:>9.2} {:>12} {:>17} {:>23} {:>9} {:>9}",
            r.setting,
            r.nodes,
            limit,
            kube.pods_per_second,
            mini.pods_per_second,
            ceiling.pods_per_second,
            with_events_rate,
            r.ratio_kube,
            r.ratio_ceiling,
            ratio_with_events,
            startup,
            balance,
            mib(kube),
            mib(mini)
        );
    }
}

//! `make bench` (through tests/cluster/run-bench.sh), endpoints: how fast a pod change reaches
//! the built-in Endpoints and EndpointSlices of a Service, and the MiniEndpoints and minik8s
//! EndpointSlices of its MiniService twin, on the same cluster, in the same run.
//!
//! 10 services × 100 pods (built-in ReplicaSets, so both twins select the very same pods).
//! Busy phase: 1000 pods are deleted, 20 a second across the services. Quiet phase: then 50
//! more, 2 a second (one per service every 5 s), so that each deletion is over before the
//! service's next. Each deletion is two changes: the pod leaves every view, and its
//! replacement joins them once Ready. A change's latency is the time from the pod watch seeing
//! it (deleted; Ready) to the view watch seeing it (gone; listed as ready). Writes are counted
//! as the watch events of each view's objects during the phase.
//!
//!   --setting limited|unlimited   run against the cluster in KUBECONFIG
//!   --summary                     print the table of every setting measured

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::bail;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Endpoints, Pod};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{DeleteParams, DynamicObject, ListParams, PostParams};
use kube::core::ApiResource;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use minik8s::api::MiniEndpoints;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

const NAMESPACE: &str = "bench-endpoints";
const SERVICES: usize = 10;
const PODS: usize = 100;
const BUSY: Pace = Pace {
    name: "busy",
    deletions: 1000,
    per_second: 20.0,
};
const QUIET: Pace = Pace {
    name: "quiet",
    deletions: 50,
    per_second: 2.0,
};
const TIMEOUT: Duration = Duration::from_secs(600);
/// The Service that minik8s keeps for MiniService `name`.
fn mini_service(name: &str) -> String {
    format!("mini-{name}")
}

/// The four views of a service's pods.
const VIEWS: [&str; 4] = [
    "Endpoints",
    "MiniEndpoints",
    "EndpointSlice (built-in)",
    "EndpointSlice (minik8s)",
];

#[derive(Debug, Serialize, Deserialize)]
struct View {
    name: String,
    changes: usize,
    p50_ms: f64,
    p99_ms: f64,
    writes: usize,
    writes_per_change: f64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Result {
    setting: String,
    qps: Option<f64>,
    burst: Option<u32>,
    views: Vec<View>,
    /// The same views in the quiet phase.
    #[serde(default)]
    quiet_views: Vec<View>,
    minik8s_rss_mib: f64,
    kube_controller_manager_rss_mib: f64,
    /// Every API request of the minik8s process while measuring (both controllers), by verb.
    #[serde(default)]
    minik8s_requests: BTreeMap<String, u64>,
}

/// When each pod was seen to change, and when each view was seen to follow.
#[derive(Default)]
struct Timeline {
    /// pod name → when it was seen Ready / deleted.
    ready: HashMap<String, Instant>,
    deleted: HashMap<String, Instant>,
    /// (view, pod name) → when the view first listed it as ready / first no longer listed it.
    listed: HashMap<(usize, String), Instant>,
    unlisted: HashMap<(usize, String), Instant>,
    /// view → watch events of its objects while measuring.
    writes: [usize; 4],
    counting: bool,
}

type Shared = Arc<Mutex<Timeline>>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Some(run) = common::start(NAMESPACE, "endpoints,endpointslice").await? else {
        return summary();
    };
    let common::Run {
        setting,
        qps,
        burst,
        client,
        mut controller,
    } = run;
    let names: Vec<String> = (0..SERVICES).map(|i| format!("app-{i}")).collect();
    for name in &names {
        create_twins(&client, name).await?;
    }
    eprintln!("[bench] {setting}: {SERVICES} services × {PODS} pods, waiting for every view");
    wait_all_listed(&client, &names).await?;

    let timeline: Shared = Arc::default();
    let watches = start_watches(&client, &names, timeline.clone()).await;
    let requests_before = common::minik8s_requests().await?;
    let mut phases = Phases {
        pods: Api::namespaced(client.clone(), NAMESPACE),
        deleted: BTreeSet::new(),
        names: &names,
        client: &client,
        timeline: &timeline,
        setting: &setting,
    };
    let views = phases.measure(&BUSY).await?;
    let minik8s_requests =
        common::requests_between(&requests_before, &common::minik8s_requests().await?);
    let quiet_views = phases.measure(&QUIET).await?;
    for watch in watches {
        watch.abort();
    }

    let minik8s_rss_mib = common::rss_mib(controller.id())?;
    let kube_controller_manager_rss_mib = common::kube_controller_manager_rss_mib()?;
    controller.kill()?;
    let _ = controller.wait();

    let result = Result {
        setting: setting.clone(),
        qps,
        burst,
        views,
        quiet_views,
        minik8s_rss_mib,
        kube_controller_manager_rss_mib,
        minik8s_requests,
    };
    let path = common::save("endpoints", &setting, &result)?;
    print_table(&[result]);
    eprintln!("[bench] wrote {}", path.display());
    Ok(())
}

/// How fast pods are deleted in one phase.
struct Pace {
    name: &'static str,
    deletions: usize,
    per_second: f64,
}

/// What every phase works on: the services, the pods deleted so far, the watches' timeline.
struct Phases<'a> {
    pods: Api<Pod>,
    deleted: BTreeSet<String>,
    names: &'a [String],
    client: &'a Client,
    timeline: &'a Shared,
    setting: &'a str,
}

impl Phases<'_> {
    /// One phase: pods deleted at `pace`, round-robin over the services, the views' latencies
    /// and writes measured until every view lists every ready pod again.
    async fn measure(&mut self, pace: &Pace) -> anyhow::Result<Vec<View>> {
        let Self {
            pods,
            deleted,
            names,
            client,
            timeline,
            setting,
        } = self;
        *timeline.lock().unwrap() = Timeline {
            counting: true,
            ..Timeline::default()
        };
        let interval = Duration::from_secs_f64(1.0 / pace.per_second);
        let start = Instant::now();
        let mut victims = Vec::new();
        for i in 0..pace.deletions {
            if victims.is_empty() {
                victims = pods.list(&ListParams::default()).await?.items;
                victims.retain(|p| !deleted.contains(&p.name_any()));
            }
            let service = &names[i % SERVICES];
            let Some(index) = victims
                .iter()
                .position(|p| p.labels().get("app") == Some(service) && is_ready(p))
            else {
                victims.clear();
                continue;
            };
            let victim = victims.swap_remove(index).name_any();
            pods.delete(&victim, &DeleteParams::default()).await?;
            deleted.insert(victim);
            if i % 100 == 99 || i + 1 == pace.deletions {
                eprintln!(
                    "[bench] {setting}, {} phase: {} of {} pods deleted",
                    pace.name,
                    i + 1,
                    pace.deletions
                );
            }
            tokio::time::sleep_until((start + interval * (i as u32 + 1)).into()).await;
        }
        wait_all_listed(client, names).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut timeline = timeline.lock().unwrap();
        timeline.counting = false;
        Ok((0..VIEWS.len()).map(|v| view(&timeline, v)).collect())
    }
}

/// A ReplicaSet of the service's pods, a Service and a MiniService that select them.
async fn create_twins(client: &Client, name: &str) -> anyhow::Result<()> {
    let create = |resource: ApiResource, manifest: Value| async move {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), NAMESPACE, &resource);
        api.create(&PostParams::default(), &serde_json::from_value(manifest)?)
            .await
            .map(|_| ())
            .map_err(anyhow::Error::from)
    };
    let rs = json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": PODS,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "app:v1", "ports": [{"name": "http", "containerPort": 8080}]}]}
            }
        }
    });
    create(ApiResource::from_gvk(&gvk("apps", "v1", "ReplicaSet")), rs).await?;
    let spec = json!({"selector": {"app": name}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]});
    let service =
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec});
    create(ApiResource::from_gvk(&gvk("", "v1", "Service")), service).await?;
    let mini = json!({"apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniService", "metadata": {"name": name}, "spec": spec});
    create(
        ApiResource::from_gvk(&gvk("minik8s.dev", "v1alpha1", "MiniService")),
        mini,
    )
    .await
}

fn gvk(group: &str, version: &str, kind: &str) -> kube::core::GroupVersionKind {
    kube::core::GroupVersionKind::gvk(group, version, kind)
}

fn is_ready(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none() && common::has_ready_condition(pod)
}

/// Pods listed as ready in an Endpoints-shaped object (`subsets[].addresses[].targetRef`).
fn ready_in_subsets(subsets: &Value) -> BTreeSet<String> {
    subsets
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["addresses"].as_array().into_iter().flatten())
        .filter_map(|a| a["targetRef"]["name"].as_str().map(str::to_owned))
        .collect()
}

/// Pods listed as ready in an EndpointSlice.
fn ready_in_slice(slice: &EndpointSlice) -> BTreeSet<String> {
    slice
        .endpoints
        .iter()
        .flatten()
        .filter(|e| e.conditions.as_ref().and_then(|c| c.ready) == Some(true))
        .filter_map(|e| e.target_ref.as_ref().and_then(|r| r.name.clone()))
        .collect()
}

/// Waits until every view of every service lists exactly the service's ready pods.
async fn wait_all_listed(client: &Client, names: &[String]) -> anyhow::Result<()> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), NAMESPACE);
    let mini: Api<MiniEndpoints> = Api::namespaced(client.clone(), NAMESPACE);
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), NAMESPACE);
    let start = Instant::now();
    loop {
        let all_pods = pods.list(&ListParams::default()).await?.items;
        let all_slices = slices.list(&ListParams::default()).await?.items;
        let mut done = true;
        let mut behind = Vec::new();
        for name in names {
            let ready: BTreeSet<String> = all_pods
                .iter()
                .filter(|p| p.labels().get("app") == Some(name) && is_ready(p))
                .map(|p| p.name_any())
                .collect();
            let of_slices = |service: &str| -> BTreeSet<String> {
                all_slices
                    .iter()
                    .filter(|s| {
                        s.labels()
                            .get("kubernetes.io/service-name")
                            .map(String::as_str)
                            == Some(service)
                    })
                    .flat_map(ready_in_slice)
                    .collect()
            };
            let views = [
                endpoints
                    .get_opt(name)
                    .await?
                    .map(|e| ready_in_subsets(&serde_json::to_value(e.subsets).unwrap()))
                    .unwrap_or_default(),
                mini.get_opt(name)
                    .await?
                    .map(|e| ready_in_subsets(&serde_json::to_value(e.subsets).unwrap()))
                    .unwrap_or_default(),
                of_slices(name),
                of_slices(&mini_service(name)),
            ];
            let lagging: Vec<&str> = VIEWS
                .iter()
                .zip(&views)
                .filter(|(_, listed)| **listed != ready)
                .map(|(view, _)| *view)
                .collect();
            if ready.len() != PODS || !lagging.is_empty() {
                done = false;
                behind.push(format!(
                    "{name}: {} of {PODS} pods ready, views not listing exactly them: {lagging:?}",
                    ready.len()
                ));
            }
        }
        if done {
            return Ok(());
        }
        if start.elapsed() > TIMEOUT {
            bail!(
                "the views did not list every ready pod within {TIMEOUT:?}:\n{}",
                behind.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Watches pods and the four views, recording into `timeline`.
async fn start_watches(
    client: &Client,
    names: &[String],
    timeline: Shared,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(4);

    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let record = timeline.clone();
    let ready = ready_tx.clone();
    tasks.push(tokio::spawn(async move {
        let mut events = watcher::watcher(pods, watcher::Config::default()).boxed();
        while let Some(Ok(event)) = events.next().await {
            let now = Instant::now();
            let mut t = record.lock().unwrap();
            match event {
                watcher::Event::Apply(p) if is_ready(&p) => {
                    t.ready.entry(p.name_any()).or_insert(now);
                }
                watcher::Event::Delete(p) => {
                    t.deleted.entry(p.name_any()).or_insert(now);
                }
                watcher::Event::InitDone => {
                    let _ = ready.try_send(());
                }
                _ => {}
            }
        }
    }));

    // Endpoints and MiniEndpoints: the same shape, told apart by their view index.
    for (view, resource) in [
        (0, ApiResource::erase::<Endpoints>(&())),
        (1, ApiResource::erase::<MiniEndpoints>(&())),
    ] {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), NAMESPACE, &resource);
        let record = timeline.clone();
        let ready = ready_tx.clone();
        let names: BTreeSet<String> = names.iter().cloned().collect();
        tasks.push(tokio::spawn(async move {
            let mut listed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            let mut events = watcher::watcher(api, watcher::Config::default()).boxed();
            while let Some(Ok(event)) = events.next().await {
                let now = Instant::now();
                match event {
                    watcher::Event::Apply(o) | watcher::Event::InitApply(o)
                        if names.contains(&o.name_any()) =>
                    {
                        let pods = ready_in_subsets(&o.data["subsets"]);
                        let before = listed
                            .insert(o.name_any(), pods.clone())
                            .unwrap_or_default();
                        note(&record, view, &before, &pods, now);
                    }
                    watcher::Event::InitDone => {
                        let _ = ready.try_send(());
                    }
                    _ => {}
                }
            }
        }));
    }

    // EndpointSlices of both sides, by their service-name label.
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), NAMESPACE);
    let record = timeline.clone();
    let ready = ready_tx;
    let view_of: HashMap<String, usize> = names
        .iter()
        .flat_map(|n| [(n.clone(), 2), (mini_service(n), 3)])
        .collect();
    tasks.push(tokio::spawn(async move {
        // (view, service) → slice name → ready pods.
        let mut slices_of: HashMap<(usize, String), BTreeMap<String, BTreeSet<String>>> =
            HashMap::new();
        let mut events = watcher::watcher(slices, watcher::Config::default()).boxed();
        while let Some(Ok(event)) = events.next().await {
            let now = Instant::now();
            let (slice, gone) = match event {
                watcher::Event::Apply(s) | watcher::Event::InitApply(s) => (s, false),
                watcher::Event::Delete(s) => (s, true),
                watcher::Event::InitDone => {
                    let _ = ready.try_send(());
                    continue;
                }
                watcher::Event::Init => continue,
            };
            let Some(service) = slice.labels().get("kubernetes.io/service-name").cloned() else {
                continue;
            };
            let Some(&view) = view_of.get(&service) else {
                continue;
            };
            let of_service = slices_of.entry((view, service)).or_default();
            let before: BTreeSet<String> = of_service.values().flatten().cloned().collect();
            if gone {
                of_service.remove(&slice.name_any());
            } else {
                of_service.insert(slice.name_any(), ready_in_slice(&slice));
            }
            let after: BTreeSet<String> = of_service.values().flatten().cloned().collect();
            note(&record, view, &before, &after, now);
        }
    }));

    // Measure only once every watch has listed.
    for _ in 0..4 {
        let _ = ready_rx.recv().await;
    }
    tasks
}

/// Records what one view's change shows: pods newly listed, pods no longer listed, one write.
fn note(
    record: &Shared,
    view: usize,
    before: &BTreeSet<String>,
    after: &BTreeSet<String>,
    now: Instant,
) {
    let mut t = record.lock().unwrap();
    if !t.counting {
        return;
    }
    t.writes[view] += 1;
    for pod in after.difference(before) {
        t.listed.entry((view, pod.clone())).or_insert(now);
    }
    for pod in before.difference(after) {
        t.unlisted.entry((view, pod.clone())).or_insert(now);
    }
}

/// Latencies of one view: deleted pods leaving it, new Ready pods joining it.
fn view(t: &Timeline, view: usize) -> View {
    let mut latencies: Vec<f64> = Vec::new();
    for (pod, deleted) in &t.deleted {
        if let Some(gone) = t.unlisted.get(&(view, pod.clone())) {
            latencies.push(gone.saturating_duration_since(*deleted).as_secs_f64() * 1000.0);
        }
    }
    for (pod, ready) in &t.ready {
        if t.deleted.contains_key(pod) {
            continue;
        }
        if let Some(listed) = t.listed.get(&(view, pod.clone())) {
            latencies.push(listed.saturating_duration_since(*ready).as_secs_f64() * 1000.0);
        }
    }
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q).ceil() as usize).saturating_sub(1))
            .copied()
            .unwrap_or(f64::NAN)
    };
    View {
        name: VIEWS[view].into(),
        changes: latencies.len(),
        p50_ms: at(0.50),
        p99_ms: at(0.99),
        writes: t.writes[view],
        writes_per_change: t.writes[view] as f64 / latencies.len().max(1) as f64,
    }
}

fn summary() -> anyhow::Result<()> {
    print_table(&common::load::<Result>("endpoints")?);
    Ok(())
}

fn print_table(results: &[Result]) {
    println!();
    println!(
        "Endpoints — a pod change reaching each view ({SERVICES} services × {PODS} pods; busy: \
         {} deletions at {}/s, quiet: {} at {}/s)",
        BUSY.deletions, BUSY.per_second, QUIET.deletions, QUIET.per_second
    );
    println!(
        "{:<10} {:>8} {:<6} {:<26} {:>8} {:>10} {:>10} {:>8} {:>12}",
        "setting", "limit", "phase", "view", "changes", "p50", "p99", "writes", "writes/change"
    );
    for r in results {
        let limit = r.qps.map_or("none".to_string(), |q| {
            format!("{q}/{}", r.burst.unwrap_or(0))
        });
        let phases = [("busy", &r.views), ("quiet", &r.quiet_views)];
        for (phase, v) in phases
            .iter()
            .flat_map(|(p, vs)| vs.iter().map(move |v| (p, v)))
        {
            println!(
                "{:<10} {:>8} {:<6} {:<26} {:>8} {:>7.0} ms {:>7.0} ms {:>8} {:>12.2}",
                r.setting,
                limit,
                phase,
                v.name,
                v.changes,
                v.p50_ms,
                v.p99_ms,
                v.writes,
                v.writes_per_change
            );
        }
        println!(
            "{:<10} {:>8} resident memory: minik8s {:.1} MiB, kube-controller-manager {:.1} MiB ({:.2})",
            r.setting,
            limit,
            r.minik8s_rss_mib,
            r.kube_controller_manager_rss_mib,
            r.minik8s_rss_mib / r.kube_controller_manager_rss_mib
        );
        let total: u64 = r.minik8s_requests.values().sum();
        let verbs: Vec<String> = r
            .minik8s_requests
            .iter()
            .map(|(verb, n)| format!("{verb} {n}"))
            .collect();
        println!(
            "{:<10} {:>8} minik8s API requests in the busy phase (both controllers, no watches): {total} ({})",
            r.setting,
            limit,
            verbs.join(", ")
        );
    }
}

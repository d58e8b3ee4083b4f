//! `make bench` (through tests/cluster/run-bench.sh): 100 Deployments of 50 replicas and their
//! 100 MiniDeployment twins (10,000 pods), each side created, all rolled at once, then scaled
//! down to 10, with no client limits. Per side and phase: the time, the API calls (audit log),
//! the CPU seconds and the peak resident memory of its controller manager; and while the
//! rollout runs, how long a new set of one pod waits to be served. At the end, the memory each
//! manager spends per cached pod. The ceiling (`scale/ceiling.rs`) does each phase's pod work
//! with no logic, on a fresh cluster of the same size just before, so the table shows how
//! close each side is to what the cluster itself can do.
//!
//! Between one side's phase and the next (and between the ceiling's phases), the bench waits,
//! untimed, until no pod of the namespace is still terminating. kwok finalizes deleted pods at
//! its own pace, thousands after a roll, and a side that started while it was still doing the
//! other side's had its first pods made Ready only after that backlog (31 s into a roll in one
//! run): it timed the previous side's leftovers, not its own controller.
//!
//!   --setting unlimited             run against the cluster in KUBECONFIG (160 nodes)
//!   --setting unlimited --ceiling   the ceiling alone, on a cluster of its own
//!   --minik8s-first                 minik8s's side goes first in each phase
//!   --summary                       print the table of the last run

#[path = "scale/ceiling.rs"]
mod ceiling;
mod common;

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::{DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::ApiResource;
use kube::{Api, Client, Resource};
use minik8s::api::{MiniDeployment, MiniReplicaSet};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

const NAMESPACE: &str = "bench-scale";
const DEPLOYMENTS: usize = 100;
const REPLICAS: i64 = 50;
const SCALED_DOWN: i64 = 10;
const TIMEOUT: Duration = Duration::from_secs(1200);

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct Phase {
    name: String,
    /// The same pod work with no logic, and its calls.
    ceiling_seconds: f64,
    ceiling_calls: common::Calls,
    builtin_seconds: f64,
    mini_seconds: f64,
    builtin_calls: common::Calls,
    mini_calls: common::Calls,
    /// CPU seconds (user + system) of each controller manager during the phase.
    builtin_cpu_seconds: f64,
    mini_cpu_seconds: f64,
    /// Highest resident memory sampled during the phase, MiB.
    builtin_peak_mib: f64,
    mini_peak_mib: f64,
    /// Seconds, untimed, until the pods each side's phase deleted were gone.
    builtin_settle_seconds: f64,
    mini_settle_seconds: f64,
    ceiling_settle_seconds: f64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Result {
    setting: String,
    /// Whether minik8s's side went first in each phase.
    #[serde(default)]
    minik8s_first: bool,
    phases: Vec<Phase>,
    /// Seconds until a new set of one pod had its pod, made while every set rolls.
    builtin_probe_seconds: f64,
    mini_probe_seconds: f64,
    /// Resident memory per pod in the managers' caches, KiB: (RSS with every pod of both
    /// sides cached − RSS before any) / pods.
    builtin_kib_per_pod: f64,
    mini_kib_per_pod: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--ceiling") {
        return ceiling_only().await;
    }
    let Some(run) = common::start(NAMESPACE, "replicaset,deployment").await? else {
        print_table(&common::load_settings::<Result>("scale", &["unlimited"])?);
        return Ok(());
    };
    let common::Run {
        setting,
        qps,
        burst,
        client,
        mut controller,
    } = run;
    if qps.is_some() || burst.is_some() {
        bail!("the scale scenario runs without client limits only (--setting unlimited)");
    }
    let kcm: u32 = std::fs::read_to_string(std::env::var("MINIK8S_KCM_PIDFILE")?)?
        .trim()
        .parse()?;
    let mini = controller.id();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let base = [
        common::kube_controller_manager_rss_mib()?,
        common::rss_mib(mini)?,
    ];

    let mut phases = Phase::all();
    // The ceiling measured just before, on its own cluster (`--ceiling`).
    let ceiling: Vec<Phase> = common::load_settings("scale-ceiling", &["unlimited"])
        .context(
            "the ceiling runs first: `cargo bench --bench scale -- --setting unlimited --ceiling`",
        )?
        .remove(0);
    for (phase, measured) in phases.iter_mut().zip(ceiling) {
        phase.ceiling_seconds = measured.ceiling_seconds;
        phase.ceiling_calls = measured.ceiling_calls;
        phase.ceiling_settle_seconds = measured.ceiling_settle_seconds;
    }

    // Each phase runs the sides one after the other; the second finds the first's pods in the
    // cluster. `--minik8s-first` swaps them, to see what the order costs.
    let mut sides = [Side::new(&client, true), Side::new(&client, false)];
    let pids = if std::env::args().any(|a| a == "--minik8s-first") {
        sides.reverse();
        [mini, kcm]
    } else {
        [kcm, mini]
    };
    let mut result = Result {
        setting: setting.clone(),
        minik8s_first: pids[0] == mini,
        ..Result::default()
    };
    // Both sides' pods exist from here on, as they would on a shared cluster.
    let [create, roll, scale_down] = &mut phases;
    for (i, side) in sides.iter().enumerate() {
        let m = Measure::start(side, pids[i]);
        side.create_all().await?;
        side.wait_all(REPLICAS).await?;
        m.finish(side, create).await?;
    }
    let cached = [common::rss_mib(kcm)?, common::rss_mib(mini)?];
    let pods = (2 * DEPLOYMENTS) as f64 * REPLICAS as f64;
    result.builtin_kib_per_pod = (cached[0] - base[0]) * 1024.0 / pods;
    result.mini_kib_per_pod = (cached[1] - base[1]) * 1024.0 / pods;

    for (i, side) in sides.iter().enumerate() {
        let m = Measure::start(side, pids[i]);
        side.patch_all(json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:v2"}]}}}}))
            .await?;
        // Served while the rollout keeps the controller busy.
        let probe = side.probe().await?;
        if side.builtin {
            result.builtin_probe_seconds = probe;
        } else {
            result.mini_probe_seconds = probe;
        }
        side.wait_all(REPLICAS).await?;
        m.finish(side, roll).await?;
    }

    for (i, side) in sides.iter().enumerate() {
        let m = Measure::start(side, pids[i]);
        side.patch_all(json!({"spec": {"replicas": SCALED_DOWN}}))
            .await?;
        side.wait_all(SCALED_DOWN).await?;
        m.finish(side, scale_down).await?;
    }
    result.phases = phases.into();

    controller.kill()?;
    let _ = controller.wait();
    let path = common::save("scale", &setting, &result)?;
    print_table(&[result]);
    eprintln!("[bench] wrote {}", path.display());
    Ok(())
}

/// `--ceiling`: the ceiling's three phases on the cluster in KUBECONFIG, each timed and its
/// calls counted, saved for the run of both sides that follows on a cluster of the same size.
async fn ceiling_only() -> anyhow::Result<()> {
    let client = Client::try_default()
        .await
        .context("KUBECONFIG must point at the ceiling's cluster")?;
    common::create_namespace(&client, NAMESPACE).await?;
    let ceiling = ceiling::Ceiling::start().await?;
    let mut phases = Phase::all();
    for (i, phase) in phases.iter_mut().enumerate() {
        eprintln!("[bench] ceiling: {} starts", phase.name);
        let from = common::now();
        phase.ceiling_seconds = match i {
            0 => ceiling.create().await?,
            1 => ceiling.roll().await?,
            _ => ceiling.scale_down().await?,
        };
        // Calls are counted as for the sides, a moment after the phase ends.
        tokio::time::sleep(Duration::from_secs(3)).await;
        phase.ceiling_calls =
            common::calls(NAMESPACE, &common::Caller::Ceiling, from, common::now()).await?;
        eprintln!(
            "[bench] ceiling {}: {:.1} s, {} calls",
            phase.name, phase.ceiling_seconds, phase.ceiling_calls.total
        );
        phase.ceiling_settle_seconds = settle(&client).await?;
    }
    let path = common::save("scale-ceiling", "unlimited", &phases)?;
    eprintln!("[bench] wrote {}", path.display());
    Ok(())
}

impl Phase {
    /// The scenario's phases, in order, not yet measured.
    fn all() -> [Self; 3] {
        [
            Self::named("create 100 × 50 replicas"),
            Self::named("roll all 100 at once"),
            Self::named("scale all down to 10"),
        ]
    }

    fn named(name: &str) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }
}

/// Waits, untimed, until no pod of the namespace is terminating, so that the next phase or
/// side does not start behind kwok's backlog of deletions. Returns the seconds it took.
async fn settle(client: &Client) -> anyhow::Result<f64> {
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let start = Instant::now();
    let mut last = Instant::now();
    loop {
        let terminating = pods
            .list_metadata(&ListParams::default())
            .await?
            .items
            .iter()
            .filter(|pod| pod.metadata.deletion_timestamp.is_some())
            .count();
        if terminating == 0 {
            return Ok(start.elapsed().as_secs_f64());
        }
        if start.elapsed() > TIMEOUT {
            bail!("{terminating} pods still terminating after {TIMEOUT:?}");
        }
        if last.elapsed() > Duration::from_secs(15) {
            eprintln!(
                "[bench]   waiting (untimed) for {terminating} terminating pods to go, {:.0} s",
                start.elapsed().as_secs_f64()
            );
            last = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// One side's measurement of one phase: wall time, CPU time, and memory sampled each second.
struct Measure {
    pid: u32,
    from: k8s_openapi::jiff::Timestamp,
    start: Instant,
    cpu: f64,
    peak: std::sync::Arc<std::sync::Mutex<f64>>,
    sampler: tokio::task::JoinHandle<()>,
}

impl Measure {
    fn start(side: &Side, pid: u32) -> Self {
        let peak = std::sync::Arc::new(std::sync::Mutex::new(0.0_f64));
        let sampled = peak.clone();
        let sampler = tokio::spawn(async move {
            loop {
                if let Ok(mib) = common::rss_mib(pid) {
                    let mut peak = sampled.lock().unwrap();
                    *peak = peak.max(mib);
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        eprintln!("[bench] {} side: phase starts", side.label());
        Self {
            pid,
            from: common::now(),
            start: Instant::now(),
            cpu: cpu_seconds(pid).unwrap_or(0.0),
            peak,
            sampler,
        }
    }

    async fn finish(self, side: &Side, phase: &mut Phase) -> anyhow::Result<()> {
        let seconds = self.start.elapsed().as_secs_f64();
        // Status writes right after the last pod count too.
        tokio::time::sleep(Duration::from_secs(3)).await;
        self.sampler.abort();
        let cpu = cpu_seconds(self.pid)? - self.cpu;
        let peak = *self.peak.lock().unwrap();
        let calls = common::calls(NAMESPACE, &side.caller(), self.from, common::now()).await?;
        eprintln!(
            "[bench] {} {}: {seconds:.1} s, {} calls, {cpu:.1} CPU s, peak {peak:.0} MiB",
            side.label(),
            phase.name,
            calls.total
        );
        // Untimed: the next side or phase starts once this one's deleted pods are gone.
        let settled = settle(&side.client).await?;
        if side.builtin {
            (phase.builtin_seconds, phase.builtin_calls) = (seconds, calls);
            (phase.builtin_cpu_seconds, phase.builtin_peak_mib) = (cpu, peak);
            phase.builtin_settle_seconds = settled;
        } else {
            (phase.mini_seconds, phase.mini_calls) = (seconds, calls);
            (phase.mini_cpu_seconds, phase.mini_peak_mib) = (cpu, peak);
            phase.mini_settle_seconds = settled;
        }
        Ok(())
    }
}

/// User and system CPU seconds of a process so far.
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The fields after the command (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .context("/proc/PID/stat")?
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    Ok(ticks / 100.0)
}

/// One side: 100 Deployments or 100 MiniDeployments, handled alike.
struct Side {
    client: Client,
    api: Api<DynamicObject>,
    builtin: bool,
}

impl Side {
    fn new(client: &Client, builtin: bool) -> Self {
        let resource = if builtin {
            ApiResource::erase::<Deployment>(&())
        } else {
            ApiResource::erase::<MiniDeployment>(&())
        };
        Self {
            client: client.clone(),
            api: Api::namespaced_with(client.clone(), NAMESPACE, &resource),
            builtin,
        }
    }

    fn label(&self) -> &'static str {
        if self.builtin { "built-in" } else { "minik8s" }
    }

    fn caller(&self) -> common::Caller {
        if self.builtin {
            common::Caller::Builtin(&["deployment-controller", "replicaset-controller"])
        } else {
            common::Caller::Minik8s
        }
    }

    fn name(&self, i: usize) -> String {
        format!("{}-{i:03}", if self.builtin { "builtin" } else { "mini" })
    }

    async fn create_all(&self) -> anyhow::Result<()> {
        let (api_version, kind) = if self.builtin {
            (Deployment::api_version(&()), Deployment::kind(&()))
        } else {
            (MiniDeployment::api_version(&()), MiniDeployment::kind(&()))
        };
        let made: Vec<anyhow::Result<()>> = futures::stream::iter(0..DEPLOYMENTS)
            .map(|i| {
                let name = self.name(i);
                let manifest = json!({
                    "apiVersion": api_version, "kind": kind,
                    "metadata": {"name": name},
                    "spec": {
                        "replicas": REPLICAS,
                        "selector": {"matchLabels": {"app": name}},
                        "template": {
                            "metadata": {"labels": {"app": name}},
                            "spec": {"containers": [{"name": "app", "image": "app:v1"}]}
                        }
                    }
                });
                async move {
                    self.api
                        .create(&PostParams::default(), &serde_json::from_value(manifest)?)
                        .await?;
                    Ok(())
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        made.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
        Ok(())
    }

    async fn patch_all(&self, patch: Value) -> anyhow::Result<()> {
        let patched: Vec<anyhow::Result<()>> = futures::stream::iter(0..DEPLOYMENTS)
            .map(|i| {
                let (name, patch) = (self.name(i), &patch);
                async move {
                    self.api
                        .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
                        .await?;
                    Ok(())
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        patched.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
        Ok(())
    }

    /// Waits until every object of this side has `replicas` updated, available pods and no
    /// others, for its current generation.
    async fn wait_all(&self, replicas: i64) -> anyhow::Result<()> {
        let start = Instant::now();
        let mut last = Instant::now();
        loop {
            let list = self.api.list(&ListParams::default()).await?;
            let n = |v: &Value| v.as_i64().unwrap_or(0);
            let done = list
                .items
                .iter()
                .filter(|d| {
                    let s = &d.data["status"];
                    d.metadata.generation.unwrap_or(0) <= n(&s["observedGeneration"])
                        && [
                            n(&s["updatedReplicas"]),
                            n(&s["replicas"]),
                            n(&s["availableReplicas"]),
                        ] == [replicas; 3]
                })
                .count();
            if done == DEPLOYMENTS {
                return Ok(());
            }
            if start.elapsed() > TIMEOUT {
                bail!(
                    "{}: {done} of {DEPLOYMENTS} done after {TIMEOUT:?}",
                    self.label()
                );
            }
            if last.elapsed() > Duration::from_secs(15) {
                eprintln!(
                    "[bench]   {}: {done}/{DEPLOYMENTS} done after {:.0} s",
                    self.label(),
                    start.elapsed().as_secs_f64()
                );
                last = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// A set of one pod made now; the seconds until its controller has made the pod.
    async fn probe(&self) -> anyhow::Result<f64> {
        let resource = if self.builtin {
            ApiResource::erase::<ReplicaSet>(&())
        } else {
            ApiResource::erase::<MiniReplicaSet>(&())
        };
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), NAMESPACE, &resource);
        let name = format!("probe-{}", self.label());
        let manifest = json!({
            "apiVersion": resource.api_version, "kind": resource.kind,
            "metadata": {"name": name},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}},
                             "spec": {"containers": [{"name": "app", "image": "app:v1"}]}}
            }
        });
        let start = Instant::now();
        api.create(&PostParams::default(), &serde_json::from_value(manifest)?)
            .await?;
        let pods: Api<k8s_openapi::api::core::v1::Pod> =
            Api::namespaced(self.client.clone(), NAMESPACE);
        let selector = ListParams::default().labels(&format!("app={name}"));
        loop {
            if !pods.list(&selector).await?.items.is_empty() {
                return Ok(start.elapsed().as_secs_f64());
            }
            if start.elapsed() > Duration::from_secs(120) {
                bail!("{name} had no pod after 120 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn print_table(results: &[Result]) {
    println!();
    println!("Scale — 100 × 50 replicas per side (10,000 pods), no client limits, same cluster");
    for r in results.iter().filter(|r| r.minik8s_first) {
        println!("({}: minik8s's side went first in each phase)", r.setting);
    }
    println!(
        "{:<28} {:>11} {:>11} {:>7} {:>11} {:>10} {:>15} {:>15} {:>15} {:>9} {:>9} {:>10} {:>10}",
        "phase",
        "built-in",
        "minik8s",
        "ratio",
        "ceiling",
        "mk8s/ceil",
        "built-in calls",
        "minik8s calls",
        "ceiling calls",
        "kcm CPU",
        "mk8s CPU",
        "kcm peak",
        "mk8s peak"
    );
    for r in results {
        for p in &r.phases {
            println!(
                "{:<28} {:>9.1} s {:>9.1} s {:>7.2} {:>9.1} s {:>10.2} {:>15} {:>15} {:>15} {:>7.1} s {:>7.1} s {:>6.0} MiB {:>6.0} MiB",
                p.name,
                p.builtin_seconds,
                p.mini_seconds,
                p.mini_seconds / p.builtin_seconds,
                p.ceiling_seconds,
                p.mini_seconds / p.ceiling_seconds,
                p.builtin_calls.cell(),
                p.mini_calls.cell(),
                p.ceiling_calls.cell(),
                p.builtin_cpu_seconds,
                p.mini_cpu_seconds,
                p.builtin_peak_mib,
                p.mini_peak_mib
            );
        }
        let settles = |side: fn(&Phase) -> f64| {
            r.phases
                .iter()
                .map(|p| format!("{:.0}", side(p)))
                .collect::<Vec<_>>()
                .join(" / ")
        };
        println!(
            "untimed wait after each phase for its deleted pods to go (s): built-in {}, minik8s {}, ceiling {}",
            settles(|p| p.builtin_settle_seconds),
            settles(|p| p.mini_settle_seconds),
            settles(|p| p.ceiling_settle_seconds)
        );
        println!(
            "a new set of one pod served during the rollout: built-in {:.2} s, minik8s {:.2} s",
            r.builtin_probe_seconds, r.mini_probe_seconds
        );
        println!(
            "resident memory per cached pod: kube-controller-manager {:.1} KiB, minik8s {:.1} KiB",
            r.builtin_kib_per_pod, r.mini_kib_per_pod
        );
    }
}

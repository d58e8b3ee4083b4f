//! `make bench` (through tests/cluster/run-bench.sh), deployments: built-in Deployment against
//! MiniDeployment on the same cluster, at equal client limits.
//!
//! 1. A 100-replica rolling update (25% / 25%, pods Ready 1 s after they start): time from the
//!    image change until the rollout is complete.
//! 2. A 1000-replica deployment from nothing to all available.
//!
//!   --setting limited|unlimited   run against the cluster in KUBECONFIG
//!   --summary                     print the table of every setting measured

mod common;

use std::time::{Duration, Instant};

use anyhow::bail;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};
use kube::core::ApiResource;
use kube::{Api, Client, Resource};
use minik8s::api::MiniDeployment;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

const NAMESPACE: &str = "bench-deployment";
const TIMEOUT: Duration = Duration::from_secs(900);

#[derive(Debug, Serialize, Deserialize)]
struct Scenario {
    name: String,
    builtin_seconds: f64,
    mini_seconds: f64,
    /// mini / built-in; below 1 means minik8s was faster.
    ratio: f64,
    /// API calls each side made about the bench namespace in the timed part (audit log).
    #[serde(default)]
    builtin_calls: common::Calls,
    #[serde(default)]
    mini_calls: common::Calls,
}

#[derive(Debug, Serialize, Deserialize)]
struct Result {
    setting: String,
    qps: Option<f64>,
    burst: Option<u32>,
    scenarios: Vec<Scenario>,
    /// Resident memory at the end, with every pod of both scenarios in the caches.
    minik8s_rss_mib: f64,
    kube_controller_manager_rss_mib: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Some(run) = common::start(NAMESPACE, "replicaset,deployment").await? else {
        return summary();
    };
    let common::Run {
        setting,
        qps,
        burst,
        client,
        mut controller,
    } = run;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut scenarios = Vec::new();
    // 1. Rolling update of 100 replicas.
    let mut times = [0.0; 2];
    let mut calls: [common::Calls; 2] = Default::default();
    for (i, builtin) in [true, false].into_iter().enumerate() {
        let d = Twin::new(&client, builtin, "rolling");
        d.create(100, "1s").await?;
        d.wait_complete(100).await?;
        let start = Instant::now();
        let from = common::now();
        d.set_image("app:v2").await?;
        d.wait_complete(100).await?;
        times[i] = start.elapsed().as_secs_f64();
        calls[i] = d.calls_since(from).await?;
        eprintln!(
            "[bench] {setting}: {} rolling update of 100 in {:.1} s",
            d.kind(),
            times[i]
        );
    }
    scenarios.push(scenario(
        "rolling update, 100 replicas, 25%/25%",
        times,
        std::mem::take(&mut calls),
    ));

    // 2. 1000 replicas from nothing.
    for (i, builtin) in [true, false].into_iter().enumerate() {
        let d = Twin::new(&client, builtin, "thousand");
        let start = Instant::now();
        let from = common::now();
        d.create(1000, "0s").await?;
        d.wait_complete(1000).await?;
        times[i] = start.elapsed().as_secs_f64();
        calls[i] = d.calls_since(from).await?;
        eprintln!(
            "[bench] {setting}: {} 1000 replicas available in {:.1} s",
            d.kind(),
            times[i]
        );
    }
    scenarios.push(scenario(
        "1000 replicas from zero to available",
        times,
        std::mem::take(&mut calls),
    ));
    tokio::time::sleep(Duration::from_secs(10)).await;
    let minik8s_rss_mib = common::rss_mib(controller.id())?;
    let kube_controller_manager_rss_mib = common::kube_controller_manager_rss_mib()?;
    controller.kill()?;
    let _ = controller.wait();

    let result = Result {
        setting: setting.clone(),
        qps,
        burst,
        scenarios,
        minik8s_rss_mib,
        kube_controller_manager_rss_mib,
    };
    let path = common::save("deployment", &setting, &result)?;
    print_table(&[result]);
    eprintln!("[bench] wrote {}", path.display());
    Ok(())
}

fn scenario(
    name: &str,
    [builtin, mini]: [f64; 2],
    [builtin_calls, mini_calls]: [common::Calls; 2],
) -> Scenario {
    Scenario {
        name: name.into(),
        builtin_seconds: builtin,
        mini_seconds: mini,
        ratio: mini / builtin,
        builtin_calls,
        mini_calls,
    }
}

/// A Deployment or its MiniDeployment twin, handled alike.
struct Twin {
    api: Api<DynamicObject>,
    builtin: bool,
    name: String,
}

impl Twin {
    fn new(client: &Client, builtin: bool, scenario: &str) -> Self {
        let resource = if builtin {
            ApiResource::erase::<Deployment>(&())
        } else {
            ApiResource::erase::<MiniDeployment>(&())
        };
        let name = format!("{scenario}-{}", if builtin { "builtin" } else { "mini" });
        Self {
            api: Api::namespaced_with(client.clone(), NAMESPACE, &resource),
            builtin,
            name,
        }
    }

    fn kind(&self) -> &'static str {
        if self.builtin {
            "Deployment"
        } else {
            "MiniDeployment"
        }
    }

    async fn create(&self, replicas: i32, ready_after: &str) -> anyhow::Result<()> {
        let (api_version, kind) = if self.builtin {
            (Deployment::api_version(&()), Deployment::kind(&()))
        } else {
            (MiniDeployment::api_version(&()), MiniDeployment::kind(&()))
        };
        let manifest = json!({
            "apiVersion": api_version, "kind": kind,
            "metadata": {"name": self.name},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": self.name}},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                "template": {
                    "metadata": {
                        "labels": {"app": self.name},
                        "annotations": {"sim.minik8s.dev/behavior": "ready-after", "sim.minik8s.dev/ready-after": ready_after}
                    },
                    "spec": {"containers": [{"name": "app", "image": "app:v1"}]}
                }
            }
        });
        self.api
            .create(&PostParams::default(), &serde_json::from_value(manifest)?)
            .await?;
        Ok(())
    }

    async fn set_image(&self, image: &str) -> anyhow::Result<()> {
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}}});
        self.api
            .patch(&self.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        Ok(())
    }

    /// The calls this twin's controllers made from `from` until now plus a settling moment
    /// (the status writes after the last pod became available count too).
    async fn calls_since(
        &self,
        from: k8s_openapi::jiff::Timestamp,
    ) -> anyhow::Result<common::Calls> {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let caller = if self.builtin {
            common::Caller::Builtin(&["deployment-controller", "replicaset-controller"])
        } else {
            common::Caller::Minik8s
        };
        common::calls(NAMESPACE, &caller, from, common::now()).await
    }

    /// Waits until the current template's pods are all there and available.
    async fn wait_complete(&self, replicas: i64) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            let d = self.api.get(&self.name).await?;
            let s = &d.data["status"];
            let n = |v: &Value| v.as_i64().unwrap_or(0);
            let current = d.metadata.generation.unwrap_or(0) <= n(&s["observedGeneration"]);
            if current
                && [
                    n(&s["updatedReplicas"]),
                    n(&s["replicas"]),
                    n(&s["availableReplicas"]),
                ] == [replicas; 3]
            {
                return Ok(());
            }
            if start.elapsed() > TIMEOUT {
                bail!("{} {} did not complete: {s}", self.kind(), self.name);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn summary() -> anyhow::Result<()> {
    print_table(&common::load::<Result>("deployment")?);
    Ok(())
}

fn print_table(results: &[Result]) {
    println!();
    println!(
        "Deployments — built-in Deployment vs MiniDeployment (same cluster, equal client limits)"
    );
    println!(
        "{:<10} {:>8} {:<40} {:>11} {:>11} {:>7} {:>14} {:>14}",
        "setting",
        "limit",
        "scenario",
        "built-in",
        "minik8s",
        "ratio",
        "built-in calls",
        "minik8s calls"
    );
    for r in results {
        let limit = r.qps.map_or("none".to_string(), |q| {
            format!("{q}/{}", r.burst.unwrap_or(0))
        });
        for s in &r.scenarios {
            println!(
                "{:<10} {:>8} {:<40} {:>9.1} s {:>9.1} s {:>7.2} {:>14} {:>14}",
                r.setting,
                limit,
                s.name,
                s.builtin_seconds,
                s.mini_seconds,
                s.ratio,
                s.builtin_calls.cell(),
                s.mini_calls.cell()
            );
        }
        println!(
            "{:<10} {:>8} {:<40} {:>7.1} MiB {:>7.1} MiB {:>7.2}",
            r.setting,
            limit,
            "resident memory (kube-controller-manager)",
            r.kube_controller_manager_rss_mib,
            r.minik8s_rss_mib,
            r.minik8s_rss_mib / r.kube_controller_manager_rss_mib
        );
    }
    println!("calls: writes/all requests about the bench namespace (audit log; watches left out)");
    for r in results {
        for s in &r.scenarios {
            common::print_calls(
                &format!("{} {}", r.setting, s.name),
                &s.builtin_calls,
                &s.mini_calls,
            );
        }
    }
}

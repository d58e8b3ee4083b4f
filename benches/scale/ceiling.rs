//! The ceiling of the scale scenario: the same pods made, replaced and removed by a client
//! with no logic at all (no sets, no status, no rollout steps), so the table can say how much
//! of each phase's time is the cluster's own. It runs on a fresh cluster of its own, of the
//! same size, just before the controllers' run: a cluster without their pods and without the
//! history of their churn is the most favourable for the ceiling, so a controller is never
//! flattered by it (run on the same cluster first, the ceiling's 20,000 pods made and
//! removed slowed both sides after it by half).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::bail;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, PostParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use crate::{DEPLOYMENTS, NAMESPACE, REPLICAS, SCALED_DOWN, TIMEOUT};

/// Requests in flight: more than the API server serves at once on two cores, so the
/// ceiling is the cluster's rate and not the client's.
const IN_FLIGHT: usize = 256;
const LABEL: &str = "minik8s-bench";

pub struct Ceiling {
    pods: Api<Pod>,
    cache: Store<Pod>,
}

impl Ceiling {
    /// A client of its own, over HTTP/2 as minik8s's (so the transport is not what differs),
    /// and a cache of the ceiling's pods that the waits read instead of listing 5000 pods.
    pub async fn start() -> anyhow::Result<Self> {
        minik8s::runtime::client::set_user_agent(crate::common::CEILING_USER_AGENT, "-");
        let client: Client = minik8s::runtime::client::build(None).await?;
        let pods: Api<Pod> = Api::namespaced(client, NAMESPACE);
        let (cache, writer) = reflector::store();
        let stream = reflector::reflector(
            writer,
            watcher(
                pods.clone(),
                watcher::Config::default().labels(&format!("{LABEL}=ceiling")),
            ),
        );
        tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream.default_backoff());
            while stream.next().await.is_some() {}
        });
        cache.wait_until_ready().await?;
        Ok(Self { pods, cache })
    }

    /// Creates 100 × 50 pods of version `v1`; seconds until all are Ready.
    pub async fn create(&self) -> anyhow::Result<f64> {
        let start = Instant::now();
        self.send(pod_names("v1", REPLICAS).map(Request::Create))
            .await?;
        self.wait("create", |c| c.ready("v1") == total(REPLICAS))
            .await?;
        Ok(start.elapsed().as_secs_f64())
    }

    /// Replaces every `v1` pod by a `v2` one at once, with none of a rollout's steps; seconds
    /// until every `v2` pod is Ready and every `v1` pod is being deleted.
    pub async fn roll(&self) -> anyhow::Result<f64> {
        let start = Instant::now();
        let requests = pod_names("v2", REPLICAS)
            .zip(pod_names("v1", REPLICAS))
            .flat_map(|(new, old)| [Request::Create(new), Request::Delete(old)]);
        self.send(requests).await?;
        self.wait("roll", |c| {
            c.ready("v2") == total(REPLICAS) && c.active("v1") == 0
        })
        .await?;
        Ok(start.elapsed().as_secs_f64())
    }

    /// Deletes 40 of each group's 50 pods; seconds until only 10 a group are not deleted.
    pub async fn scale_down(&self) -> anyhow::Result<f64> {
        let start = Instant::now();
        let doomed = pod_names("v2", REPLICAS).filter(|pod| pod.index >= SCALED_DOWN);
        self.send(doomed.map(Request::Delete)).await?;
        self.wait("scale down", |c| c.active("v2") == total(SCALED_DOWN))
            .await?;
        Ok(start.elapsed().as_secs_f64())
    }

    async fn send(&self, requests: impl Iterator<Item = Request>) -> anyhow::Result<()> {
        let sent: Vec<anyhow::Result<()>> = futures::stream::iter(requests)
            .map(|request| async move {
                match request {
                    Request::Create(name) => {
                        self.pods
                            .create(&PostParams::default(), &manifest(&name)?)
                            .await?;
                    }
                    Request::Delete(name) => {
                        self.pods
                            .delete(&name.to_string(), &DeleteParams::default())
                            .await?;
                    }
                }
                Ok(())
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        sent.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
        Ok(())
    }

    async fn wait(&self, what: &str, done: impl Fn(&Counts) -> bool) -> anyhow::Result<()> {
        let start = Instant::now();
        let mut last = Instant::now();
        loop {
            let counts = Counts::of(&self.cache.state());
            if done(&counts) {
                return Ok(());
            }
            if start.elapsed() > TIMEOUT {
                bail!("ceiling {what}: not done after {TIMEOUT:?}: {counts:?}");
            }
            if last.elapsed() > Duration::from_secs(15) {
                eprintln!(
                    "[bench]   ceiling {what}: {counts:?} after {:.0} s",
                    start.elapsed().as_secs_f64()
                );
                last = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A pod of the ceiling: its group (the Deployment it stands for), version and index.
#[derive(Clone, Copy)]
struct PodName {
    group: usize,
    version: &'static str,
    index: i64,
}

impl std::fmt::Display for PodName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            group,
            version,
            index,
        } = self;
        write!(f, "ceiling-{group:03}-{version}-{index:02}")
    }
}

enum Request {
    Create(PodName),
    Delete(PodName),
}

/// Every group's pods of `version` below `per_group`, the groups interleaved so that all
/// move at once, as all Deployments do.
fn pod_names(version: &'static str, per_group: i64) -> impl Iterator<Item = PodName> {
    (0..per_group).flat_map(move |index| {
        (0..DEPLOYMENTS).map(move |group| PodName {
            group,
            version,
            index,
        })
    })
}

fn total(per_group: i64) -> usize {
    DEPLOYMENTS * per_group as usize
}

/// The pod a controller's side would make, without the owner: same container, labels of
/// the same size.
fn manifest(name: &PodName) -> anyhow::Result<Pod> {
    let PodName { group, version, .. } = name;
    Ok(serde_json::from_value(json!({
        "metadata": {
            "name": name.to_string(),
            "labels": {LABEL: "ceiling", "app": format!("ceiling-{group:03}"), "version": version}
        },
        "spec": {"containers": [{"name": "app", "image": format!("app:{version}")}]}
    }))?)
}

/// The ceiling's pods by version: how many are Ready, how many are not being deleted.
#[derive(Debug, Default)]
struct Counts {
    pods: BTreeMap<String, (usize, usize)>,
}

impl Counts {
    fn of(pods: &[std::sync::Arc<Pod>]) -> Self {
        let mut counts = Self::default();
        for pod in pods {
            let version = pod.labels().get("version").cloned().unwrap_or_default();
            let entry = counts.pods.entry(version).or_default();
            entry.0 += usize::from(crate::common::has_ready_condition(pod));
            entry.1 += usize::from(pod.metadata.deletion_timestamp.is_none());
        }
        counts
    }

    fn ready(&self, version: &str) -> usize {
        self.pods.get(version).map_or(0, |c| c.0)
    }

    fn active(&self, version: &str) -> usize {
        self.pods.get(version).map_or(0, |c| c.1)
    }
}

//! The scheduler process (upstream `scheduler.go`, `schedule_one.go`, `eventhandlers.go`):
//! informers feed the cache and the queue, one loop takes a pod at a time through the pure
//! [`schedule`](super::schedule::schedule), assumes it on the chosen node and binds it in
//! the background; failures become a FailedScheduling event and the PodScheduled condition.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use k8s_openapi::api::core::v1::{Node, ObjectReference};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use tokio::sync::{Notify, Semaphore};

use super::cache::Cache;
use super::pod::Pod;
use super::queue::Queue;
use super::schedule::{self, Profile, Rng};
use crate::runtime::api_error;
use crate::runtime::client::{self, RateLimit};
use crate::runtime::events::EventRecorder;
use crate::runtime::health::{self, Readiness};
use crate::runtime::informer::{EventHandler, Informer};
use crate::runtime::leader::{Acquired, Election, Leadership};

/// How often pods unschedulable for 5 minutes are looked at (upstream: every 30 s).
const FLUSH_PERIOD: Duration = Duration::from_secs(30);

#[derive(Clone, Debug)]
pub struct Options {
    /// The `schedulerName` of the pods to place.
    pub name: String,
    pub rate_limit: Option<RateLimit>,
    pub percentage_of_nodes_to_score: i64,
    /// Seed of the tie-break; None: from the clock.
    pub seed: Option<u64>,
    pub health_address: Option<std::net::SocketAddr>,
    pub leader_election: Option<Election>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            name: super::SCHEDULER_NAME.into(),
            rate_limit: Some(RateLimit::SCHEDULER),
            percentage_of_nodes_to_score: 0,
            seed: None,
            health_address: None,
            leader_election: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach the API server ({0}); set KUBECONFIG or run inside a cluster")]
    Connect(#[from] kube::Error),
    #[error("cannot serve the health endpoints: {0}")]
    Health(#[from] std::io::Error),
    #[error("lost the leader lease; exiting so that a fresh start can compete for it again")]
    LostLease,
}

/// What the informer handlers and the loop share.
struct Shared {
    cache: Mutex<Cache>,
    queue: Mutex<Queue>,
    /// Woken when the queue may have a pod to pop.
    wake: Notify,
    name: String,
    /// Bindings in flight. kube-scheduler binds each pod in a goroutine of its own, without a
    /// bound. When this client spoke HTTP/1.1 (one connection per request in flight) an
    /// unbounded burst opened one connection per pod: 5000 for 5000 pods waiting. Over HTTP/2
    /// (`runtime::connection`) they are streams of one connection; the bound keeps a burst's
    /// requests and bodies in memory to a few dozen.
    bindings: Semaphore,
}

/// Bindings in flight at once. Over HTTP/2, 500 nodes, no limits: 16 bound 429 pods/s, 64
/// bound 656 and 256 bound 612 (docs/scheduler.md), so past 64 the scheduling itself sets
/// the pace and more in flight only holds more memory.
const BINDINGS_IN_FLIGHT: usize = 64;

/// Events written at once. kube-scheduler writes each in a goroutine of its own (client-go's
/// `events.EventBroadcaster`), so a burst of bindings loses none of its `Scheduled` events;
/// one at a time, 5000 pods bound in 20 s overflowed the queue of 1000.
const EVENT_WRITERS: usize = BINDINGS_IN_FLIGHT;

fn key(pod: &Pod) -> String {
    format!("{}/{}", pod.namespace().unwrap_or_default(), pod.name_any())
}

impl Shared {
    /// Upstream `responsibleForPod` plus the queue's admission rules: an unassigned pod of
    /// this scheduler, not being deleted, with no scheduling gates.
    fn wants(&self, pod: &Pod) -> bool {
        let Some(spec) = pod.spec.as_ref() else {
            return false;
        };
        spec.node_name.as_deref().is_none_or(str::is_empty)
            && spec
                .scheduler_name
                .as_deref()
                .unwrap_or("default-scheduler")
                == self.name
            && pod.metadata.deletion_timestamp.is_none()
            && spec.scheduling_gates.as_ref().is_none_or(Vec::is_empty)
            && !matches!(
                pod.status.as_ref().and_then(|s| s.phase.as_deref()),
                Some("Succeeded" | "Failed")
            )
    }

    fn is_assigned(pod: &Pod) -> bool {
        pod.spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_some_and(|n| !n.is_empty())
    }

    fn room_may_have_appeared(&self) {
        self.queue
            .lock()
            .expect("queue lock")
            .move_all(Instant::now());
        self.wake.notify_one();
    }
}

struct PodHandler(Arc<Shared>);

impl EventHandler<Pod> for PodHandler {
    fn on_add(&self, pod: &Arc<Pod>) {
        self.on_update(pod, pod);
    }

    fn on_update(&self, old: &Arc<Pod>, pod: &Arc<Pod>) {
        let shared = &self.0;
        if Shared::is_assigned(pod) {
            shared
                .cache
                .lock()
                .expect("cache lock")
                .observe_pod(pod.clone());
            shared.queue.lock().expect("queue lock").delete(&key(pod));
            // A pod placed elsewhere can make room for pods that wait for a peer
            // (InterPodAffinity, PodTopologySpread); a finished one frees its resources.
            if !Shared::is_assigned(old) || old.status != pod.status {
                shared.room_may_have_appeared();
            }
            return;
        }
        let mut queue = shared.queue.lock().expect("queue lock");
        if shared.wants(pod) {
            queue.add(key(pod), pod.clone(), Instant::now());
            drop(queue);
            shared.wake.notify_one();
        } else {
            queue.delete(&key(pod));
        }
    }

    fn on_delete(&self, pod: &Arc<Pod>) {
        let shared = &self.0;
        shared.cache.lock().expect("cache lock").remove_pod(pod);
        shared.queue.lock().expect("queue lock").delete(&key(pod));
        if Shared::is_assigned(pod) {
            shared.room_may_have_appeared();
        }
    }
}

struct NodeHandler(Arc<Shared>);

/// What of a node can change a scheduling decision (upstream's node update events: labels,
/// taints, allocatable, unschedulable, conditions are left to the plugins).
fn schedulable_view(node: &Node) -> impl PartialEq + '_ {
    (
        &node.metadata.labels,
        node.spec.as_ref().map(|s| (&s.taints, s.unschedulable)),
        node.status.as_ref().map(|s| (&s.allocatable, &s.images)),
    )
}

impl EventHandler<Node> for NodeHandler {
    fn on_add(&self, node: &Arc<Node>) {
        self.0
            .cache
            .lock()
            .expect("cache lock")
            .upsert_node(node.clone());
        self.0.room_may_have_appeared();
    }

    fn on_update(&self, old: &Arc<Node>, node: &Arc<Node>) {
        self.0
            .cache
            .lock()
            .expect("cache lock")
            .upsert_node(node.clone());
        if schedulable_view(old) != schedulable_view(node) {
            self.0.room_may_have_appeared();
        }
    }

    fn on_delete(&self, node: &Arc<Node>) {
        self.0
            .cache
            .lock()
            .expect("cache lock")
            .remove_node(&node.name_any());
    }
}

/// Runs the scheduler until `shutdown`.
pub async fn run(
    options: Options,
    profile: Profile,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let shutdown = shutdown.boxed().shared();
    // Under leader election every client writes only while the lease is held.
    let clients = client::Clients::new(
        options.rate_limit,
        options.leader_election.as_ref().map(|e| e.fence.clone()),
    );
    let informer_client = clients.build().await?;
    let shared = Arc::new(Shared {
        cache: Mutex::default(),
        queue: Mutex::default(),
        wake: Notify::new(),
        name: options.name.clone(),
        bindings: Semaphore::new(BINDINGS_IN_FLIGHT),
    });
    let mut pods: Informer<Pod> = Informer::new(
        Api::all(informer_client.clone()),
        watcher::Config::default(),
    )
    .transform(super::pod::keep_what_scheduling_reads);
    pods.add_handler(Arc::new(PodHandler(shared.clone())));
    let mut nodes: Informer<Node> = Informer::new(
        Api::all(informer_client.clone()),
        watcher::Config::default(),
    );
    nodes.add_handler(Arc::new(NodeHandler(shared.clone())));
    let pdbs: Informer<PodDisruptionBudget> =
        Informer::new(Api::all(informer_client), watcher::Config::default());
    let (pod_cache, node_cache, pdb_cache) = (pods.cache(), nodes.cache(), pdbs.cache());

    let readiness = Readiness::default();
    if let Some(address) = options.health_address {
        let listener = tokio::net::TcpListener::bind(address).await?;
        tracing::info!(%address, "serving /healthz, /readyz and /metrics");
        let router = health::router(readiness.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
    }
    let informers = futures::future::join3(pods.run(), nodes.run(), pdbs.run()).map(drop);
    let client = clients.build().await?;
    let events =
        EventRecorder::start_with_writers(clients.build().await?, &options.name, EVENT_WRITERS);
    let election_client = match options.leader_election {
        Some(_) => Some(clients.build().await?),
        None => None,
    };
    let scheduling = async move {
        pod_cache.wait_synced().await;
        node_cache.wait_synced().await;
        pdb_cache.wait_synced().await;
        readiness.set_ready();
        // Every replica keeps its cache warm; only the leader schedules.
        let election = options.leader_election.as_ref().zip(election_client);
        let mut leadership = match Leadership::acquire(election, shutdown.clone()).await {
            Acquired::ShutDown => return Ok(()),
            acquired => acquired,
        };
        tracing::info!(scheduler = %options.name, "scheduling");
        let seed = options
            .seed
            .unwrap_or_else(|| Timestamp::now().as_nanosecond() as u64);
        let looping = schedule_loop(shared, profile, client, events, pdb_cache, seed);
        let outcome = tokio::select! {
            () = looping => Ok(()),
            () = leadership.lost() => Err(Error::LostLease),
            () = shutdown.clone() => Ok(()),
        };
        leadership.release().await;
        outcome
    };
    tokio::select! {
        outcome = scheduling => outcome,
        () = informers => Ok(()),
    }
}

/// Upstream `ScheduleOne`, forever.
async fn schedule_loop(
    shared: Arc<Shared>,
    profile: Profile,
    client: Client,
    events: EventRecorder,
    pdbs: Arc<crate::runtime::informer::Cache<PodDisruptionBudget>>,
    seed: u64,
) {
    let mut rng = Rng::new(seed);
    let mut start = 0;
    let mut last_flush = Instant::now();
    loop {
        let now = Instant::now();
        if now.duration_since(last_flush) >= FLUSH_PERIOD {
            shared
                .queue
                .lock()
                .expect("queue lock")
                .flush_unschedulable(now);
            last_flush = now;
        }
        let (popped, cycle, next_backoff) = {
            let mut queue = shared.queue.lock().expect("queue lock");
            (queue.pop(now), queue.cycle(), queue.next_backoff())
        };
        let Some(queued) = popped else {
            // Sleep until a pod arrives, a backoff ends, or the next flush.
            let until = next_backoff
                .unwrap_or(now + FLUSH_PERIOD)
                .min(last_flush + FLUSH_PERIOD);
            tokio::select! {
                () = shared.wake.notified() => {}
                () = tokio::time::sleep_until(until.into()) => {}
            }
            continue;
        };
        let pod = queued.pod.clone();
        let started = Instant::now();
        let attempt = {
            let mut cache = shared.cache.lock().expect("cache lock");
            let decision = schedule::schedule(&profile, &pod, cache.snapshot(), start, &mut rng);
            start = decision.next_start;
            match decision.chosen.clone() {
                Some(node) => {
                    cache.assume(pod.clone(), &node);
                    Ok(node)
                }
                None => {
                    let all_pdbs: Vec<PodDisruptionBudget> =
                        pdbs.list_all().into_iter().map(|p| (*p).clone()).collect();
                    let post = super::preemption::post_filter(
                        &profile,
                        &pod,
                        cache.snapshot(),
                        &decision,
                        &all_pdbs,
                    );
                    Err((decision.fit_error(), post))
                }
            }
        };
        let metrics = crate::runtime::metrics::global();
        let result = if attempt.is_ok() {
            "scheduled"
        } else {
            "unschedulable"
        };
        metrics.schedule_attempt(result, started.elapsed());
        metrics.pending_pods(shared.queue.lock().expect("queue lock").lengths());
        match attempt {
            Ok(node) => {
                tokio::spawn(bind(
                    shared.clone(),
                    client.clone(),
                    events.clone(),
                    pod,
                    queued.key,
                    node,
                ));
            }
            Err((fit_error, post)) => {
                let message = if post.message.is_empty() {
                    fit_error
                } else {
                    format!("{fit_error} {}", post.message)
                };
                shared.queue.lock().expect("queue lock").unschedulable(
                    &queued.key,
                    cycle,
                    Instant::now(),
                );
                tracing::debug!(pod = %queued.key, %message, "unschedulable");
                tokio::spawn(record_failure(
                    client.clone(),
                    events.clone(),
                    pod,
                    "Unschedulable",
                    message,
                    post.preempt,
                ));
            }
        }
    }
}

fn reference(pod: &Pod) -> ObjectReference {
    ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("Pod".into()),
        namespace: pod.namespace(),
        name: Some(pod.name_any()),
        uid: pod.uid(),
        resource_version: pod.resource_version(),
        ..Default::default()
    }
}

/// Upstream `bind` + `finishBinding`: the binding subresource; on failure the assumption
/// is dropped and the pod retried after its backoff.
async fn bind(
    shared: Arc<Shared>,
    client: Client,
    events: EventRecorder,
    pod: Arc<Pod>,
    key: String,
    node: String,
) {
    let namespace = pod.namespace().unwrap_or_default();
    let binding = json!({
        "apiVersion": "v1", "kind": "Binding",
        "metadata": {"name": pod.name_any(), "namespace": namespace, "uid": pod.uid()},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    });
    let api: Api<Pod> = Api::namespaced(client, &namespace);
    let in_flight = shared.bindings.acquire().await.expect("never closed");
    let result: Result<serde_json::Value, _> = api
        .create_subresource("binding", &pod.name_any(), &PostParams::default(), &binding)
        .await;
    drop(in_flight);
    match result {
        Ok(_) => {
            shared.queue.lock().expect("queue lock").done(&key);
            events.normal(
                &reference(&pod),
                "Scheduled",
                format!(
                    "Successfully assigned {namespace}/{} to {node}",
                    pod.name_any()
                ),
            );
        }
        Err(error) => {
            let message = api_error::message(&error);
            tracing::warn!(pod = %key, %node, error = %message, "binding failed; retrying after backoff");
            shared.cache.lock().expect("cache lock").forget(&pod);
            let gone = matches!(&error, kube::Error::Api(s) if s.code == 404);
            {
                let mut queue = shared.queue.lock().expect("queue lock");
                if gone {
                    queue.delete(&key);
                } else {
                    queue.failed(&key, Instant::now());
                }
            }
            shared.wake.notify_one();
            if !gone {
                record_failure(
                    api.into_client(),
                    events,
                    pod,
                    "SchedulerError",
                    message,
                    None,
                )
                .await;
            }
        }
    }
}

/// Upstream `handleSchedulingFailure`: the event, the PodScheduled condition (reason
/// Unschedulable, or SchedulerError for an error), and the preemption chosen by the
/// PostFilter, if any.
async fn record_failure(
    client: Client,
    events: EventRecorder,
    pod: Arc<Pod>,
    reason: &'static str,
    message: String,
    preempt: Option<super::preemption::Victims>,
) {
    events.warning(&reference(&pod), "FailedScheduling", message.clone());
    let namespace = pod.namespace().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let current = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"));
    let same = current.is_some_and(|c| {
        c.status == "False"
            && c.reason.as_deref() == Some(reason)
            && c.message.as_deref() == Some(message.as_str())
    });
    let nominated = preempt.as_ref().map(|v| v.node.clone());
    let nomination_unchanged = pod
        .status
        .as_ref()
        .and_then(|s| s.nominated_node_name.clone())
        == nominated;
    if !same || !nomination_unchanged {
        let patch = json!({"status": {
            "conditions": [{"type": "PodScheduled", "status": "False", "reason": reason,
                            "message": message, "lastProbeTime": null,
                            "lastTransitionTime": Timestamp::now().to_string()}],
            "nominatedNodeName": nominated,
        }});
        if let Err(error) = api
            .patch_status(
                &pod.name_any(),
                &PatchParams::default(),
                &Patch::Strategic(&patch),
            )
            .await
        {
            tracing::debug!(pod = %key(&pod), error = %api_error::message(&error), "cannot update the PodScheduled condition");
        }
    }
    let Some(victims) = preempt else {
        return;
    };
    // Upstream `prepareCandidate`: the victims are deleted, each with a Preempted event.
    for victim in victims.pods {
        let namespace = victim.namespace().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
        let params = DeleteParams {
            preconditions: Some(kube::api::Preconditions {
                uid: victim.uid(),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(&victim.name_any(), &params).await {
            Ok(_) => events.normal(
                &reference(&victim),
                "Preempted",
                format!(
                    "Preempted by pod {} on node {}",
                    pod.uid().unwrap_or_default(),
                    victims.node
                ),
            ),
            Err(error) => {
                tracing::warn!(victim = %key(&victim), error = %api_error::message(&error), "cannot preempt")
            }
        }
    }
}

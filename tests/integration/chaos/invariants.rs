//! Invariants over a workload's pods, checked at every watch event rather than only at the
//! end: how many pods are active at most, how many stay available once they were, and that
//! no pod is bound to a second node. A breach of the bound on active pods says how many pods
//! were above their MiniReplicaSet's replicas then, and what those replicas summed to: a
//! breach with the sets' replicas within the bound is pods not yet deleted, not sets sized
//! wrong. Pods above the replicas of a set scaled down in the last 10 s are not counted
//! against the bound: upstream's Deployment controller bounds the sets' replicas, and grows
//! the new set before the set controller has deleted the old set's pods.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::runtime::watcher;
use minik8s::api::MiniReplicaSet;

/// What the pods may never do. `most_active` can be raised while the scenario runs (a
/// scale-up raises what is allowed); `fewest_available` is armed once that many pods were
/// available at the same time.
pub struct Bounds {
    pub most_active: Arc<AtomicUsize>,
    pub fewest_available: Option<usize>,
}

impl Bounds {
    /// A rolling update's: `replicas + maxSurge` at most, `replicas − maxUnavailable` at least.
    pub fn rolling(replicas: i32) -> Self {
        let (most, fewest) = super::rolling_bounds(replicas);
        Self {
            most_active: Arc::new(AtomicUsize::new(most)),
            fewest_available: Some(fewest),
        }
    }

    /// At most `most` active pods, a bound the scenario may raise as it scales.
    pub fn at_most(most: &Arc<AtomicUsize>) -> Self {
        Self {
            most_active: most.clone(),
            fewest_available: None,
        }
    }
}

/// What the watch saw, for the report and the assertions.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    pub events: u64,
    pub max_active: usize,
    /// The fewest available pods seen after the availability bound was armed.
    pub min_available: Option<usize>,
    pub violations: Vec<String>,
}

#[derive(Clone, Default)]
struct PodState {
    active: bool,
    available: bool,
    node: Option<String>,
    /// The name of the pod's controller (its set).
    owner: Option<String>,
}

/// An event of either watch.
enum Watched {
    Pod(Box<watcher::Event<Pod>>),
    Set(Box<watcher::Event<MiniReplicaSet>>),
}

pub struct Invariants {
    seen: Arc<Mutex<Seen>>,
    task: tokio::task::JoinHandle<()>,
}

impl Invariants {
    /// Starts watching the pods `labels` selects in `namespace`; returns once the initial
    /// list is in.
    /// Watches the pods labelled `app=<app>` in the test's namespace.
    pub async fn watch(ns: &crate::common::TestNamespace, app: &str, bounds: Bounds) -> Self {
        let api: Api<Pod> = ns.api();
        let sets_api: Api<MiniReplicaSet> = ns.api();
        let labels = format!("app={app}");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let shared = seen.clone();
        let (ready, is_ready) = tokio::sync::oneshot::channel();
        let config = watcher::Config::default().labels(&labels);
        let task = tokio::spawn(async move {
            let mut ready = Some(ready);
            let mut pods: HashMap<String, PodState> = HashMap::new();
            // A re-list is collected aside and checked when complete, so that a half-read
            // list is never taken for pods that vanished.
            let mut relisting: Option<HashMap<String, PodState>> = None;
            let mut armed = false;
            // Set name → spec.replicas as last seen, and when they last went down.
            let mut sets: HashMap<String, SetState> = HashMap::new();
            let pod_events =
                watcher::watcher(api, config).map(|e| e.map(|e| Watched::Pod(Box::new(e))));
            let set_events = watcher::watcher(sets_api, watcher::Config::default().labels(&labels))
                .map(|e| e.map(|e| Watched::Set(Box::new(e))));
            let mut events = futures::stream::select(pod_events.boxed(), set_events.boxed());
            while let Some(event) = events.next().await {
                let event = match event {
                    Ok(Watched::Pod(event)) => *event,
                    Ok(Watched::Set(event)) => {
                        record_set(&mut sets, *event);
                        continue;
                    }
                    Err(_) => continue,
                };
                let mut seen = shared.lock().unwrap();
                seen.events += 1;
                match event {
                    watcher::Event::Init => {
                        relisting = Some(HashMap::new());
                        continue;
                    }
                    watcher::Event::InitApply(pod) => {
                        if let Some(list) = relisting.as_mut() {
                            let name = pod.metadata.name.clone().unwrap_or_default();
                            list.insert(name, state_of(&pod));
                        }
                        continue;
                    }
                    watcher::Event::InitDone => {
                        let list = relisting.take().unwrap_or_default();
                        for (name, state) in &list {
                            check_binding(&mut seen, &pods, name, state);
                        }
                        pods = list;
                        if let Some(ready) = ready.take() {
                            let _ = ready.send(());
                        }
                    }
                    watcher::Event::Apply(pod) => {
                        let name = pod.metadata.name.clone().unwrap_or_default();
                        let state = state_of(&pod);
                        check_binding(&mut seen, &pods, &name, &state);
                        pods.insert(name, state);
                    }
                    watcher::Event::Delete(pod) => {
                        pods.remove(pod.metadata.name.as_deref().unwrap_or_default());
                    }
                }
                let active = pods.values().filter(|p| p.active).count();
                let available = pods.values().filter(|p| p.available).count();
                seen.max_active = seen.max_active.max(active);
                let most = bounds.most_active.load(Ordering::SeqCst);
                if active > most {
                    let (above, being_deleted, sum) = above_their_sets(&pods, &sets);
                    // Pods of a set just scaled down are not deleted yet: upstream's surge
                    // counts the sets' replicas, not the pods, so the new set may grow first.
                    if active - being_deleted > most {
                        let message = format!(
                            "{active} active pods, more than the {most} allowed ({above} above their set's replicas, {being_deleted} of them in sets scaled down in the last {DELETION_GRACE:?}; the sets' replicas sum to {sum})"
                        );
                        seen.violations.push(message);
                    }
                }
                if let Some(fewest) = bounds.fewest_available {
                    armed |= available >= fewest;
                    if armed {
                        seen.min_available =
                            Some(seen.min_available.map_or(available, |m| m.min(available)));
                        if available < fewest {
                            let message =
                                format!("{available} available pods, fewer than {fewest}");
                            seen.violations.push(message);
                        }
                    }
                }
            }
        });
        let _ = is_ready.await;
        Self { seen, task }
    }

    pub fn seen(&self) -> Seen {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Invariants {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A pod once bound keeps its node: a second binding would mean two schedulers (or one
/// twice) placed it.
fn check_binding(seen: &mut Seen, pods: &HashMap<String, PodState>, name: &str, now: &PodState) {
    let before = pods.get(name).and_then(|p| p.node.as_deref());
    if let (Some(before), Some(after)) = (before, now.node.as_deref())
        && before != after
    {
        seen.violations
            .push(format!("pod {name} bound to {before}, then to {after}"));
    }
}

/// How long the pods of a set that was scaled down may stay active above its replicas: the
/// set controller deletes them on its next sync, which the deployment controller does not
/// wait for before it grows the new set (upstream's surge bound is on the sets' replicas).
const DELETION_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

struct SetState {
    replicas: i32,
    shrunk_at: Option<std::time::Instant>,
}

fn record_set(sets: &mut HashMap<String, SetState>, event: watcher::Event<MiniReplicaSet>) {
    match event {
        watcher::Event::Apply(set) | watcher::Event::InitApply(set) => {
            let name = set.metadata.name.clone().unwrap_or_default();
            let replicas = set.spec.replicas;
            let shrunk_at = match sets.get(&name) {
                Some(before) if replicas < before.replicas => Some(std::time::Instant::now()),
                Some(before) => before.shrunk_at,
                None => None,
            };
            sets.insert(
                name,
                SetState {
                    replicas,
                    shrunk_at,
                },
            );
        }
        watcher::Event::Delete(set) => {
            sets.remove(set.metadata.name.as_deref().unwrap_or_default());
        }
        watcher::Event::Init | watcher::Event::InitDone => {}
    }
}

/// How many active pods exceed their set's replicas, how many of those are in sets scaled
/// down within [`DELETION_GRACE`], and the sum of the sets' replicas.
fn above_their_sets(
    pods: &HashMap<String, PodState>,
    sets: &HashMap<String, SetState>,
) -> (usize, usize, i64) {
    let mut by_owner: HashMap<&str, usize> = HashMap::new();
    for pod in pods.values().filter(|p| p.active) {
        if let Some(owner) = pod.owner.as_deref() {
            *by_owner.entry(owner).or_default() += 1;
        }
    }
    let (mut above, mut being_deleted) = (0, 0);
    for (owner, &n) in &by_owner {
        let set = sets.get(*owner);
        let replicas = set.map_or(0, |s| s.replicas).max(0) as usize;
        let excess = n.saturating_sub(replicas);
        above += excess;
        if set
            .and_then(|s| s.shrunk_at)
            .is_some_and(|at| at.elapsed() < DELETION_GRACE)
        {
            being_deleted += excess;
        }
    }
    (
        above,
        being_deleted,
        sets.values().map(|s| i64::from(s.replicas)).sum(),
    )
}

fn state_of(pod: &Pod) -> PodState {
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref());
    let active =
        pod.metadata.deletion_timestamp.is_none() && !matches!(phase, Some("Succeeded" | "Failed"));
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    PodState {
        active,
        available: active && ready,
        node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        owner: pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true))
            .map(|o| o.name.clone()),
    }
}

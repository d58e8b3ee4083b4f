//! Records the twins from watches: the two top objects, every set and pod of the namespace,
//! and its events, each change stamped with the milliseconds since the recording began. What
//! belongs to neither twin is kept out when the recording is read (see
//! [`super::timeline::sides`]), so the namespace may hold other things.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Endpoints, Event, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{ApiResource, DynamicObject};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::timeline::{self, Entry, Fact, Recording, StepRecord};
use super::twin::{self, Side, Workload};
use crate::api::{MiniDeployment, MiniEndpoints, MiniReplicaSet, MiniService};

pub struct Recorder {
    state: Arc<Mutex<State>>,
    start: Instant,
    tasks: Vec<JoinHandle<()>>,
}

struct State {
    recording: Recording,
    /// The last fact recorded of each object, so that an update nothing compared changed in
    /// is not recorded again; for events, the occurrence count.
    last: HashMap<String, Fact>,
    event_counts: HashMap<String, i64>,
}

/// What one watch is of.
#[derive(Clone, Copy)]
enum Watched {
    Top(Side),
    Sets(Side),
    Pods,
    Events,
    /// A service's Endpoints or MiniEndpoints.
    Endpoints(Side),
    /// The EndpointSlices of both sides' Services.
    Slices,
}

/// The resource of a kind, for a watch of its JSON.
fn resource(workload: Workload, side: Side, top: bool) -> ApiResource {
    match (workload, side, top) {
        (Workload::Deployment, Side::Builtin, true) => ApiResource::erase::<Deployment>(&()),
        (Workload::Deployment, Side::Minik8s, true) => ApiResource::erase::<MiniDeployment>(&()),
        (Workload::Pod, _, _) => ApiResource::erase::<Pod>(&()),
        (Workload::Service, Side::Builtin, true) => ApiResource::erase::<Service>(&()),
        (Workload::Service, Side::Minik8s, true) => ApiResource::erase::<MiniService>(&()),
        (Workload::Service, Side::Builtin, false) => ApiResource::erase::<Endpoints>(&()),
        (Workload::Service, Side::Minik8s, false) => ApiResource::erase::<MiniEndpoints>(&()),
        (_, Side::Builtin, _) => ApiResource::erase::<ReplicaSet>(&()),
        (_, Side::Minik8s, _) => ApiResource::erase::<MiniReplicaSet>(&()),
    }
}

/// The API of a side's top object (`top`) or of its sets.
pub fn api(
    client: &Client,
    namespace: &str,
    workload: Workload,
    side: Side,
    top: bool,
) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), namespace, &resource(workload, side, top))
}

impl Recorder {
    /// Starts the watches and returns once each has listed what exists.
    pub async fn start(
        client: Client,
        namespace: &str,
        workload: Workload,
        names: [String; 2],
    ) -> Result<Recorder, kube::Error> {
        let state = Arc::new(Mutex::new(State {
            recording: Recording {
                namespace: namespace.to_owned(),
                names: names.clone(),
                workload: Some(workload),
                ..Recording::default()
            },
            last: HashMap::new(),
            event_counts: HashMap::new(),
        }));
        let start = Instant::now();
        let (listed, mut listed_rx) = mpsc::channel::<Result<(), kube::Error>>(8);
        let mut watches: Vec<(Watched, Api<DynamicObject>, watcher::Config)> = Vec::new();
        for side in Side::BOTH {
            let by_name = watcher::Config::default()
                .fields(&format!("metadata.name={}", names[side.index()]));
            watches.push((
                Watched::Top(side),
                api(&client, namespace, workload, side, true),
                by_name.clone(),
            ));
            // A set compared alone is its own top, and its only set; a pod has none.
            let sets = match workload {
                Workload::Deployment => Some(watcher::Config::default()),
                Workload::ReplicaSet => Some(by_name.clone()),
                Workload::Pod | Workload::Service => None,
            };
            if let Some(sets) = sets {
                watches.push((
                    Watched::Sets(side),
                    api(&client, namespace, workload, side, false),
                    sets,
                ));
            }
            if workload == Workload::Service {
                watches.push((
                    Watched::Endpoints(side),
                    api(&client, namespace, workload, side, false),
                    by_name.clone(),
                ));
            }
        }
        watches.push((
            Watched::Pods,
            Api::namespaced_with(client.clone(), namespace, &ApiResource::erase::<Pod>(&())),
            watcher::Config::default(),
        ));
        watches.push((
            Watched::Events,
            Api::namespaced_with(client.clone(), namespace, &ApiResource::erase::<Event>(&())),
            watcher::Config::default(),
        ));
        let services =
            Side::BOTH.map(|side| twin::service_of(workload, &names[side.index()], side));
        if let [Some(b), Some(m)] = &services {
            watches.push((
                Watched::Slices,
                Api::namespaced_with(
                    client.clone(),
                    namespace,
                    &ApiResource::erase::<EndpointSlice>(&()),
                ),
                watcher::Config::default()
                    .labels(&format!("kubernetes.io/service-name in ({b},{m})")),
            ));
        }
        let count = watches.len();
        let tasks = watches
            .into_iter()
            .map(|(what, api, config)| {
                let state = state.clone();
                let listed = listed.clone();
                let source = Source {
                    what,
                    workload,
                    services: services.clone(),
                };
                tokio::spawn(watch(source, api, config, state, start, listed))
            })
            .collect();
        let mut recorder = Recorder {
            state,
            start,
            tasks,
        };
        for _ in 0..count {
            match listed_rx.recv().await {
                Some(Ok(())) => {}
                Some(Err(e)) => {
                    recorder.abort();
                    return Err(e);
                }
                None => break,
            }
        }
        Ok(recorder)
    }

    pub fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Reads the recording so far.
    pub fn read<R>(&self, f: impl FnOnce(&Recording) -> R) -> R {
        self.view().read(f)
    }

    /// A handle that reads the recording from another task.
    pub fn view(&self) -> View {
        View(self.state.clone())
    }

    pub fn step_started(&self, step: super::Step) -> usize {
        let now = self.now_ms();
        let mut state = self.state.lock().expect("recorder lock");
        let steps = &mut state.recording.steps;
        steps.push(StepRecord {
            step,
            start_ms: now,
            done_ms: [None, None],
            failed: [None, None],
        });
        steps.len() - 1
    }

    pub fn step_ended(&self, index: usize, side: Side, outcome: Result<(), String>) {
        let now = self.now_ms();
        let mut state = self.state.lock().expect("recorder lock");
        let step = &mut state.recording.steps[index];
        match outcome {
            Ok(()) => step.done_ms[side.index()] = Some(now),
            Err(why) => step.failed[side.index()] = Some(why),
        }
    }

    fn abort(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }

    /// Stops the watches; the recording ends now. Its entries are put in time order: two
    /// watches can push theirs a millisecond out of order.
    pub fn stop(mut self) -> Recording {
        self.abort();
        let end = self.now_ms();
        let mut state = self.state.lock().expect("recorder lock");
        let mut recording = std::mem::take(&mut state.recording);
        recording.end_ms = end;
        recording.entries.sort_by_key(|e| e.t_ms);
        recording
    }
}

#[derive(Clone)]
pub struct View(Arc<Mutex<State>>);

impl View {
    pub fn read<R>(&self, f: impl FnOnce(&Recording) -> R) -> R {
        f(&self.0.lock().expect("recorder lock").recording)
    }
}

/// What a watch is of, and what its objects are read as.
struct Source {
    what: Watched,
    workload: Workload,
    /// The Services whose EndpointSlices each side keeps (services compared).
    services: [Option<String>; 2],
}

async fn watch(
    source: Source,
    api: Api<DynamicObject>,
    config: watcher::Config,
    state: Arc<Mutex<State>>,
    start: Instant,
    listed: mpsc::Sender<Result<(), kube::Error>>,
) {
    let mut listed = Some(listed);
    // The first list must succeed (a missing permission or resource is reported); after that,
    // the watch retries as controllers' do.
    let mut stream = watcher(api, config).default_backoff().boxed();
    loop {
        let event = match stream.try_next().await {
            Ok(Some(event)) => event,
            Ok(None) => return,
            Err(e) => {
                if let Some(tx) = listed.take() {
                    let _ = tx
                        .send(Err(kube::Error::Service(e.to_string().into())))
                        .await;
                    return;
                }
                tracing::warn!(error = %e, "a watch of the comparison failed; retrying");
                continue;
            }
        };
        let (object, gone, initial) = match event {
            watcher::Event::Apply(o) => (o, false, false),
            watcher::Event::InitApply(o) => (o, false, true),
            watcher::Event::Delete(o) => (o, true, false),
            watcher::Event::Init => continue,
            watcher::Event::InitDone => {
                if let Some(tx) = listed.take() {
                    let _ = tx.send(Ok(())).await;
                }
                continue;
            }
        };
        let Ok(json) = serde_json::to_value(&object) else {
            continue;
        };
        let t_ms = start.elapsed().as_millis() as u64;
        record(&state, &source, &json, gone, initial, t_ms);
    }
}

fn record(
    state: &Mutex<State>,
    source: &Source,
    json: &Value,
    gone: bool,
    initial: bool,
    t_ms: u64,
) {
    let mut state = state.lock().expect("recorder lock");
    let uid = json["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let Source {
        what,
        workload,
        ref services,
    } = *source;
    let fact = match what {
        Watched::Top(side) => Fact::Top(timeline::top_state(side, workload, json, gone)),
        Watched::Sets(side) => Fact::Set(timeline::set_state(side, json, gone)),
        Watched::Pods => Fact::Pod(timeline::pod_state(json, gone)),
        Watched::Endpoints(side) => Fact::Endpoints(timeline::endpoints_state(side, json, gone)),
        Watched::Slices => match timeline::slice_state(json, gone, services) {
            Some(slice) => Fact::Set(slice),
            None => return,
        },
        Watched::Events => {
            // Events from before the recording are not part of it.
            if initial || gone {
                return;
            }
            let count =
                json["count"].as_i64().unwrap_or(1) + json["series"]["count"].as_i64().unwrap_or(0);
            if state.event_counts.insert(uid.clone(), count) == Some(count) {
                return;
            }
            Fact::Event(timeline::event_fact(json))
        }
    };
    if !matches!(fact, Fact::Event(_)) {
        // A set compared alone is watched as the top object and as a set.
        let key = format!(
            "{}/{uid}",
            if matches!(what, Watched::Top(_)) {
                "top"
            } else {
                "object"
            }
        );
        if state.last.get(&key) == Some(&fact) {
            return;
        }
        state.last.insert(key, fact.clone());
    }
    state.recording.entries.push(Entry { t_ms, fact });
}

//! Drives one side through a step: the write a user would make (create, patch, delete), then
//! the wait until that side's controller has acted on it. Both sides run the same step at the
//! same moment; the step ends when both are done.

use std::time::Duration;

use kube::api::{DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};

use super::recorder::{self, Recorder};
use super::steps::Step;
use super::summary::Replay;
use super::twin::{Side, Workload};
use crate::api::{MiniDeployment, MiniReplicaSet};
use crate::cli::rollout::{Undo, plan_undo};

pub struct Sides<'a> {
    pub client: Client,
    pub namespace: String,
    pub workload: Workload,
    pub names: [String; 2],
    /// The objects to create, for a `create` step.
    pub objects: Option<[Value; 2]>,
    /// Objects both sides share, created once before them: a service's pods' workload.
    pub backends: Vec<Value>,
    pub recorder: &'a Recorder,
    pub timeout: Duration,
}

impl Sides<'_> {
    fn top(&self, side: Side) -> Api<DynamicObject> {
        recorder::api(&self.client, &self.namespace, self.workload, side, true)
    }

    /// Runs one step on both sides at once and records when each completed it.
    pub async fn run(&self, step: &Step) {
        if *step == Step::Create
            && let Err(why) = self.create_backends().await
        {
            let index = self.recorder.step_started(step.clone());
            for side in Side::BOTH {
                self.recorder.step_ended(index, side, Err(why.clone()));
            }
            return;
        }
        let index = self.recorder.step_started(step.clone());
        // A service's pods are shared: changing them is one write, made for both sides.
        if self.workload == Workload::Service && !matches!(step, Step::Create | Step::Wait) {
            let outcome = self.shared_step(step).await;
            for side in Side::BOTH {
                self.recorder.step_ended(index, side, outcome.clone());
            }
            return;
        }
        let one = |side: Side| async move {
            let outcome = match tokio::time::timeout(self.timeout, self.step(side, step)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(format!("timed out after {:?}", self.timeout)),
            };
            self.recorder.step_ended(index, side, outcome);
        };
        futures::join!(one(Side::Builtin), one(Side::Minik8s));
    }

    async fn step(&self, side: Side, step: &Step) -> Result<(), String> {
        let name = &self.names[side.index()];
        let api = self.top(side);
        let merge = |patch: Value| {
            let api = api.clone();
            async move {
                api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map_err(|e| e.to_string())
            }
        };
        let written = match step {
            Step::Create => {
                let objects = self.objects.as_ref().ok_or("nothing to create")?;
                let object: DynamicObject = serde_json::from_value(objects[side.index()].clone())
                    .map_err(|e| e.to_string())?;
                api.create(&PostParams::default(), &object)
                    .await
                    .map_err(|e| e.to_string())?
            }
            Step::Wait if self.workload == Workload::Service => {
                // The pods first (the backend's rollout), then this side's endpoints.
                self.wait_for_backends().await?;
                let workload = self.workload;
                return self.wait_until(|r| complete(r, side, workload)).await;
            }
            Step::Wait => {
                let workload = self.workload;
                return self.wait_until(|r| complete(r, side, workload)).await;
            }
            Step::Scale { replicas } => merge(json!({"spec": {"replicas": replicas}})).await?,
            Step::Pause | Step::Resume => {
                merge(json!({"spec": {"paused": *step == Step::Pause}})).await?
            }
            Step::Image { container, image } => {
                let current = api.get(name).await.map_err(|e| e.to_string())?;
                let mut containers = current.data["spec"]["template"]["spec"]["containers"].clone();
                set_image(&mut containers, container, image)?;
                merge(json!({"spec": {"template": {"spec": {"containers": containers}}}})).await?
            }
            Step::Undo { revision } => match self.undo_patch(side, revision.unwrap_or(0)).await? {
                None => return Ok(()),
                Some(patch) => merge(patch).await?,
            },
            Step::DeletePods { count } => return self.delete_pods(side, *count).await,
            Step::Observe => return Ok(()),
        };
        // A pod has no controller to see it: what follows (binding) is the wait's to measure.
        if self.workload == Workload::Pod {
            return Ok(());
        }
        // Done once the controller has seen the write.
        let generation = written.metadata.generation.unwrap_or(0);
        self.wait_until(|r| {
            r.tops[side.index()].is_some_and(|t| t.observed_generation >= generation)
        })
        .await
    }

    async fn create_backends(&self) -> Result<(), String> {
        for backend in &self.backends {
            let api = self.backend_api(backend)?;
            let object: DynamicObject =
                serde_json::from_value(backend.clone()).map_err(|e| e.to_string())?;
            api.create(&PostParams::default(), &object)
                .await
                .map_err(|e| format!("creating {} {}: {e}", backend["kind"], object.name_any()))?;
        }
        Ok(())
    }

    /// The API of a backend: a Deployment, ReplicaSet or their Mini kinds.
    fn backend_api(&self, backend: &Value) -> Result<Api<DynamicObject>, String> {
        let kind = backend["kind"].as_str().unwrap_or_default();
        match Workload::of_kind(kind) {
            Some((workload @ (Workload::Deployment | Workload::ReplicaSet), side)) => Ok(
                recorder::api(&self.client, &self.namespace, workload, side, true),
            ),
            _ => Err(format!(
                "a service's pods come from a Deployment or ReplicaSet (or a Mini one), not a {kind:?}"
            )),
        }
    }

    /// Until every backend has settled: all of its pods updated and available.
    async fn wait_for_backends(&self) -> Result<(), String> {
        for backend in &self.backends {
            let api = self.backend_api(backend)?;
            let name = backend["metadata"]["name"].as_str().unwrap_or_default();
            loop {
                let current = api.get(name).await.map_err(|e| e.to_string())?;
                if backend_settled(&current.data, current.metadata.generation) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    /// Scales, re-images or deletes pods of the service's backend, once for both sides.
    async fn shared_step(&self, step: &Step) -> Result<(), String> {
        if let Step::DeletePods { count } = step {
            return self.delete_pods(Side::Builtin, *count).await;
        }
        let backend = self
            .backends
            .first()
            .ok_or("there is no Deployment or ReplicaSet of the service's pods to change")?;
        let api = self.backend_api(backend)?;
        let name = backend["metadata"]["name"].as_str().unwrap_or_default();
        let patch = match step {
            Step::Scale { replicas } => json!({"spec": {"replicas": replicas}}),
            Step::Image { container, image } => {
                let current = api.get(name).await.map_err(|e| e.to_string())?;
                let mut containers = current.data["spec"]["template"]["spec"]["containers"].clone();
                set_image(&mut containers, container, image)?;
                json!({"spec": {"template": {"spec": {"containers": containers}}}})
            }
            other => return Err(format!("{other}: not a step for a service")),
        };
        api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    async fn wait_until(&self, done: impl Fn(&Replay) -> bool) -> Result<(), String> {
        loop {
            let reached = self
                .recorder
                .read(|recording| done(&Replay::at_end(recording)));
            if reached {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The patch `kubectl rollout undo` would make, worked out by minik8s' own planner: the
    /// built-in objects are read as their Mini twins for it (same fields, revision
    /// annotations renamed).
    async fn undo_patch(&self, side: Side, to_revision: i64) -> Result<Option<Value>, String> {
        if self.workload != Workload::Deployment {
            return Err("undo needs a deployment".to_owned());
        }
        let name = &self.names[side.index()];
        let top = self.top(side).get(name).await.map_err(|e| e.to_string())?;
        let uid = top.uid().unwrap_or_default();
        let sets = recorder::api(&self.client, &self.namespace, self.workload, side, false)
            .list(&ListParams::default())
            .await
            .map_err(|e| e.to_string())?;
        let as_mini = |object: &DynamicObject, kind: &str| -> Result<Value, String> {
            let mut json = serde_json::to_value(object).map_err(|e| e.to_string())?;
            json["apiVersion"] = json!("minik8s.dev/v1alpha1");
            json["kind"] = json!(kind);
            if side == Side::Builtin {
                rename_annotations(&mut json, "deployment.kubernetes.io/", "minik8s.dev/");
            }
            Ok(json)
        };
        let d: MiniDeployment =
            serde_json::from_value(as_mini(&top, "MiniDeployment")?).map_err(|e| e.to_string())?;
        let mut owned = Vec::new();
        for set in sets.items.iter().filter(|s| {
            s.owner_references()
                .iter()
                .any(|r| r.controller == Some(true) && r.uid == uid)
        }) {
            owned.push(
                serde_json::from_value::<MiniReplicaSet>(as_mini(set, "MiniReplicaSet")?)
                    .map_err(|e| e.to_string())?,
            );
        }
        match plan_undo(&d, &owned, to_revision, "rollout resume")? {
            Undo::Skip(_) => Ok(None),
            Undo::Patch(mut patch) => {
                if side == Side::Builtin {
                    rename_annotations(&mut patch, "minik8s.dev/", "deployment.kubernetes.io/");
                }
                Ok(Some(patch))
            }
        }
    }

    /// Deletes `count` of the side's pods, the first by name.
    async fn delete_pods(&self, side: Side, count: usize) -> Result<(), String> {
        let mut names: Vec<String> = self.recorder.read(|recording| {
            Replay::at_end(recording).pods[side.index()]
                .values()
                .filter(|p| !p.terminating)
                .map(|p| p.name.clone())
                .collect()
        });
        names.sort();
        let pods: Api<k8s_openapi::api::core::v1::Pod> =
            Api::namespaced(self.client.clone(), &self.namespace);
        for name in names.iter().take(count) {
            pods.delete(name, &DeleteParams::default())
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

fn set_image(containers: &mut Value, container: &str, image: &str) -> Result<(), String> {
    let found = containers
        .as_array_mut()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == container)
        .ok_or_else(|| format!("the pod template has no container {container:?}"))?;
    found["image"] = json!(image);
    Ok(())
}

fn rename_annotations(object: &mut Value, from: &str, to: &str) {
    if let Some(annotations) = object["metadata"]["annotations"].as_object_mut() {
        let renamed: Vec<(String, Value)> = annotations
            .iter()
            .map(|(k, v)| match k.strip_prefix(from) {
                Some(rest) => (format!("{to}{rest}"), v.clone()),
                None => (k.clone(), v.clone()),
            })
            .collect();
        *annotations = renamed.into_iter().collect();
    }
}

/// Whether a side has settled as `kubectl rollout status` would say: its controller has seen
/// the latest spec and, unless paused, every pod is updated and available, and no old pod is
/// left. A set alone: every pod it wants exists and is available. A pod: its scheduler has
/// bound it, or found it unschedulable for now.
pub fn complete(replay: &Replay, side: Side, workload: Workload) -> bool {
    let Some(top) = replay.tops[side.index()] else {
        return false;
    };
    if workload == Workload::Service {
        return endpoints_settled(replay, side, top);
    }
    if workload == Workload::Pod {
        return top.node.is_some()
            || top
                .conditions
                .iter()
                .any(|c| c.type_ == "PodScheduled" && c.status == "False");
    }
    if top.observed_generation < top.generation {
        return false;
    }
    if top.paused {
        return true;
    }
    let pods = replay.pods_total(side) as i32;
    let alone = replay.sets[side.index()].contains_key(top.uid.as_str());
    top.replicas == top.desired
        && top.available == top.desired
        && (alone || top.updated == top.desired)
        && pods == top.desired
}

/// A service's side has settled when its Endpoints (MiniEndpoints) hold every selected pod
/// with an IP, ready ones as ready (all of them with `publishNotReadyAddresses`), terminating
/// ones left out, and its EndpointSlices count the same ready endpoints.
fn endpoints_settled(replay: &Replay, side: Side, top: &super::timeline::TopState) -> bool {
    let Some(endpoints) = replay.endpoints[side.index()] else {
        return false;
    };
    let publish = top.spec.get("publishNotReadyAddresses").map(String::as_str) == Some("true");
    let mut ready = Vec::new();
    let mut not_ready = Vec::new();
    for pod in replay.pods[side.index()]
        .values()
        .filter(|p| !p.terminating)
    {
        if let Some(ip) = &pod.ip {
            if pod.ready || publish {
                ready.push(ip.clone());
            } else {
                not_ready.push(ip.clone());
            }
        }
    }
    ready.sort();
    not_ready.sort();
    let sliced: i32 = replay.sets[side.index()].values().map(|s| s.ready).sum();
    endpoints.ready == ready && endpoints.not_ready == not_ready && sliced == ready.len() as i32
}

/// A Deployment or ReplicaSet (or Mini one) whose controller has seen its spec and whose
/// pods are all there, updated (a deployment) and available.
fn backend_settled(object: &Value, generation: Option<i64>) -> bool {
    let status = &object["status"];
    let wanted = object["spec"]["replicas"].as_i64().unwrap_or(1);
    let count = |key: &str| status[key].as_i64().unwrap_or(0);
    let updated = status
        .get("updatedReplicas")
        .map_or(wanted, |_| count("updatedReplicas"));
    status["observedGeneration"].as_i64() >= generation
        && count("replicas") == wanted
        && count("availableReplicas") == wanted
        && (object["kind"]
            .as_str()
            .is_some_and(|k| k.ends_with("ReplicaSet"))
            || updated == wanted)
}

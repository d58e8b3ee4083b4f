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
    pub recorder: &'a Recorder,
    pub timeout: Duration,
}

impl Sides<'_> {
    fn top(&self, side: Side) -> Api<DynamicObject> {
        recorder::api(&self.client, &self.namespace, self.workload, side, true)
    }

    /// Runs one step on both sides at once and records when each completed it.
    pub async fn run(&self, step: &Step) {
        let index = self.recorder.step_started(step.clone());
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
            Step::Wait => return self.wait_until(side, |r| complete(r, side)).await,
            Step::Scale { replicas } => merge(json!({"spec": {"replicas": replicas}})).await?,
            Step::Pause | Step::Resume => {
                merge(json!({"spec": {"paused": *step == Step::Pause}})).await?
            }
            Step::Image { container, image } => {
                let current = api.get(name).await.map_err(|e| e.to_string())?;
                let mut containers = current.data["spec"]["template"]["spec"]["containers"].clone();
                let found = containers
                    .as_array_mut()
                    .into_iter()
                    .flatten()
                    .find(|c| c["name"] == container.as_str())
                    .ok_or_else(|| format!("the pod template has no container {container:?}"))?;
                found["image"] = json!(image);
                merge(json!({"spec": {"template": {"spec": {"containers": containers}}}})).await?
            }
            Step::Undo { revision } => match self.undo_patch(side, revision.unwrap_or(0)).await? {
                None => return Ok(()),
                Some(patch) => merge(patch).await?,
            },
            Step::DeletePods { count } => return self.delete_pods(side, *count).await,
            Step::Observe => return Ok(()),
        };
        // Done once the controller has seen the write.
        let generation = written.metadata.generation.unwrap_or(0);
        self.wait_until(side, |r| {
            r.tops[side.index()].is_some_and(|t| t.observed_generation >= generation)
        })
        .await
    }

    async fn wait_until(&self, side: Side, done: impl Fn(&Replay) -> bool) -> Result<(), String> {
        let _ = side;
        loop {
            let reached = self.recorder.read(|recording| {
                let mut replay = Replay::new(recording);
                for entry in &recording.entries {
                    replay.apply(entry);
                }
                done(&replay)
            });
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
            let mut replay = Replay::new(recording);
            for entry in &recording.entries {
                replay.apply(entry);
            }
            replay.pods[side.index()]
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
/// left. A set alone: every pod it wants exists and is available.
pub fn complete(replay: &Replay, side: Side) -> bool {
    let Some(top) = replay.tops[side.index()] else {
        return false;
    };
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

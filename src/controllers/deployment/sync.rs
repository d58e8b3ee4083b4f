//! One sync of a MiniDeployment (upstream `syncDeployment` and the strategy it runs): claim
//! the MiniReplicaSets, then scale, roll back or roll out, and write status. Decisions come
//! from `plan`, `status` and `util`; this module only carries them out.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::core::SelectorExt;
use kube::{Api, Resource, ResourceExt};
use serde_json::{Value, json};

use super::plan::{self, Bounds, Cleanable, Scale, SetView};
use super::status;
use super::util::{self, reason};
use super::{CONTROLLER_NAME, Context, Error};
use crate::api::deployment::StrategyType;
use crate::api::{MiniDeployment, MiniDeploymentStatus, MiniReplicaSet};
use crate::controllers::claim::{self, Claim, Owner};
use crate::controllers::driver::Action;
use crate::controllers::pod;
use crate::runtime::api_error;
use crate::runtime::label_selector;

type Set = Arc<MiniReplicaSet>;

pub async fn sync(cached: &MiniDeployment, ctx: &Context) -> Result<Action, Error> {
    // The copy this controller last wrote, when the cache has not caught up with it yet.
    let mut run = Run::new(ctx.written.freshest(cached), ctx);
    let result = sync_run(&mut run).await;
    ctx.written.record(cached, &run.d);
    result
}

async fn sync_run(run: &mut Run<'_>) -> Result<Action, Error> {
    let sets = run.claim_replica_sets().await?;
    if run.d.meta().deletion_timestamp.is_some() {
        let (new, old) = run.new_and_old(&sets, false).await?;
        return run
            .write_status(status::calculate(
                &run.d,
                &all(&old, new.as_ref()),
                new.as_ref(),
                Timestamp::now(),
            ))
            .await;
    }
    run.check_paused_conditions().await?;
    if run.d.spec.paused {
        return run.scale_only(&sets).await;
    }
    if let Some(revision) = rollback_to(&run.d) {
        return run.rollback(&sets, revision).await;
    }
    if run.is_scaling_event(&sets).await? {
        return run.scale_only(&sets).await;
    }
    match run.d.spec.strategy.type_ {
        StrategyType::RollingUpdate => run.rolling(&sets).await,
        StrategyType::Recreate => run.recreate(&sets).await,
    }
}

fn rollback_to(d: &MiniDeployment) -> Option<i64> {
    util::parse_revision(d.annotations().get(util::ROLLBACK_TO)?)
}

fn all(old: &[Set], new: Option<&Set>) -> Vec<Set> {
    old.iter().cloned().chain(new.cloned()).collect()
}

/// One sync's working state: the deployment as last written, and the API handles.
struct Run<'a> {
    d: MiniDeployment,
    ctx: &'a Context,
    deployments: Api<MiniDeployment>,
    replica_sets: Api<MiniReplicaSet>,
    reference: ObjectReference,
}

impl<'a> Run<'a> {
    fn new(d: MiniDeployment, ctx: &'a Context) -> Self {
        let namespace = d.namespace().unwrap_or_default();
        Self {
            deployments: Api::namespaced(ctx.client.clone(), &namespace),
            replica_sets: Api::namespaced(ctx.client.clone(), &namespace),
            reference: d.object_ref(&()),
            d,
            ctx,
        }
    }

    /// The sets this deployment controls, adopting and releasing as its selector says.
    async fn claim_replica_sets(&self) -> Result<Vec<Set>, Error> {
        let selector =
            label_selector::to_selector(&self.d.spec.selector).map_err(Error::Selector)?;
        let uid = self.d.uid().unwrap_or_default();
        let namespace = self.d.namespace().unwrap_or_default();
        let owner = Owner {
            uid: &uid,
            namespace: &namespace,
            being_deleted: self.d.meta().deletion_timestamp.is_some(),
        };
        let mut claimed = Vec::new();
        let mut checked = false;
        for cached in self.ctx.replica_sets.list(&namespace) {
            let rs = self.ctx.written_sets.freshest_shared(&cached);
            match claim::decide(rs.meta(), owner, selector.matches(rs.labels())) {
                Claim::Keep => claimed.push(rs),
                Claim::Ignore => {}
                Claim::Release => claim::release(&self.replica_sets, &*rs, &uid).await?,
                Claim::Adopt => {
                    if !checked {
                        self.can_adopt().await?;
                        checked = true;
                    }
                    if claim::adopt(&self.replica_sets, &*rs, &self.controller_ref()).await? {
                        claimed.push(rs);
                    }
                }
            }
        }
        Ok(claimed)
    }

    async fn can_adopt(&self) -> Result<(), Error> {
        let fresh = self.deployments.get(&self.d.name_any()).await?;
        if fresh.uid() != self.d.uid() || fresh.meta().deletion_timestamp.is_some() {
            return Err(Error::Sync(format!(
                "MiniDeployment {} is gone or being deleted",
                self.d.name_any()
            )));
        }
        Ok(())
    }

    fn controller_ref(&self) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
        k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: MiniDeployment::api_version(&()).into(),
            kind: MiniDeployment::kind(&()).into(),
            name: self.d.name_any(),
            uid: self.d.uid().unwrap_or_default(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }

    fn status(&self) -> k8s_openapi::api::apps::v1::DeploymentStatus {
        self.d.status.clone().map(|s| s.status).unwrap_or_default()
    }

    /// Writes `new` as the status unless it is what is there; returns when to look again.
    async fn write_status(
        &mut self,
        new: k8s_openapi::api::apps::v1::DeploymentStatus,
    ) -> Result<Action, Error> {
        let recheck = status::recheck_progress_after(&self.d, &new, Timestamp::now());
        let full = MiniDeploymentStatus {
            status: new,
            selector: crate::controllers::replicaset::status::selector_string(
                &self.d.spec.selector,
            ),
        };
        if self.d.status.as_ref() != Some(&full) {
            // The resourceVersion this sync read is a precondition, as upstream's UpdateStatus
            // of its cached copy is: a sync that ran on a stale copy must not write a status
            // worked out from it (it fails with a conflict and the key is synced again).
            let body = json!({
                "apiVersion": MiniDeployment::api_version(&()),
                "kind": MiniDeployment::kind(&()),
                "metadata": {"resourceVersion": self.d.resource_version()},
                "status": full
            });
            let written = self
                .deployments
                .patch_status(
                    &self.d.name_any(),
                    &PatchParams::apply(CONTROLLER_NAME).force(),
                    &Patch::Apply(&body),
                )
                .await?;
            self.d.status = written.status;
            self.d.metadata.resource_version = written.metadata.resource_version;
        }
        Ok(recheck.map_or(Action::await_change(), Action::requeue))
    }

    async fn write_conditions_only(
        &mut self,
        status: k8s_openapi::api::apps::v1::DeploymentStatus,
    ) -> Result<(), Error> {
        self.write_status(status).await.map(drop)
    }

    /// Progressing=Unknown with DeploymentPaused / DeploymentResumed as `spec.paused` flips.
    async fn check_paused_conditions(&mut self) -> Result<(), Error> {
        if !status::has_progress_deadline(&self.d) {
            return Ok(());
        }
        let mut current = self.status();
        let progressing =
            util::condition(&current, util::PROGRESSING).and_then(|c| c.reason.clone());
        if progressing.as_deref() == Some(reason::TIMED_OUT) {
            return Ok(());
        }
        let paused_recorded = progressing.as_deref() == Some(reason::PAUSED);
        let now = Timestamp::now();
        let condition = match (self.d.spec.paused, paused_recorded) {
            (true, false) => util::new_condition(
                util::PROGRESSING,
                "Unknown",
                reason::PAUSED,
                "Deployment is paused".into(),
                now,
            ),
            (false, true) => util::new_condition(
                util::PROGRESSING,
                "Unknown",
                reason::RESUMED,
                "Deployment is resumed".into(),
                now,
            ),
            _ => return Ok(()),
        };
        util::set_condition(&mut current, condition);
        self.write_conditions_only(current).await
    }

    /// The new set (created when `create` and missing) and the old ones, with the revision
    /// synced (upstream `getAllReplicaSetsAndSyncRevision`).
    async fn new_and_old(
        &mut self,
        sets: &[Set],
        create: bool,
    ) -> Result<(Option<Set>, Vec<Set>), Error> {
        let (existing, old) = util::split_new_and_old(&self.d, sets);
        let new_revision = util::max_revision(&old) + 1;
        if let Some(existing) = existing {
            let mut annotations = existing.annotations().clone();
            let changed =
                util::set_new_replicaset_annotations(&self.d, &mut annotations, new_revision, true);
            let new = if changed || existing.spec.min_ready_seconds != self.d.spec.min_ready_seconds
            {
                let patch = json!({
                    "metadata": {"annotations": annotations, "resourceVersion": existing.resource_version()},
                    "spec": {"minReadySeconds": self.d.spec.min_ready_seconds}
                });
                let written = self
                    .replica_sets
                    .patch(
                        &existing.name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await?;
                self.ctx.written_sets.record(&existing, &written);
                Arc::new(written)
            } else {
                existing
            };
            let revision = new
                .annotations()
                .get(util::REVISION)
                .cloned()
                .unwrap_or_default();
            self.set_revision(&revision).await?;
            let mut current = self.status();
            if status::has_progress_deadline(&self.d)
                && util::condition(&current, util::PROGRESSING).is_none()
            {
                let message = format!("Found new replica set {:?}", new.name_any());
                util::set_condition(
                    &mut current,
                    util::new_condition(
                        util::PROGRESSING,
                        "True",
                        reason::FOUND_NEW_RS,
                        message,
                        Timestamp::now(),
                    ),
                );
                self.write_conditions_only(current).await?;
            }
            return Ok((Some(new), old));
        }
        if !create {
            return Ok((None, old));
        }
        let new = self.create_new_set(&old, new_revision).await?;
        Ok((Some(new), old))
    }

    async fn create_new_set(&mut self, old: &[Set], revision: i64) -> Result<Set, Error> {
        let collision_count = self.status().collision_count;
        let hash = util::template_hash(self.d.spec.template.raw(), collision_count);
        let name = util::replicaset_name(&self.d.name_any(), &hash);
        let mut template = self.d.spec.template.raw().clone();
        let labels = template
            .entry("metadata")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("template metadata is an object")
            .entry("labels")
            .or_insert_with(|| json!({}));
        labels[util::POD_TEMPLATE_HASH] = json!(hash);
        let labels = labels.clone();
        let mut selector =
            serde_json::to_value(&self.d.spec.selector).expect("selector serializes");
        selector["matchLabels"][util::POD_TEMPLATE_HASH] = json!(hash);

        let replicas = match self.d.spec.strategy.type_ {
            StrategyType::Recreate => self.d.spec.replicas,
            StrategyType::RollingUpdate => {
                let unborn = SetView {
                    name: name.clone(),
                    created: None,
                    replicas: 0,
                    available: 0,
                    max_replicas: None,
                };
                let mut views: Vec<SetView> = old.iter().map(|rs| SetView::of(rs)).collect();
                views.push(unborn.clone());
                plan::new_set_replicas(Bounds::of(&self.d), &views, &unborn)
            }
        };
        let mut annotations = BTreeMap::new();
        util::set_new_replicaset_annotations(&self.d, &mut annotations, revision, false);
        let manifest = json!({
            "apiVersion": MiniReplicaSet::api_version(&()),
            "kind": MiniReplicaSet::kind(&()),
            "metadata": {
                "name": name,
                "namespace": self.d.namespace(),
                "labels": labels,
                "annotations": annotations,
                "ownerReferences": [self.controller_ref()],
            },
            "spec": {
                "replicas": replicas,
                "minReadySeconds": self.d.spec.min_ready_seconds,
                "selector": selector,
                "template": Value::Object(template),
            }
        });
        let rs: MiniReplicaSet = serde_json::from_value(manifest).expect("a valid MiniReplicaSet");
        let (created, already_existed) = match self
            .replica_sets
            .create(&PostParams::default(), &rs)
            .await
        {
            Ok(created) => (Arc::new(created), false),
            Err(e) if claim::is_status(&e, 409) => {
                let existing = self.replica_sets.get(&name).await?;
                let ours = pod::controller_of(existing.meta())
                    .is_some_and(|c| Some(&c.uid) == self.d.uid().as_ref());
                if ours && util::same_template(&self.d, &existing) {
                    (Arc::new(existing), true)
                } else {
                    // A hash collision: another template has this name. Try the next hash.
                    let mut current = self.status();
                    let old_count = current.collision_count.unwrap_or(0);
                    current.collision_count = Some(old_count + 1);
                    tracing::info!(
                        deployment = %format!("{}/{}", self.d.namespace().unwrap_or_default(), self.d.name_any()),
                        oldCollisionCount = old_count,
                        newCollisionCount = old_count + 1,
                        "Found a hash collision for deployment - bumping collisionCount to resolve it"
                    );
                    self.write_conditions_only(current).await?;
                    return Err(Error::Sync(format!(
                        "replica set {name} exists with another template (hash collision)"
                    )));
                }
            }
            // The namespace is being deleted: every create fails until the deployment is
            // gone. Upstream reports nothing (no condition, no event).
            Err(e) if api_error::is_namespace_terminating(&e) => return Err(e.into()),
            Err(e) => {
                let message = format!(
                    "Failed to create new replica set {name:?}: {}",
                    api_error::message(&e)
                );
                if status::has_progress_deadline(&self.d) {
                    let mut current = self.status();
                    util::set_condition(
                        &mut current,
                        util::new_condition(
                            util::PROGRESSING,
                            "False",
                            reason::FAILED_RS_CREATE,
                            message.clone(),
                            Timestamp::now(),
                        ),
                    );
                    self.write_conditions_only(current).await?;
                }
                self.ctx
                    .events
                    .warning(&self.reference, reason::FAILED_RS_CREATE, message);
                return Err(e.into());
            }
        };
        if !already_existed && replicas > 0 {
            self.scaling_event(&format!(
                "Scaled up replica set {name} from 0 to {replicas}"
            ));
        }
        self.set_revision(&revision.to_string()).await?;
        if !already_existed && status::has_progress_deadline(&self.d) {
            let mut current = self.status();
            let message = format!("Created new replica set {name:?}");
            util::set_condition(
                &mut current,
                util::new_condition(
                    util::PROGRESSING,
                    "True",
                    reason::NEW_REPLICA_SET,
                    message,
                    Timestamp::now(),
                ),
            );
            self.write_conditions_only(current).await?;
        }
        Ok(created)
    }

    /// Records the current revision on the deployment (its `minik8s.dev/revision`).
    async fn set_revision(&mut self, revision: &str) -> Result<(), Error> {
        if revision.is_empty()
            || self.d.annotations().get(util::REVISION).map(String::as_str) == Some(revision)
        {
            return Ok(());
        }
        // Conditional on what this sync read, as upstream's Update of its cached copy is.
        let patch = json!({"metadata": {
            "annotations": {util::REVISION: revision},
            "resourceVersion": self.d.resource_version(),
        }});
        let updated = self
            .deployments
            .patch(
                &self.d.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
        self.d.metadata.annotations = updated.metadata.annotations;
        self.d.metadata.resource_version = updated.metadata.resource_version;
        Ok(())
    }

    /// The ScalingReplicaSet event, and the same words as an info line (kube-controller-manager
    /// records this decision as an event only).
    fn scaling_event(&self, note: &str) {
        tracing::info!(
            deployment = %format!("{}/{}", self.d.namespace().unwrap_or_default(), self.d.name_any()),
            "{note}"
        );
        self.ctx
            .events
            .normal(&self.reference, "ScalingReplicaSet", note.to_owned());
    }

    /// Scales `rs` to `to` and refreshes its replica annotations (upstream `scaleReplicaSet`);
    /// `force` writes the annotations even when the size stays. True when the size changed.
    async fn scale(&self, rs: &MiniReplicaSet, to: i32, force: bool) -> Result<bool, Error> {
        Ok(self.scale_returning(rs, to, force).await?.0)
    }

    /// [`Self::scale`], also returning the set as written, if it was.
    async fn scale_returning(
        &self,
        rs: &MiniReplicaSet,
        to: i32,
        force: bool,
    ) -> Result<(bool, Option<MiniReplicaSet>), Error> {
        if !force && rs.spec.replicas == to {
            return Ok((false, None));
        }
        let size_changes = rs.spec.replicas != to;
        let (desired, max) = (
            self.d.spec.replicas,
            self.d.spec.replicas + util::max_surge(&self.d),
        );
        if !size_changes && !util::replicas_annotations_need_update(rs.annotations(), desired, max)
        {
            return Ok((false, None));
        }
        let patch = json!({
            "metadata": {
                "resourceVersion": rs.resource_version(),
                "annotations": {util::DESIRED_REPLICAS: desired.to_string(), util::MAX_REPLICAS: max.to_string()}
            },
            "spec": {"replicas": to}
        });
        let written = self
            .replica_sets
            .patch(
                &rs.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
        self.ctx.written_sets.record(rs, &written);
        if size_changes {
            let direction = if rs.spec.replicas < to { "up" } else { "down" };
            self.scaling_event(&format!(
                "Scaled {direction} replica set {} from {} to {to}",
                rs.name_any(),
                rs.spec.replicas
            ));
        }
        Ok((size_changes, Some(written)))
    }

    /// Carries out scale steps in order; a set may be scaled twice (cleanup, then scale-down).
    async fn apply_steps(&self, sets: &[Set], steps: Vec<Scale>) -> Result<bool, Error> {
        let mut current: BTreeMap<String, MiniReplicaSet> = sets
            .iter()
            .map(|rs| (rs.name_any(), (**rs).clone()))
            .collect();
        let mut scaled = false;
        for step in steps {
            let Some(rs) = current.get_mut(&step.name) else {
                continue;
            };
            let (changed, written) = self.scale_returning(rs, step.to, false).await?;
            scaled |= changed;
            // A second step on this set must carry the version just written.
            if let Some(written) = written {
                *rs = written;
            }
        }
        Ok(scaled)
    }

    /// Upstream `reconcileOldReplicaSets`: true when an old set was scaled down. As upstream,
    /// a refused step or a failed write ends this phase without failing the sync: the status
    /// is still written, and the sets' own updates bring the next sync.
    async fn scale_down_old_sets(&self, all_sets: &[Set], old: &[Set], new: &Set) -> bool {
        let old_active: Vec<SetView> = util::active(old).iter().map(|rs| SetView::of(rs)).collect();
        let plan = plan::scale_down_old_sets(Bounds::of(&self.d), &old_active, &SetView::of(new));
        let deployment = self.d.name_any();
        match self.apply_steps(all_sets, plan.steps).await {
            Err(error) => {
                tracing::warn!(%deployment, %error, "could not scale down old replica sets");
                false
            }
            Ok(_) if plan.refused.is_some() => {
                let refused = plan.refused.unwrap_or_default();
                tracing::warn!(%deployment, %refused, "old replica sets left as they are");
                false
            }
            Ok(scaled) => scaled,
        }
    }

    async fn is_scaling_event(&mut self, sets: &[Set]) -> Result<bool, Error> {
        let (new, old) = self.new_and_old(sets, false).await?;
        Ok(util::active(&all(&old, new.as_ref()))
            .iter()
            .filter_map(|rs| util::desired_replicas_annotation(rs))
            .any(|desired| desired != self.d.spec.replicas))
    }

    /// Paused or resized: scale the sets only (upstream `sync` + `scale`).
    async fn scale_only(&mut self, sets: &[Set]) -> Result<Action, Error> {
        let (new, old) = self.new_and_old(sets, false).await?;
        let status_replicas = self.status().replicas.unwrap_or(0);
        let resize = plan::resize(&self.d, new.as_ref(), &old, status_replicas);
        let all_sets = all(&old, new.as_ref());
        for step in resize.steps {
            if let Some(rs) = all_sets.iter().find(|rs| rs.name_any() == step.name) {
                self.scale(rs, step.to, resize.refresh_annotations).await?;
            }
        }
        if self.d.spec.paused && rollback_to(&self.d).is_none() {
            self.cleanup(&old).await?;
        }
        let sets = self.refreshed(sets);
        let (new, old) = util::split_new_and_old(&self.d, &sets);
        let status = status::calculate(
            &self.d,
            &all(&old, new.as_ref()),
            new.as_ref(),
            Timestamp::now(),
        );
        self.write_status(status).await
    }

    /// The sets as they are now: the cache's copy, or this controller's own write when the
    /// cache has not shown it yet.
    fn refreshed(&self, sets: &[Set]) -> Vec<Set> {
        let namespace = self.d.namespace().unwrap_or_default();
        sets.iter()
            .map(|rs| {
                let cached = self
                    .ctx
                    .replica_sets
                    .get(&namespace, &rs.name_any())
                    .unwrap_or_else(|| rs.clone());
                self.ctx.written_sets.freshest_shared(&cached)
            })
            .collect()
    }

    async fn rolling(&mut self, sets: &[Set]) -> Result<Action, Error> {
        let (new, old) = self.new_and_old(sets, true).await?;
        let new = new.expect("created when missing");
        let all_sets = all(&old, Some(&new));
        let views: Vec<SetView> = all_sets.iter().map(|rs| SetView::of(rs)).collect();
        if let Some(target) =
            plan::reconcile_new_set(Bounds::of(&self.d), &views, &SetView::of(&new))
            && self.scale(&new, target, false).await?
        {
            return self.rollout_status(&all_sets, Some(&new)).await;
        }
        if self.scale_down_old_sets(&all_sets, &old, &new).await {
            return self.rollout_status(&all_sets, Some(&new)).await;
        }
        if util::is_complete(&self.d, &self.status()) {
            self.cleanup(&old).await?;
        }
        self.rollout_status(&all_sets, Some(&new)).await
    }

    async fn recreate(&mut self, sets: &[Set]) -> Result<Action, Error> {
        let (new, old) = self.new_and_old(sets, false).await?;
        let mut scaled_down = false;
        for rs in util::active(&old) {
            scaled_down |= self.scale(&rs, 0, false).await?;
        }
        if scaled_down || self.old_pods_running(new.as_ref(), &old) {
            return self
                .rollout_status(&all(&old, new.as_ref()), new.as_ref())
                .await;
        }
        let new = match new {
            Some(new) => new,
            None => self
                .new_and_old(sets, true)
                .await?
                .0
                .expect("created when missing"),
        };
        self.scale(&new, self.d.spec.replicas, false).await?;
        if util::is_complete(&self.d, &self.status()) {
            self.cleanup(&old).await?;
        }
        self.rollout_status(&all(&old, Some(&new)), Some(&new))
            .await
    }

    /// Recreate waits until no pod of an old set is left running (Unknown counts as running).
    fn old_pods_running(&self, new: Option<&Set>, old: &[Set]) -> bool {
        if util::actual_replicas(old) > 0 {
            return true;
        }
        let old_uids: Vec<String> = old
            .iter()
            .filter_map(|rs| rs.uid())
            .filter(|uid| new.is_none_or(|n| n.uid().as_ref() != Some(uid)))
            .collect();
        self.ctx
            .pods
            .list(&self.d.namespace().unwrap_or_default())
            .iter()
            .filter(|p| pod::controller_of(&p.metadata).is_some_and(|c| old_uids.contains(&c.uid)))
            .any(|p| !matches!(pod::phase(p), "Failed" | "Succeeded"))
    }

    async fn rollout_status(
        &mut self,
        all_sets: &[Set],
        new: Option<&Set>,
    ) -> Result<Action, Error> {
        let sets = self.refreshed(all_sets);
        let new = new.map(|n| {
            sets.iter()
                .find(|rs| rs.uid() == n.uid())
                .cloned()
                .unwrap_or_else(|| n.clone())
        });
        let status = status::rollout(&self.d, &sets, new.as_ref(), Timestamp::now());
        self.write_status(status).await
    }

    /// Deletes the oldest fully scaled-down sets beyond revisionHistoryLimit.
    async fn cleanup(&self, old: &[Set]) -> Result<(), Error> {
        let candidates = Cleanable::candidates(old);
        for name in plan::sets_to_delete(candidates, self.d.spec.revision_history_limit) {
            match self
                .replica_sets
                .delete(&name, &DeleteParams::default())
                .await
            {
                Ok(_) => {}
                Err(e) if claim::is_status(&e, 404) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Copies the template of `revision` (0: the previous one) back into the deployment.
    async fn rollback(&mut self, sets: &[Set], revision: i64) -> Result<Action, Error> {
        let (new, old) = self.new_and_old(sets, true).await?;
        let all_sets = all(&old, new.as_ref());
        let revision = if revision == 0 {
            util::previous_revision(&all_sets)
        } else {
            revision
        };
        let target = (revision != 0)
            .then(|| {
                all_sets
                    .iter()
                    .find(|rs| util::revision(rs) == Some(revision))
            })
            .flatten();
        let mut d = self.d.clone();
        // Upstream (rollback.go) records the warnings before the update and
        // DeploymentRollback only after it succeeded: a failed update (a conflict, say) is
        // retried, and must not tell twice that the rollback happened.
        let mut rolled_back = None;
        match target {
            None => {
                let note = if revision == 0 {
                    "Unable to find last revision."
                } else {
                    "Unable to find the revision to rollback to."
                };
                self.ctx.events.warning(
                    &self.reference,
                    reason::ROLLBACK_REVISION_NOT_FOUND,
                    note.into(),
                );
            }
            Some(rs) if util::same_template(&d, rs) => {
                let note = format!(
                    "The rollback revision contains the same template as current deployment {:?}",
                    d.name_any()
                );
                self.ctx
                    .events
                    .warning(&self.reference, reason::ROLLBACK_TEMPLATE_UNCHANGED, note);
            }
            Some(rs) => {
                let template = util::template_without_hash(rs.spec.template.raw());
                d.spec.template = serde_json::from_value(template).expect("a template");
                // The deployment takes the annotations of the revision it returns to.
                let mut annotations: BTreeMap<String, String> = d
                    .annotations()
                    .iter()
                    .filter(|(k, _)| util::skip_copy(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                annotations.extend(
                    rs.annotations()
                        .iter()
                        .filter(|(k, _)| !util::skip_copy(k))
                        .map(|(k, v)| (k.clone(), v.clone())),
                );
                d.metadata.annotations = Some(annotations);
                rolled_back = Some(format!(
                    "Rolled back deployment {:?} to revision {revision}",
                    d.name_any()
                ));
            }
        }
        d.annotations_mut().remove(util::ROLLBACK_TO);
        d.status = None;
        self.deployments
            .replace(&d.name_any(), &PostParams::default(), &d)
            .await?;
        if let Some(note) = rolled_back {
            self.ctx
                .events
                .normal(&self.reference, reason::ROLLBACK_DONE, note);
        }
        Ok(Action::await_change())
    }
}

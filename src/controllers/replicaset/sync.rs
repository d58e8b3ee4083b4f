//! One sync of a MiniReplicaSet (upstream `syncReplicaSet`): claim pods, create or delete
//! toward `spec.replicas` unless earlier requests are still unobserved, write status.

use std::sync::Arc;
use std::time::Instant;

use crate::controllers::cached_pod::CachedPod;
use futures::future::join_all;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, Selector, SelectorExt};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use super::create::{self, Existing};
use super::plan::{self, Plan};
use super::status::{self, Failure};
use super::{CONTROLLER_NAME, Context, Error};
use crate::api::MiniReplicaSet;
use crate::controllers::claim::{self, Claim, Owner};
use crate::controllers::driver::Action;
use crate::controllers::{pod, slow_start};
use crate::runtime::api_error;
use crate::runtime::label_selector;

/// [`sync`] as the driver calls it.
pub fn sync_boxed<'a>(
    rs: &'a MiniReplicaSet,
    ctx: &'a Context,
) -> futures::future::BoxFuture<'a, Result<Action, Error>> {
    Box::pin(sync(rs, ctx))
}

#[tracing::instrument(skip_all, fields(replicaset = %format!("{}/{}", cached.namespace().unwrap_or_default(), cached.name_any())))]
async fn sync(cached: &MiniReplicaSet, ctx: &Context) -> Result<Action, Error> {
    // The copy this controller last wrote, when the cache has not caught up with it yet: its
    // status is what the next write is compared with.
    let fresh = ctx.written.freshest(cached);
    let rs = &fresh;
    let namespace = rs.namespace().unwrap_or_default();
    let uid = rs.uid().unwrap_or_default();
    let needs_sync = ctx.expectations.satisfied(&uid, Instant::now());
    let selector = label_selector::to_selector(&rs.spec.selector).map_err(Error::Selector)?;

    // Pods this set controls, and orphans it might adopt.
    let candidates: Vec<Arc<CachedPod>> = ctx
        .pods
        .list(&namespace)
        .into_iter()
        .filter(|p| pod::controller_of(&p.metadata).is_none_or(|c| c.uid == uid))
        .collect();
    let active: Vec<Arc<CachedPod>> = candidates
        .iter()
        .filter(|p| pod::is_active(p))
        .cloned()
        .collect();
    let claimed = claim_pods(rs, &selector, active, ctx).await?;
    let terminating = candidates
        .iter()
        .filter(|p| pod::is_terminating(p) && selector.matches(p.labels()))
        .filter(|p| pod::controller_of(&p.metadata).is_some_and(|c| c.uid == uid))
        .count();

    let failure = if needs_sync && rs.meta().deletion_timestamp.is_none() {
        manage_replicas(rs, &claimed, ctx).await.err()
    } else {
        None
    };

    let now = Timestamp::now();
    let new_status = status::calculate(rs, &claimed, terminating, failure.as_ref(), now);
    if rs.status.as_ref() != Some(&new_status) {
        let api: Api<MiniReplicaSet> = Api::namespaced(ctx.client.clone(), &namespace);
        let body = json!({
            "apiVersion": MiniReplicaSet::api_version(&()),
            "kind": MiniReplicaSet::kind(&()),
            "status": new_status,
        });
        let written = api
            .patch_status(
                &rs.name_any(),
                &PatchParams::apply(CONTROLLER_NAME).force(),
                &Patch::Apply(&body),
            )
            .await?;
        ctx.written.record(cached, &written);
    }
    if let Some(failure) = failure {
        return Err(Error::ManageReplicas(failure.message));
    }
    Ok(
        match status::next_availability_check(
            rs.spec.min_ready_seconds,
            &new_status.status,
            &claimed,
            now,
        ) {
            Some(delay) => Action::requeue(delay),
            None => Action::await_change(),
        },
    )
}

/// Keeps selected pods, adopts selected orphans, releases pods no longer selected.
async fn claim_pods(
    rs: &MiniReplicaSet,
    selector: &Selector,
    pods: Vec<Arc<CachedPod>>,
    ctx: &Context,
) -> Result<Vec<Arc<CachedPod>>, Error> {
    let namespace = rs.namespace().unwrap_or_default();
    let uid = rs.uid().unwrap_or_default();
    let owner = Owner {
        uid: &uid,
        namespace: &namespace,
        being_deleted: rs.meta().deletion_timestamp.is_some(),
    };
    let api: Api<CachedPod> = Api::namespaced(ctx.client.clone(), &namespace);
    let controller_ref = plan::controller_ref(rs);
    let mut claimed = Vec::with_capacity(pods.len());
    let mut adoption_checked = false;
    for pod in pods {
        match claim::decide(&pod.metadata, owner, selector.matches(pod.labels())) {
            Claim::Keep => claimed.push(pod),
            Claim::Ignore => {}
            Claim::Release => {
                tracing::info!(
                    pod = %format!("{namespace}/{}", pod.name_any()),
                    gvk = "minik8s.dev/v1alpha1, Kind=MiniReplicaSet",
                    controller = %rs.name_any(),
                    "Patching pod to remove its controllerRef"
                );
                claim::release(&api, &pod, &uid).await?;
            }
            Claim::Adopt => {
                if !adoption_checked {
                    can_adopt(rs, ctx).await?;
                    adoption_checked = true;
                }
                tracing::info!(
                    pod = %format!("{namespace}/{}", pod.name_any()),
                    replicaSet = %object_key(rs),
                    "Adopting orphan pod"
                );
                if claim::adopt(&api, &pod, &controller_ref).await? {
                    claimed.push(pod);
                }
            }
        }
    }
    Ok(claimed)
}

/// Before adopting, re-reads the owner from the API server (not the cache): a set that is
/// being deleted, or was replaced by a namesake, must not take pods.
async fn can_adopt(rs: &MiniReplicaSet, ctx: &Context) -> Result<(), Error> {
    let api: Api<MiniReplicaSet> =
        Api::namespaced(ctx.client.clone(), &rs.namespace().unwrap_or_default());
    let fresh = api.get(&rs.name_any()).await?;
    if fresh.uid() != rs.uid() {
        return Err(Error::ManageReplicas(format!(
            "original MiniReplicaSet {} is gone: got uid {:?}, wanted {:?}",
            rs.name_any(),
            fresh.uid(),
            rs.uid()
        )));
    }
    if fresh.meta().deletion_timestamp.is_some() {
        return Err(Error::ManageReplicas(format!(
            "{} has just been deleted",
            rs.name_any()
        )));
    }
    Ok(())
}

/// `namespace/name`, as klog's KObj prints an object.
fn object_key(rs: &MiniReplicaSet) -> String {
    format!("{}/{}", rs.namespace().unwrap_or_default(), rs.name_any())
}

/// Creates or deletes pods toward `spec.replicas`.
async fn manage_replicas(
    rs: &MiniReplicaSet,
    active: &[Arc<CachedPod>],
    ctx: &Context,
) -> Result<(), Failure> {
    let uid = rs.uid().unwrap_or_default();
    // kube-controller-manager's words and keys (its V(2) lines), at info level, so the two
    // logs read side by side.
    let key = object_key(rs);
    match plan::plan(rs.spec.replicas, active.len()) {
        Plan::Nothing => Ok(()),
        Plan::Create(count) => {
            tracing::info!(replicaSet = %key, need = rs.spec.replicas, creating = count, "Too few replicas");
            create_pods(rs, &uid, count, ctx).await
        }
        Plan::Delete(count) => {
            tracing::info!(replicaSet = %key, need = rs.spec.replicas, deleting = count, "Too many replicas");
            let related = related_pods(rs, ctx);
            let victims = plan::pods_to_delete(active, &related, count, Timestamp::now());
            delete_pods(rs, &uid, victims, ctx).await
        }
    }
}

async fn create_pods(
    rs: &MiniReplicaSet,
    uid: &str,
    count: usize,
    ctx: &Context,
) -> Result<(), Failure> {
    let namespace = rs.namespace().unwrap_or_default();
    let api: Api<DynamicObject> = Api::namespaced_with(
        ctx.client.clone(),
        &namespace,
        &ApiResource::erase::<CachedPod>(&()),
    );
    let manifest: DynamicObject =
        serde_json::from_value(plan::pod_manifest(rs)).expect("the pod manifest is an object");
    let reference = rs.object_ref(&());
    ctx.expectations
        .expect_creations(uid, count, Instant::now());
    tracing::debug!(count, "creating pods");
    let generate_name = plan::generate_name(&rs.name_any());
    let send = |name: String| {
        let mut pod = manifest.clone();
        pod.metadata.name = Some(name);
        let api = api.clone();
        async move { api.create(&PostParams::default(), &pod).await }
    };
    let whose = |name: String| {
        let api = api.clone();
        async move {
            match api.get_opt(&name).await {
                Ok(Some(pod))
                    if pod::controller_of(&pod.metadata).is_some_and(|c| c.uid == uid) =>
                {
                    Existing::Ours(pod)
                }
                Ok(_) => Existing::NotOurs,
                Err(_) => Existing::Unknown,
            }
        }
    };
    let (created, error) = slow_start::run(count, || async {
        let created = create::create_once(
            || create::generated_name(&generate_name, || fastrand::usize(..)),
            send,
            whose,
            tokio::time::sleep,
        )
        .await;
        match created {
            Ok(pod) => {
                ctx.events.normal(
                    &reference,
                    "SuccessfulCreate",
                    format!("Created pod: {}", pod.name_any()),
                );
                Ok(true)
            }
            // A namespace being deleted refuses new pods; there is nothing to do, and nothing
            // to tell (upstream: no event, no condition).
            Err(e) if api_error::is_namespace_terminating(&e) => Ok(false),
            Err(e) => {
                let message = api_error::message(&e);
                ctx.events.warning(
                    &reference,
                    "FailedCreate",
                    format!("Error creating: {message}"),
                );
                Err(message)
            }
        }
    })
    .await;
    // Creations that failed or were never attempted will not be observed.
    let observed = created.iter().filter(|made| **made).count();
    if created.len() < count {
        tracing::info!(
            podsSkipped = count - created.len(),
            kind = "MiniReplicaSet",
            replicaSet = %object_key(rs),
            "Slow-start failure. Skipping creation of pods, decrementing expectations"
        );
    }
    for _ in observed..count {
        ctx.expectations.creation_observed(uid);
    }
    match error {
        None => Ok(()),
        // Upstream's condition carries the create error as it is (`err.Error()`).
        Some(message) => Err(Failure {
            reason: "FailedCreate",
            message,
        }),
    }
}

async fn delete_pods(
    rs: &MiniReplicaSet,
    uid: &str,
    victims: Vec<&CachedPod>,
    ctx: &Context,
) -> Result<(), Failure> {
    let namespace = rs.namespace().unwrap_or_default();
    let api: Api<CachedPod> = Api::namespaced(ctx.client.clone(), &namespace);
    let reference = rs.object_ref(&());
    ctx.expectations
        .expect_deletions(uid, victims.iter().map(|p| pod::key(p)), Instant::now());
    tracing::debug!(count = victims.len(), "deleting pods");
    let results = join_all(victims.iter().map(|victim| async {
        let name = victim.name_any();
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {
                ctx.events.normal(
                    &reference,
                    "SuccessfulDelete",
                    format!("Deleted pod: {name}"),
                );
                Ok(())
            }
            Err(e) => {
                ctx.expectations.deletion_observed(uid, &pod::key(victim));
                if claim::is_status(&e, 404) {
                    return Ok(());
                }
                let message = api_error::message(&e);
                ctx.events.warning(
                    &reference,
                    "FailedDelete",
                    format!("Error deleting: {message}"),
                );
                Err(message)
            }
        }
    }))
    .await;
    match results.into_iter().find_map(Result::err) {
        None => Ok(()),
        // Upstream's DeletePod wraps the error before it reaches the condition.
        Some(message) => Err(Failure {
            reason: "FailedDelete",
            message: format!("unable to delete pods: {message}"),
        }),
    }
}

/// Pods selected by any MiniReplicaSet that shares this one's controlling owner (a
/// MiniDeployment's sets). A set without an owner has none (upstream
/// `getIndirectlyRelatedPods`), so its pods all rank 0.
fn related_pods(rs: &MiniReplicaSet, ctx: &Context) -> Vec<Arc<CachedPod>> {
    let Some(owner) = pod::controller_of(rs.meta()) else {
        return Vec::new();
    };
    let namespace = rs.namespace().unwrap_or_default();
    let sibling_selectors: Vec<Selector> = ctx
        .replicasets
        .state()
        .iter()
        .filter_map(|cached| cached.0.as_ref().ok())
        .filter(|other| other.namespace().as_deref() == Some(namespace.as_str()))
        .filter(|other| pod::controller_of(other.meta()).is_some_and(|c| c.uid == owner.uid))
        .filter_map(|other| label_selector::to_selector(&other.spec.selector).ok())
        .collect();
    ctx.pods
        .list(&namespace)
        .into_iter()
        .filter(|p| sibling_selectors.iter().any(|s| s.matches(p.labels())))
        .collect()
}

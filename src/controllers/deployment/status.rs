//! Status and conditions of a MiniDeployment (upstream `calculateStatus` and
//! `syncRolloutStatus`).

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::DeploymentStatus;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::ResourceExt;

use super::util::{self, reason};
use crate::api::{MiniDeployment, MiniReplicaSet};

/// Counts over the sets, the existing conditions, and Available set for the current size.
pub fn calculate(
    d: &MiniDeployment,
    all: &[Arc<MiniReplicaSet>],
    new: Option<&Arc<MiniReplicaSet>>,
    now: Timestamp,
) -> DeploymentStatus {
    let available = util::available_replicas(all);
    let unavailable = (util::spec_replicas(all) - available).max(0);
    let previous = d.status.clone().map(|s| s.status).unwrap_or_default();
    let mut status = DeploymentStatus {
        observed_generation: d.metadata.generation,
        replicas: Some(util::actual_replicas(all)),
        updated_replicas: Some(new.map_or(0, |n| util::actual_replicas(std::slice::from_ref(n)))),
        ready_replicas: Some(util::ready_replicas(all)),
        available_replicas: Some(available),
        unavailable_replicas: Some(unavailable),
        terminating_replicas: terminating_replicas(all),
        collision_count: previous.collision_count,
        conditions: previous.conditions,
    };
    let condition = if available >= d.spec.replicas - util::max_unavailable(d) {
        util::new_condition(
            util::AVAILABLE,
            "True",
            reason::MINIMUM_REPLICAS_AVAILABLE,
            "Deployment has minimum availability.".into(),
            now,
        )
    } else {
        util::new_condition(
            util::AVAILABLE,
            "False",
            reason::MINIMUM_REPLICAS_UNAVAILABLE,
            "Deployment does not have minimum availability.".into(),
            now,
        )
    };
    util::set_condition(&mut status, condition);
    status
}

/// Terminating pods over the sets (upstream `GetTerminatingReplicaCountForReplicaSets`): a set
/// not yet observed by its controller counts as 0, but an observed set that does not report
/// the count (written by a controller that does not track it) makes the total unknown, so
/// the deployment reports none rather than a number that is too low.
fn terminating_replicas(all: &[Arc<MiniReplicaSet>]) -> Option<i32> {
    let mut total = 0;
    for rs in all {
        let status = rs.status.as_ref().map(|s| &s.status);
        match status.and_then(|s| s.terminating_replicas) {
            Some(count) => total += count,
            None if status.and_then(|s| s.observed_generation).unwrap_or(0) == 0 => {}
            None => return None,
        }
    }
    Some(total)
}

/// A progress deadline of i32::MAX means none, as upstream.
pub fn has_progress_deadline(d: &MiniDeployment) -> bool {
    d.spec.progress_deadline_seconds != i32::MAX
}

/// The status after a rollout step: counts, then Progressing (complete, progressing or timed
/// out) and ReplicaFailure copied from the sets.
pub fn rollout(
    d: &MiniDeployment,
    all: &[Arc<MiniReplicaSet>],
    new: Option<&Arc<MiniReplicaSet>>,
    now: Timestamp,
) -> DeploymentStatus {
    let mut status = calculate(d, all, new, now);
    if !has_progress_deadline(d) {
        util::remove_condition(&mut status, util::PROGRESSING);
    }
    let previous = d.status.clone().map(|s| s.status).unwrap_or_default();
    let current = util::condition(&previous, util::PROGRESSING).cloned();
    let already_complete = status.replicas == status.updated_replicas
        && current
            .as_ref()
            .is_some_and(|c| c.reason.as_deref() == Some(reason::NEW_RS_AVAILABLE));
    if has_progress_deadline(d) && !already_complete {
        let subject = |verb: &str| match new {
            Some(new) => format!("ReplicaSet {:?} {verb}.", new.name_any()),
            None => format!("Deployment {:?} {verb}.", d.name_any()),
        };
        if util::is_complete(d, &status) {
            let message = subject("has successfully progressed");
            util::set_condition(
                &mut status,
                util::new_condition(
                    util::PROGRESSING,
                    "True",
                    reason::NEW_RS_AVAILABLE,
                    message,
                    now,
                ),
            );
        } else if util::is_progressing(d, &status) {
            let mut condition = util::new_condition(
                util::PROGRESSING,
                "True",
                reason::REPLICA_SET_UPDATED,
                subject("is progressing"),
                now,
            );
            if let Some(current) = &current {
                if current.status.as_deref() == Some("True") {
                    condition.last_transition_time = current.last_transition_time.clone();
                }
                util::remove_condition(&mut status, util::PROGRESSING);
            }
            util::set_condition(&mut status, condition);
        } else if util::has_timed_out(d, &status, now) {
            let message = subject("has timed out progressing");
            util::set_condition(
                &mut status,
                util::new_condition(util::PROGRESSING, "False", reason::TIMED_OUT, message, now),
            );
        }
    }
    match replica_failure(all, new) {
        Some(failure) => util::set_condition(&mut status, failure),
        None => util::remove_condition(&mut status, util::REPLICA_FAILURE),
    }
    status
}

/// The ReplicaFailure condition of the new set, else of any set.
fn replica_failure(
    all: &[Arc<MiniReplicaSet>],
    new: Option<&Arc<MiniReplicaSet>>,
) -> Option<k8s_openapi::api::apps::v1::DeploymentCondition> {
    let failure_of = |rs: &Arc<MiniReplicaSet>| {
        rs.status
            .as_ref()?
            .status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_.as_deref() == Some(util::REPLICA_FAILURE))
            .map(util::from_replicaset_condition)
    };
    new.and_then(failure_of)
        .or_else(|| all.iter().find_map(failure_of))
}

/// When to look again for a stalled rollout: at the progress deadline (upstream
/// `requeueStuckDeployment`). None when complete, timed out, or without a deadline.
pub fn recheck_progress_after(
    d: &MiniDeployment,
    status: &DeploymentStatus,
    now: Timestamp,
) -> Option<Duration> {
    let current = util::condition(status, util::PROGRESSING)?;
    if !has_progress_deadline(d)
        || util::is_complete(d, status)
        || current.reason.as_deref() == Some(reason::TIMED_OUT)
    {
        return None;
    }
    let updated = current.last_update_time.as_ref()?.0;
    let after = (updated + SignedDuration::from_secs(d.spec.progress_deadline_seconds.into()))
        .duration_since(now);
    let after = Duration::try_from(after).unwrap_or(Duration::ZERO);
    Some(if after < Duration::from_secs(1) {
        Duration::from_secs(1)
    } else {
        after + Duration::from_secs(1)
    })
}

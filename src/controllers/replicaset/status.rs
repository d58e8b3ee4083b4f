//! Status of a MiniReplicaSet from its pods (upstream `calculateStatus`), and when to look
//! again for pods turning available.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use k8s_openapi::jiff::Timestamp;
use kube::core::Selector;

use crate::api::{MiniReplicaSet, MiniReplicaSetStatus};
use crate::controllers::pod;

pub const REPLICA_FAILURE: &str = "ReplicaFailure";

/// Why the last attempt to reach the desired count failed, for the ReplicaFailure condition.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// FailedCreate or FailedDelete.
    pub reason: &'static str,
    pub message: String,
}

/// The status to write: counts over the active pods, the terminating count, and the
/// ReplicaFailure condition — set when a sync failed (kept, not refreshed, while it lasts),
/// removed after a clean sync.
pub fn calculate(
    rs: &MiniReplicaSet,
    active: &[Arc<Pod>],
    terminating: usize,
    failure: Option<&Failure>,
    now: Timestamp,
) -> MiniReplicaSetStatus {
    let template_labels = rs.spec.template.labels();
    let min_ready = rs.spec.min_ready_seconds;
    let mut fully_labeled = 0;
    let mut ready = 0;
    let mut available = 0;
    for pod in active {
        let labels = pod.metadata.labels.as_ref();
        if template_labels
            .iter()
            .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        {
            fully_labeled += 1;
        }
        if pod::is_ready(pod) {
            ready += 1;
            if pod::is_available(pod, min_ready, now) {
                available += 1;
            }
        }
    }

    let previous = rs.status.clone().unwrap_or_default();
    let mut conditions = previous.status.conditions.unwrap_or_default();
    let has_failure = conditions
        .iter()
        .any(|c| c.type_.as_deref() == Some(REPLICA_FAILURE));
    match failure {
        Some(failure) if !has_failure => conditions.push(ReplicaSetCondition {
            type_: Some(REPLICA_FAILURE.into()),
            status: Some("True".into()),
            reason: Some(failure.reason.into()),
            message: Some(failure.message.clone()),
            last_transition_time: Some(Time(now)),
        }),
        None if has_failure => conditions.retain(|c| c.type_.as_deref() != Some(REPLICA_FAILURE)),
        _ => {}
    }

    MiniReplicaSetStatus {
        status: ReplicaSetStatus {
            replicas: active.len() as i32,
            fully_labeled_replicas: Some(fully_labeled),
            ready_replicas: Some(ready),
            available_replicas: Some(available),
            terminating_replicas: Some(terminating as i32),
            observed_generation: rs.metadata.generation,
            conditions: (!conditions.is_empty()).then_some(conditions),
        },
        selector: selector_string(&rs.spec.selector),
    }
}

/// The selector as a label query (`app=web,tier in (a,b)`), for the scale subresource.
pub fn selector_string(selector: &LabelSelector) -> Option<String> {
    Selector::try_from(selector.clone())
        .ok()
        .map(|s| s.to_string())
}

/// When ready pods are still waiting out minReadySeconds: the time until the first of them
/// becomes available (upstream `FindMinNextPodAvailabilityCheck`).
pub fn next_availability_check(
    min_ready: i32,
    status: &ReplicaSetStatus,
    active: &[Arc<Pod>],
    now: Timestamp,
) -> Option<Duration> {
    if min_ready <= 0 || status.ready_replicas == status.available_replicas {
        return None;
    }
    let soonest = active
        .iter()
        .filter_map(|p| pod::until_available(p, min_ready, now))
        .min()
        .and_then(|d| Duration::try_from(d).ok());
    Some(soonest.unwrap_or(Duration::from_secs(min_ready as u64)))
}

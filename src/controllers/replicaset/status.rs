//! Status of a MiniReplicaSet from its pods (upstream `calculateStatus`), and when to look
//! again for pods turning available.

use std::sync::Arc;
use std::time::Duration;

use crate::controllers::cached_pod::CachedPod;
use k8s_openapi::api::apps::v1::{ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use k8s_openapi::jiff::Timestamp;

use crate::api::{MiniReplicaSet, MiniReplicaSetStatus};
use crate::controllers::pod;
use crate::runtime::label_selector;

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
    active: &[Arc<CachedPod>],
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
    label_selector::to_selector(selector)
        .ok()
        .map(|s| s.to_string())
}

/// When ready pods are still waiting out minReadySeconds: the time until the first of them
/// becomes available (upstream `FindMinNextPodAvailabilityCheck`).
pub fn next_availability_check(
    min_ready: i32,
    status: &ReplicaSetStatus,
    active: &[Arc<CachedPod>],
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rs(min_ready: i32, status: serde_json::Value) -> MiniReplicaSet {
        serde_json::from_value(json!({
            "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniReplicaSet",
            "metadata": {"name": "web", "namespace": "ns", "generation": 4},
            "spec": {
                "replicas": 3, "minReadySeconds": min_ready,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web", "tier": "front"}}}
            },
            "status": status
        }))
        .unwrap()
    }

    fn pod(labels: serde_json::Value, ready_since: Option<&str>) -> Arc<CachedPod> {
        let conditions = match ready_since {
            Some(t) => json!([{"type": "Ready", "status": "True", "lastTransitionTime": t}]),
            None => json!([{"type": "Ready", "status": "False"}]),
        };
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": "p", "labels": labels},
                "status": {"phase": "Running", "conditions": conditions}
            }))
            .unwrap(),
        )
    }

    fn now() -> Timestamp {
        "2026-01-01T00:01:00Z".parse().unwrap()
    }

    #[test]
    fn counts_labeled_ready_and_available_pods() {
        let full = json!({"app": "web", "tier": "front"});
        let partial = json!({"app": "web"});
        let pods = [
            pod(full.clone(), Some("2026-01-01T00:00:00Z")), // ready 60 s: available
            pod(full.clone(), Some("2026-01-01T00:00:50Z")), // ready 10 s: not yet
            pod(partial, None),
        ];
        let status = calculate(&rs(30, json!({})), &pods, 2, None, now());
        let s = &status.status;
        assert_eq!(s.replicas, 3);
        assert_eq!(s.fully_labeled_replicas, Some(2));
        assert_eq!(s.ready_replicas, Some(2));
        assert_eq!(s.available_replicas, Some(1));
        assert_eq!(s.terminating_replicas, Some(2));
        assert_eq!(s.observed_generation, Some(4));
        assert_eq!(status.selector.as_deref(), Some("app=web"));
        assert_eq!(s.conditions, None);
    }

    #[test]
    fn availability_boundary_counts_as_available() {
        let pods = [pod(json!({}), Some("2026-01-01T00:00:30Z"))];
        assert_eq!(
            calculate(&rs(30, json!({})), &pods, 0, None, now())
                .status
                .available_replicas,
            Some(1)
        );
        assert_eq!(
            calculate(&rs(31, json!({})), &pods, 0, None, now())
                .status
                .available_replicas,
            Some(0)
        );
    }

    #[test]
    fn replica_failure_is_set_once_and_removed_after_a_clean_sync() {
        let failure = Failure {
            reason: "FailedCreate",
            message: "quota".into(),
        };
        let first = calculate(&rs(0, json!({})), &[], 0, Some(&failure), now());
        let conditions = first.status.conditions.clone().unwrap();
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].reason.as_deref(), Some("FailedCreate"));
        assert_eq!(conditions[0].last_transition_time, Some(Time(now())));

        // A later failure keeps the first condition as it was (time and message).
        let later: Timestamp = "2026-01-01T00:05:00Z".parse().unwrap();
        let again = Failure {
            reason: "FailedCreate",
            message: "other".into(),
        };
        let previous = serde_json::to_value(&first).unwrap();
        let second = calculate(&rs(0, previous.clone()), &[], 0, Some(&again), later);
        assert_eq!(second.status.conditions, first.status.conditions);

        // A clean sync removes it.
        let cleared = calculate(&rs(0, previous), &[], 0, None, later);
        assert_eq!(cleared.status.conditions, None);
    }

    #[test]
    fn next_check_is_when_the_first_ready_pod_becomes_available() {
        let pods = [
            pod(json!({}), Some("2026-01-01T00:00:50Z")),
            pod(json!({}), Some("2026-01-01T00:00:40Z")),
        ];
        let status = calculate(&rs(30, json!({})), &pods, 0, None, now()).status;
        assert_eq!(
            next_availability_check(30, &status, &pods, now()),
            Some(Duration::from_secs(10))
        );
        assert_eq!(next_availability_check(0, &status, &pods, now()), None);
        let all_available = calculate(&rs(5, json!({})), &pods, 0, None, now()).status;
        assert_eq!(
            next_availability_check(5, &all_available, &pods, now()),
            None
        );
    }
}

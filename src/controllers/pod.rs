//! Pod predicates shared by the controllers (upstream `controller_utils.go` and
//! `pkg/api/v1/pod/util.go`).

use crate::controllers::cached_pod::CachedPod;
use k8s_openapi::api::core::v1::PodCondition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// Not finished (Succeeded/Failed) and not being deleted: the pods a controller counts.
pub fn is_active(pod: &CachedPod) -> bool {
    !is_terminal(pod) && pod.metadata.deletion_timestamp.is_none()
}

/// Being deleted but not yet finished: counted as `terminatingReplicas`.
pub fn is_terminating(pod: &CachedPod) -> bool {
    !is_terminal(pod) && pod.metadata.deletion_timestamp.is_some()
}

fn is_terminal(pod: &CachedPod) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed")
}

pub fn phase(pod: &CachedPod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// The first Ready condition, as `GetPodReadyCondition` finds it.
pub fn ready_condition(pod: &CachedPod) -> Option<&PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
}

pub fn is_ready(pod: &CachedPod) -> bool {
    ready_condition(pod).is_some_and(|c| c.status == "True")
}

/// Upstream `podEndpointsChanged`: whether a change of the pod moves its endpoint address
/// (besides labels, which decide the services it belongs to).
pub fn endpoints_changed(old: &CachedPod, new: &CachedPod) -> bool {
    let ips = |p: &CachedPod| {
        p.status
            .as_ref()
            .and_then(|s| s.pod_ips.clone())
            .unwrap_or_default()
    };
    let host = |p: &CachedPod| {
        p.spec
            .as_ref()
            .map(|s| (s.hostname.clone(), s.subdomain.clone()))
    };
    old.metadata.deletion_timestamp != new.metadata.deletion_timestamp
        || is_ready(old) != is_ready(new)
        || ips(old) != ips(new)
        || host(old) != host(new)
        // A finished pod leaves the endpoints; upstream sees it through the readiness change
        // that comes with it.
        || phase(old) != phase(new)
}

/// When a ready pod became Ready; None for pods that are not ready.
pub fn ready_since(pod: &CachedPod) -> Option<Timestamp> {
    let condition = ready_condition(pod).filter(|c| c.status == "True")?;
    condition.last_transition_time.as_ref().map(|t| t.0)
}

/// Ready for at least `min_ready_seconds` at `now` (the boundary counts as available).
pub fn is_available(pod: &CachedPod, min_ready_seconds: i32, now: Timestamp) -> bool {
    if !is_ready(pod) {
        return false;
    }
    if min_ready_seconds <= 0 {
        return true;
    }
    ready_since(pod)
        .is_some_and(|since| since + SignedDuration::from_secs(min_ready_seconds.into()) <= now)
}

/// Time until a ready pod becomes available, if it is not yet; None otherwise.
pub fn until_available(
    pod: &CachedPod,
    min_ready_seconds: i32,
    now: Timestamp,
) -> Option<SignedDuration> {
    let available_at = ready_since(pod)? + SignedDuration::from_secs(min_ready_seconds.into());
    let remaining = available_at.duration_since(now);
    (min_ready_seconds > 0 && remaining.is_positive()).then_some(remaining)
}

/// The owner reference with `controller: true`, if any.
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|r| r.controller == Some(true))
}

/// `namespace/name`, the key expectations track pods by.
pub fn key(pod: &CachedPod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default()
    )
}

/// The first container port named `name` with this protocol, in the containers and then in
/// restartable (sidecar) init containers (the named half of upstream `FindPort`).
pub fn named_port(pod: &CachedPod, name: &str, protocol: &str) -> Option<i32> {
    let spec = pod.spec.as_ref()?;
    let sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .filter(|c| c.restart_policy.as_deref() == Some("Always"));
    spec.containers
        .iter()
        .chain(sidecars)
        .flat_map(|c| c.ports.iter().flatten())
        .find(|p| {
            p.name.as_deref() == Some(name) && p.protocol.as_deref().unwrap_or("TCP") == protocol
        })
        .map(|p| p.container_port)
}

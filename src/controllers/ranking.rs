//! Which pods go first on a scale-down (upstream `ActivePodsWithRanks.Less`). The first rule
//! that tells two pods apart decides:
//!
//! 1. not yet scheduled before scheduled;
//! 2. Pending, then Unknown, then Running;
//! 3. not Ready before Ready;
//! 4. lower `controller.kubernetes.io/pod-deletion-cost` first;
//! 5. more sibling pods on the same node first (the rank);
//! 6. both Ready: Ready for less time first, compared in log2 buckets of age, equal buckets
//!    broken by UID (so the choice is random across pods but stable for a pair);
//! 7. more container restarts first (the highest count of any container, then of sidecars);
//! 8. newer first, in log2 buckets of age, equal buckets broken by UID.

use std::cmp::Ordering;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;

use super::pod;

/// Annotation by which users say which pods are cheaper to lose.
pub const DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// A pod with its rank: the number of active sibling pods on its node.
#[derive(Clone, Copy, Debug)]
pub struct Ranked<'a> {
    pub pod: &'a Pod,
    pub rank: usize,
}

/// Sorts `pods` so that the ones to delete first come first. A stable merge sort: upstream's
/// order is not a total order in every corner (rules 6 and 8 break ties by UID only within a
/// bucket), which a merge sort tolerates.
pub fn sort_for_deletion(pods: &mut Vec<Ranked<'_>>, now: Timestamp) {
    if pods.len() < 2 {
        return;
    }
    let right = pods.split_off(pods.len() / 2);
    let mut left = std::mem::take(pods);
    let mut right = right;
    sort_for_deletion(&mut left, now);
    sort_for_deletion(&mut right, now);
    let (mut l, mut r) = (left.into_iter().peekable(), right.into_iter().peekable());
    while let (Some(a), Some(b)) = (l.peek(), r.peek()) {
        if delete_before(b, a, now) {
            pods.push(r.next().unwrap());
        } else {
            pods.push(l.next().unwrap());
        }
    }
    pods.extend(l);
    pods.extend(r);
}

/// True when `a` should be deleted before `b`.
pub fn delete_before(a: &Ranked<'_>, b: &Ranked<'_>, now: Timestamp) -> bool {
    let (pa, pb) = (a.pod, b.pod);
    let (node_a, node_b) = (node_name(pa), node_name(pb));
    if node_a != node_b && (node_a.is_empty() || node_b.is_empty()) {
        return node_a.is_empty();
    }
    let (phase_a, phase_b) = (phase_ordinal(pa), phase_ordinal(pb));
    if phase_a != phase_b {
        return phase_a < phase_b;
    }
    let (ready_a, ready_b) = (pod::is_ready(pa), pod::is_ready(pb));
    if ready_a != ready_b {
        return !ready_a;
    }
    let (cost_a, cost_b) = (deletion_cost(pa), deletion_cost(pb));
    if cost_a != cost_b {
        return cost_a < cost_b;
    }
    if a.rank != b.rank {
        return a.rank > b.rank;
    }
    if ready_a && ready_b {
        let (since_a, since_b) = (pod::ready_since(pa), pod::ready_since(pb));
        if since_a != since_b {
            return newer_first(since_a, since_b, pa, pb, now);
        }
    }
    match max_restarts(pa).cmp(&max_restarts(pb)) {
        Ordering::Equal => {}
        more => return more == Ordering::Greater,
    }
    let (created_a, created_b) = (created(pa), created(pb));
    if created_a != created_b {
        return newer_first(created_a, created_b, pa, pb, now);
    }
    false
}

/// The newer of two times first, compared in log2 buckets of their age at `now`; a missing
/// time counts as newest.
fn newer_first(
    a: Option<Timestamp>,
    b: Option<Timestamp>,
    pa: &Pod,
    pb: &Pod,
    now: Timestamp,
) -> bool {
    let (Some(a), Some(b)) = (a, b) else {
        return a.is_none();
    };
    match log2_age(a, now).cmp(&log2_age(b, now)) {
        Ordering::Equal => uid(pa) < uid(pb),
        order => order == Ordering::Less,
    }
}

/// floor(log2(age in nanoseconds)), or -1 for times not in the past.
fn log2_age(time: Timestamp, now: Timestamp) -> i64 {
    let nanos = now.duration_since(time).as_nanos();
    if nanos > 0 {
        (nanos as f64).log2() as i64
    } else {
        -1
    }
}

fn node_name(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("")
}

fn phase_ordinal(pod: &Pod) -> u8 {
    match pod::phase(pod) {
        "Unknown" => 1,
        "Running" => 2,
        _ => 0,
    }
}

fn uid(pod: &Pod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or("")
}

fn created(pod: &Pod) -> Option<Timestamp> {
    pod.metadata.creation_timestamp.as_ref().map(|t| t.0)
}

/// The deletion-cost annotation; absent or invalid values count as 0, as upstream.
pub fn deletion_cost(pod: &Pod) -> i32 {
    let Some(value) = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DELETION_COST))
    else {
        return 0;
    };
    let well_formed =
        value == "0" || value.starts_with(|c: char| c == '-' || ('1'..='9').contains(&c));
    if !well_formed {
        return 0;
    }
    value.parse::<i32>().unwrap_or(0)
}

/// (highest restart count of a container, highest of a sidecar init container).
fn max_restarts(pod: &Pod) -> (i32, i32) {
    let Some(status) = pod.status.as_ref() else {
        return (0, 0);
    };
    let regular = status
        .container_statuses
        .iter()
        .flatten()
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0);
    let sidecars: Vec<&str> = pod
        .spec
        .iter()
        .flat_map(|s| s.init_containers.iter().flatten())
        .filter(|c| c.restart_policy.as_deref() == Some("Always"))
        .map(|c| c.name.as_str())
        .collect();
    let sidecar = status
        .init_container_statuses
        .iter()
        .flatten()
        .filter(|c| sidecars.contains(&c.name.as_str()))
        .map(|c| c.restart_count)
        .max()
        .unwrap_or(0);
    (regular, sidecar)
}

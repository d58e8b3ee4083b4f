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

use crate::controllers::cached_pod::CachedPod;
use k8s_openapi::jiff::Timestamp;

use super::pod;

/// Annotation by which users say which pods are cheaper to lose.
pub const DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// A pod with its rank: the number of active sibling pods on its node.
#[derive(Clone, Copy, Debug)]
pub struct Ranked<'a> {
    pub pod: &'a CachedPod,
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
    pa: &CachedPod,
    pb: &CachedPod,
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

fn node_name(pod: &CachedPod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or("")
}

fn phase_ordinal(pod: &CachedPod) -> u8 {
    match pod::phase(pod) {
        "Unknown" => 1,
        "Running" => 2,
        _ => 0,
    }
}

fn uid(pod: &CachedPod) -> &str {
    pod.metadata.uid.as_deref().unwrap_or("")
}

fn created(pod: &CachedPod) -> Option<Timestamp> {
    pod.metadata.creation_timestamp.as_ref().map(|t| t.0)
}

/// The deletion-cost annotation; absent or invalid values count as 0, as upstream.
pub fn deletion_cost(pod: &CachedPod) -> i32 {
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
fn max_restarts(pod: &CachedPod) -> (i32, i32) {
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

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    const NOW: &str = "2026-06-01T12:00:00Z";

    fn now() -> Timestamp {
        NOW.parse().unwrap()
    }

    /// A Running, Ready, scheduled pod created an hour ago, ready for 30 minutes; `change`
    /// edits its JSON.
    fn pod(name: &str, change: impl FnOnce(&mut Value)) -> CachedPod {
        let mut value = json!({
            "metadata": {"name": name, "uid": format!("uid-{name}"), "creationTimestamp": "2026-06-01T11:00:00Z"},
            "spec": {"nodeName": "node-a", "containers": [{"name": "c"}]},
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-06-01T11:30:00Z"}],
                "containerStatuses": [{"name": "c", "restartCount": 0, "ready": true, "image": "i", "imageID": ""}]
            }
        });
        change(&mut value);
        serde_json::from_value(value).unwrap()
    }

    fn first(a: &CachedPod, b: &CachedPod) -> bool {
        delete_before(
            &Ranked { pod: a, rank: 0 },
            &Ranked { pod: b, rank: 0 },
            now(),
        )
    }

    /// `victim` goes before `keeper`, and not the other way round.
    fn assert_first(victim: &CachedPod, keeper: &CachedPod, rule: &str) {
        assert!(
            first(victim, keeper),
            "{rule}: {} should go first",
            victim.metadata.name.as_ref().unwrap()
        );
        assert!(!first(keeper, victim), "{rule}: order is not antisymmetric");
    }

    #[test]
    fn rule_1_unscheduled_before_scheduled() {
        let unscheduled = pod("a", |p| p["spec"]["nodeName"] = Value::Null);
        assert_first(&unscheduled, &pod("b", |_| {}), "unscheduled");
    }

    #[test]
    fn rule_2_pending_then_unknown_then_running() {
        let pending = pod("a", |p| p["status"]["phase"] = json!("Pending"));
        let unknown = pod("b", |p| p["status"]["phase"] = json!("Unknown"));
        let running = pod("c", |_| {});
        assert_first(&pending, &unknown, "phase");
        assert_first(&unknown, &running, "phase");
        assert_first(&pending, &running, "phase");
    }

    #[test]
    fn rule_3_not_ready_before_ready() {
        let not_ready = pod("a", |p| {
            p["status"]["conditions"][0]["status"] = json!("False")
        });
        assert_first(&not_ready, &pod("b", |_| {}), "readiness");
    }

    #[test]
    fn rule_4_lower_deletion_cost_first() {
        let cost = |c: &str| {
            let c = c.to_owned();
            move |p: &mut Value| p["metadata"]["annotations"] = json!({DELETION_COST: c})
        };
        let cheap = pod("a", cost("-5"));
        let dear = pod("b", cost("10"));
        assert_first(&cheap, &dear, "deletion cost");
        assert_first(&cheap, &pod("c", |_| {}), "deletion cost against none (0)");
        // Invalid values count as 0.
        for invalid in ["+10", "008", "", "abc", "99999999999"] {
            assert_eq!(deletion_cost(&pod("x", cost(invalid))), 0, "{invalid:?}");
        }
        assert_eq!(deletion_cost(&pod("x", cost("0"))), 0);
        assert_eq!(deletion_cost(&pod("x", cost("-2147483648"))), i32::MIN);
    }

    #[test]
    fn rule_5_more_siblings_on_the_node_first() {
        let (a, b) = (pod("a", |_| {}), pod("b", |_| {}));
        let crowded = Ranked { pod: &a, rank: 3 };
        let sparse = Ranked { pod: &b, rank: 1 };
        assert!(delete_before(&crowded, &sparse, now()));
        assert!(!delete_before(&sparse, &crowded, now()));
    }

    #[test]
    fn rule_6_ready_for_less_time_first_in_log_buckets() {
        let ready_at = |t: &str| {
            let t = t.to_owned();
            move |p: &mut Value| p["status"]["conditions"][0]["lastTransitionTime"] = json!(t)
        };
        // Ready 1 minute vs 30 minutes: different log2 buckets.
        let recent = pod("z", ready_at("2026-06-01T11:59:00Z"));
        assert_first(&recent, &pod("a", |_| {}), "ready time");
        // Ready 30 min vs 31 min: the same bucket, so the UID decides (stable, "random").
        let similar = pod("z", ready_at("2026-06-01T11:29:00Z"));
        assert!(
            !first(&similar, &pod("a", |_| {})),
            "same bucket: uid-a < uid-z goes first"
        );
        assert!(first(&pod("a", |_| {}), &similar));
    }

    #[test]
    fn rule_7_more_restarts_first() {
        let restarted = pod("z", |p| {
            p["status"]["containerStatuses"][0]["restartCount"] = json!(4)
        });
        assert_first(&restarted, &pod("a", |_| {}), "restarts");
    }

    #[test]
    fn rule_7_counts_sidecar_restarts_after_regular_ones() {
        let with_sidecar = |restarts: i32| {
            move |p: &mut Value| {
                p["spec"]["initContainers"] = json!([{"name": "side", "restartPolicy": "Always"}]);
                p["status"]["initContainerStatuses"] = json!([{"name": "side", "restartCount": restarts, "ready": true, "image": "i", "imageID": ""}]);
            }
        };
        assert_first(
            &pod("z", with_sidecar(3)),
            &pod("a", with_sidecar(1)),
            "sidecar restarts",
        );
    }

    #[test]
    fn rule_8_newer_first_in_log_buckets() {
        let created = |t: &str| {
            let t = t.to_owned();
            move |p: &mut Value| p["metadata"]["creationTimestamp"] = json!(t)
        };
        let newer = pod("z", created("2026-06-01T11:50:00Z"));
        assert_first(&newer, &pod("a", |_| {}), "age");
    }

    #[test]
    fn identical_pods_are_not_ordered() {
        let (a, b) = (pod("a", |_| {}), pod("a", |_| {}));
        assert!(!first(&a, &b) && !first(&b, &a));
    }

    #[test]
    fn earlier_rules_win_over_later_ones() {
        // Not ready but very old and never restarted, against ready, new and crash-looping.
        let not_ready = pod("a", |p| {
            p["status"]["conditions"][0]["status"] = json!("False")
        });
        let flaky = pod("b", |p| {
            p["status"]["containerStatuses"][0]["restartCount"] = json!(50);
            p["metadata"]["creationTimestamp"] = json!("2026-06-01T11:59:00Z");
        });
        assert_first(&not_ready, &flaky, "readiness before restarts and age");
    }

    #[test]
    fn sorting_puts_the_cheapest_pods_first() {
        let pods = [
            pod("ready", |_| {}),
            pod("pending", |p| p["status"]["phase"] = json!("Pending")),
            pod("unscheduled", |p| p["spec"]["nodeName"] = Value::Null),
            pod("not-ready", |p| {
                p["status"]["conditions"][0]["status"] = json!("False")
            }),
        ];
        let mut ranked: Vec<Ranked> = pods.iter().map(|pod| Ranked { pod, rank: 0 }).collect();
        sort_for_deletion(&mut ranked, now());
        let order: Vec<&str> = ranked
            .iter()
            .map(|r| r.pod.metadata.name.as_deref().unwrap())
            .collect();
        assert_eq!(order, ["unscheduled", "pending", "not-ready", "ready"]);
    }
}

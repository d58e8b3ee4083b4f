//! Pure rollout planning (upstream `rolling.go`, `recreate.go`, `sync.go` scale and cleanup):
//! given the sets as they are, which set to scale to what.

use std::cmp::Ordering;

use std::sync::Arc;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use super::util;
use crate::api::deployment::StrategyType;
use crate::api::{MiniDeployment, MiniReplicaSet};

/// What planning needs to know of a MiniReplicaSet.
#[derive(Clone, Debug, PartialEq)]
pub struct SetView {
    pub name: String,
    pub created: Option<Timestamp>,
    /// spec.replicas
    pub replicas: i32,
    /// status.availableReplicas
    pub available: i32,
    /// The max-replicas annotation: deployment size + surge when the set was last scaled.
    pub max_replicas: Option<i32>,
}

impl SetView {
    pub fn of(rs: &MiniReplicaSet) -> Self {
        Self {
            name: rs.name_any(),
            created: rs.metadata.creation_timestamp.as_ref().map(|t| t.0),
            replicas: rs.spec.replicas,
            available: rs
                .status
                .as_ref()
                .and_then(|s| s.status.available_replicas)
                .unwrap_or(0),
            max_replicas: util::max_replicas_annotation(rs),
        }
    }
}

/// Scale the set `name` to `to` replicas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scale {
    pub name: String,
    pub to: i32,
}

/// The deployment's numbers that planning uses.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    pub replicas: i32,
    pub max_surge: i32,
    pub max_unavailable: i32,
}

impl Bounds {
    pub fn of(d: &MiniDeployment) -> Self {
        Self {
            replicas: d.spec.replicas,
            max_surge: util::max_surge(d),
            max_unavailable: util::max_unavailable(d),
        }
    }
}

fn oldest_first(a: &SetView, b: &SetView) -> Ordering {
    (a.created, &a.name).cmp(&(b.created, &b.name))
}

/// Replicas for the new set in a rolling update (upstream `NewRSNewReplicas`): grow it by what
/// the surge allows, up to the deployment size.
pub fn new_set_replicas(bounds: Bounds, all: &[SetView], new: &SetView) -> i32 {
    let current: i32 = all.iter().map(|s| s.replicas).sum();
    let max_total = bounds.replicas + bounds.max_surge;
    if current >= max_total {
        return new.replicas;
    }
    new.replicas + (max_total - current).min(bounds.replicas - new.replicas)
}

/// Where to scale the new set in a rolling update, if anywhere (`reconcileNewReplicaSet`).
pub fn reconcile_new_set(bounds: Bounds, all: &[SetView], new: &SetView) -> Option<i32> {
    let target = match new.replicas.cmp(&bounds.replicas) {
        Ordering::Equal => return None,
        Ordering::Greater => bounds.replicas,
        Ordering::Less => new_set_replicas(bounds, all, new),
    };
    (target != new.replicas).then_some(target)
}

/// What a rolling update does to its old sets in one sync (`reconcileOldReplicaSets`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OldSetsPlan {
    /// Scale steps in the order they are carried out; a set may appear twice (its unhealthy
    /// pods first, then its share of the scale-down).
    pub steps: Vec<Scale>,
    /// Set when a step would have raised an old set (its status still counts more available
    /// pods than its new size, as after lowering replicas and changing the template at once).
    /// Upstream refuses that step with this message and stops: the steps before it are
    /// carried out, nothing after it, and the sync goes on as if nothing was scaled down.
    pub refused: Option<String>,
}

/// Scale-downs of old sets in a rolling update (`reconcileOldReplicaSets`): first the
/// unhealthy pods of old sets, oldest set first (`cleanupUnhealthyReplicas`), then old sets by
/// as much as availability above `replicas − maxUnavailable` allows
/// (`scaleDownOldReplicaSetsForRollingUpdate`). `old` are the active old sets.
pub fn scale_down_old_sets(bounds: Bounds, old: &[SetView], new: &SetView) -> OldSetsPlan {
    let mut old: Vec<SetView> = old.to_vec();
    old.sort_by(oldest_first);
    let mut plan = OldSetsPlan::default();
    if old.iter().map(|s| s.replicas).sum::<i32>() == 0 {
        return plan;
    }
    let all_pods: i32 = old.iter().map(|s| s.replicas).sum::<i32>() + new.replicas;
    let min_available = bounds.replicas - bounds.max_unavailable;
    let new_unavailable = new.replicas - new.available;
    let max_scaled_down = all_pods - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return plan;
    }

    let mut cleaned = 0;
    for set in old.iter_mut() {
        if cleaned >= max_scaled_down {
            break;
        }
        if set.replicas == 0 || set.replicas == set.available {
            continue;
        }
        let count = (max_scaled_down - cleaned).min(set.replicas - set.available);
        if count < 0 {
            plan.refused = Some(format!(
                "when cleaning up unhealthy replicas, got invalid request to scale down {} {} -> {}",
                set.name,
                set.replicas,
                set.replicas - count
            ));
            return plan;
        }
        set.replicas -= count;
        cleaned += count;
        plan.steps.push(Scale {
            name: set.name.clone(),
            to: set.replicas,
        });
    }

    let available: i32 = old.iter().map(|s| s.available).sum::<i32>() + new.available;
    if available <= min_available {
        return plan;
    }
    let to_scale_down = available - min_available;
    let mut scaled = 0;
    for set in old.iter_mut() {
        if scaled >= to_scale_down {
            break;
        }
        if set.replicas == 0 {
            continue;
        }
        let count = set.replicas.min(to_scale_down - scaled);
        set.replicas -= count;
        scaled += count;
        plan.steps.push(Scale {
            name: set.name.clone(),
            to: set.replicas,
        });
    }
    plan
}

/// What a resized (or paused) deployment does to its sets (upstream `scale`): the only active
/// set (or the newest) takes the whole size; a saturated new set leaves the old ones at 0;
/// otherwise a rolling deployment spreads the change in proportion.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resize {
    pub steps: Vec<Scale>,
    /// Proportional steps also rewrite the sets' replica annotations when a size stays.
    pub refresh_annotations: bool,
}

pub fn resize(
    d: &MiniDeployment,
    new: Option<&Arc<MiniReplicaSet>>,
    old: &[Arc<MiniReplicaSet>],
    status_replicas: i32,
) -> Resize {
    let step = |rs: &MiniReplicaSet, to: i32| Scale {
        name: rs.name_any(),
        to,
    };
    if let Some(only) = util::active_or_latest(new, old) {
        let steps = (only.spec.replicas != d.spec.replicas)
            .then(|| step(&only, d.spec.replicas))
            .into_iter()
            .collect();
        return Resize {
            steps,
            refresh_annotations: false,
        };
    }
    if new.is_some_and(|n| util::is_saturated(d, n)) {
        return Resize {
            steps: util::active(old).iter().map(|rs| step(rs, 0)).collect(),
            refresh_annotations: false,
        };
    }
    if d.spec.strategy.type_ != StrategyType::RollingUpdate {
        return Resize::default();
    }
    let all: Vec<Arc<MiniReplicaSet>> = old.iter().chain(new).cloned().collect();
    let views: Vec<SetView> = util::active(&all)
        .iter()
        .map(|rs| SetView::of(rs))
        .collect();
    Resize {
        steps: proportional_sizes(Bounds::of(d), status_replicas, &views),
        refresh_annotations: true,
    }
}

/// Proportional scaling (upstream `scale`) when the deployment was resized mid-rollout or
/// while paused: spread the change over the active sets in proportion to their size,
/// largest first, the rounding leftover to the first. Returns every active set with its new
/// size (unchanged sizes too: their replica annotations still need the new numbers).
pub fn proportional_sizes(bounds: Bounds, status_replicas: i32, active: &[SetView]) -> Vec<Scale> {
    let mut sets = active.to_vec();
    let current: i32 = sets.iter().map(|s| s.replicas).sum();
    let allowed = if bounds.replicas > 0 {
        bounds.replicas + bounds.max_surge
    } else {
        0
    };
    let to_add = allowed - current;
    match to_add.cmp(&0) {
        // Largest first; among equals, newer first when growing and older first when shrinking.
        Ordering::Greater => {
            sets.sort_by(|a, b| b.replicas.cmp(&a.replicas).then_with(|| oldest_first(b, a)))
        }
        Ordering::Less => {
            sets.sort_by(|a, b| b.replicas.cmp(&a.replicas).then_with(|| oldest_first(a, b)))
        }
        Ordering::Equal => {}
    }
    let mut added = 0;
    let mut sizes: Vec<Scale> = sets
        .iter()
        .map(|set| {
            let share = proportion(bounds, status_replicas, set, to_add, added);
            added += share;
            Scale {
                name: set.name.clone(),
                to: set.replicas + share,
            }
        })
        .collect();
    if to_add != 0
        && let Some(first) = sizes.first_mut()
    {
        first.to = (first.to + to_add - added).max(0);
    }
    sizes
}

fn proportion(bounds: Bounds, status_replicas: i32, set: &SetView, to_add: i32, added: i32) -> i32 {
    if set.replicas == 0 || to_add == 0 || to_add == added {
        return 0;
    }
    let fraction = if bounds.replicas == 0 {
        -set.replicas
    } else {
        let before = match set.max_replicas {
            Some(before) if before != 0 => before,
            _ => status_replicas,
        };
        if before == 0 {
            0
        } else {
            let max_after = bounds.replicas + bounds.max_surge;
            let size = f64::from(set.replicas) * f64::from(max_after) / f64::from(before);
            size.round() as i32 - set.replicas
        }
    };
    let allowed = to_add - added;
    if to_add > 0 {
        fraction.min(allowed)
    } else {
        fraction.max(allowed)
    }
}

/// Old sets past `revision_history_limit` that may go: oldest revisions first, only those
/// fully scaled down, with no pods left and their status current (`cleanupDeployment`).
pub struct Cleanable {
    pub name: String,
    pub revision: i64,
    pub created: Option<Timestamp>,
    /// Scaled to 0, no pods, status observed, not being deleted.
    pub idle: bool,
}

impl Cleanable {
    /// The old sets that history cleanup considers: all but those already being deleted
    /// (upstream's `aliveFilter`).
    pub fn candidates(old: &[Arc<MiniReplicaSet>]) -> Vec<Self> {
        old.iter()
            .filter(|rs| rs.metadata.deletion_timestamp.is_none())
            .map(|rs| {
                let s = rs.status.clone().map(|s| s.status).unwrap_or_default();
                Self {
                    name: rs.name_any(),
                    revision: util::revision(rs).unwrap_or(0),
                    created: rs.metadata.creation_timestamp.as_ref().map(|t| t.0),
                    idle: rs.spec.replicas == 0
                        && s.replicas == 0
                        && rs.metadata.generation.unwrap_or(0)
                            <= s.observed_generation.unwrap_or(0),
                }
            })
            .collect()
    }
}

pub fn sets_to_delete(mut old: Vec<Cleanable>, revision_history_limit: i32) -> Vec<String> {
    let surplus = old.len() as i64 - i64::from(revision_history_limit);
    if surplus <= 0 {
        return Vec::new();
    }
    old.sort_by(|a, b| (a.revision, a.created, &a.name).cmp(&(b.revision, b.created, &b.name)));
    old.into_iter()
        .take(surplus as usize)
        .filter(|c| c.idle)
        .map(|c| c.name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(
        name: &str,
        age_minutes: i64,
        replicas: i32,
        available: i32,
        max_replicas: Option<i32>,
    ) -> SetView {
        let now: Timestamp = "2026-01-01T12:00:00Z".parse().unwrap();
        SetView {
            name: name.into(),
            created: Some(now - k8s_openapi::jiff::SignedDuration::from_mins(age_minutes)),
            replicas,
            available,
            max_replicas,
        }
    }

    fn b(replicas: i32, max_surge: i32, max_unavailable: i32) -> Bounds {
        Bounds {
            replicas,
            max_surge,
            max_unavailable,
        }
    }

    /// Upstream `TestDeploymentController_reconcileNewReplicaSet`.
    #[test]
    fn new_set_grows_within_the_surge() {
        // (replicas, surge, old, new) -> new target
        let cases = [
            (10, 0, 10, 0, None),
            (10, 2, 10, 0, Some(2)),
            (10, 2, 5, 0, Some(7)),
            (10, 2, 10, 2, None),
            (10, 2, 2, 11, Some(10)),
        ];
        for (replicas, surge, old, new, expected) in cases {
            let (old, new) = (set("old", 10, old, old, None), set("new", 1, new, 0, None));
            let target = reconcile_new_set(b(replicas, surge, 0), &[old, new.clone()], &new);
            assert_eq!(target, expected, "replicas={replicas} surge={surge}");
        }
    }

    /// Upstream `TestDeploymentController_reconcileOldReplicaSets`; maxSurge is 0 there, so a
    /// maxUnavailable of 0 becomes 1.
    #[test]
    fn old_sets_shrink_within_the_unavailability_budget() {
        // (replicas, maxUnavailable, old, new, old available, new available) -> old target
        let cases = [
            (10, 1, 10, 0, 10, 0, Some(9)),
            (10, 2, 10, 0, 10, 0, Some(8)),
            (10, 2, 10, 0, 8, 0, Some(8)), // the unhealthy pods go first
            (10, 2, 10, 0, 9, 0, Some(8)), // one unhealthy, one ready
            (10, 2, 8, 2, 8, 0, None),     // the new set's unavailable pods block it
        ];
        for (replicas, unavailable, old, new, old_available, new_available, expected) in cases {
            let old_set = set("old", 10, old, old_available, None);
            let new_set = set("new", 1, new, new_available, None);
            let plan = scale_down_old_sets(b(replicas, 0, unavailable), &[old_set], &new_set);
            assert_eq!(plan.refused, None);
            assert_eq!(
                plan.steps.last().map(|s| s.to),
                expected,
                "case {replicas}/{unavailable}/{old}/{new}/{old_available}"
            );
        }
    }

    #[test]
    fn unhealthy_pods_are_removed_from_the_oldest_set_first() {
        let older = set("v1", 30, 3, 1, None);
        let old = set("v2", 20, 3, 2, None);
        let new = set("v3", 1, 2, 2, None);
        // replicas 6, surge 2, unavailable 1: budget 8 - 5 - 0 = 3; v1 loses its 2 unhealthy
        // pods, v2 its 1, then availability 5 - 5 leaves nothing more to scale down.
        let plan = scale_down_old_sets(b(6, 2, 1), &[old, older], &new);
        assert_eq!(
            plan.steps,
            [
                Scale {
                    name: "v1".into(),
                    to: 1
                },
                Scale {
                    name: "v2".into(),
                    to: 2
                }
            ]
        );
    }

    /// Lowering replicas and changing the template in one apply leaves the old set with a
    /// status that still counts more available pods than its new size. Upstream's
    /// `cleanupUnhealthyReplicas` refuses to "scale it down" to a larger size; it must never
    /// be raised.
    #[test]
    fn a_stale_old_set_is_never_raised() {
        // The old set was lowered from 10 to 5 with the image change; its status still says
        // 10 available. The new set was just created with 1 (surge 1 over 5).
        let old = set("v1", 10, 5, 10, Some(11));
        let new = set("v2", 1, 1, 0, None);
        let plan = scale_down_old_sets(b(5, 1, 1), &[old], &new);
        assert_eq!(plan.steps, []);
        assert_eq!(
            plan.refused.as_deref(),
            Some(
                "when cleaning up unhealthy replicas, got invalid request to scale down v1 5 -> 10"
            )
        );
    }

    #[test]
    fn steps_before_a_refused_cleanup_are_kept() {
        // The oldest set has unhealthy pods and is cleaned first; the next one is stale.
        let oldest = set("v1", 30, 3, 1, None);
        let stale = set("v2", 20, 2, 4, None);
        let new = set("v3", 1, 1, 0, None);
        let plan = scale_down_old_sets(b(4, 1, 2), &[stale, oldest], &new);
        assert_eq!(
            plan.steps,
            [Scale {
                name: "v1".into(),
                to: 1
            }]
        );
        assert!(plan.refused.is_some());
    }

    /// (name, age in minutes, replicas) of each set.
    type Sets = &'static [(&'static str, i64, i32)];
    /// (name, expected size), in the order the sizes are assigned.
    type Sizes = &'static [(&'static str, i32)];

    /// Upstream `TestScale` (maxSurge 0, so max-replicas is the old deployment size).
    #[test]
    fn resizing_mid_rollout_is_proportional() {
        // (old size, new size, [(name, age, replicas)], expected sizes)
        let cases: [(i32, i32, Sets, Sizes); 8] = [
            (
                5,
                10,
                &[("v2", 1, 2), ("v1", 10, 3)],
                &[("v1", 6), ("v2", 4)],
            ),
            (
                5,
                3,
                &[("v2", 1, 2), ("v1", 10, 3)],
                &[("v1", 2), ("v2", 1)],
            ),
            (
                9,
                4,
                &[("v2", 1, 8), ("v1", 10, 1)],
                &[("v2", 4), ("v1", 0)],
            ),
            (
                7,
                10,
                &[("v3", 1, 2), ("v2", 10, 3), ("v1", 20, 2)],
                &[("v2", 4), ("v3", 3), ("v1", 3)],
            ),
            (
                13,
                8,
                &[("v3", 1, 2), ("v2", 10, 8), ("v1", 20, 3)],
                &[("v2", 5), ("v1", 2), ("v3", 1)],
            ),
            (
                3,
                4,
                &[("v3", 1, 1), ("v2", 10, 1), ("v1", 20, 1)],
                &[("v3", 2), ("v2", 1), ("v1", 1)],
            ),
            (
                3,
                2,
                &[("v3", 1, 1), ("v2", 10, 1), ("v1", 20, 1)],
                &[("v1", 0), ("v2", 1), ("v3", 1)],
            ),
            (
                6,
                0,
                &[("v3", 1, 3), ("v2", 10, 2), ("v1", 20, 1)],
                &[("v3", 0), ("v2", 0), ("v1", 0)],
            ),
        ];
        for (before, after, sets, expected) in cases {
            let views: Vec<SetView> = sets
                .iter()
                .map(|(n, age, r)| set(n, *age, *r, *r, Some(before)))
                .collect();
            let sizes = proportional_sizes(b(after, 0, 1), before, &views);
            let got: Vec<(&str, i32)> = sizes.iter().map(|s| (s.name.as_str(), s.to)).collect();
            assert_eq!(got, expected, "{before} -> {after}");
        }
    }

    #[test]
    fn history_cleanup_deletes_the_oldest_idle_sets_beyond_the_limit() {
        let c = |name: &str, revision: i64, idle: bool| Cleanable {
            name: name.into(),
            revision,
            created: None,
            idle,
        };
        let old = vec![
            c("r3", 3, true),
            c("r1", 1, true),
            c("r2", 2, false),
            c("r4", 4, true),
        ];
        // Limit 1: three must go, oldest revisions first; r2 still has pods and stays.
        assert_eq!(sets_to_delete(old, 1), ["r1", "r3"]);
        assert!(sets_to_delete(vec![c("r1", 1, true)], 1).is_empty());
        assert_eq!(sets_to_delete(vec![c("r1", 1, true)], 0), ["r1"]);
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        fn sets() -> impl Strategy<Value = (Bounds, Vec<SetView>, SetView)> {
            let bounds =
                (0..30i32, 0..10i32, 0..10i32).prop_map(|(replicas, surge, unavailable)| {
                    // As the API allows: not both zero.
                    let unavailable = if surge == 0 && unavailable == 0 {
                        1
                    } else {
                        unavailable
                    };
                    b(replicas, surge, unavailable)
                });
            // Status may lag the spec either way: available anywhere in 0..=2×replicas+3.
            let view = || (0..30i32, 0..63i32);
            (bounds, prop::collection::vec(view(), 0..4), view()).prop_map(|(bounds, old, new)| {
                let old = old
                    .into_iter()
                    .enumerate()
                    .map(|(i, (r, a))| {
                        set(&format!("v{i}"), 100 - i as i64, r, a.min(2 * r + 3), None)
                    })
                    .collect();
                let new = set("new", 1, new.0, new.1.min(2 * new.0 + 3), None);
                (bounds, old, new)
            })
        }

        proptest! {
            /// Whatever the sets' status says, a rolling update never raises an old set, never
            /// takes an old set below zero, cleans up only pods the status counts unavailable,
            /// and scales down only what availability above `replicas − maxUnavailable` allows.
            #[test]
            fn old_sets_only_shrink_within_the_budget((bounds, old, new) in sets()) {
                let plan = scale_down_old_sets(bounds, &old, &new);
                let mut size: std::collections::BTreeMap<&str, i32> =
                    old.iter().map(|s| (s.name.as_str(), s.replicas)).collect();
                let mut removed = 0;
                for step in &plan.steps {
                    let before = size[step.name.as_str()];
                    prop_assert!(step.to <= before, "{} raised {} -> {}", step.name, before, step.to);
                    prop_assert!(step.to >= 0);
                    removed += before - step.to;
                    size.insert(&step.name, step.to);
                }
                let all: i32 = old.iter().map(|s| s.replicas).sum::<i32>() + new.replicas;
                let min_available = bounds.replicas - bounds.max_unavailable;
                let unhealthy: i32 = old.iter().map(|s| (s.replicas - s.available).max(0)).sum();
                let available: i32 = old.iter().map(|s| s.available).sum::<i32>() + new.available;
                let budget = (all - min_available - (new.replicas - new.available)).max(0);
                prop_assert!(removed <= budget.min(unhealthy) + (available - min_available).max(0),
                    "removed {removed}, budget {budget}, unhealthy {unhealthy}, available {available}");
            }

            /// The new set grows only within `replicas + maxSurge` and never past `replicas`.
            #[test]
            fn the_new_set_grows_within_the_surge((bounds, old, new) in sets()) {
                let mut all = old.clone();
                all.push(new.clone());
                let total: i32 = all.iter().map(|s| s.replicas).sum();
                if let Some(to) = reconcile_new_set(bounds, &all, &new) {
                    if to > new.replicas {
                        prop_assert!(to <= bounds.replicas);
                        prop_assert!(total - new.replicas + to <= bounds.replicas + bounds.max_surge);
                    } else {
                        prop_assert_eq!(to, bounds.replicas);
                    }
                }
            }
        }
    }
}

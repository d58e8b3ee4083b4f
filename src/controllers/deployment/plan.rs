//! Pure rollout planning (upstream `rolling.go`, `recreate.go`, `sync.go` scale and cleanup):
//! given the sets as they are, which set to scale to what.

use std::cmp::Ordering;

use k8s_openapi::jiff::Timestamp;

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

/// Scale-downs of old sets in a rolling update (`reconcileOldReplicaSets`): first the
/// unhealthy pods of old sets, oldest set first, then old sets by as much as availability
/// above `replicas − maxUnavailable` allows. `old` are the active old sets.
pub fn scale_down_old_sets(bounds: Bounds, old: &[SetView], new: &SetView) -> Vec<Scale> {
    let mut old: Vec<SetView> = old.to_vec();
    old.sort_by(oldest_first);
    if old.iter().map(|s| s.replicas).sum::<i32>() == 0 {
        return Vec::new();
    }
    let all_pods: i32 = old.iter().map(|s| s.replicas).sum::<i32>() + new.replicas;
    let min_available = bounds.replicas - bounds.max_unavailable;
    let new_unavailable = new.replicas - new.available;
    let max_scaled_down = all_pods - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return Vec::new();
    }

    let mut steps = Vec::new();
    let mut cleaned = 0;
    for set in old.iter_mut() {
        if cleaned >= max_scaled_down {
            break;
        }
        if set.replicas == 0 || set.replicas == set.available {
            continue;
        }
        let count = (max_scaled_down - cleaned).min(set.replicas - set.available);
        set.replicas -= count;
        cleaned += count;
        steps.push(Scale {
            name: set.name.clone(),
            to: set.replicas,
        });
    }

    let available: i32 = old.iter().map(|s| s.available).sum::<i32>() + new.available;
    if available <= min_available {
        return steps;
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
        steps.push(Scale {
            name: set.name.clone(),
            to: set.replicas,
        });
    }
    steps
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

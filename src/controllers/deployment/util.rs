//! Pure helpers of the MiniDeployment controller (upstream
//! `pkg/controller/deployment/util/deployment_util.go`): rollout bounds, template hashing,
//! new and old sets, revisions, annotations, conditions.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{DeploymentCondition, DeploymentStatus, ReplicaSetCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use serde_json::Value;

use crate::api::deployment::{RollingUpdateDeployment, StrategyType};
use crate::api::template_defaults::semantic_form;
use crate::api::{MiniDeployment, MiniReplicaSet};

/// The label that tells the pods of one template from those of another.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";
pub const REVISION: &str = "minik8s.dev/revision";
pub const REVISION_HISTORY: &str = "minik8s.dev/revision-history";
pub const DESIRED_REPLICAS: &str = "minik8s.dev/desired-replicas";
pub const MAX_REPLICAS: &str = "minik8s.dev/max-replicas";
/// Set on a MiniDeployment to roll back to a revision (0: the previous one); the controller
/// clears it. What `minik8s rollout undo` sets, and what a GitOps user can set by hand.
pub const ROLLBACK_TO: &str = "minik8s.dev/rollback-to";
/// `kubectl.kubernetes.io/last-applied-configuration`.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// Longest revision history kept in the annotation.
pub const MAX_REVISION_HISTORY_CHARS: usize = 2000;

pub const PROGRESSING: &str = "Progressing";
pub const AVAILABLE: &str = "Available";
pub const REPLICA_FAILURE: &str = "ReplicaFailure";

/// Condition reasons, as upstream.
pub mod reason {
    pub const REPLICA_SET_UPDATED: &str = "ReplicaSetUpdated";
    pub const FAILED_RS_CREATE: &str = "ReplicaSetCreateError";
    pub const NEW_REPLICA_SET: &str = "NewReplicaSetCreated";
    pub const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
    pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
    pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
    pub const PAUSED: &str = "DeploymentPaused";
    pub const RESUMED: &str = "DeploymentResumed";
    pub const MINIMUM_REPLICAS_AVAILABLE: &str = "MinimumReplicasAvailable";
    pub const MINIMUM_REPLICAS_UNAVAILABLE: &str = "MinimumReplicasUnavailable";
    pub const ROLLBACK_REVISION_NOT_FOUND: &str = "DeploymentRollbackRevisionNotFound";
    pub const ROLLBACK_TEMPLATE_UNCHANGED: &str = "DeploymentRollbackTemplateUnchanged";
    pub const ROLLBACK_DONE: &str = "DeploymentRollback";
}

/// The most a surge or unavailability resolves to: beyond any real replica count, and low
/// enough that adding it to `replicas` (an i32) cannot overflow.
pub const MAX_SCALED: i32 = 1 << 30;

/// `N` or `N%` of `total`, percentages rounded up or down, at most [`MAX_SCALED`]. Admission
/// lets any number of digits before the `%` through (as upstream's validation does), so the
/// arithmetic saturates rather than overflows.
pub fn scaled_value(value: &IntOrString, total: i32, round_up: bool) -> i32 {
    let scaled = match value {
        IntOrString::Int(n) => i128::from(*n),
        IntOrString::String(s) => {
            // Not a percentage: refused at admission (and an error for the built-in).
            let digits = s.strip_suffix('%').unwrap_or("");
            let percent: i128 = match digits.parse() {
                Ok(p) => p,
                // All digits but too many for an i128: as large as it gets.
                Err(_) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                    i128::MAX
                }
                Err(_) => 0,
            };
            let scaled = percent.saturating_mul(i128::from(total));
            if round_up {
                scaled.saturating_add(99).div_euclid(100)
            } else {
                scaled.div_euclid(100)
            }
        }
    };
    scaled.clamp(0, i128::from(MAX_SCALED)) as i32
}

fn rolling_update(d: &MiniDeployment) -> Option<RollingUpdateDeployment> {
    match d.spec.strategy.type_ {
        StrategyType::RollingUpdate => {
            Some(d.spec.strategy.rolling_update.clone().unwrap_or_default())
        }
        StrategyType::Recreate => None,
    }
}

/// (maxSurge, maxUnavailable) in pods: surge rounds up, unavailability down, and both zero
/// becomes one unavailable pod, so a rollout can always make progress.
pub fn fenceposts(bounds: &RollingUpdateDeployment, desired: i32) -> (i32, i32) {
    let surge = scaled_value(&bounds.max_surge, desired, true);
    let unavailable = scaled_value(&bounds.max_unavailable, desired, false);
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

pub fn max_surge(d: &MiniDeployment) -> i32 {
    rolling_update(d).map_or(0, |b| fenceposts(&b, d.spec.replicas).0)
}

pub fn max_unavailable(d: &MiniDeployment) -> i32 {
    match rolling_update(d) {
        Some(b) if d.spec.replicas > 0 => fenceposts(&b, d.spec.replicas).1.min(d.spec.replicas),
        _ => 0,
    }
}

/// The template without the pod-template-hash label, as written.
pub fn template_without_hash(template: &serde_json::Map<String, Value>) -> Value {
    let mut template = template.clone();
    if let Some(Value::Object(labels)) = template
        .get_mut("metadata")
        .and_then(|m| m.get_mut("labels"))
    {
        labels.remove(POD_TEMPLATE_HASH);
    }
    Value::Object(template)
}

/// Upstream `EqualIgnoreHash`: the templates are semantically equal once the hash label is
/// set aside, as the built-in compares the templates the API server defaulted (see
/// [`semantic_form`]).
pub fn same_template(d: &MiniDeployment, rs: &MiniReplicaSet) -> bool {
    TemplateMatcher::new(d.spec.template.raw()).matches(rs.spec.template.raw())
}

/// Compares templates with one template, working out that one's semantic form at most once.
/// Equal as written is the common case and needs no more work.
pub struct TemplateMatcher {
    written: Value,
    form: std::cell::OnceCell<Value>,
}

impl TemplateMatcher {
    pub fn new(template: &serde_json::Map<String, Value>) -> Self {
        Self {
            written: template_without_hash(template),
            form: std::cell::OnceCell::new(),
        }
    }

    pub fn matches(&self, other: &serde_json::Map<String, Value>) -> bool {
        let other = template_without_hash(other);
        let form = |t: &Value| semantic_form(t.as_object().expect("a template is an object"));
        other == self.written || form(&other) == *self.form.get_or_init(|| form(&self.written))
    }
}

/// pod-template-hash: FNV-32a over a stable dump of the template (JSON with sorted keys),
/// then the collision count, encoded with the alphabet upstream uses for safe names.
pub fn template_hash(
    template: &serde_json::Map<String, Value>,
    collision_count: Option<i32>,
) -> String {
    let mut hash = Fnv32a::default();
    hash.write(
        serde_json::to_string(template)
            .expect("JSON serializes")
            .as_bytes(),
    );
    if let Some(count) = collision_count {
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&(count as u32).to_le_bytes());
        hash.write(&bytes);
    }
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    hash.0
        .to_string()
        .bytes()
        .map(|b| ALPHANUMS[b as usize % ALPHANUMS.len()] as char)
        .collect()
}

struct Fnv32a(u32);

impl Default for Fnv32a {
    fn default() -> Self {
        Self(0x811c_9dc5)
    }
}

impl Fnv32a {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u32::from(*byte)).wrapping_mul(0x0100_0193);
        }
    }
}

/// `<deployment>-<hash>`, the deployment name cut so that the whole fits 253 characters
/// (upstream `generateReplicaSetName`: a hash that leaves no room keeps the whole name).
pub fn replicaset_name(deployment: &str, hash: &str) -> String {
    let room = 253usize.saturating_sub(1 + hash.len());
    let base = if deployment.len() > room && room > 0 {
        &deployment[..room]
    } else {
        deployment
    };
    format!("{base}-{hash}")
}

/// Oldest first, by creation time then name.
pub fn sort_by_creation(sets: &mut [Arc<MiniReplicaSet>]) {
    sets.sort_by(|a, b| {
        let key = |rs: &MiniReplicaSet| {
            (
                rs.metadata.creation_timestamp.clone().map(|t| t.0),
                rs.name_any(),
            )
        };
        key(a).cmp(&key(b))
    });
}

/// The set whose template equals the deployment's (the oldest if several), and all others.
pub fn split_new_and_old(
    d: &MiniDeployment,
    sets: &[Arc<MiniReplicaSet>],
) -> (Option<Arc<MiniReplicaSet>>, Vec<Arc<MiniReplicaSet>>) {
    let mut sorted = sets.to_vec();
    sort_by_creation(&mut sorted);
    let template = TemplateMatcher::new(d.spec.template.raw());
    let new = sorted
        .iter()
        .find(|rs| template.matches(rs.spec.template.raw()))
        .cloned();
    let old = sorted
        .into_iter()
        .filter(|rs| new.as_ref().is_none_or(|n| n.uid() != rs.uid()))
        .collect();
    (new, old)
}

pub fn revision(rs: &MiniReplicaSet) -> Option<i64> {
    parse_revision(rs.annotations().get(REVISION)?)
}

/// A revision as upstream reads its annotations (`strconv.ParseInt(v, 10, 64)`): an optional
/// sign and decimal digits that fit an i64; anything else is not a revision.
pub fn parse_revision(text: &str) -> Option<i64> {
    text.parse().ok()
}

/// The highest revision, never below 0 (upstream `MaxRevision` starts from 0, so a set whose
/// annotation says `-5` does not make the next revision `-4`).
pub fn max_revision(sets: &[Arc<MiniReplicaSet>]) -> i64 {
    sets.iter().filter_map(|rs| revision(rs)).fold(0, i64::max)
}

/// The second-highest revision: what "roll back to the previous revision" means.
pub fn previous_revision(sets: &[Arc<MiniReplicaSet>]) -> i64 {
    let (mut max, mut second) = (0, 0);
    for v in sets.iter().filter_map(|rs| revision(rs)) {
        if v >= max {
            second = max;
            max = v;
        } else if v > second {
            second = v;
        }
    }
    second
}

/// minik8s's own bookkeeping annotations, and kubectl's last-applied configuration: never
/// copied between a deployment and its sets.
pub fn skip_copy(key: &str) -> bool {
    matches!(
        key,
        LAST_APPLIED | REVISION | REVISION_HISTORY | DESIRED_REPLICAS | MAX_REPLICAS | ROLLBACK_TO
    )
}

/// Annotations of the deployment that its sets carry too (`kubernetes.io/change-cause`, …).
pub fn copy_annotations(d: &MiniDeployment, rs_annotations: &mut BTreeMap<String, String>) -> bool {
    let mut changed = false;
    for (k, v) in d.annotations() {
        if skip_copy(k) || rs_annotations.get(k) == Some(v) {
            continue;
        }
        rs_annotations.insert(k.clone(), v.clone());
        changed = true;
    }
    changed
}

/// Upstream `SetNewReplicaSetAnnotations`: copies the deployment's annotations, moves the
/// set to `new_revision` (keeping its earlier revisions in the history when it is reused by a
/// rollback) and, for a set about to be created, records desired and max replicas.
pub fn set_new_replicaset_annotations(
    d: &MiniDeployment,
    annotations: &mut BTreeMap<String, String>,
    new_revision: i64,
    exists: bool,
) -> bool {
    let mut changed = copy_annotations(d, annotations);
    let old = annotations.get(REVISION).cloned();
    let old_revision = match old.as_deref().map(str::parse::<i64>) {
        None => 0,
        Some(Ok(v)) => v,
        Some(Err(_)) => return changed,
    };
    if old_revision < new_revision {
        annotations.insert(REVISION.into(), new_revision.to_string());
        changed = true;
        if let Some(old) = old {
            let history = annotations
                .get(REVISION_HISTORY)
                .cloned()
                .unwrap_or_default();
            let mut revisions: Vec<&str> = history.split(',').filter(|r| !r.is_empty()).collect();
            revisions.push(&old);
            while revisions.join(",").len() > MAX_REVISION_HISTORY_CHARS && revisions.len() > 1 {
                revisions.remove(0);
            }
            annotations.insert(REVISION_HISTORY.into(), revisions.join(","));
        }
    }
    if !exists {
        changed |=
            set_replicas_annotations(annotations, d.spec.replicas, d.spec.replicas + max_surge(d));
    }
    changed
}

pub fn replicas_annotations_need_update(
    annotations: &BTreeMap<String, String>,
    desired: i32,
    max: i32,
) -> bool {
    annotations.get(DESIRED_REPLICAS) != Some(&desired.to_string())
        || annotations.get(MAX_REPLICAS) != Some(&max.to_string())
}

pub fn set_replicas_annotations(
    annotations: &mut BTreeMap<String, String>,
    desired: i32,
    max: i32,
) -> bool {
    if !replicas_annotations_need_update(annotations, desired, max) {
        return false;
    }
    annotations.insert(DESIRED_REPLICAS.into(), desired.to_string());
    annotations.insert(MAX_REPLICAS.into(), max.to_string());
    true
}

pub fn desired_replicas_annotation(rs: &MiniReplicaSet) -> Option<i32> {
    non_negative_annotation(rs, DESIRED_REPLICAS)
}

pub fn max_replicas_annotation(rs: &MiniReplicaSet) -> Option<i32> {
    non_negative_annotation(rs, MAX_REPLICAS)
}

/// Upstream `getNonNegativeInt32FromAnnotation`: a count from 0 to 2³¹−1, anything else as
/// if the annotation were missing.
fn non_negative_annotation(rs: &MiniReplicaSet, key: &str) -> Option<i32> {
    let value: u32 = rs.annotations().get(key)?.parse().ok()?;
    i32::try_from(value).ok()
}

/// Sets with pods wanted (`spec.replicas` > 0).
pub fn active(sets: &[Arc<MiniReplicaSet>]) -> Vec<Arc<MiniReplicaSet>> {
    sets.iter()
        .filter(|rs| rs.spec.replicas > 0)
        .cloned()
        .collect()
}

pub fn spec_replicas(sets: &[Arc<MiniReplicaSet>]) -> i32 {
    sets.iter().map(|rs| rs.spec.replicas).sum()
}

fn status_of(rs: &MiniReplicaSet) -> k8s_openapi::api::apps::v1::ReplicaSetStatus {
    rs.status.clone().map(|s| s.status).unwrap_or_default()
}

pub fn actual_replicas(sets: &[Arc<MiniReplicaSet>]) -> i32 {
    sets.iter().map(|rs| status_of(rs).replicas).sum()
}

pub fn ready_replicas(sets: &[Arc<MiniReplicaSet>]) -> i32 {
    sets.iter()
        .map(|rs| status_of(rs).ready_replicas.unwrap_or(0))
        .sum()
}

pub fn available_replicas(sets: &[Arc<MiniReplicaSet>]) -> i32 {
    sets.iter()
        .map(|rs| status_of(rs).available_replicas.unwrap_or(0))
        .sum()
}

/// The set at full size with all its pods available, for this deployment size.
pub fn is_saturated(d: &MiniDeployment, rs: &MiniReplicaSet) -> bool {
    rs.spec.replicas == d.spec.replicas
        && desired_replicas_annotation(rs) == Some(d.spec.replicas)
        && status_of(rs).available_replicas.unwrap_or(0) == d.spec.replicas
}

/// The only set with pods wanted, or the newest when none has any; None when several have.
pub fn active_or_latest(
    new: Option<&Arc<MiniReplicaSet>>,
    old: &[Arc<MiniReplicaSet>],
) -> Option<Arc<MiniReplicaSet>> {
    let mut all: Vec<Arc<MiniReplicaSet>> = old.to_vec();
    all.extend(new.cloned());
    let active = active(&all);
    match active.len() {
        0 => new.cloned().or_else(|| {
            let mut old = old.to_vec();
            sort_by_creation(&mut old);
            old.last().cloned()
        }),
        1 => active.into_iter().next(),
        _ => None,
    }
}

pub fn condition<'a>(status: &'a DeploymentStatus, type_: &str) -> Option<&'a DeploymentCondition> {
    status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_.as_deref() == Some(type_))
}

pub fn new_condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    now: Timestamp,
) -> DeploymentCondition {
    DeploymentCondition {
        type_: Some(type_.into()),
        status: Some(status.into()),
        reason: Some(reason.into()),
        message: Some(message),
        last_update_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
    }
}

/// Upstream `SetDeploymentCondition`: the same status and reason is a no-op; the transition
/// time is kept while the status stays the same.
pub fn set_condition(status: &mut DeploymentStatus, mut condition: DeploymentCondition) {
    if let Some(current) = condition_of(status, &condition) {
        if current.status == condition.status && current.reason == condition.reason {
            return;
        }
        if current.status == condition.status {
            condition.last_transition_time = current.last_transition_time.clone();
        }
    }
    remove_condition(status, condition.type_.as_deref().unwrap_or_default());
    status
        .conditions
        .get_or_insert_with(Vec::new)
        .push(condition);
}

fn condition_of<'a>(
    status: &'a DeploymentStatus,
    condition: &DeploymentCondition,
) -> Option<&'a DeploymentCondition> {
    condition
        .type_
        .as_deref()
        .and_then(|t| self::condition(status, t))
}

pub fn remove_condition(status: &mut DeploymentStatus, type_: &str) {
    if let Some(conditions) = status.conditions.as_mut() {
        conditions.retain(|c| c.type_.as_deref() != Some(type_));
        if conditions.is_empty() {
            status.conditions = None;
        }
    }
}

pub fn from_replicaset_condition(c: &ReplicaSetCondition) -> DeploymentCondition {
    DeploymentCondition {
        type_: c.type_.clone(),
        status: c.status.clone(),
        reason: c.reason.clone(),
        message: c.message.clone(),
        last_update_time: c.last_transition_time.clone(),
        last_transition_time: c.last_transition_time.clone(),
    }
}

/// All of the new template's pods are there and available, for the current generation.
pub fn is_complete(d: &MiniDeployment, status: &DeploymentStatus) -> bool {
    let replicas = d.spec.replicas;
    status.updated_replicas.unwrap_or(0) == replicas
        && status.replicas.unwrap_or(0) == replicas
        && status.available_replicas.unwrap_or(0) == replicas
        && status.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
}

/// The rollout moved since the last recorded status.
pub fn is_progressing(d: &MiniDeployment, new: &DeploymentStatus) -> bool {
    let old = d.status.clone().map(|s| s.status).unwrap_or_default();
    let n = |v: Option<i32>| v.unwrap_or(0);
    let old_old = n(old.replicas) - n(old.updated_replicas);
    let new_old = n(new.replicas) - n(new.updated_replicas);
    n(new.updated_replicas) > n(old.updated_replicas)
        || new_old < old_old
        || n(new.ready_replicas) > n(old.ready_replicas)
        || n(new.available_replicas) > n(old.available_replicas)
}

/// No progress for progressDeadlineSeconds since the Progressing condition was last updated.
pub fn has_timed_out(d: &MiniDeployment, status: &DeploymentStatus, now: Timestamp) -> bool {
    let Some(condition) = condition(status, PROGRESSING) else {
        return false;
    };
    match condition.reason.as_deref() {
        Some(reason::NEW_RS_AVAILABLE) => false,
        Some(reason::TIMED_OUT) => true,
        _ => condition.last_update_time.as_ref().is_some_and(|from| {
            from.0
                + k8s_openapi::jiff::SignedDuration::from_secs(
                    d.spec.progress_deadline_seconds.into(),
                )
                < now
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn int_or(s: &str) -> IntOrString {
        s.parse::<i32>()
            .map(IntOrString::Int)
            .unwrap_or_else(|_| IntOrString::String(s.into()))
    }

    #[test]
    fn surge_rounds_up_unavailability_down_and_both_zero_means_one_unavailable() {
        let bounds = |surge: &str, unavailable: &str| RollingUpdateDeployment {
            max_surge: int_or(surge),
            max_unavailable: int_or(unavailable),
        };
        assert_eq!(fenceposts(&bounds("25%", "25%"), 10), (3, 2));
        assert_eq!(fenceposts(&bounds("25%", "25%"), 1), (1, 0));
        assert_eq!(fenceposts(&bounds("0", "0"), 10), (0, 1));
        assert_eq!(fenceposts(&bounds("0%", "0%"), 3), (0, 1));
        assert_eq!(fenceposts(&bounds("3", "50%"), 5), (3, 2));
        assert_eq!(fenceposts(&bounds("100%", "100%"), 7), (7, 7));
        // Admission takes any number of digits; 18 of them once overflowed the product.
        assert_eq!(
            fenceposts(&bounds("999999999999999999%", "0"), 2_000_000_000),
            (MAX_SCALED, 0)
        );
        assert_eq!(fenceposts(&bounds(&"9".repeat(60), "1"), 10).0, 0);
        assert_eq!(
            fenceposts(&bounds(&format!("{}%", "9".repeat(60)), "1"), 10),
            (MAX_SCALED, 1)
        );
    }

    fn deployment(replicas: i32, annotations: serde_json::Value) -> MiniDeployment {
        serde_json::from_value(json!({
            "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniDeployment",
            "metadata": {"name": "web", "annotations": annotations},
            "spec": {
                "replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
            }
        }))
        .unwrap()
    }

    #[test]
    fn max_unavailable_is_capped_by_replicas_and_zero_for_recreate() {
        let mut d = deployment(1, json!({}));
        d.spec.strategy.rolling_update = Some(RollingUpdateDeployment {
            max_surge: int_or("0"),
            max_unavailable: int_or("5"),
        });
        assert_eq!(max_unavailable(&d), 1);
        d.spec.replicas = 0;
        assert_eq!(max_unavailable(&d), 0);
        d.spec.strategy.type_ = StrategyType::Recreate;
        d.spec.replicas = 4;
        assert_eq!((max_unavailable(&d), max_surge(&d)), (0, 0));
    }

    #[test]
    fn the_hash_ignores_nothing_but_changes_with_template_and_collisions() {
        let d = deployment(1, json!({}));
        let template = d.spec.template.raw();
        let hash = template_hash(template, None);
        assert_eq!(hash, template_hash(template, None), "stable");
        assert!(
            hash.chars()
                .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c))
        );
        assert_ne!(
            hash,
            template_hash(template, Some(1)),
            "collision count changes it"
        );
        let mut other = template.clone();
        other["spec"]["containers"][0]["image"] = json!("j");
        assert_ne!(hash, template_hash(&other, None));
    }

    #[test]
    fn templates_compare_without_the_hash_label() {
        let d = deployment(1, json!({}));
        let mut with_hash = d.spec.template.raw().clone();
        with_hash["metadata"]["labels"][POD_TEMPLATE_HASH] = json!("abc");
        assert_eq!(
            template_without_hash(&with_hash),
            template_without_hash(d.spec.template.raw())
        );
    }

    #[test]
    fn replica_set_names_fit_253_characters() {
        assert_eq!(replicaset_name("web", "5d4f"), "web-5d4f");
        let name = replicaset_name(&"x".repeat(300), "5d4f");
        assert_eq!(name.len(), 253);
        assert!(name.ends_with("-5d4f"));
    }

    #[test]
    fn new_set_annotations_carry_revision_history_and_replica_counts() {
        let d = deployment(
            4,
            json!({"kubernetes.io/change-cause": "v2", LAST_APPLIED: "{}", REVISION: "7"}),
        );
        let mut fresh = BTreeMap::new();
        assert!(set_new_replicaset_annotations(&d, &mut fresh, 3, false));
        assert_eq!(fresh.get(REVISION).map(String::as_str), Some("3"));
        assert_eq!(
            fresh.get("kubernetes.io/change-cause").map(String::as_str),
            Some("v2")
        );
        assert_eq!(fresh.get(DESIRED_REPLICAS).map(String::as_str), Some("4"));
        assert_eq!(fresh.get(MAX_REPLICAS).map(String::as_str), Some("5"));
        assert!(!fresh.contains_key(LAST_APPLIED));

        // Reused by a rollback: the old revision goes to the history.
        let mut reused = BTreeMap::from([
            (REVISION.to_string(), "1".to_string()),
            (REVISION_HISTORY.to_string(), "0".to_string()),
        ]);
        assert!(set_new_replicaset_annotations(&d, &mut reused, 5, true));
        assert_eq!(reused.get(REVISION).map(String::as_str), Some("5"));
        assert_eq!(
            reused.get(REVISION_HISTORY).map(String::as_str),
            Some("0,1")
        );
        assert!(
            !reused.contains_key(DESIRED_REPLICAS),
            "existing sets keep their replica annotations"
        );

        // Nothing to do the second time.
        assert!(!set_new_replicaset_annotations(&d, &mut reused, 5, true));
    }

    #[test]
    fn the_previous_revision_is_the_second_highest() {
        let rs = |revision: &str| -> Arc<MiniReplicaSet> {
            Arc::new(serde_json::from_value(json!({
                "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniReplicaSet",
                "metadata": {"name": format!("r{revision}"), "annotations": {REVISION: revision}},
                "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {}}
            })).unwrap())
        };
        let sets = [rs("2"), rs("5"), rs("3"), rs("x")];
        assert_eq!(max_revision(&sets), 5);
        assert_eq!(previous_revision(&sets), 3);
        assert_eq!(previous_revision(&[rs("1")]), 0);
        // Garbage below zero does not pull the next revision below 1.
        assert_eq!(max_revision(&[rs("-5")]), 0);
        assert_eq!(previous_revision(&[rs("-5"), rs("-2")]), 0);
    }

    #[test]
    fn conditions_keep_their_transition_time_while_the_status_holds() {
        let t1: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let t2: Timestamp = "2026-01-01T00:05:00Z".parse().unwrap();
        let mut status = DeploymentStatus::default();
        set_condition(
            &mut status,
            new_condition(PROGRESSING, "True", reason::NEW_REPLICA_SET, "a".into(), t1),
        );
        // Same status and reason: nothing changes, not even the message.
        set_condition(
            &mut status,
            new_condition(PROGRESSING, "True", reason::NEW_REPLICA_SET, "b".into(), t2),
        );
        assert_eq!(
            condition(&status, PROGRESSING).unwrap().message.as_deref(),
            Some("a")
        );
        // Same status, new reason: updated, transition time kept.
        set_condition(
            &mut status,
            new_condition(
                PROGRESSING,
                "True",
                reason::REPLICA_SET_UPDATED,
                "c".into(),
                t2,
            ),
        );
        let c = condition(&status, PROGRESSING).unwrap();
        assert_eq!(
            (c.last_transition_time.clone(), c.last_update_time.clone()),
            (Some(Time(t1)), Some(Time(t2)))
        );
        // New status: new transition time.
        set_condition(
            &mut status,
            new_condition(PROGRESSING, "False", reason::TIMED_OUT, "d".into(), t2),
        );
        assert_eq!(
            condition(&status, PROGRESSING)
                .unwrap()
                .last_transition_time,
            Some(Time(t2))
        );
        assert_eq!(status.conditions.as_ref().unwrap().len(), 1);
    }

    #[test]
    fn a_rollout_times_out_after_the_deadline_without_progress() {
        let d = deployment(1, json!({}));
        let updated: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut status = DeploymentStatus::default();
        set_condition(
            &mut status,
            new_condition(
                PROGRESSING,
                "True",
                reason::REPLICA_SET_UPDATED,
                "x".into(),
                updated,
            ),
        );
        let at = |secs: i64| updated + k8s_openapi::jiff::SignedDuration::from_secs(secs);
        assert!(!has_timed_out(&d, &status, at(600)));
        assert!(has_timed_out(&d, &status, at(601)));
    }
}

//! DefaultPreemption's PostFilter, pure: when no node fits a pod, which lower-priority pods
//! to evict, and on which node, so that the pod fits there next time (upstream
//! `pkg/scheduler/framework/plugins/defaultpreemption/default_preemption.go` and
//! `pkg/scheduler/framework/preemption/preemption.go`: `Evaluator.Preempt`, `findCandidates`,
//! `DryRunPreemption`, `SelectVictimsOnNode`, `SelectCandidate`, `pickOneNodeForPreemption`,
//! `filterPodsWithPDBViolation`, `PodEligibleToPreemptOthers`).
//!
//! The PostFilter message is the one upstream's default profile composes. There the
//! DynamicResources PostFilter runs before DefaultPreemption. For a pod without resource
//! claims it answers Unschedulable "no new claims to deallocate", and `RunPostFilterPlugins`
//! joins the reasons of the Unschedulable PostFilters with ", ". An Error from DefaultPreemption
//! replaces them, and a successful preemption has no message at all. When a PreFilter rejected
//! the pod as UnschedulableAndUnresolvable, the PreFilters after it never ran. DynamicResources
//! comes after every PreFilter modelled here, so its PostFilter finds no cycle state of its own,
//! fails with "not found", and DefaultPreemption never runs.
//!
//! Where this differs from upstream, and why:
//! - The dry run runs every PreFilter again on a copy of the snapshot that has the victims
//!   removed (or put back). Upstream patches the cycle state through the PreFilter extensions
//!   `RemovePod`/`AddPod` instead. There is no cycle state here, and the filters see the same
//!   pods that upstream's patched state describes.
//! - Upstream starts the dry run at a random offset among the potential nodes. Here the offset
//!   is 0 and the potential nodes are in snapshot order (upstream: map order), so that an
//!   attempt and `minik8s explain` agree.
//! - Nodes are tried one after another. Upstream tries them in parallel and stops once it has
//!   enough candidates, so a sequential run stops with the same set as upstream running with
//!   parallelism 1.
//! - Ties left after upstream's criteria go to the first candidate in dry-run order (upstream:
//!   map order). Victims of equal importance keep the node's order (upstream's sort is not
//!   stable).
//! - The filters do not add the nominated pods of others (upstream
//!   `RunFilterPluginsWithNominatedPods`), because the scheduler does not track nominations.
//! - Pod groups, extenders, and the eviction itself (upstream's executor) are left out.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::core::{Selector, SelectorExt};

use super::framework::{Code, NodeInfo, Snapshot, Status};
use super::pod::Pod;
use super::queue::priority;
use super::schedule::{Decision, Filters, Profile};

pub const NAME: &str = "DefaultPreemption";

/// `DefaultPreemptionArgs.minCandidateNodesPercentage`, default.
const MIN_CANDIDATE_NODES_PERCENTAGE: usize = 10;
/// `DefaultPreemptionArgs.minCandidateNodesAbsolute`, default.
const MIN_CANDIDATE_NODES_ABSOLUTE: usize = 100;

/// What the DynamicResources PostFilter answers for a pod without resource claims.
const NO_CLAIMS_TO_DEALLOCATE: &str = "no new claims to deallocate";
/// What the DynamicResources PostFilter fails with when its PreFilter never ran
/// (`fwk.ErrNotFound`).
const DYNAMIC_RESOURCES_STATE_NOT_FOUND: &str = "not found";
/// The status of the nodes that preemption did not try.
const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
const NO_VICTIMS: &str = "No preemption victims found for incoming pod";
const PREEMPT_NEVER: &str = "not eligible due to preemptionPolicy=Never.";
const TERMINATING_ON_NOMINATED: &str =
    "not eligible due to a terminating pod on the nominated node.";

/// A node where preemption makes room, and the pods to evict there.
#[derive(Clone, Debug)]
pub struct Victims {
    pub node: String,
    /// Most important first (upstream `MoreImportantPod`).
    pub pods: Vec<Arc<Pod>>,
    /// How many of them are evicted against a PodDisruptionBudget.
    pub pdb_violations: usize,
}

/// What the PostFilters say.
#[derive(Clone, Debug)]
pub struct PostFilter {
    /// The PostFilter message that follows the FitError text, as upstream's default profile
    /// composes it, e.g. "no new claims to deallocate, preemption: 0/3 nodes are available:
    /// 3 Preemption is not helpful for scheduling.". Empty when preemption makes room.
    pub message: String,
    /// The chosen node and its victims when preemption can make room.
    pub preempt: Option<Victims>,
}

/// The PostFilters of the default profile for a pod that fits no node (upstream
/// `RunPostFilterPlugins` with DynamicResources then DefaultPreemption). `decision` is the
/// failed attempt, `pdbs` every PodDisruptionBudget of the cluster.
pub fn post_filter(
    profile: &Profile,
    pod: &Pod,
    snapshot: &Snapshot,
    decision: &Decision,
    pdbs: &[PodDisruptionBudget],
) -> PostFilter {
    let absent = absent_nodes_code(profile, pod, snapshot, decision);
    if decision.pre_filter.is_some() && absent != Code::Unschedulable {
        return PostFilter {
            message: DYNAMIC_RESOURCES_STATE_NOT_FOUND.to_string(),
            preempt: None,
        };
    }
    let statuses = FilterStatuses::new(decision, absent);
    match preempt(profile, pod, snapshot, &statuses, pdbs) {
        Outcome::Preempt(victims) => PostFilter {
            message: String::new(),
            preempt: Some(victims),
        },
        Outcome::Unschedulable(message) => PostFilter {
            message: format!("{NO_CLAIMS_TO_DEALLOCATE}, preemption: {message}"),
            preempt: None,
        },
        Outcome::Error(message) => PostFilter {
            message: format!("preemption: {message}"),
            preempt: None,
        },
    }
}

/// What DefaultPreemption's PostFilter returns (upstream `Preempt`'s status), before the
/// "preemption: " prefix.
enum Outcome {
    Preempt(Victims),
    Unschedulable(String),
    Error(String),
}

/// The code of the nodes the failed attempt has no verdict for (upstream
/// `NodeToStatus.AbsentNodesStatus`): a PreFilter rejection applies to every node; otherwise
/// every node was examined, and the default is UnschedulableAndUnresolvable. [`Decision`]
/// keeps the PreFilter's reasons but not its code, so the PreFilters run again to get it.
fn absent_nodes_code(
    profile: &Profile,
    pod: &Pod,
    snapshot: &Snapshot,
    decision: &Decision,
) -> Code {
    if decision.pre_filter.is_none() {
        return Code::UnschedulableAndUnresolvable;
    }
    match Filters::prepare(profile, pod, snapshot) {
        Err((_, status)) => status.code,
        Ok(_) => Code::UnschedulableAndUnresolvable,
    }
}

/// The failed attempt's code for each node (upstream `NodeToStatusReader`).
struct FilterStatuses {
    codes: HashMap<String, Code>,
    absent: Code,
}

impl FilterStatuses {
    fn new(decision: &Decision, absent: Code) -> Self {
        let codes = decision
            .verdicts
            .iter()
            .map(|v| (v.node.clone(), v.code))
            .collect();
        Self { codes, absent }
    }

    fn code(&self, node: &str) -> Code {
        self.codes.get(node).copied().unwrap_or(self.absent)
    }
}

/// Upstream `Evaluator.Preempt` without the eviction.
fn preempt(
    profile: &Profile,
    pod: &Pod,
    snapshot: &Snapshot,
    statuses: &FilterStatuses,
    pdbs: &[PodDisruptionBudget],
) -> Outcome {
    let nominated = nominated_node(pod);
    if let Err(reason) = eligible_to_preempt(pod, snapshot, statuses.code(nominated)) {
        return Outcome::Unschedulable(reason.to_string());
    }
    let all = snapshot.nodes.len();
    if all == 0 {
        return Outcome::Error("no nodes available".to_string());
    }
    let potential = potential_nodes(snapshot, statuses);
    if potential.is_empty() {
        return Outcome::Unschedulable(fit_error(all, &[]));
    }
    let wanted = num_candidates(
        potential.len(),
        MIN_CANDIDATE_NODES_PERCENTAGE,
        MIN_CANDIDATE_NODES_ABSOLUTE,
    );
    let run = dry_run(profile, pod, snapshot, &potential, pdbs, 0, wanted);
    if run.candidates.is_empty() {
        if !run.errors.is_empty() {
            return Outcome::Error(aggregate(&run.errors));
        }
        return Outcome::Unschedulable(fit_error(all, &run.statuses));
    }
    Outcome::Preempt(select_candidate(run.candidates))
}

fn nominated_node(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.nominated_node_name.as_deref())
        .unwrap_or_default()
}

/// Upstream `PodEligibleToPreemptOthers`: a pod that may not preempt, or whose earlier victims
/// are still terminating on its nominated node, does not preempt (again). `nominated_code` is
/// the failed attempt's code for the nominated node: a node that became unresolvable is no
/// reason to wait.
fn eligible_to_preempt(
    pod: &Pod,
    snapshot: &Snapshot,
    nominated_code: Code,
) -> Result<(), &'static str> {
    let policy = pod
        .spec
        .as_ref()
        .and_then(|s| s.preemption_policy.as_deref());
    if policy == Some("Never") {
        return Err(PREEMPT_NEVER);
    }
    let nominated = nominated_node(pod);
    if nominated.is_empty() || nominated_code == Code::UnschedulableAndUnresolvable {
        return Ok(());
    }
    let Some(node) = snapshot.get(nominated) else {
        return Ok(());
    };
    let preemptor = priority(pod);
    let waiting = node
        .pods
        .iter()
        .any(|p| priority(p) < preemptor && terminating_by_preemption(p));
    if waiting {
        Err(TERMINATING_ON_NOMINATED)
    } else {
        Ok(())
    }
}

/// Upstream `podTerminatingByPreemption`: deleted, and its first DisruptionTarget condition
/// says the scheduler preempted it.
fn terminating_by_preemption(pod: &Pod) -> bool {
    if pod.metadata.deletion_timestamp.is_none() {
        return false;
    }
    let conditions = pod.status.as_ref().and_then(|s| s.conditions.as_ref());
    conditions
        .into_iter()
        .flatten()
        .find(|c| c.type_ == "DisruptionTarget")
        .is_some_and(|c| c.status == "True" && c.reason.as_deref() == Some("PreemptionByScheduler"))
}

/// Upstream `NodesForStatusCode(Unschedulable)`: the nodes where removing pods may help, as
/// indices into the snapshot.
fn potential_nodes(snapshot: &Snapshot, statuses: &FilterStatuses) -> Vec<usize> {
    snapshot
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, node)| statuses.code(node.name()) == Code::Unschedulable)
        .map(|(i, _)| i)
        .collect()
}

/// Upstream `calculateNumCandidates`: how many candidates the dry run looks for, a percentage
/// of the potential nodes but at least `absolute`, and never more than there are.
fn num_candidates(nodes: usize, percentage: usize, absolute: usize) -> usize {
    (nodes * percentage / 100).max(absolute).min(nodes)
}

/// Upstream `FitError.Error()` for the dry run's statuses: the nodes without one count as
/// "Preemption is not helpful for scheduling".
fn fit_error(all: usize, statuses: &[(String, Status)]) -> String {
    let mut histogram = BTreeMap::<&str, usize>::new();
    for (_, status) in statuses {
        for reason in &status.reasons {
            *histogram.entry(reason).or_default() += 1;
        }
    }
    if statuses.len() < all {
        *histogram.entry(NOT_HELPFUL).or_default() += all - statuses.len();
    }
    let mut parts: Vec<String> = histogram
        .iter()
        .map(|(reason, n)| format!("{n} {reason}"))
        .collect();
    parts.sort();
    let mut message = format!("0/{all} nodes are available:");
    if !parts.is_empty() {
        message.push_str(&format!(" {}.", parts.join(", ")));
    }
    message
}

/// Upstream `utilerrors.NewAggregate(errs).Error()`: one error as is, several deduplicated in
/// brackets.
fn aggregate(errors: &[String]) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for error in errors {
        if !seen.contains(&error.as_str()) {
            seen.push(error);
        }
    }
    match seen.as_slice() {
        [one] => one.to_string(),
        many => format!("[{}]", many.join(", ")),
    }
}

/// What the dry run found.
struct DryRun {
    /// The nodes that do not violate a PDB first, then the others.
    candidates: Vec<Victims>,
    /// Why the other nodes tried cannot take the pod.
    statuses: Vec<(String, Status)>,
    /// The messages of the Error statuses.
    errors: Vec<String>,
}

/// Upstream `DryRunPreemption`: tries the potential nodes from `offset` on, until `wanted`
/// candidates are found of which at least one violates no PDB. Each list holds at most
/// `wanted` candidates (upstream `candidateList`).
fn dry_run(
    profile: &Profile,
    pod: &Pod,
    snapshot: &Snapshot,
    potential: &[usize],
    pdbs: &[PodDisruptionBudget],
    offset: usize,
    wanted: usize,
) -> DryRun {
    let mut non_violating: Vec<Victims> = Vec::new();
    let mut violating: Vec<Victims> = Vec::new();
    let mut statuses = Vec::new();
    let mut errors = Vec::new();
    for i in 0..potential.len() {
        if !non_violating.is_empty() && non_violating.len() + violating.len() >= wanted {
            break;
        }
        let index = potential[(offset + i) % potential.len()];
        let node = snapshot.nodes[index].name().to_string();
        let status = match select_victims_on_node(profile, pod, snapshot, index, pdbs) {
            Ok((pods, pdb_violations)) if !pods.is_empty() => {
                let list = if pdb_violations == 0 {
                    &mut non_violating
                } else {
                    &mut violating
                };
                if list.len() < wanted {
                    list.push(Victims {
                        node,
                        pods,
                        pdb_violations,
                    });
                }
                continue;
            }
            Ok(_) => Status::error(format!("expected at least one victim pod on node {node:?}")),
            Err(status) => status,
        };
        if status.code == Code::Error {
            errors.push(status.message());
        }
        statuses.push((node, status));
    }
    non_violating.append(&mut violating);
    DryRun {
        candidates: non_violating,
        statuses,
        errors,
    }
}

/// Upstream `SelectVictimsOnNode`: removes every lower-priority pod from the node; if the pod
/// then fits, puts back as many as it can, the PDB-violating ones first, the most important
/// first. Returns the pods left out, most important first, and how many of them violate a PDB.
fn select_victims_on_node(
    profile: &Profile,
    pod: &Pod,
    snapshot: &Snapshot,
    index: usize,
    pdbs: &[PodDisruptionBudget],
) -> Result<(Vec<Arc<Pod>>, usize), Status> {
    let preemptor = priority(pod);
    let mut potential: Vec<Arc<Pod>> = snapshot.nodes[index]
        .pods
        .iter()
        .filter(|p| priority(p) < preemptor)
        .cloned()
        .collect();
    if potential.is_empty() {
        return Err(Status::unresolvable(NO_VICTIMS));
    }
    let mut trial = snapshot.clone();
    for victim in &potential {
        remove_pod(&mut trial.nodes[index], victim)?;
    }
    // Upstream does not go further when the pod does not fit even without every victim
    // (e.g. its affinity to a victim), for performance.
    fits(profile, pod, &trial, index)?;

    potential.sort_by(more_important_first);
    let (violating, non_violating) = split_by_pdb_violation(potential, pdbs);
    let mut victims = Vec::new();
    let mut pdb_violations = 0;
    for victim in &violating {
        if !reprieve(profile, pod, &mut trial, index, victim, &mut victims)? {
            pdb_violations += 1;
        }
    }
    for victim in &non_violating {
        reprieve(profile, pod, &mut trial, index, victim, &mut victims)?;
    }
    if !violating.is_empty() && !non_violating.is_empty() {
        victims.sort_by(more_important_first);
    }
    Ok((victims, pdb_violations))
}

/// Puts `victim` back on the node; if the pod no longer fits, takes it off again and adds it
/// to `victims`. Whether the pod still fits with it.
fn reprieve(
    profile: &Profile,
    pod: &Pod,
    trial: &mut Snapshot,
    index: usize,
    victim: &Arc<Pod>,
    victims: &mut Vec<Arc<Pod>>,
) -> Result<bool, Status> {
    trial.nodes[index].add_pod(Arc::clone(victim));
    let still_fits = fits(profile, pod, trial, index).is_ok();
    if !still_fits {
        remove_pod(&mut trial.nodes[index], victim)?;
        victims.push(Arc::clone(victim));
    }
    Ok(still_fits)
}

/// Upstream `NodeInfo.RemovePod`, which fails for a pod the node does not hold.
fn remove_pod(node: &mut NodeInfo, pod: &Pod) -> Result<(), Status> {
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    match node.remove_pod(uid) {
        Some(_) => Ok(()),
        None => Err(Status::error(format!(
            "no corresponding pod {} in pods of node {}",
            pod.name_any(),
            node.name()
        ))),
    }
}

/// Whether the pod passes every PreFilter on `snapshot` and every Filter on its node `index`:
/// the PreFilters see the snapshot as the dry run changed it (in place of upstream's
/// `RunPreFilterExtensionAddPod`/`RemovePod`).
fn fits(profile: &Profile, pod: &Pod, snapshot: &Snapshot, index: usize) -> Result<(), Status> {
    let filters = Filters::prepare(profile, pod, snapshot).map_err(|(_, status)| status)?;
    filters
        .run(pod, &snapshot.nodes[index])
        .map_err(|(_, status)| status)
}

/// Upstream `util.MoreImportantPod` as an ordering: higher priority first, then the one that
/// started earlier.
fn more_important_first(a: &Arc<Pod>, b: &Arc<Pod>) -> Ordering {
    priority(b)
        .cmp(&priority(a))
        .then_with(|| start_order(start_time(a), start_time(b)))
}

fn start_time(pod: &Pod) -> Option<&Time> {
    pod.status.as_ref()?.start_time.as_ref()
}

/// Upstream `GetPodStartTime` counts a pod that has not started (assumed, or bound but not
/// running) as starting now, later than every pod that has.
fn start_order(a: Option<&Time>, b: Option<&Time>) -> Ordering {
    (a.is_none(), a).cmp(&(b.is_none(), b))
}

/// Upstream `filterPodsWithPDBViolation`: (violating, non-violating), each in the given order.
/// A pod violates when a PDB of its namespace selects it (and has not already counted it in
/// `disruptedPods`) but has no disruption left for it, counting the pods before it.
fn split_by_pdb_violation(
    pods: Vec<Arc<Pod>>,
    pdbs: &[PodDisruptionBudget],
) -> (Vec<Arc<Pod>>, Vec<Arc<Pod>>) {
    let selectors: Vec<Option<Selector>> = pdbs.iter().map(pdb_selector).collect();
    let mut allowed: Vec<i32> = pdbs.iter().map(disruptions_allowed).collect();
    let (mut violating, mut non_violating) = (Vec::new(), Vec::new());
    for pod in pods {
        let mut violated = false;
        // A pod without labels matches no PDB.
        if !pod.labels().is_empty() {
            for (i, pdb) in pdbs.iter().enumerate() {
                let counted = pdb.namespace() == pod.namespace()
                    && selectors[i]
                        .as_ref()
                        .is_some_and(|s| s.matches(pod.labels()))
                    && !already_disrupted(pdb, &pod.name_any());
                if counted {
                    allowed[i] -= 1;
                    violated |= allowed[i] < 0;
                }
            }
        }
        if violated {
            violating.push(pod);
        } else {
            non_violating.push(pod);
        }
    }
    (violating, non_violating)
}

/// The PDB's selector; None when it selects nothing: missing, empty, or invalid.
fn pdb_selector(pdb: &PodDisruptionBudget) -> Option<Selector> {
    let selector = pdb.spec.as_ref()?.selector.clone()?;
    crate::runtime::label_selector::to_selector(&selector)
        .ok()
        .filter(|s| !s.selects_all())
}

fn disruptions_allowed(pdb: &PodDisruptionBudget) -> i32 {
    pdb.status
        .as_ref()
        .and_then(|s| s.disruptions_allowed)
        .unwrap_or(0)
}

/// Whether the API server already counted this pod's eviction against the budget.
fn already_disrupted(pdb: &PodDisruptionBudget, pod: &str) -> bool {
    pdb.status
        .as_ref()
        .and_then(|s| s.disrupted_pods.as_ref())
        .is_some_and(|pods| pods.contains_key(pod))
}

/// Upstream `SelectCandidate`: the only candidate, or the best by [`pick_one_node`].
fn select_candidate(mut candidates: Vec<Victims>) -> Victims {
    let best = pick_one_node(&candidates);
    candidates.swap_remove(best)
}

/// A criterion of [`pick_one_node`]: the higher, the better.
type Criterion = fn(&Victims) -> i128;

/// Upstream `pickOneNodeForPreemption`: the fewest PDB violations, then the lowest
/// highest-priority victim, the smallest sum of priorities, the fewest victims, the latest
/// start of the highest-priority victims, then the first. `candidates` is not empty, nor is
/// any candidate's list of victims.
fn pick_one_node(candidates: &[Victims]) -> usize {
    const CRITERIA: [Criterion; 5] = [
        |v| -(v.pdb_violations as i128),
        |v| -i128::from(v.pods.first().map_or(0, |p| priority(p))),
        // Priorities shifted to be positive, so that more pods of a negative priority do not
        // look better than fewer.
        |v| {
            -v.pods
                .iter()
                .map(|p| i128::from(priority(p)) + i128::from(i32::MAX) + 1)
                .sum::<i128>()
        },
        |v| -(v.pods.len() as i128),
        earliest_start_of_highest_priority,
    ];
    let mut remaining: Vec<usize> = (0..candidates.len()).collect();
    for criterion in CRITERIA {
        if remaining.len() <= 1 {
            break;
        }
        let best = remaining
            .iter()
            .map(|&i| criterion(&candidates[i]))
            .max()
            .unwrap_or_default();
        remaining.retain(|&i| criterion(&candidates[i]) == best);
    }
    remaining.first().copied().unwrap_or_default()
}

/// Upstream `GetEarliestPodStartTime`, in nanoseconds: the earliest start among the victims of
/// the highest priority; a pod that has not started counts as starting now (the latest).
fn earliest_start_of_highest_priority(victims: &Victims) -> i128 {
    let highest = victims.pods.iter().map(|p| priority(p)).max();
    victims
        .pods
        .iter()
        .filter(|p| Some(priority(p)) == highest)
        .map(|p| start_time(p))
        .min_by(|a, b| start_order(*a, *b))
        .flatten()
        .map_or(i128::MAX, |t| t.0.as_nanosecond())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use k8s_openapi::api::core::v1::Node;
    use serde_json::{Value, json};

    use super::*;
    use crate::scheduler::framework::{FilterPlugin, State, state_of};
    use crate::scheduler::resources::{self, Resources};
    use crate::scheduler::schedule::{Rng, schedule};

    const NEG: i32 = -100;
    const LOW: i32 = 0;
    const MID: i32 = 100;
    const HIGH: i32 = 1000;
    const VERY_HIGH: i32 = 10000;

    /// (milli-CPU, memory) as upstream's smallRes, mediumRes, largeRes, veryLargeRes.
    const SMALL: (i64, i64) = (100, 100);
    const MEDIUM: (i64, i64) = (200, 200);
    const LARGE: (i64, i64) = (300, 300);
    const VERY_LARGE: (i64, i64) = (500, 500);

    /// A pod as upstream's `st.MakePod()` builds it; the UID is the name.
    struct P(Value);

    fn p(name: &str) -> P {
        P(json!({
            "metadata": {"name": name, "uid": name},
            "spec": {"containers": [{"name": "c"}]}
        }))
    }

    impl P {
        fn ns(mut self, namespace: &str) -> Self {
            self.0["metadata"]["namespace"] = json!(namespace);
            self
        }
        fn priority(mut self, priority: i32) -> Self {
            self.0["spec"]["priority"] = json!(priority);
            self
        }
        fn node(mut self, node: &str) -> Self {
            self.0["spec"]["nodeName"] = json!(node);
            self
        }
        fn req(mut self, (cpu, memory): (i64, i64)) -> Self {
            self.0["spec"]["containers"][0]["resources"] =
                json!({"requests": {"cpu": format!("{cpu}m"), "memory": memory.to_string()}});
            self
        }
        fn label(mut self, key: &str, value: &str) -> Self {
            self.0["metadata"]["labels"][key] = json!(value);
            self
        }
        /// Started `seconds` after the epoch (upstream's epochTimeN, in seconds).
        fn start(mut self, seconds: u32) -> Self {
            self.0["status"]["startTime"] = json!(format!("1970-01-01T00:00:{seconds:02}Z"));
            self
        }
        fn nominated(mut self, node: &str) -> Self {
            self.0["status"]["nominatedNodeName"] = json!(node);
            self
        }
        fn preempt_never(mut self) -> Self {
            self.0["spec"]["preemptionPolicy"] = json!("Never");
            self
        }
        fn terminating(mut self) -> Self {
            self.0["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
            self
        }
        fn preempted_by_scheduler(mut self) -> Self {
            self.0["status"]["conditions"] = json!([{"type": "DisruptionTarget",
                "status": "True", "reason": "PreemptionByScheduler"}]);
            self
        }
        /// Required anti-affinity to pods with label `key`, per node.
        fn anti_affinity_exists(mut self, key: &str) -> Self {
            self.0["spec"]["affinity"] = json!({"podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [{
                    "labelSelector": {"matchExpressions": [{"key": key, "operator": "Exists"}]},
                    "topologyKey": "hostname"}]}});
            self
        }
        fn obj(self) -> Arc<Pod> {
            Arc::new(serde_json::from_value(self.0).unwrap())
        }
    }

    /// A node as upstream's `st.MakeNode().Capacity(..)` builds it (32 pods unless given).
    /// A name "node-a/zone1" makes node "node-a" with labels hostname=node-a, zone=zone1.
    fn node(name: &str, cpu: &str, memory: &str, pods: &str) -> Arc<Node> {
        let mut labels = serde_json::Map::new();
        for (key, value) in ["hostname", "zone", "region"].iter().zip(name.split('/')) {
            labels.insert(key.to_string(), json!(value));
        }
        let name = name.split('/').next().unwrap();
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "labels": labels},
                "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods}}
            }))
            .unwrap(),
        )
    }

    fn pdb(
        namespace: Option<&str>,
        labels: Value,
        allowed: i32,
        disrupted: &[&str],
    ) -> PodDisruptionBudget {
        let disrupted: serde_json::Map<String, Value> = disrupted
            .iter()
            .map(|p| (p.to_string(), json!("2026-01-01T00:00:00Z")))
            .collect();
        serde_json::from_value(json!({
            "metadata": {"name": "pdb", "namespace": namespace},
            "spec": {"selector": {"matchLabels": labels}},
            "status": {"disruptionsAllowed": allowed, "disruptedPods": disrupted,
                "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}
        }))
        .unwrap()
    }

    /// NodeResourcesFit reduced to pods, cpu and memory (the real plugin is tested on its own).
    struct Fit;

    impl FilterPlugin for Fit {
        fn name(&self) -> &'static str {
            "NodeResourcesFit"
        }
        fn pre_filter(&self, pod: &Pod, _: &Snapshot) -> Result<Option<State>, Status> {
            Ok(Some(Box::new(resources::pod_requests(pod))))
        }
        fn filter(&self, state: &State, _: &Pod, node: &NodeInfo) -> Status {
            let request: &Resources = state_of(state);
            let free = |allocatable: i64, requested: i64| allocatable - requested;
            let mut reasons = Vec::new();
            if node.pods.len() as i64 + 1 > node.allocatable.allowed_pod_number {
                reasons.push("Too many pods".to_string());
            }
            let cpu = free(node.allocatable.milli_cpu, node.requested.milli_cpu);
            if request.milli_cpu > 0 && request.milli_cpu > cpu {
                reasons.push("Insufficient cpu".to_string());
            }
            let memory = free(node.allocatable.memory, node.requested.memory);
            if request.memory > 0 && request.memory > memory {
                reasons.push("Insufficient memory".to_string());
            }
            if reasons.is_empty() {
                Status::success()
            } else {
                Status {
                    code: Code::Unschedulable,
                    reasons,
                }
            }
        }
    }

    /// Upstream's TrueFilter / FalseFilter / FakeFilter: the same code for every node.
    struct Always(Code);

    impl FilterPlugin for Always {
        fn name(&self) -> &'static str {
            "FakeFilter"
        }
        fn filter(&self, _: &State, _: &Pod, _: &NodeInfo) -> Status {
            match self.0 {
                Code::Success => Status::success(),
                code => Status {
                    code,
                    reasons: vec!["injected filter status".into()],
                },
            }
        }
    }

    /// Upstream's MatchFilter: a pod fits the node that has its name.
    struct MatchName;

    impl FilterPlugin for MatchName {
        fn name(&self) -> &'static str {
            "MatchFilter"
        }
        fn filter(&self, _: &State, pod: &Pod, node: &NodeInfo) -> Status {
            if pod.name_any() == node.name() {
                Status::success()
            } else {
                Status::unschedulable("mismatch")
            }
        }
    }

    /// InterPodAffinity reduced to the existing pods' required anti-affinity, per node: its
    /// PreFilter finds the nodes with a pod whose anti-affinity selects the incoming pod.
    struct ExistingAntiAffinity;

    impl FilterPlugin for ExistingAntiAffinity {
        fn name(&self) -> &'static str {
            "InterPodAffinity"
        }
        fn pre_filter(&self, pod: &Pod, snapshot: &Snapshot) -> Result<Option<State>, Status> {
            let repelling: BTreeSet<String> = snapshot
                .pods()
                .filter(|(_, existing)| repels(existing, pod))
                .map(|(node, _)| node.name().to_string())
                .collect();
            Ok(Some(Box::new(repelling)))
        }
        fn filter(&self, state: &State, _: &Pod, node: &NodeInfo) -> Status {
            let repelling: &BTreeSet<String> = state_of(state);
            if repelling.contains(node.name()) {
                Status::unschedulable("node(s) didn't satisfy existing pods anti-affinity rules")
            } else {
                Status::success()
            }
        }
    }

    fn repels(existing: &Pod, incoming: &Pod) -> bool {
        let terms = existing
            .spec
            .as_ref()
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.pod_anti_affinity.as_ref())
            .and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            });
        terms.into_iter().flatten().any(|term| {
            let selector = term.label_selector.clone().unwrap_or_default();
            crate::runtime::label_selector::to_selector(&selector)
                .is_ok_and(|s| s.matches(incoming.labels()))
        })
    }

    /// PodTopologySpread reduced to one DoNotSchedule constraint with maxSkew 1 over the
    /// node label `.0`, for the pods with the label "foo".
    struct Spread(&'static str);

    impl Spread {
        fn domain<'n>(&self, node: &'n NodeInfo) -> Option<&'n String> {
            node.node.metadata.labels.as_ref()?.get(self.0)
        }
    }

    impl FilterPlugin for Spread {
        fn name(&self) -> &'static str {
            "PodTopologySpread"
        }
        fn pre_filter(&self, _: &Pod, snapshot: &Snapshot) -> Result<Option<State>, Status> {
            let mut counts = BTreeMap::<String, i64>::new();
            for node in &snapshot.nodes {
                if let Some(domain) = self.domain(node) {
                    let matching = node.pods.iter().filter(|p| p.labels().contains_key("foo"));
                    *counts.entry(domain.clone()).or_default() += matching.count() as i64;
                }
            }
            Ok(Some(Box::new(counts)))
        }
        fn filter(&self, state: &State, pod: &Pod, node: &NodeInfo) -> Status {
            let counts: &BTreeMap<String, i64> = state_of(state);
            let min = counts.values().min().copied().unwrap_or(0);
            let count = self
                .domain(node)
                .and_then(|d| counts.get(d))
                .copied()
                .unwrap_or(0);
            let own = i64::from(pod.labels().contains_key("foo"));
            if count + own - min > 1 {
                Status::unschedulable("node(s) didn't match pod topology spread constraints")
            } else {
                Status::success()
            }
        }
    }

    fn profile(filters: Vec<Box<dyn FilterPlugin>>) -> Profile {
        Profile {
            filters,
            scores: vec![],
            percentage_of_nodes_to_score: 0,
        }
    }

    /// (node, victims by name, PDB violations), sorted by node, as upstream's tests compare.
    type Found = Vec<(String, Vec<String>, usize)>;

    fn found(candidates: &[Victims]) -> Found {
        let mut found: Found = candidates
            .iter()
            .map(|c| {
                let mut pods: Vec<String> = c.pods.iter().map(|p| p.name_any()).collect();
                pods.sort();
                (c.node.clone(), pods, c.pdb_violations)
            })
            .collect();
        found.sort();
        found
    }

    /// Candidates as upstream's tests write them: (node, victims, PDB violations).
    type Expected<'a> = &'a [(&'a str, &'a [&'a str], usize)];

    fn want(candidates: Expected) -> Found {
        let candidates: Vec<Victims> = candidates
            .iter()
            .map(|(node, pods, pdb_violations)| Victims {
                node: node.to_string(),
                pods: pods.iter().map(|name| p(name).obj()).collect(),
                pdb_violations: *pdb_violations,
            })
            .collect();
        found(&candidates)
    }

    /// The failed attempt as upstream's test gives it: `codes` are the explicit node statuses,
    /// every other node is absent (UnschedulableAndUnresolvable).
    fn failed_attempt(
        profile: &Profile,
        pod: &Pod,
        snapshot: &Snapshot,
        codes: &[(&str, Code)],
    ) -> Decision {
        let mut decision = schedule(profile, pod, snapshot, 0, &mut Rng::new(1));
        decision
            .verdicts
            .retain(|v| codes.iter().any(|(node, _)| *node == v.node));
        for verdict in &mut decision.verdicts {
            if let Some((_, code)) = codes.iter().find(|(node, _)| *node == verdict.node) {
                verdict.code = *code;
            }
        }
        decision
    }

    const ONE_POD: (&str, &str, &str) = ("0", "0", "1");
    const NODE_RES: (&str, &str, &str) = ("200m", "400", "32");

    /// Upstream `TestPostFilter` (the cases without extenders, PreFilter extensions that fail,
    /// or pod groups), with the DynamicResources message before DefaultPreemption's.
    #[test]
    fn post_filter_nominates_a_node_or_says_why_not() {
        use Code::{Unschedulable as U, UnschedulableAndUnresolvable as UU};
        let violating = ("test.kubernetes.io/is-violating-pdb", "violating");
        let non_violating = ("test.kubernetes.io/is-violating-pdb", "non-violating");
        type Case<'a> = (
            &'a str,
            Arc<Pod>,
            Vec<Arc<Pod>>,
            Vec<PodDisruptionBudget>,
            Vec<(&'a str, (&'a str, &'a str, &'a str))>,
            Vec<(&'a str, Code)>,
            Result<&'a str, &'a str>,
        );
        let cases: Vec<Case> = vec![
            (
                "pod with higher priority can be made schedulable",
                p("p").ns("default").priority(HIGH).obj(),
                vec![p("p1").ns("default").node("node1").obj()],
                vec![],
                vec![("node1", ONE_POD)],
                vec![("node1", U)],
                Ok("node1"),
            ),
            (
                "pod with tied priority is still unschedulable",
                p("p").ns("default").obj(),
                vec![p("p1").ns("default").node("node1").obj()],
                vec![],
                vec![("node1", ONE_POD)],
                vec![("node1", U)],
                Err("0/1 nodes are available: 1 No preemption victims found for incoming pod."),
            ),
            (
                "preemption should respect filteredNodesStatuses",
                p("p").ns("default").priority(HIGH).obj(),
                vec![p("p1").ns("default").node("node1").obj()],
                vec![],
                vec![("node1", ONE_POD)],
                vec![("node1", UU)],
                Err("0/1 nodes are available: 1 Preemption is not helpful for scheduling."),
            ),
            (
                "preemption should respect absent NodeToStatusReader entry meaning UnschedulableAndUnresolvable",
                p("p").ns("default").priority(HIGH).obj(),
                vec![p("p1").ns("default").node("node1").obj()],
                vec![],
                vec![("node1", ONE_POD)],
                vec![],
                Err("0/1 nodes are available: 1 Preemption is not helpful for scheduling."),
            ),
            (
                "pod can be made schedulable on one node",
                p("p").ns("default").priority(MID).obj(),
                vec![
                    p("p1").ns("default").priority(HIGH).node("node1").obj(),
                    p("p2").ns("default").priority(LOW).node("node2").obj(),
                ],
                vec![],
                vec![("node1", ONE_POD), ("node2", ONE_POD)],
                vec![("node1", U), ("node2", U)],
                Ok("node2"),
            ),
            (
                "pod can be made schedulable on minHighestPriority node",
                p("p").ns("default").priority(VERY_HIGH).obj(),
                vec![
                    p("p1")
                        .ns("default")
                        .label(non_violating.0, non_violating.1)
                        .priority(HIGH)
                        .node("node1")
                        .obj(),
                    p("p2")
                        .ns("default")
                        .label(violating.0, violating.1)
                        .priority(LOW)
                        .node("node1")
                        .obj(),
                    p("p3")
                        .ns("default")
                        .label(violating.0, violating.1)
                        .priority(MID)
                        .node("node2")
                        .obj(),
                ],
                vec![
                    pdb(Some("default"), json!({violating.0: violating.1}), 0, &[]),
                    pdb(
                        Some("default"),
                        json!({non_violating.0: non_violating.1}),
                        i32::MAX,
                        &[],
                    ),
                ],
                vec![("node1", ONE_POD), ("node2", ONE_POD)],
                vec![("node1", U), ("node2", U)],
                Ok("node2"),
            ),
            (
                "no candidate nodes found, no enough resource after removing low priority pods",
                p("p").ns("default").priority(HIGH).req(LARGE).obj(),
                vec![
                    p("p1").ns("default").node("node1").obj(),
                    p("p2").ns("default").node("node2").obj(),
                ],
                vec![],
                vec![("node1", NODE_RES), ("node2", NODE_RES)],
                vec![("node1", U), ("node2", U)],
                Err("0/2 nodes are available: 2 Insufficient cpu."),
            ),
            (
                "no candidate nodes found with mixed reasons, no lower priority pod and no enough CPU resource",
                p("p").ns("default").priority(HIGH).req(LARGE).obj(),
                vec![
                    p("p1").ns("default").node("node1").priority(HIGH).obj(),
                    p("p2").ns("default").node("node2").obj(),
                    p("p3").ns("default").node("node3").priority(HIGH).obj(),
                ],
                vec![],
                vec![("node1", ONE_POD), ("node2", NODE_RES), ("node3", ONE_POD)],
                vec![("node1", U), ("node2", U), ("node3", U)],
                Err(
                    "0/3 nodes are available: 1 Insufficient cpu, 2 No preemption victims found for incoming pod.",
                ),
            ),
            (
                "no candidate nodes found with mixed reason, 2 UnschedulableAndUnresolvable nodes and 2 nodes don't have enough CPU resource",
                p("p").ns("default").priority(HIGH).req(LARGE).obj(),
                vec![
                    p("p1").ns("default").node("node1").obj(),
                    p("p2").ns("default").node("node2").obj(),
                ],
                vec![],
                vec![
                    ("node1", NODE_RES),
                    ("node2", NODE_RES),
                    ("node3", NODE_RES),
                    ("node4", NODE_RES),
                ],
                vec![("node1", U), ("node2", U), ("node4", UU)],
                Err(
                    "0/4 nodes are available: 2 Insufficient cpu, 2 Preemption is not helpful for scheduling.",
                ),
            ),
        ];
        let profile = profile(vec![Box::new(Fit)]);
        for (name, pod, pods, pdbs, nodes, codes, want) in cases {
            let nodes = nodes
                .iter()
                .map(|(n, (cpu, memory, count))| node(n, cpu, memory, count));
            let snapshot = Snapshot::new(nodes, pods);
            let decision = failed_attempt(&profile, &pod, &snapshot, &codes);
            let got = post_filter(&profile, &pod, &snapshot, &decision, &pdbs);
            match want {
                Ok(node) => {
                    assert_eq!(got.message, "", "{name}");
                    assert_eq!(got.preempt.map(|v| v.node).as_deref(), Some(node), "{name}");
                }
                Err(fit_error) => {
                    let message = format!("no new claims to deallocate, preemption: {fit_error}");
                    assert_eq!(got.message, message, "{name}");
                    assert!(got.preempt.is_none(), "{name}");
                }
            }
        }
    }

    #[test]
    fn a_failed_attempt_from_schedule_leads_to_the_node_with_the_cheapest_victims() {
        let profile = profile(vec![Box::new(Fit)]);
        let nodes = ["node1", "node2", "node3"].map(|n| node(n, "500m", "500", "32"));
        let pods = [
            p("a").node("node1").priority(MID).req(VERY_LARGE).obj(),
            p("b").node("node2").priority(LOW).req(VERY_LARGE).obj(),
            p("c")
                .node("node3")
                .priority(VERY_HIGH)
                .req(VERY_LARGE)
                .obj(),
        ];
        let snapshot = Snapshot::new(nodes, pods);
        let pod = p("p").priority(HIGH).req(LARGE).obj();
        let decision = schedule(&profile, &pod, &snapshot, 0, &mut Rng::new(1));
        assert_eq!(decision.chosen, None);
        let got = post_filter(&profile, &pod, &snapshot, &decision, &[]);
        assert_eq!(got.message, "");
        assert_eq!(
            found(&got.preempt.into_iter().collect::<Vec<_>>()),
            want(&[("node2", &["b"], 0)])
        );
    }

    #[test]
    fn nothing_to_preempt_anywhere_says_preemption_is_not_helpful() {
        let profile = profile(vec![Box::new(Always(Code::UnschedulableAndUnresolvable))]);
        let snapshot = Snapshot::new(["n1", "n2", "n3"].map(|n| node(n, "1", "1Gi", "32")), []);
        let pod = p("p").priority(HIGH).obj();
        let decision = schedule(&profile, &pod, &snapshot, 0, &mut Rng::new(1));
        let got = post_filter(&profile, &pod, &snapshot, &decision, &[]);
        assert_eq!(
            got.message,
            "no new claims to deallocate, preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
        );
    }

    /// A PreFilter that rejects every pod.
    struct RejectAtPreFilter(Code);

    impl FilterPlugin for RejectAtPreFilter {
        fn name(&self) -> &'static str {
            "NodeAffinity"
        }
        fn pre_filter(&self, _: &Pod, _: &Snapshot) -> Result<Option<State>, Status> {
            Err(Status {
                code: self.0,
                reasons: vec!["early says no".into()],
            })
        }
        fn filter(&self, _: &State, _: &Pod, _: &NodeInfo) -> Status {
            Status::success()
        }
    }

    #[test]
    fn an_unresolvable_pre_filter_leaves_dynamic_resources_without_state() {
        let profile = profile(vec![Box::new(RejectAtPreFilter(
            Code::UnschedulableAndUnresolvable,
        ))]);
        let snapshot = Snapshot::new([node("n1", "1", "1Gi", "32")], [p("low").node("n1").obj()]);
        let pod = p("p").priority(HIGH).obj();
        let decision = schedule(&profile, &pod, &snapshot, 0, &mut Rng::new(1));
        let got = post_filter(&profile, &pod, &snapshot, &decision, &[]);
        assert_eq!(
            (got.message.as_str(), got.preempt.is_none()),
            ("not found", true)
        );
    }

    #[test]
    fn an_unschedulable_pre_filter_makes_every_node_a_potential_one() {
        let profile = profile(vec![Box::new(RejectAtPreFilter(Code::Unschedulable))]);
        let snapshot = Snapshot::new(
            ["n1", "n2"].map(|n| node(n, "1", "1Gi", "32")),
            [p("low").node("n1").obj()],
        );
        let pod = p("p").priority(HIGH).obj();
        let decision = schedule(&profile, &pod, &snapshot, 0, &mut Rng::new(1));
        let got = post_filter(&profile, &pod, &snapshot, &decision, &[]);
        assert_eq!(
            got.message,
            "no new claims to deallocate, preemption: 0/2 nodes are available: \
             1 No preemption victims found for incoming pod, 1 early says no."
        );
    }

    #[test]
    fn ineligible_pods_say_why_after_the_dynamic_resources_message() {
        let profile = profile(vec![Box::new(Fit)]);
        let snapshot = Snapshot::new(
            [node("node1", "0", "0", "1")],
            [p("p1")
                .priority(LOW)
                .node("node1")
                .terminating()
                .preempted_by_scheduler()
                .obj()],
        );
        let cases = [
            (
                p("p").priority(HIGH).preempt_never().obj(),
                "no new claims to deallocate, preemption: not eligible due to preemptionPolicy=Never.",
            ),
            (
                p("p").priority(HIGH).nominated("node1").obj(),
                "no new claims to deallocate, preemption: not eligible due to a terminating pod on the nominated node.",
            ),
        ];
        for (pod, message) in cases {
            let decision = schedule(&profile, &pod, &snapshot, 0, &mut Rng::new(1));
            let got = post_filter(&profile, &pod, &snapshot, &decision, &[]);
            assert_eq!(got.message, message);
        }
    }

    /// Upstream `TestPodEligibleToPreemptOthers`; a nil nominatedNodeStatus has code Success.
    #[test]
    fn pod_eligible_to_preempt_others() {
        let terminating = p("p1").priority(LOW).node("node1").terminating();
        let cases = [
            (
                "Pod with nominated node",
                p("p_with_nominated_node")
                    .priority(HIGH)
                    .nominated("node1")
                    .obj(),
                vec![terminating.0.clone()],
                Code::UnschedulableAndUnresolvable,
                true,
            ),
            (
                "Pod without nominated node",
                p("p_without_nominated_node").priority(HIGH).obj(),
                vec![],
                Code::Success,
                true,
            ),
            (
                "Pod with 'PreemptNever' preemption policy",
                p("p_with_preempt_never_policy")
                    .priority(HIGH)
                    .preempt_never()
                    .obj(),
                vec![],
                Code::Success,
                false,
            ),
            (
                "preemption victim pod terminating, as indicated by the dedicated DisruptionTarget condition",
                p("p_with_nominated_node")
                    .priority(HIGH)
                    .nominated("node1")
                    .obj(),
                vec![P(terminating.0.clone()).preempted_by_scheduler().0],
                Code::Success,
                false,
            ),
            (
                "non-victim Pods terminating",
                p("p_with_nominated_node")
                    .priority(HIGH)
                    .nominated("node1")
                    .obj(),
                vec![terminating.0.clone()],
                Code::Success,
                true,
            ),
        ];
        for (name, pod, pods, nominated_code, eligible) in cases {
            let pods = pods.into_iter().map(|v| P(v).obj());
            let snapshot = Snapshot::new([node("node1", "1", "1Gi", "32")], pods);
            let got = eligible_to_preempt(&pod, &snapshot, nominated_code);
            assert_eq!(got.is_ok(), eligible, "{name}: {got:?}");
        }
    }

    /// Runs the dry run of upstream's `TestDryRunPreemption` over every node (all potential):
    /// nodes of veryLargeRes, the given offset, and `limit` = (percentage, absolute) or the
    /// defaults.
    fn dry_run_all(
        filters: Vec<Box<dyn FilterPlugin>>,
        nodes: &[&str],
        pods: Vec<Arc<Pod>>,
        pdbs: &[PodDisruptionBudget],
        preemptor: &Pod,
        offset: usize,
        limit: Option<(usize, usize)>,
    ) -> DryRun {
        let profile = profile(filters);
        let nodes = nodes.iter().map(|n| node(n, "500m", "500", "32"));
        let snapshot = Snapshot::new(nodes, pods);
        let potential: Vec<usize> = (0..snapshot.nodes.len()).collect();
        let (percentage, absolute) =
            limit.unwrap_or((MIN_CANDIDATE_NODES_PERCENTAGE, MIN_CANDIDATE_NODES_ABSOLUTE));
        let wanted = num_candidates(potential.len(), percentage, absolute);
        dry_run(
            &profile, preemptor, &snapshot, &potential, pdbs, offset, wanted,
        )
    }

    fn fit() -> Vec<Box<dyn FilterPlugin>> {
        vec![Box::new(Fit)]
    }

    /// Upstream `TestDryRunPreemption` (the call counts of its fake filter are not checked).
    #[test]
    fn dry_run_preemption() {
        let two = ["node1", "node2"];
        let mids = || {
            vec![
                p("p1").node("node1").priority(MID).req(LARGE).obj(),
                p("p2").node("node2").priority(MID).req(LARGE).obj(),
            ]
        };
        let high_large = p("p").priority(HIGH).req(LARGE).obj();
        let app_foo = || vec![pdb(None, json!({"app": "foo"}), 1, &[])];
        let foo_pods = |n: usize| -> Vec<Arc<Pod>> {
            (1..=n)
                .map(|i| {
                    p(&format!("p1.{i}"))
                        .node("node1")
                        .label("app", "foo")
                        .priority(MID)
                        .req(MEDIUM)
                        .obj()
                })
                .collect()
        };
        type Case<'a> = (
            &'a str,
            Vec<Box<dyn FilterPlugin>>,
            &'a [&'a str],
            Vec<Arc<Pod>>,
            Vec<PodDisruptionBudget>,
            Arc<Pod>,
            Found,
        );
        let cases: Vec<Case> = vec![
            (
                "a pod that does not fit on any node",
                vec![Box::new(Always(Code::Unschedulable))],
                &two,
                vec![
                    p("p1").node("node1").priority(MID).obj(),
                    p("p2").node("node2").priority(MID).obj(),
                ],
                vec![],
                p("p").priority(HIGH).obj(),
                want(&[]),
            ),
            (
                "a pod that fits with no preemption",
                vec![
                    Box::new(Always(Code::Success)),
                    Box::new(Always(Code::Unschedulable)),
                ],
                &two,
                vec![
                    p("p1").node("node1").priority(MID).obj(),
                    p("p2").node("node2").priority(MID).obj(),
                ],
                vec![],
                p("p").priority(HIGH).obj(),
                want(&[]),
            ),
            (
                "a pod that fits on one node with no preemption",
                vec![Box::new(Always(Code::Unschedulable)), Box::new(MatchName)],
                &two,
                vec![
                    p("p1").node("node1").priority(MID).obj(),
                    p("p2").node("node2").priority(MID).obj(),
                ],
                vec![],
                p("node1").priority(HIGH).obj(),
                want(&[]),
            ),
            (
                "a pod that fits on both nodes when lower priority pods are preempted",
                fit(),
                &two,
                mids(),
                vec![],
                high_large.clone(),
                want(&[("node1", &["p1"], 0), ("node2", &["p2"], 0)]),
            ),
            (
                "a pod that would fit on the nodes, but other pods running are higher priority, no preemption would happen",
                fit(),
                &two,
                mids(),
                vec![],
                p("p").priority(LOW).req(LARGE).obj(),
                want(&[]),
            ),
            (
                "medium priority pod is preempted, but lower priority one stays as it is small",
                fit(),
                &two,
                vec![
                    p("p1.1").node("node1").priority(LOW).req(SMALL).obj(),
                    p("p1.2").node("node1").priority(MID).req(LARGE).obj(),
                    p("p2").node("node2").priority(MID).req(LARGE).obj(),
                ],
                vec![],
                high_large.clone(),
                want(&[("node1", &["p1.2"], 0), ("node2", &["p2"], 0)]),
            ),
            (
                "mixed priority pods are preempted",
                fit(),
                &two,
                vec![
                    p("p1.1").node("node1").priority(MID).req(SMALL).obj(),
                    p("p1.2").node("node1").priority(LOW).req(SMALL).obj(),
                    p("p1.3").node("node1").priority(MID).req(MEDIUM).obj(),
                    p("p1.4").node("node1").priority(HIGH).req(SMALL).obj(),
                    p("p2").node("node2").priority(HIGH).req(LARGE).obj(),
                ],
                vec![],
                high_large.clone(),
                want(&[("node1", &["p1.2", "p1.3"], 0)]),
            ),
            (
                "mixed priority pods are preempted, pick later StartTime one when priorities are equal",
                fit(),
                &two,
                vec![
                    p("p1.1")
                        .node("node1")
                        .priority(LOW)
                        .req(SMALL)
                        .start(5)
                        .obj(),
                    p("p1.2")
                        .node("node1")
                        .priority(LOW)
                        .req(SMALL)
                        .start(4)
                        .obj(),
                    p("p1.3")
                        .node("node1")
                        .priority(MID)
                        .req(MEDIUM)
                        .start(3)
                        .obj(),
                    p("p1.4")
                        .node("node1")
                        .priority(HIGH)
                        .req(SMALL)
                        .start(2)
                        .obj(),
                    p("p2")
                        .node("node2")
                        .priority(HIGH)
                        .req(LARGE)
                        .start(1)
                        .obj(),
                ],
                vec![],
                high_large.clone(),
                want(&[("node1", &["p1.1", "p1.3"], 0)]),
            ),
            (
                "pod with anti-affinity is preempted",
                vec![Box::new(Fit), Box::new(ExistingAntiAffinity)],
                &two,
                vec![
                    p("p1.1")
                        .node("node1")
                        .label("foo", "")
                        .priority(LOW)
                        .req(SMALL)
                        .anti_affinity_exists("foo")
                        .obj(),
                    p("p1.2").node("node1").priority(MID).req(SMALL).obj(),
                    p("p1.3").node("node1").priority(HIGH).req(SMALL).obj(),
                    p("p2").node("node2").priority(HIGH).req(SMALL).obj(),
                ],
                vec![],
                p("p").label("foo", "").priority(HIGH).req(SMALL).obj(),
                want(&[("node1", &["p1.1"], 0)]),
            ),
            (
                "preemption to resolve pod topology spread filter failure",
                vec![Box::new(Spread("zone")), Box::new(Spread("hostname"))],
                &["node-a/zone1", "node-b/zone1", "node-x/zone2"],
                vec![
                    p("pod-a1")
                        .node("node-a")
                        .label("foo", "")
                        .priority(MID)
                        .obj(),
                    p("pod-a2")
                        .node("node-a")
                        .label("foo", "")
                        .priority(LOW)
                        .obj(),
                    p("pod-b1")
                        .node("node-b")
                        .label("foo", "")
                        .priority(LOW)
                        .obj(),
                    p("pod-x1")
                        .node("node-x")
                        .label("foo", "")
                        .priority(HIGH)
                        .obj(),
                    p("pod-x2")
                        .node("node-x")
                        .label("foo", "")
                        .priority(HIGH)
                        .obj(),
                ],
                vec![],
                p("p").label("foo", "").priority(HIGH).obj(),
                want(&[("node-a", &["pod-a2"], 0), ("node-b", &["pod-b1"], 0)]),
            ),
            (
                "get Unschedulable in the preemption phase when the filter plugins filtering the nodes",
                vec![Box::new(Always(Code::Unschedulable)), Box::new(Fit)],
                &two,
                mids(),
                vec![],
                high_large.clone(),
                want(&[]),
            ),
            (
                "preemption with violation of same pdb",
                fit(),
                &["node1"],
                foo_pods(2),
                app_foo(),
                p("p").priority(HIGH).req(VERY_LARGE).obj(),
                want(&[("node1", &["p1.1", "p1.2"], 1)]),
            ),
            (
                "preemption with violation of the pdb with pod whose eviction was processed, the victim doesn't belong to DisruptedPods",
                fit(),
                &["node1"],
                foo_pods(2),
                vec![pdb(None, json!({"app": "foo"}), 1, &["p2"])],
                p("p").priority(HIGH).req(VERY_LARGE).obj(),
                want(&[("node1", &["p1.1", "p1.2"], 1)]),
            ),
            (
                "preemption with violation of the pdb with pod whose eviction was processed, the victim belongs to DisruptedPods",
                fit(),
                &["node1"],
                foo_pods(2),
                vec![pdb(None, json!({"app": "foo"}), 1, &["p1.2"])],
                p("p").priority(HIGH).req(VERY_LARGE).obj(),
                want(&[("node1", &["p1.1", "p1.2"], 0)]),
            ),
            (
                "preemption with violation of the pdb with pod whose eviction was processed, the victim which belongs to DisruptedPods is treated as 'nonViolating'",
                fit(),
                &["node1"],
                foo_pods(3),
                vec![pdb(None, json!({"app": "foo"}), 1, &["p1.3"])],
                p("p").priority(HIGH).req(VERY_LARGE).obj(),
                want(&[("node1", &["p1.1", "p1.2", "p1.3"], 1)]),
            ),
        ];
        for (name, filters, nodes, pods, pdbs, preemptor, expected) in cases {
            let run = dry_run_all(filters, nodes, pods, &pdbs, &preemptor, 0, None);
            assert_eq!(found(&run.candidates), expected, "{name}");
        }
    }

    /// Upstream `TestDryRunPreemption`'s cases with `DefaultPreemptionArgs` of 40% and an
    /// absolute minimum, where upstream's seeded random offsets were 4, then 1, then 3.
    #[test]
    fn dry_run_preemption_stops_at_enough_candidates_from_the_offset() {
        let five = ["node1", "node2", "node3", "node4", "node5"];
        let pod = |name: &str, node: &str, priority: i32| {
            p(name).node(node).priority(priority).req(LARGE)
        };
        let all_mid = || -> Vec<Arc<Pod>> {
            (1..=5)
                .map(|i| pod(&format!("p{i}"), &format!("node{i}"), MID).obj())
                .collect()
        };
        let preemptor = p("p").priority(HIGH).req(LARGE).obj();

        let run = dry_run_all(fit(), &five, all_mid(), &[], &preemptor, 4, Some((40, 1)));
        assert_eq!(
            found(&run.candidates),
            want(&[("node1", &["p1"], 0), ("node5", &["p5"], 0)]),
            "all nodes are possible candidates, but DefaultPreemptionArgs limits to 2"
        );

        let some = vec![
            pod("p1", "node1", MID).obj(),
            pod("p2", "node2", VERY_HIGH).obj(),
            pod("p3", "node3", MID).obj(),
            pod("p4", "node4", MID).obj(),
            pod("p5", "node5", VERY_HIGH).obj(),
        ];
        let run = dry_run_all(fit(), &five, some, &[], &preemptor, 4, Some((40, 1)));
        assert_eq!(
            found(&run.candidates),
            want(&[("node1", &["p1"], 0), ("node3", &["p3"], 0)]),
            "some nodes are not possible candidates, DefaultPreemptionArgs limits to 2"
        );

        let cycles: [(usize, Expected); 3] = [
            (4, &[("node1", &["p1"], 0), ("node5", &["p5"], 0)]),
            (1, &[("node2", &["p2"], 0), ("node3", &["p3"], 0)]),
            (3, &[("node4", &["p4"], 0), ("node5", &["p5"], 0)]),
        ];
        for (cycle, (offset, expected)) in cycles.into_iter().enumerate() {
            let preemptor = p(&format!("tp{}", cycle + 1))
                .priority(HIGH)
                .req(LARGE)
                .obj();
            let run = dry_run_all(
                fit(),
                &five,
                all_mid(),
                &[],
                &preemptor,
                offset,
                Some((40, 1)),
            );
            assert_eq!(
                found(&run.candidates),
                want(expected),
                "preemption offset across multiple scheduling cycles and wrap around, cycle {cycle}"
            );
        }

        let labelled = vec![
            pod("p1", "node1", MID).label("app", "foo").obj(),
            pod("p2", "node2", MID).label("app", "foo").obj(),
            pod("p3", "node3", MID).obj(),
            pod("p4", "node4", MID).obj(),
            pod("p5", "node5", MID).label("app", "foo").obj(),
        ];
        let pdbs = [pdb(None, json!({"app": "foo"}), 0, &[])];
        let run = dry_run_all(fit(), &five, labelled, &pdbs, &preemptor, 4, Some((40, 2)));
        assert_eq!(
            found(&run.candidates),
            want(&[
                ("node1", &["p1"], 1),
                ("node3", &["p3"], 0),
                ("node5", &["p5"], 1)
            ]),
            "preemption looks past numCandidates until a non-PDB violating node is found"
        );
        assert_eq!(
            run.candidates[0].node, "node3",
            "the non-violating candidates come first"
        );
    }

    /// Upstream `TestSelectBestCandidate`.
    #[test]
    fn select_best_candidate() {
        let pod = |name: &str, node: &str, priority: i32, req: (i64, i64), start: u32| {
            p(name)
                .node(node)
                .priority(priority)
                .req(req)
                .start(start)
                .obj()
        };
        let three = ["node1", "node2", "node3"];
        type Case<'a> = (
            &'a str,
            &'a [&'a str],
            Arc<Pod>,
            Vec<Arc<Pod>>,
            &'a [&'a str],
        );
        let cases: Vec<Case> = vec![
            (
                "a pod that fits on both nodes when lower priority pods are preempted",
                &["node1", "node2"],
                p("p").priority(HIGH).req(LARGE).obj(),
                vec![
                    pod("p1", "node1", MID, LARGE, 0),
                    pod("p2", "node2", MID, LARGE, 0),
                ],
                &["node1", "node2"],
            ),
            (
                "node with min highest priority pod is picked",
                &three,
                p("p").priority(HIGH).req(VERY_LARGE).obj(),
                vec![
                    pod("p1.1", "node1", MID, MEDIUM, 0),
                    pod("p1.2", "node1", MID, LARGE, 0),
                    pod("p2.1", "node2", MID, MEDIUM, 0),
                    pod("p2.2", "node2", LOW, MEDIUM, 0),
                    pod("p3.1", "node3", LOW, MEDIUM, 0),
                    pod("p3.2", "node3", LOW, MEDIUM, 0),
                ],
                &["node3"],
            ),
            (
                "when highest priorities are the same, minimum sum of priorities is picked",
                &three,
                p("p").priority(HIGH).req(VERY_LARGE).obj(),
                vec![
                    pod("p1.1", "node1", MID, MEDIUM, 0),
                    pod("p1.2", "node1", MID, LARGE, 0),
                    pod("p2.1", "node2", MID, LARGE, 0),
                    pod("p2.2", "node2", LOW, MEDIUM, 0),
                    pod("p3.1", "node3", MID, MEDIUM, 0),
                    pod("p3.2", "node3", MID, MEDIUM, 0),
                ],
                &["node2"],
            ),
            (
                "when highest priority and sum are the same, minimum number of pods is picked",
                &three,
                p("p").priority(HIGH).req(VERY_LARGE).obj(),
                vec![
                    pod("p1.1", "node1", MID, SMALL, 0),
                    pod("p1.2", "node1", NEG, SMALL, 0),
                    pod("p1.3", "node1", MID, SMALL, 0),
                    pod("p1.4", "node1", NEG, SMALL, 0),
                    pod("p2.1", "node2", MID, LARGE, 0),
                    pod("p2.2", "node2", NEG, MEDIUM, 0),
                    pod("p3.1", "node3", MID, MEDIUM, 0),
                    pod("p3.2", "node3", NEG, SMALL, 0),
                    pod("p3.3", "node3", LOW, SMALL, 0),
                ],
                &["node2"],
            ),
            (
                "sum of adjusted priorities is considered",
                &three,
                p("p").priority(HIGH).req(VERY_LARGE).obj(),
                vec![
                    pod("p1.1", "node1", MID, SMALL, 0),
                    pod("p1.2", "node1", NEG, SMALL, 0),
                    pod("p1.3", "node1", NEG, SMALL, 0),
                    pod("p2.1", "node2", MID, LARGE, 0),
                    pod("p2.2", "node2", NEG, MEDIUM, 0),
                    pod("p3.1", "node3", MID, MEDIUM, 0),
                    pod("p3.2", "node3", NEG, SMALL, 0),
                    pod("p3.3", "node3", LOW, SMALL, 0),
                ],
                &["node2"],
            ),
            (
                "non-overlapping lowest high priority, sum priorities, and number of pods",
                &["node1", "node2", "node3", "node4"],
                p("p").priority(VERY_HIGH).req(VERY_LARGE).obj(),
                vec![
                    pod("p1.1", "node1", MID, SMALL, 0),
                    pod("p1.2", "node1", LOW, SMALL, 0),
                    pod("p1.3", "node1", LOW, SMALL, 0),
                    pod("p2.1", "node2", HIGH, LARGE, 0),
                    pod("p3.1", "node3", MID, MEDIUM, 0),
                    pod("p3.2", "node3", LOW, SMALL, 0),
                    pod("p3.3", "node3", LOW, SMALL, 0),
                    pod("p3.4", "node3", LOW, MEDIUM, 0),
                    pod("p4.1", "node4", MID, MEDIUM, 0),
                    pod("p4.2", "node4", MID, SMALL, 0),
                    pod("p4.3", "node4", MID, SMALL, 0),
                    pod("p4.4", "node4", NEG, SMALL, 0),
                ],
                &["node1"],
            ),
            (
                "same priority, same number of victims, different start time for each node's pod",
                &three,
                p("p").priority(HIGH).req(VERY_LARGE).obj(),
                vec![
                    pod("p1.1", "node1", MID, MEDIUM, 2),
                    pod("p1.2", "node1", MID, MEDIUM, 2),
                    pod("p2.1", "node2", MID, MEDIUM, 3),
                    pod("p2.2", "node2", MID, MEDIUM, 3),
                    pod("p3.1", "node3", MID, MEDIUM, 1),
                    pod("p3.2", "node3", MID, MEDIUM, 1),
                ],
                &["node2"],
            ),
            (
                "same priority, same number of victims, different start time for all pods",
                &three,
                p("p").priority(HIGH).req(VERY_LARGE).obj(),
                vec![
                    pod("p1.1", "node1", MID, MEDIUM, 4),
                    pod("p1.2", "node1", MID, MEDIUM, 2),
                    pod("p2.1", "node2", MID, MEDIUM, 5),
                    pod("p2.2", "node2", MID, MEDIUM, 1),
                    pod("p3.1", "node3", MID, MEDIUM, 3),
                    pod("p3.2", "node3", MID, MEDIUM, 6),
                ],
                &["node3"],
            ),
            (
                "different priority, same number of victims, different start time for all pods",
                &three,
                p("p").priority(HIGH).req(VERY_LARGE).obj(),
                vec![
                    pod("p1.1", "node1", LOW, MEDIUM, 4),
                    pod("p1.2", "node1", MID, MEDIUM, 2),
                    pod("p2.1", "node2", MID, MEDIUM, 6),
                    pod("p2.2", "node2", LOW, MEDIUM, 1),
                    pod("p3.1", "node3", LOW, MEDIUM, 3),
                    pod("p3.2", "node3", MID, MEDIUM, 5),
                ],
                &["node2"],
            ),
        ];
        for (name, nodes, preemptor, pods, expected) in cases {
            let run = dry_run_all(fit(), nodes, pods, &[], &preemptor, 0, None);
            assert!(!run.candidates.is_empty(), "{name}");
            let best = select_candidate(run.candidates);
            assert!(
                expected.contains(&best.node.as_str()),
                "{name}: {}",
                best.node
            );
        }
    }

    #[test]
    fn victims_are_most_important_first_and_pods_not_started_count_as_newest() {
        let pods = vec![
            p("new").priority(MID).obj(),
            p("old").priority(MID).start(1).obj(),
            p("high").priority(HIGH).start(9).obj(),
        ];
        let mut sorted = pods.clone();
        sorted.sort_by(more_important_first);
        let names: Vec<String> = sorted.iter().map(|p| p.name_any()).collect();
        assert_eq!(names, ["high", "old", "new"]);
        let victims = Victims {
            node: "n".into(),
            pods,
            pdb_violations: 0,
        };
        assert_eq!(earliest_start_of_highest_priority(&victims), 9_000_000_000);
    }

    /// Upstream `TestFilterVictimsWithPDBViolation`, the cases of single pods (the pod-group
    /// ones are not modelled), against `filterPodsWithPDBViolation`.
    #[test]
    fn pods_with_pdb_violation() {
        let default = Some("default");
        let no_pdb_match = p("p1").label("app", "foo").obj();
        let match_pdb = p("p1").ns("default").label("app", "foo").obj();
        let match_pdb2 = p("p2").ns("default").label("app", "foo").obj();
        let match_multiple = p("p1")
            .ns("default")
            .label("app", "foo")
            .label("tier", "backend")
            .obj();
        let empty_selector: PodDisruptionBudget = serde_json::from_value(json!({
            "metadata": {"namespace": "default"},
            "spec": {"selector": {}},
            "status": {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}
        }))
        .unwrap();
        type Case<'a> = (
            &'a str,
            Vec<Arc<Pod>>,
            Vec<PodDisruptionBudget>,
            &'a [&'a str],
            &'a [&'a str],
        );
        let cases: Vec<Case> = vec![
            ("no victims, no PDBs", vec![], vec![], &[], &[]),
            (
                "victim with no matching PDBs",
                vec![no_pdb_match],
                vec![pdb(default, json!({"app": "bar"}), 0, &[])],
                &[],
                &["p1"],
            ),
            (
                "victim matching PDB, adequate DisruptionsAllowed",
                vec![match_pdb.clone()],
                vec![pdb(default, json!({"app": "foo"}), 1, &[])],
                &[],
                &["p1"],
            ),
            (
                "victim matching PDB, no DisruptionsAllowed",
                vec![match_pdb.clone()],
                vec![pdb(default, json!({"app": "foo"}), 0, &[])],
                &["p1"],
                &[],
            ),
            (
                "multiple victims matching the same PDB",
                vec![match_pdb.clone(), match_pdb2],
                vec![pdb(default, json!({"app": "foo"}), 1, &[])],
                &["p2"],
                &["p1"],
            ),
            (
                "pod in DisruptedPods is ignored",
                vec![match_pdb.clone()],
                vec![pdb(default, json!({"app": "foo"}), 0, &["p1"])],
                &[],
                &["p1"],
            ),
            (
                "PDB with empty selector",
                vec![match_pdb],
                vec![empty_selector],
                &[],
                &["p1"],
            ),
            (
                "Multiple PDBs",
                vec![match_multiple],
                vec![
                    pdb(default, json!({"app": "foo"}), 1, &[]),
                    pdb(default, json!({"tier": "backend"}), 0, &[]),
                ],
                &["p1"],
                &[],
            ),
        ];
        let names = |pods: &[Arc<Pod>]| pods.iter().map(|p| p.name_any()).collect::<Vec<_>>();
        for (name, pods, pdbs, violating, non_violating) in cases {
            let (got_violating, got_non_violating) = split_by_pdb_violation(pods, &pdbs);
            assert_eq!(names(&got_violating), violating, "{name}");
            assert_eq!(names(&got_non_violating), non_violating, "{name}");
        }
    }

    #[test]
    fn candidates_wanted_are_a_tenth_but_at_least_a_hundred_and_at_most_all() {
        let cases = [(5, 5), (100, 100), (500, 100), (2000, 200)];
        for (nodes, wanted) in cases {
            assert_eq!(num_candidates(nodes, 10, 100), wanted, "{nodes}");
        }
        assert_eq!(num_candidates(5, 40, 1), 2);
    }

    #[test]
    fn errors_aggregate_as_upstream() {
        assert_eq!(aggregate(&["a".into()]), "a");
        assert_eq!(aggregate(&["a".into(), "a".into()]), "a");
        assert_eq!(aggregate(&["a".into(), "b".into(), "a".into()]), "[a, b]");
    }
}

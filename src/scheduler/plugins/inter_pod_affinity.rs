//! InterPodAffinity: the pod's required pod affinity / anti-affinity and the existing pods'
//! required anti-affinity filter nodes; preferred terms on both sides (and the existing pods'
//! required affinity, with the hard pod affinity weight) score them. Follows upstream
//! `pkg/scheduler/framework/plugins/interpodaffinity/{filtering,scoring,plugin}.go` with the
//! default `InterPodAffinityArgs` (hardPodAffinityWeight 1, ignorePreferredTermsOfExistingPods
//! false), and the term parsing of `framework.NewPodInfo` / `fwk.AffinityTerm`.
//!
//! Namespaces: the snapshot holds no Namespace objects, so this plugin behaves as upstream does
//! when its namespace lister knows no namespace:
//! - the incoming pod's terms: a `namespaceSelector` is resolved, as upstream's
//!   `mergeAffinityTermNamespacesIfNotEmpty`, into the namespaces it lists, which are none. So
//!   only an empty selector `{}` (all namespaces) widens a term beyond `namespaces` (or the
//!   pod's own namespace when the term names neither);
//! - the existing pods' terms are matched against the incoming pod's namespace labels, which
//!   are unknown, hence empty (upstream's `GetNamespaceLabelsSnapshot` on a lookup failure): `{}`
//!   matches, and so do selectors that hold for no labels (`NotIn`, `DoesNotExist`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use k8s_openapi::api::core::v1::{Node, PodAffinityTerm, WeightedPodAffinityTerm};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use kube::core::{Expression, Selector, SelectorExt};

use crate::runtime::label_selector::{aggregate, validate_requirement};
use crate::scheduler::framework::{
    FilterPlugin, MAX_NODE_SCORE, NodeInfo, ScorePlugin, Snapshot, State, Status, has_pod_affinity,
    state_of,
};
use crate::scheduler::pod::Pod;

pub const NAME: &str = "InterPodAffinity";
pub const WEIGHT: i64 = 2;

/// Upstream's default `hardPodAffinityWeight`: what an existing pod's required affinity term
/// that the incoming pod matches adds to the score of the nodes in its topology.
const HARD_POD_AFFINITY_WEIGHT: i64 = 1;

pub const ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";
pub const ERR_REASON_AFFINITY_RULES_NOT_MATCH: &str = "node(s) didn't match pod affinity rules";
pub const ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH: &str =
    "node(s) didn't match pod anti-affinity rules";

/// The incoming pod's namespace labels: unknown, as the snapshot has no Namespace objects.
static NO_NAMESPACE_LABELS: BTreeMap<String, String> = BTreeMap::new();
static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();

pub struct InterPodAffinity;

// ---------------------------------------------------------------------------------------------
// Affinity terms
// ---------------------------------------------------------------------------------------------

/// A parsed label selector. Upstream tells a missing selector (matches nothing) from an empty
/// one (matches everything); `kube::core::Selector` alone does not.
#[derive(Clone, Debug)]
enum PodSelector {
    Nothing,
    Matching(Selector),
}

impl PodSelector {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            PodSelector::Nothing => false,
            PodSelector::Matching(selector) => selector.matches(labels),
        }
    }

    /// Upstream `Selector.Empty()`: the selector of everything.
    fn selects_all(&self) -> bool {
        matches!(self, PodSelector::Matching(s) if s.selects_all())
    }
}

/// A processed `PodAffinityTerm` (upstream `fwk.AffinityTerm`).
#[derive(Clone, Debug)]
struct AffinityTerm {
    namespaces: BTreeSet<String>,
    selector: PodSelector,
    topology_key: String,
    namespace_selector: PodSelector,
}

impl AffinityTerm {
    /// Upstream `newAffinityTerm`: a term naming neither namespaces nor a namespace selector
    /// is about the namespace of the pod that carries it.
    fn parse(owner: &Pod, term: &PodAffinityTerm) -> Result<Self, String> {
        let selector = parse_selector(term.label_selector.as_ref())?;
        let names = term.namespaces.as_deref().unwrap_or_default();
        let namespaces = if names.is_empty() && term.namespace_selector.is_none() {
            BTreeSet::from([namespace_of(owner).to_string()])
        } else {
            names.iter().cloned().collect()
        };
        let namespace_selector = parse_selector(term.namespace_selector.as_ref())?;
        Ok(Self {
            namespaces,
            selector,
            topology_key: term.topology_key.clone(),
            namespace_selector,
        })
    }

    /// Upstream `mergeAffinityTermNamespacesIfNotEmpty` for the incoming pod's terms: a
    /// selector other than `{}` becomes the namespaces it lists, and no namespace is known.
    fn resolve_namespace_selector(&mut self) {
        if !self.namespace_selector.selects_all() {
            self.namespace_selector = PodSelector::Nothing;
        }
    }

    /// Upstream `AffinityTerm.Matches`: the pod is in one of the term's namespaces and its
    /// labels match the term's selector.
    fn matches(&self, pod: &Pod, namespace_labels: &BTreeMap<String, String>) -> bool {
        let in_namespace = self.namespaces.contains(namespace_of(pod))
            || self.namespace_selector.matches(namespace_labels);
        in_namespace && self.selector.matches(labels_of(pod))
    }

    /// The node's value of the term's topology key, if the node has that label.
    fn topology_pair(&self, node: &Node) -> Option<TopologyPair> {
        let value = node_labels(node).get(&self.topology_key)?;
        Some((self.topology_key.clone(), value.clone()))
    }
}

#[derive(Clone, Debug)]
struct WeightedAffinityTerm {
    term: AffinityTerm,
    weight: i64,
}

/// A pod's four kinds of pod (anti-)affinity terms, parsed (the terms of upstream `PodInfo`).
/// The scheduler's cache parses an existing pod's once, as it arrives
/// (`framework::AffinityPod`): a pod's affinity cannot change.
#[derive(Clone, Debug, Default)]
pub struct PodAffinityTerms {
    required_affinity: Vec<AffinityTerm>,
    required_anti_affinity: Vec<AffinityTerm>,
    preferred_affinity: Vec<WeightedAffinityTerm>,
    preferred_anti_affinity: Vec<WeightedAffinityTerm>,
}

impl PodAffinityTerms {
    /// Upstream `PodInfo.Update`: each kind parsed on its own; a kind that fails to parse is
    /// left empty and its error reported, prefixed by the kind's name.
    fn parse(pod: &Pod) -> (Self, Vec<String>) {
        let affinity = pod.spec.as_ref().and_then(|s| s.affinity.as_ref());
        let pod_affinity = affinity.and_then(|a| a.pod_affinity.as_ref());
        let anti_affinity = affinity.and_then(|a| a.pod_anti_affinity.as_ref());
        let mut errors = Vec::new();
        let terms = Self {
            required_affinity: kept(
                "requiredAffinityTerms",
                parse_required(
                    pod,
                    pod_affinity.and_then(|a| {
                        a.required_during_scheduling_ignored_during_execution
                            .as_ref()
                    }),
                ),
                &mut errors,
            ),
            required_anti_affinity: kept(
                "requiredAntiAffinityTerms",
                parse_required(
                    pod,
                    anti_affinity.and_then(|a| {
                        a.required_during_scheduling_ignored_during_execution
                            .as_ref()
                    }),
                ),
                &mut errors,
            ),
            preferred_affinity: kept(
                "preferredAffinityTerms",
                parse_preferred(
                    pod,
                    pod_affinity.and_then(|a| {
                        a.preferred_during_scheduling_ignored_during_execution
                            .as_ref()
                    }),
                ),
                &mut errors,
            ),
            preferred_anti_affinity: kept(
                "preferredAntiAffinityTerms",
                parse_preferred(
                    pod,
                    anti_affinity.and_then(|a| {
                        a.preferred_during_scheduling_ignored_during_execution
                            .as_ref()
                    }),
                ),
                &mut errors,
            ),
        };
        (terms, errors)
    }

    /// An existing pod's terms: as the scheduler's cache keeps them, a kind that failed to
    /// parse counts as no terms.
    pub fn of_existing(pod: &Pod) -> Self {
        if !has_pod_affinity(pod) {
            return Self::default();
        }
        Self::parse(pod).0
    }

    /// The incoming pod's terms with their namespace selectors resolved, or upstream's parse
    /// error (an aggregate of the failing kinds).
    fn of_incoming(pod: &Pod) -> Result<Self, String> {
        let (mut terms, errors) = Self::parse(pod);
        if !errors.is_empty() {
            return Err(aggregate(errors));
        }
        let weighted = terms.preferred_affinity.iter_mut();
        let weighted = weighted.chain(terms.preferred_anti_affinity.iter_mut());
        terms
            .required_affinity
            .iter_mut()
            .chain(terms.required_anti_affinity.iter_mut())
            .chain(weighted.map(|w| &mut w.term))
            .for_each(AffinityTerm::resolve_namespace_selector);
        Ok(terms)
    }
}

/// Upstream `GetAffinityTerms`: the first term that fails to parse fails them all.
fn parse_required(
    owner: &Pod,
    terms: Option<&Vec<PodAffinityTerm>>,
) -> Result<Vec<AffinityTerm>, String> {
    terms
        .into_iter()
        .flatten()
        .map(|t| AffinityTerm::parse(owner, t))
        .collect()
}

/// Upstream `GetWeightedAffinityTerms`.
fn parse_preferred(
    owner: &Pod,
    terms: Option<&Vec<WeightedPodAffinityTerm>>,
) -> Result<Vec<WeightedAffinityTerm>, String> {
    let weighted = |t: &WeightedPodAffinityTerm| {
        Ok(WeightedAffinityTerm {
            term: AffinityTerm::parse(owner, &t.pod_affinity_term)?,
            weight: i64::from(t.weight),
        })
    };
    terms.into_iter().flatten().map(weighted).collect()
}

/// The parsed terms of one kind, or none with the error noted under the kind's name.
fn kept<T>(kind: &str, parsed: Result<Vec<T>, String>, errors: &mut Vec<String>) -> Vec<T> {
    parsed.unwrap_or_else(|e| {
        errors.push(format!("{kind}: {e}"));
        Vec::new()
    })
}

fn namespace_of(pod: &Pod) -> &str {
    pod.metadata.namespace.as_deref().unwrap_or_default()
}

fn labels_of(pod: &Pod) -> &BTreeMap<String, String> {
    pod.metadata.labels.as_ref().unwrap_or(&NO_LABELS)
}

fn node_labels(node: &Node) -> &BTreeMap<String, String> {
    node.metadata.labels.as_ref().unwrap_or(&NO_LABELS)
}

/// Upstream `podMatchesAllAffinityTerms`: no terms match no pod. Used with the incoming
/// pod's terms, whose namespace selectors are resolved, so no namespace labels are needed.
fn pod_matches_all_terms(terms: &[AffinityTerm], pod: &Pod) -> bool {
    !terms.is_empty() && terms.iter().all(|t| t.matches(pod, &NO_NAMESPACE_LABELS))
}

// ---------------------------------------------------------------------------------------------
// Label selectors, parsed and validated as `metav1.LabelSelectorAsSelector`
// ---------------------------------------------------------------------------------------------

/// Upstream `LabelSelectorAsSelector`: None selects nothing, `{}` everything; an invalid
/// requirement is an error with upstream's message.
fn parse_selector(selector: Option<&LabelSelector>) -> Result<PodSelector, String> {
    let Some(selector) = selector else {
        return Ok(PodSelector::Nothing);
    };
    let labels = selector.match_labels.iter().flatten();
    let equalities = labels.map(|(key, value)| {
        validate_requirement(key, "Equals", std::slice::from_ref(value))?;
        Ok(Expression::Equal(key.clone(), value.clone()))
    });
    let expressions = selector.match_expressions.iter().flatten().map(expression);
    let parsed = equalities
        .chain(expressions)
        .collect::<Result<Vec<_>, String>>()?;
    Ok(PodSelector::Matching(parsed.into_iter().collect()))
}

fn expression(requirement: &LabelSelectorRequirement) -> Result<Expression, String> {
    let key = requirement.key.clone();
    let values = requirement.values.as_deref().unwrap_or_default();
    let operator = requirement.operator.as_str();
    if !matches!(operator, "In" | "NotIn" | "Exists" | "DoesNotExist") {
        return Err(format!(
            "{operator:?} is not a valid label selector operator"
        ));
    }
    validate_requirement(&key, operator, values)?;
    let set = || values.iter().cloned().collect();
    Ok(match operator {
        "In" => Expression::In(key, set()),
        "NotIn" => Expression::NotIn(key, set()),
        "Exists" => Expression::Exists(key),
        _ => Expression::DoesNotExist(key),
    })
}

// ---------------------------------------------------------------------------------------------
// Filter
// ---------------------------------------------------------------------------------------------

/// (topology key, value).
type TopologyPair = (String, String);
type TopologyCounts = HashMap<TopologyPair, i64>;

/// What PreFilter computes once per pod (upstream `preFilterState`).
struct FilterState {
    /// Per topology pair, the existing pods' required anti-affinity terms the pod matches.
    existing_anti_affinity_counts: TopologyCounts,
    /// Per topology pair, the existing pods matching all the pod's required affinity terms
    /// (counted once per term).
    affinity_counts: TopologyCounts,
    /// Per topology pair, the pod's required anti-affinity terms matched by existing pods.
    anti_affinity_counts: TopologyCounts,
    required_affinity: Vec<AffinityTerm>,
    required_anti_affinity: Vec<AffinityTerm>,
    /// The pod matches all its own affinity terms: it may be the first of a group that wants
    /// to be together.
    matches_own_affinity: bool,
}

/// Upstream `getExistingAntiAffinityCounts`.
fn existing_anti_affinity_counts(pod: &Pod, snapshot: &Snapshot) -> TopologyCounts {
    let mut counts = TopologyCounts::new();
    for (node, existing) in snapshot.pods_with_required_anti_affinity() {
        for term in &existing.terms.required_anti_affinity {
            if term.matches(pod, &NO_NAMESPACE_LABELS)
                && let Some(pair) = term.topology_pair(&node.node)
            {
                *counts.entry(pair).or_default() += 1;
            }
        }
    }
    counts
}

/// Upstream `getIncomingAffinityAntiAffinityCounts`: (affinity counts, anti-affinity counts).
fn incoming_affinity_anti_affinity_counts(
    terms: &PodAffinityTerms,
    snapshot: &Snapshot,
) -> (TopologyCounts, TopologyCounts) {
    let mut affinity = TopologyCounts::new();
    let mut anti_affinity = TopologyCounts::new();
    if terms.required_affinity.is_empty() && terms.required_anti_affinity.is_empty() {
        return (affinity, anti_affinity);
    }
    for (node, existing) in snapshot.pods() {
        if pod_matches_all_terms(&terms.required_affinity, existing) {
            for pair in terms
                .required_affinity
                .iter()
                .filter_map(|t| t.topology_pair(&node.node))
            {
                *affinity.entry(pair).or_default() += 1;
            }
        }
        for term in &terms.required_anti_affinity {
            if term.matches(existing, &NO_NAMESPACE_LABELS)
                && let Some(pair) = term.topology_pair(&node.node)
            {
                *anti_affinity.entry(pair).or_default() += 1;
            }
        }
    }
    (affinity, anti_affinity)
}

/// Upstream `satisfyExistingPodsAntiAffinity`: no existing pod's anti-affinity term matching
/// the pod covers any of the node's topology pairs.
fn satisfies_existing_pods_anti_affinity(state: &FilterState, node: &Node) -> bool {
    if state.existing_anti_affinity_counts.is_empty() {
        return true;
    }
    node_labels(node).iter().all(|(key, value)| {
        let pair = (key.clone(), value.clone());
        state
            .existing_anti_affinity_counts
            .get(&pair)
            .is_none_or(|&count| count <= 0)
    })
}

/// Upstream `satisfyPodAntiAffinity`: no pod the incoming pod's anti-affinity terms match is
/// in the node's topology of that term.
fn satisfies_pod_anti_affinity(state: &FilterState, node: &Node) -> bool {
    state.required_anti_affinity.iter().all(|term| {
        term.topology_pair(node)
            .and_then(|pair| state.anti_affinity_counts.get(&pair))
            .is_none_or(|&count| count <= 0)
    })
}

/// Upstream `satisfyPodAffinity`: the node has every term's topology key, and a pod matching
/// all terms is in each of the node's topologies; or, when no pod anywhere matches, the pod
/// matches its own terms (the first pod of its group).
fn satisfies_pod_affinity(state: &FilterState, node: &Node) -> bool {
    let mut pods_exist = true;
    for term in &state.required_affinity {
        let Some(pair) = term.topology_pair(node) else {
            return false;
        };
        if state.affinity_counts.get(&pair).is_none_or(|&c| c <= 0) {
            pods_exist = false;
        }
    }
    pods_exist || (state.affinity_counts.is_empty() && state.matches_own_affinity)
}

impl FilterPlugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_filter(&self, pod: &Pod, snapshot: &Snapshot) -> Result<Option<State>, Status> {
        let terms = PodAffinityTerms::of_incoming(pod)
            .map_err(|e| Status::unresolvable(format!("parsing pod: {e}")))?;
        let existing_anti_affinity_counts = existing_anti_affinity_counts(pod, snapshot);
        let (affinity_counts, anti_affinity_counts) =
            incoming_affinity_anti_affinity_counts(&terms, snapshot);
        if existing_anti_affinity_counts.is_empty()
            && terms.required_affinity.is_empty()
            && terms.required_anti_affinity.is_empty()
        {
            return Ok(None);
        }
        Ok(Some(Box::new(FilterState {
            existing_anti_affinity_counts,
            affinity_counts,
            anti_affinity_counts,
            matches_own_affinity: pod_matches_all_terms(&terms.required_affinity, pod),
            required_affinity: terms.required_affinity,
            required_anti_affinity: terms.required_anti_affinity,
        })))
    }

    fn filter(&self, state: &State, _pod: &Pod, node: &NodeInfo) -> Status {
        let state = state_of::<FilterState>(state);
        if !satisfies_pod_affinity(state, &node.node) {
            return Status::unresolvable(ERR_REASON_AFFINITY_RULES_NOT_MATCH);
        }
        if !satisfies_pod_anti_affinity(state, &node.node) {
            return Status::unschedulable(ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH);
        }
        if !satisfies_existing_pods_anti_affinity(state, &node.node) {
            return Status::unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH);
        }
        Status::success()
    }
}

// ---------------------------------------------------------------------------------------------
// Score
// ---------------------------------------------------------------------------------------------

/// Per topology key, per value, the summed weights (upstream `scoreMap`).
type TopologyScores = HashMap<String, HashMap<String, i64>>;

/// What PreScore computes once per pod (upstream `preScoreState`).
struct ScoreState {
    topology_scores: TopologyScores,
}

/// Upstream `scoreMap.processTerm`: a term the pod matches adds `weight` to the topology of
/// the node the term's owner (or the matching pod) is on.
fn add_term_score(
    scores: &mut TopologyScores,
    term: &AffinityTerm,
    weight: i64,
    pod: &Pod,
    namespace_labels: &BTreeMap<String, String>,
    node: &Node,
) {
    if !term.matches(pod, namespace_labels) {
        return;
    }
    if let Some((key, value)) = term.topology_pair(node) {
        *scores.entry(key).or_default().entry(value).or_default() += weight;
    }
}

fn add_weighted_terms_score(
    scores: &mut TopologyScores,
    terms: &[WeightedAffinityTerm],
    sign: i64,
    pod: &Pod,
    namespace_labels: &BTreeMap<String, String>,
    node: &Node,
) {
    for weighted in terms {
        let weight = weighted.weight * sign;
        add_term_score(scores, &weighted.term, weight, pod, namespace_labels, node);
    }
}

/// Upstream `processExistingPod`: the incoming pod's preferred terms matched by the existing
/// pod, and the existing pod's required affinity and preferred terms matched by the incoming
/// pod, all counted in the topology of the existing pod's node.
fn add_existing_pod_score(
    scores: &mut TopologyScores,
    incoming_terms: &PodAffinityTerms,
    incoming: &Pod,
    existing: &Pod,
    existing_terms: &PodAffinityTerms,
    node: &Node,
) {
    if node_labels(node).is_empty() {
        return;
    }
    // The incoming pod's terms have their namespace selectors resolved: no labels needed.
    let none = &NO_NAMESPACE_LABELS;
    add_weighted_terms_score(
        scores,
        &incoming_terms.preferred_affinity,
        1,
        existing,
        none,
        node,
    );
    add_weighted_terms_score(
        scores,
        &incoming_terms.preferred_anti_affinity,
        -1,
        existing,
        none,
        node,
    );
    // The existing pod's terms see the incoming pod's namespace labels, unknown here.
    for term in &existing_terms.required_affinity {
        add_term_score(scores, term, HARD_POD_AFFINITY_WEIGHT, incoming, none, node);
    }
    add_weighted_terms_score(
        scores,
        &existing_terms.preferred_affinity,
        1,
        incoming,
        none,
        node,
    );
    add_weighted_terms_score(
        scores,
        &existing_terms.preferred_anti_affinity,
        -1,
        incoming,
        none,
        node,
    );
}

impl ScorePlugin for InterPodAffinity {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Over every node of the snapshot, not only the feasible ones, as upstream. A pod whose
    /// terms do not parse never gets here: PreFilter rejected it (upstream's PreScore would
    /// return an error).
    fn pre_score(&self, pod: &Pod, _feasible: &[&NodeInfo], snapshot: &Snapshot) -> Option<State> {
        let terms = PodAffinityTerms::of_incoming(pod).ok()?;
        let has_preferred_terms =
            !terms.preferred_affinity.is_empty() || !terms.preferred_anti_affinity.is_empty();
        let mut topology_scores = TopologyScores::new();
        let no_terms = PodAffinityTerms::default();
        for node in &snapshot.nodes {
            // Without preferred terms of its own, only pods with affinity can score the pod.
            if has_preferred_terms {
                for existing in node.pods.iter().filter(|p| !has_pod_affinity(p)) {
                    let score = &mut topology_scores;
                    add_existing_pod_score(score, &terms, pod, existing, &no_terms, &node.node);
                }
            }
            for existing in &node.pods_with_affinity {
                let score = &mut topology_scores;
                let (existing, existing_terms) = (&existing.pod, &existing.terms);
                add_existing_pod_score(score, &terms, pod, existing, existing_terms, &node.node);
            }
        }
        if topology_scores.is_empty() {
            return None;
        }
        Some(Box::new(ScoreState { topology_scores }))
    }

    /// The summed weights of the node's topologies: positive for affinity, negative for
    /// anti-affinity.
    fn score(&self, state: &State, _pod: &Pod, node: &NodeInfo) -> i64 {
        let state = state_of::<ScoreState>(state);
        let labels = node_labels(&node.node);
        state
            .topology_scores
            .iter()
            .filter_map(|(key, values)| values.get(labels.get(key)?))
            .sum()
    }

    /// Upstream `NormalizeScore`: scaled linearly from the lowest score (0) to the highest
    /// (100); all 0 when they are equal.
    fn normalize(&self, state: &State, _pod: &Pod, scores: &mut [i64]) {
        if state_of::<ScoreState>(state).topology_scores.is_empty() {
            return;
        }
        let (Some(&min), Some(&max)) = (scores.iter().min(), scores.iter().max()) else {
            return;
        };
        let spread = max - min;
        for score in scores.iter_mut() {
            *score = if spread > 0 {
                (MAX_NODE_SCORE as f64 * ((*score - min) as f64 / spread as f64)) as i64
            } else {
                0
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{Value, json};

    use super::*;
    use crate::scheduler::framework::Code;

    /// A pod under construction (upstream `st.MakePod()`).
    #[derive(Clone)]
    struct PodBuilder(Value);

    fn make_pod() -> PodBuilder {
        PodBuilder(json!({"metadata": {"name": "p"}, "spec": {"containers": []}}))
    }

    fn exists(key: &str) -> Value {
        json!({"matchExpressions": [{"key": key, "operator": "Exists"}]})
    }

    fn is_in(key: &str, values: &[&str]) -> Value {
        json!({"matchExpressions": [{"key": key, "operator": "In", "values": values}]})
    }

    fn not_in(key: &str, values: &[&str]) -> Value {
        json!({"matchExpressions": [{"key": key, "operator": "NotIn", "values": values}]})
    }

    fn term(selector: Value, topology_key: &str) -> Value {
        json!({"labelSelector": selector, "topologyKey": topology_key})
    }

    fn weighted(weight: i32, term: Value) -> Value {
        json!({"weight": weight, "podAffinityTerm": term})
    }

    impl PodBuilder {
        fn name(mut self, name: &str) -> Self {
            self.0["metadata"]["name"] = json!(name);
            self
        }

        fn namespace(mut self, namespace: &str) -> Self {
            self.0["metadata"]["namespace"] = json!(namespace);
            self
        }

        fn node(mut self, node: &str) -> Self {
            self.0["spec"]["nodeName"] = json!(node);
            self
        }

        fn labels(mut self, labels: &[(&str, &str)]) -> Self {
            for (k, v) in labels {
                self.0["metadata"]["labels"][*k] = json!(v);
            }
            self
        }

        fn affinity(mut self, affinity: Value) -> Self {
            self.0["spec"]["affinity"] = affinity;
            self
        }

        /// Appends `term` to `spec.affinity.<kind>.<field>`.
        fn push(mut self, kind: &str, field: &str, term: Value) -> Self {
            let list = &mut self.0["spec"]["affinity"][kind][field];
            if list.is_null() {
                *list = json!([]);
            }
            list.as_array_mut().unwrap().push(term);
            self
        }

        fn required(self, kind: &str, selector: Value, topology_key: &str) -> Self {
            let field = "requiredDuringSchedulingIgnoredDuringExecution";
            self.push(kind, field, term(selector, topology_key))
        }

        fn affinity_in(self, key: &str, topology_key: &str, values: &[&str]) -> Self {
            self.required("podAffinity", is_in(key, values), topology_key)
        }

        fn affinity_not_in(self, key: &str, topology_key: &str, values: &[&str]) -> Self {
            self.required("podAffinity", not_in(key, values), topology_key)
        }

        fn affinity_exists(self, key: &str, topology_key: &str) -> Self {
            self.required("podAffinity", exists(key), topology_key)
        }

        fn anti_affinity_in(self, key: &str, topology_key: &str, values: &[&str]) -> Self {
            self.required("podAntiAffinity", is_in(key, values), topology_key)
        }

        fn anti_affinity_not_in(self, key: &str, topology_key: &str, values: &[&str]) -> Self {
            self.required("podAntiAffinity", not_in(key, values), topology_key)
        }

        fn anti_affinity_exists(self, key: &str, topology_key: &str) -> Self {
            self.required("podAntiAffinity", exists(key), topology_key)
        }

        fn build(self) -> Pod {
            serde_json::from_value(self.0).unwrap()
        }
    }

    /// Upstream `createPodWithAffinityTerms`: raw required affinity and anti-affinity terms.
    fn pod_with_terms(
        namespace: &str,
        labels: &[(&str, &str)],
        affinity: Value,
        anti: Value,
    ) -> Pod {
        make_pod()
            .namespace(namespace)
            .labels(labels)
            .affinity(json!({
                "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": affinity},
                "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": anti},
            }))
            .build()
    }

    fn node(name: &str, labels: &[(&str, &str)]) -> Node {
        let labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
        serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}})).unwrap()
    }

    fn snapshot(pods: &[Pod], nodes: &[Node]) -> Snapshot {
        Snapshot::new(
            nodes.iter().cloned().map(Arc::new),
            pods.iter().cloned().map(Arc::new),
        )
    }

    /// PreFilter's outcome: rejected, skipped (None), or each node's Filter status in the
    /// order of `nodes`.
    fn run_filter(pod: &Pod, pods: &[Pod], nodes: &[Node]) -> Result<Option<Vec<Status>>, Status> {
        let snapshot = snapshot(pods, nodes);
        let Some(state) = InterPodAffinity.pre_filter(pod, &snapshot)? else {
            return Ok(None);
        };
        let statuses = nodes
            .iter()
            .map(|n| {
                let info = snapshot.get(n.metadata.name.as_deref().unwrap()).unwrap();
                InterPodAffinity.filter(&state, pod, info)
            })
            .collect();
        Ok(Some(statuses))
    }

    fn fits() -> Status {
        Status::success()
    }

    fn affinity_fails() -> Status {
        Status::unresolvable(ERR_REASON_AFFINITY_RULES_NOT_MATCH)
    }

    fn anti_affinity_fails() -> Status {
        Status::unschedulable(ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH)
    }

    fn existing_anti_affinity_fails() -> Status {
        Status::unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH)
    }

    type FilterWant = Result<Option<Vec<Status>>, Status>;
    /// (name, incoming pod, existing pods, nodes, want).
    type FilterCase = (&'static str, Pod, Vec<Pod>, Vec<Node>, FilterWant);
    /// (name, incoming pod, existing pods, nodes, normalized scores or None when skipped).
    type ScoreCase = (&'static str, Pod, Vec<Pod>, Vec<Node>, Option<Vec<i64>>);

    fn skipped() -> FilterWant {
        Ok(None)
    }

    fn filtered(statuses: Vec<Status>) -> FilterWant {
        Ok(Some(statuses))
    }

    const POD_LABEL: &[(&str, &str)] = &[("service", "securityscan")];
    const POD_LABEL2: &[(&str, &str)] = &[("security", "S1")];

    fn team1_namespace_selector(selector: Value, topology_key: &str) -> Value {
        json!([{
            "labelSelector": selector,
            "namespaceSelector": is_in("team", &["team1"]),
            "topologyKey": topology_key,
        }])
    }

    const BAD_VALUE_ERROR: &str = "parsing pod: requiredAffinityTerms: values[0][service]: \
        Invalid value: \"{{.bad-value.}}\": a valid label must be an empty string or consist of \
        alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric \
        character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is \
        '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

    /// Upstream `TestRequiredAffinitySingleNode`.
    #[test]
    fn required_affinity_single_node() {
        let existing = make_pod().labels(POD_LABEL).node("node1").build();
        let node1 = node("node1", &[("region", "r1"), ("zone", "z11")]);
        let cases: Vec<(&str, Pod, Vec<Pod>, FilterWant)> = vec![
            (
                "A pod that has no required pod affinity scheduling rules can schedule onto a node with no existing pods",
                make_pod().build(),
                vec![],
                skipped(),
            ),
            (
                "satisfies with requiredDuringSchedulingIgnoredDuringExecution in PodAffinity using In operator that matches the existing pod",
                make_pod()
                    .labels(POD_LABEL2)
                    .affinity_in("service", "region", &["securityscan", "value2"])
                    .build(),
                vec![existing.clone()],
                filtered(vec![fits()]),
            ),
            (
                "satisfies the pod with requiredDuringSchedulingIgnoredDuringExecution in PodAffinity using not in operator in labelSelector that matches the existing pod",
                make_pod()
                    .labels(POD_LABEL2)
                    .affinity_not_in("service", "region", &["securityscan3", "value3"])
                    .build(),
                vec![existing.clone()],
                filtered(vec![fits()]),
            ),
            (
                "Does not satisfy the PodAffinity with labelSelector because of diff Namespace",
                pod_with_terms(
                    "",
                    POD_LABEL2,
                    json!([{
                        "labelSelector": is_in("service", &["securityscan", "value2"]),
                        "namespaces": ["DiffNameSpace"],
                    }]),
                    Value::Null,
                ),
                vec![
                    make_pod()
                        .namespace("ns")
                        .labels(POD_LABEL)
                        .node("node1")
                        .build(),
                ],
                filtered(vec![affinity_fails()]),
            ),
            (
                "Doesn't satisfy the PodAffinity because of unmatching labelSelector with the existing pod",
                make_pod()
                    .labels(POD_LABEL)
                    .affinity_in("service", "", &["antivirusscan", "value2"])
                    .build(),
                vec![existing.clone()],
                filtered(vec![affinity_fails()]),
            ),
            (
                "satisfies the PodAffinity with different label Operators in multiple RequiredDuringSchedulingIgnoredDuringExecution",
                pod_with_terms(
                    "",
                    POD_LABEL2,
                    json!([
                        {"labelSelector": {"matchExpressions": [
                            {"key": "service", "operator": "Exists"},
                            {"key": "wrongkey", "operator": "DoesNotExist"}]}, "topologyKey": "region"},
                        {"labelSelector": {"matchExpressions": [
                            {"key": "service", "operator": "In", "values": ["securityscan"]},
                            {"key": "service", "operator": "NotIn", "values": ["WrongValue"]}]}, "topologyKey": "region"},
                    ]),
                    Value::Null,
                ),
                vec![existing.clone()],
                filtered(vec![fits()]),
            ),
            (
                "The labelSelector requirements(items of matchExpressions) are ANDed, the pod cannot schedule onto the node because one of the matchExpression item don't match.",
                pod_with_terms(
                    "",
                    POD_LABEL2,
                    json!([
                        {"labelSelector": {"matchExpressions": [
                            {"key": "service", "operator": "Exists"},
                            {"key": "wrongkey", "operator": "DoesNotExist"}]}, "topologyKey": "region"},
                        {"labelSelector": {"matchExpressions": [
                            {"key": "service", "operator": "In", "values": ["securityscan2"]},
                            {"key": "service", "operator": "NotIn", "values": ["WrongValue"]}]}, "topologyKey": "region"},
                    ]),
                    Value::Null,
                ),
                vec![existing.clone()],
                filtered(vec![affinity_fails()]),
            ),
            (
                "satisfies the PodAffinity and PodAntiAffinity with the existing pod",
                make_pod()
                    .labels(POD_LABEL2)
                    .affinity_in("service", "region", &["securityscan", "value2"])
                    .anti_affinity_in("service", "node", &["antivirusscan", "value2"])
                    .build(),
                vec![existing.clone()],
                filtered(vec![fits()]),
            ),
            (
                "satisfies the PodAffinity and PodAntiAffinity and PodAntiAffinity symmetry with the existing pod",
                make_pod()
                    .labels(POD_LABEL2)
                    .affinity_in("service", "region", &["securityscan", "value2"])
                    .anti_affinity_in("service", "node", &["antivirusscan", "value2"])
                    .build(),
                vec![
                    make_pod()
                        .node("node1")
                        .labels(POD_LABEL)
                        .anti_affinity_in("service", "node", &["antivirusscan", "value2"])
                        .build(),
                ],
                filtered(vec![fits()]),
            ),
            (
                "satisfies the PodAffinity but doesn't satisfy the PodAntiAffinity with the existing pod",
                make_pod()
                    .labels(POD_LABEL2)
                    .affinity_in("service", "region", &["securityscan", "value2"])
                    .anti_affinity_in("service", "zone", &["securityscan", "value2"])
                    .build(),
                vec![existing.clone()],
                filtered(vec![anti_affinity_fails()]),
            ),
            (
                "satisfies the PodAffinity and PodAntiAffinity but doesn't satisfy PodAntiAffinity symmetry with the existing pod",
                make_pod()
                    .labels(POD_LABEL)
                    .affinity_in("service", "region", &["securityscan", "value2"])
                    .anti_affinity_in("service", "node", &["antivirusscan", "value2"])
                    .build(),
                vec![
                    make_pod()
                        .labels(POD_LABEL)
                        .node("node1")
                        .anti_affinity_in("service", "zone", &["securityscan", "value2"])
                        .build(),
                ],
                filtered(vec![existing_anti_affinity_fails()]),
            ),
            (
                "pod matches its own Label in PodAffinity and that matches the existing pod Labels",
                make_pod()
                    .labels(POD_LABEL)
                    .affinity_not_in("service", "region", &["securityscan", "value2"])
                    .build(),
                vec![make_pod().labels(POD_LABEL).node("node2").build()],
                filtered(vec![affinity_fails()]),
            ),
            (
                "verify that PodAntiAffinity from existing pod is respected when pod has no AntiAffinity constraints. doesn't satisfy PodAntiAffinity symmetry with the existing pod",
                make_pod().labels(POD_LABEL).build(),
                vec![
                    make_pod()
                        .node("node1")
                        .labels(POD_LABEL)
                        .anti_affinity_in("service", "zone", &["securityscan", "value2"])
                        .build(),
                ],
                filtered(vec![existing_anti_affinity_fails()]),
            ),
            (
                "verify that PodAntiAffinity from existing pod is respected when pod has no AntiAffinity constraints. satisfy PodAntiAffinity symmetry with the existing pod",
                make_pod().labels(POD_LABEL).build(),
                vec![
                    make_pod()
                        .node("node1")
                        .labels(POD_LABEL)
                        .anti_affinity_not_in("service", "zone", &["securityscan", "value2"])
                        .build(),
                ],
                skipped(),
            ),
            (
                "satisfies the PodAntiAffinity with existing pod but doesn't satisfy PodAntiAffinity symmetry with incoming pod",
                make_pod()
                    .labels(POD_LABEL)
                    .anti_affinity_exists("service", "region")
                    .anti_affinity_exists("security", "region")
                    .build(),
                vec![
                    make_pod()
                        .node("node1")
                        .labels(POD_LABEL2)
                        .anti_affinity_exists("security", "zone")
                        .build(),
                ],
                filtered(vec![anti_affinity_fails()]),
            ),
            (
                "PodAntiAffinity symmetry check a1: incoming pod and existing pod partially match each other on AffinityTerms",
                make_pod()
                    .labels(POD_LABEL)
                    .anti_affinity_exists("service", "zone")
                    .anti_affinity_exists("security", "zone")
                    .build(),
                vec![
                    make_pod()
                        .node("node1")
                        .labels(POD_LABEL2)
                        .anti_affinity_exists("security", "zone")
                        .build(),
                ],
                filtered(vec![anti_affinity_fails()]),
            ),
            (
                "PodAntiAffinity symmetry check a2: incoming pod and existing pod partially match each other on AffinityTerms",
                make_pod()
                    .labels(POD_LABEL2)
                    .anti_affinity_exists("security", "zone")
                    .build(),
                vec![
                    make_pod()
                        .node("node1")
                        .labels(POD_LABEL)
                        .anti_affinity_exists("service", "zone")
                        .anti_affinity_exists("security", "zone")
                        .build(),
                ],
                filtered(vec![existing_anti_affinity_fails()]),
            ),
            (
                "PodAntiAffinity symmetry check b1: incoming pod and existing pod partially match each other on AffinityTerms",
                make_pod()
                    .labels(&[("abc", ""), ("xyz", "")])
                    .anti_affinity_exists("abc", "zone")
                    .anti_affinity_exists("def", "zone")
                    .build(),
                vec![
                    make_pod()
                        .node("node1")
                        .labels(&[("def", ""), ("xyz", "")])
                        .anti_affinity_exists("abc", "zone")
                        .anti_affinity_exists("def", "zone")
                        .build(),
                ],
                filtered(vec![anti_affinity_fails()]),
            ),
            (
                "PodAntiAffinity symmetry check b2: incoming pod and existing pod partially match each other on AffinityTerms",
                make_pod()
                    .labels(&[("def", ""), ("xyz", "")])
                    .anti_affinity_exists("abc", "zone")
                    .anti_affinity_exists("def", "zone")
                    .build(),
                vec![
                    make_pod()
                        .node("node1")
                        .labels(&[("abc", ""), ("xyz", "")])
                        .anti_affinity_exists("abc", "zone")
                        .anti_affinity_exists("def", "zone")
                        .build(),
                ],
                filtered(vec![anti_affinity_fails()]),
            ),
            (
                "PodAffinity fails PreFilter with an invalid affinity label syntax",
                make_pod()
                    .labels(POD_LABEL)
                    .affinity_in("service", "region", &["{{.bad-value.}}"])
                    .affinity_in("service", "node", &["antivirusscan", "value2"])
                    .build(),
                vec![],
                Err(Status::unresolvable(BAD_VALUE_ERROR)),
            ),
            (
                "PodAntiAffinity fails PreFilter with an invalid antiaffinity label syntax",
                make_pod()
                    .labels(POD_LABEL)
                    .affinity_in("service", "region", &["foo"])
                    .affinity_in("service", "node", &["{{.bad-value.}}"])
                    .build(),
                vec![],
                Err(Status::unresolvable(BAD_VALUE_ERROR)),
            ),
            // Adapted: upstream lists namespace "subteam1.team1" (labelled team=team1) and the
            // pod fits; with no Namespace objects the selector selects no namespace.
            (
                "affinity with NamespaceSelector",
                pod_with_terms(
                    "",
                    POD_LABEL2,
                    team1_namespace_selector(
                        is_in("service", &["securityscan", "value2"]),
                        "region",
                    ),
                    Value::Null,
                ),
                vec![
                    make_pod()
                        .namespace("subteam1.team1")
                        .labels(POD_LABEL)
                        .node("node1")
                        .build(),
                ],
                filtered(vec![affinity_fails()]),
            ),
            (
                "affinity with non-matching NamespaceSelector",
                pod_with_terms(
                    "",
                    POD_LABEL2,
                    team1_namespace_selector(
                        is_in("service", &["securityscan", "value2"]),
                        "region",
                    ),
                    Value::Null,
                ),
                vec![
                    make_pod()
                        .namespace("subteam1.team2")
                        .labels(POD_LABEL)
                        .node("node1")
                        .build(),
                ],
                filtered(vec![affinity_fails()]),
            ),
            // Adapted: upstream rejects (namespace "subteam2.team1" is labelled team=team1).
            (
                "anti-affinity with matching NamespaceSelector",
                pod_with_terms(
                    "subteam1.team1",
                    POD_LABEL2,
                    Value::Null,
                    team1_namespace_selector(is_in("service", &["securityscan", "value2"]), "zone"),
                ),
                vec![
                    make_pod()
                        .namespace("subteam2.team1")
                        .labels(POD_LABEL)
                        .node("node1")
                        .build(),
                ],
                filtered(vec![fits()]),
            ),
            (
                "anti-affinity with matching all NamespaceSelector",
                pod_with_terms(
                    "subteam1.team1",
                    POD_LABEL2,
                    Value::Null,
                    json!([{
                        "labelSelector": is_in("service", &["securityscan", "value2"]),
                        "namespaceSelector": {},
                        "topologyKey": "zone",
                    }]),
                ),
                vec![
                    make_pod()
                        .namespace("subteam2.team1")
                        .labels(POD_LABEL)
                        .node("node1")
                        .build(),
                ],
                filtered(vec![anti_affinity_fails()]),
            ),
            (
                "anti-affinity with non-matching NamespaceSelector",
                pod_with_terms(
                    "subteam1.team1",
                    POD_LABEL2,
                    Value::Null,
                    team1_namespace_selector(is_in("service", &["securityscan", "value2"]), "zone"),
                ),
                vec![
                    make_pod()
                        .namespace("subteam1.team2")
                        .labels(POD_LABEL)
                        .node("node1")
                        .build(),
                ],
                filtered(vec![fits()]),
            ),
        ];
        for (name, pod, pods, want) in cases {
            let got = run_filter(&pod, &pods, std::slice::from_ref(&node1));
            assert_eq!(got, want, "{name}");
        }
    }

    /// Upstream `TestRequiredAffinityMultipleNodes`.
    #[test]
    fn required_affinity_multiple_nodes() {
        let china = &[("region", "China")];
        let china_az1 = &[("region", "China"), ("az", "az1")];
        let india = &[("region", "India")];
        let abc = |name: &str, zone: &str| {
            node(
                name,
                &[("region", "r1"), ("zone", zone), ("hostname", name)],
            )
        };
        let cases: Vec<FilterCase> = vec![
            (
                "A pod can be scheduled onto all the nodes that have the same topology key & label value with one of them has an existing pod that matches the affinity rules",
                make_pod().affinity_in("foo", "region", &["bar"]).build(),
                vec![
                    make_pod()
                        .name("p1")
                        .node("node1")
                        .labels(&[("foo", "bar")])
                        .build(),
                ],
                vec![
                    node("node1", china),
                    node("node2", china_az1),
                    node("node3", india),
                ],
                filtered(vec![fits(), fits(), affinity_fails()]),
            ),
            (
                "The affinity rule is to schedule all of the pods of this collection to the same zone. The first pod of the collection should not be blocked from being scheduled onto any node, even there's no existing pod that matches the rule anywhere.",
                make_pod()
                    .labels(&[("foo", "bar"), ("service", "securityscan")])
                    .affinity_in("foo", "zone", &["bar"])
                    .affinity_in("service", "zone", &["securityscan"])
                    .build(),
                vec![
                    make_pod()
                        .name("p1")
                        .node("nodeA")
                        .labels(&[("foo", "bar")])
                        .build(),
                ],
                vec![
                    node("nodeA", &[("zone", "az1"), ("hostname", "h1")]),
                    node("nodeB", &[("zone", "az2"), ("hostname", "h2")]),
                ],
                filtered(vec![fits(), fits()]),
            ),
            (
                "The first pod of the collection can only be scheduled on nodes labelled with the requested topology keys",
                make_pod()
                    .labels(&[("foo", "bar"), ("service", "securityscan")])
                    .affinity_in("foo", "zone", &["bar"])
                    .affinity_in("service", "zone", &["securityscan"])
                    .build(),
                vec![
                    make_pod()
                        .name("p1")
                        .node("nodeA")
                        .labels(&[("foo", "bar")])
                        .build(),
                ],
                vec![
                    node("nodeA", &[("zoneLabel", "az1"), ("hostname", "h1")]),
                    node("nodeB", &[("zoneLabel", "az2"), ("hostname", "h2")]),
                ],
                filtered(vec![affinity_fails(), affinity_fails()]),
            ),
            (
                "NodeA and nodeB have same topologyKey and label value. NodeA has an existing pod that matches the inter pod affinity rule. The pod can not be scheduled onto nodeA and nodeB.",
                make_pod()
                    .anti_affinity_in("foo", "region", &["abc"])
                    .build(),
                vec![make_pod().node("nodeA").labels(&[("foo", "abc")]).build()],
                vec![
                    node("nodeA", &[("region", "r1"), ("hostname", "nodeA")]),
                    node("nodeB", &[("region", "r1"), ("hostname", "nodeB")]),
                ],
                filtered(vec![anti_affinity_fails(), anti_affinity_fails()]),
            ),
            (
                "This test ensures that anti-affinity matches a pod when any term of the anti-affinity rule matches a pod.",
                make_pod()
                    .anti_affinity_in("foo", "region", &["abc"])
                    .anti_affinity_in("service", "zone", &["securityscan"])
                    .build(),
                vec![
                    make_pod()
                        .node("nodeA")
                        .labels(&[("foo", "abc"), ("service", "securityscan")])
                        .build(),
                ],
                vec![
                    node(
                        "nodeA",
                        &[("region", "r1"), ("zone", "z1"), ("hostname", "nodeA")],
                    ),
                    node(
                        "nodeB",
                        &[("region", "r1"), ("zone", "z2"), ("hostname", "nodeB")],
                    ),
                ],
                filtered(vec![anti_affinity_fails(), anti_affinity_fails()]),
            ),
            (
                "NodeA and nodeB have same topologyKey and label value. NodeA has an existing pod that matches the inter pod affinity rule. The pod can not be scheduled onto nodeA and nodeB but can be scheduled onto nodeC",
                make_pod()
                    .anti_affinity_in("foo", "region", &["abc"])
                    .build(),
                vec![make_pod().node("nodeA").labels(&[("foo", "abc")]).build()],
                vec![
                    node("nodeA", china),
                    node("nodeB", china_az1),
                    node("nodeC", india),
                ],
                filtered(vec![anti_affinity_fails(), anti_affinity_fails(), fits()]),
            ),
            (
                "NodeA and nodeB have same topologyKey and label value. NodeA has an existing pod that matches the inter pod affinity rule. The pod can not be scheduled onto nodeA, nodeB, but can be scheduled onto nodeC (NodeC has an existing pod that match the inter pod affinity rule but in different namespace)",
                make_pod()
                    .namespace("NS1")
                    .labels(&[("foo", "123")])
                    .anti_affinity_in("foo", "region", &["bar"])
                    .build(),
                vec![
                    make_pod()
                        .node("nodeA")
                        .namespace("NS1")
                        .labels(&[("foo", "bar")])
                        .build(),
                    make_pod()
                        .node("nodeC")
                        .namespace("NS2")
                        .anti_affinity_in("foo", "region", &["123"])
                        .build(),
                ],
                vec![
                    node("nodeA", china),
                    node("nodeB", china_az1),
                    node("nodeC", india),
                ],
                filtered(vec![anti_affinity_fails(), anti_affinity_fails(), fits()]),
            ),
            (
                "Test existing pod's anti-affinity: if an existing pod has a term with invalid topologyKey, labelSelector of the term is firstly checked, and then topologyKey of the term is also checked",
                make_pod().labels(&[("foo", "")]).build(),
                vec![
                    make_pod()
                        .node("nodeA")
                        .anti_affinity_exists("foo", "invalid-node-label")
                        .build(),
                ],
                vec![abc("nodeA", "z1"), abc("nodeB", "z1")],
                skipped(),
            ),
            (
                "Test incoming pod's anti-affinity: even if labelSelector matches, we still check if topologyKey matches",
                make_pod()
                    .node("nodeA")
                    .anti_affinity_exists("foo", "invalid-node-label")
                    .build(),
                vec![make_pod().node("nodeA").labels(&[("foo", "")]).build()],
                vec![abc("nodeA", "z1"), abc("nodeB", "z1")],
                filtered(vec![fits(), fits()]),
            ),
            (
                "Test existing pod's anti-affinity: incoming pod wouldn't considered as a fit as it violates each existingPod's terms on all nodes",
                make_pod().labels(&[("foo", ""), ("bar", "")]).build(),
                vec![
                    make_pod()
                        .node("nodeA")
                        .anti_affinity_exists("foo", "zone")
                        .build(),
                    make_pod()
                        .node("nodeA")
                        .anti_affinity_exists("bar", "region")
                        .build(),
                ],
                vec![abc("nodeA", "z1"), abc("nodeB", "z2")],
                filtered(vec![
                    existing_anti_affinity_fails(),
                    existing_anti_affinity_fails(),
                ]),
            ),
            (
                "Test incoming pod's anti-affinity: incoming pod wouldn't considered as a fit as it at least violates one anti-affinity rule of existingPod",
                make_pod()
                    .anti_affinity_exists("foo", "zone")
                    .anti_affinity_exists("bar", "region")
                    .build(),
                vec![
                    make_pod().node("nodeA").labels(&[("foo", "")]).build(),
                    make_pod().node("nodeB").labels(&[("bar", "")]).build(),
                ],
                vec![abc("nodeA", "z1"), abc("nodeB", "z2")],
                filtered(vec![anti_affinity_fails(), anti_affinity_fails()]),
            ),
            (
                "Test existing pod's anti-affinity: only when labelSelector and topologyKey both match, it's counted as a single term match - case when one term has invalid topologyKey",
                make_pod().labels(&[("foo", ""), ("bar", "")]).build(),
                vec![
                    make_pod()
                        .node("nodeA")
                        .anti_affinity_exists("foo", "invalid-node-label")
                        .anti_affinity_exists("bar", "zone")
                        .build(),
                ],
                vec![abc("nodeA", "z1"), abc("nodeB", "z2")],
                filtered(vec![existing_anti_affinity_fails(), fits()]),
            ),
            (
                "Test incoming pod's anti-affinity: only when labelSelector and topologyKey both match, it's counted as a single term match - case when one term has invalid topologyKey",
                make_pod()
                    .anti_affinity_exists("foo", "invalid-node-label")
                    .anti_affinity_exists("bar", "zone")
                    .build(),
                vec![
                    make_pod()
                        .name("podA")
                        .node("nodeA")
                        .labels(&[("foo", ""), ("bar", "")])
                        .build(),
                ],
                vec![abc("nodeA", "z1"), abc("nodeB", "z2")],
                filtered(vec![anti_affinity_fails(), fits()]),
            ),
            (
                "Test existing pod's anti-affinity: only when labelSelector and topologyKey both match, it's counted as a single term match - case when all terms have valid topologyKey",
                make_pod().labels(&[("foo", ""), ("bar", "")]).build(),
                vec![
                    make_pod()
                        .node("nodeA")
                        .anti_affinity_exists("foo", "region")
                        .anti_affinity_exists("bar", "zone")
                        .build(),
                ],
                vec![abc("nodeA", "z1"), abc("nodeB", "z2")],
                filtered(vec![
                    existing_anti_affinity_fails(),
                    existing_anti_affinity_fails(),
                ]),
            ),
            (
                "Test incoming pod's anti-affinity: only when labelSelector and topologyKey both match, it's counted as a single term match - case when all terms have valid topologyKey",
                make_pod()
                    .anti_affinity_exists("foo", "region")
                    .anti_affinity_exists("bar", "zone")
                    .build(),
                vec![
                    make_pod()
                        .node("nodeA")
                        .labels(&[("foo", ""), ("bar", "")])
                        .build(),
                ],
                vec![abc("nodeA", "z1"), abc("nodeB", "z2")],
                filtered(vec![anti_affinity_fails(), anti_affinity_fails()]),
            ),
            (
                "Test existing pod's anti-affinity: existingPod on nodeA and nodeB has at least one anti-affinity term matches incoming pod, so incoming pod can only be scheduled to nodeC",
                make_pod().labels(&[("foo", ""), ("bar", "")]).build(),
                vec![
                    make_pod()
                        .node("nodeA")
                        .anti_affinity_exists("foo", "zone")
                        .anti_affinity_exists("labelA", "zone")
                        .build(),
                    make_pod()
                        .node("nodeB")
                        .anti_affinity_exists("bar", "zone")
                        .anti_affinity_exists("labelB", "zone")
                        .build(),
                ],
                vec![abc("nodeA", "z1"), abc("nodeB", "z2"), abc("nodeC", "z3")],
                filtered(vec![
                    existing_anti_affinity_fails(),
                    existing_anti_affinity_fails(),
                    fits(),
                ]),
            ),
            (
                "Test incoming pod's affinity: firstly check if all affinityTerms match, and then check if all topologyKeys match",
                make_pod()
                    .affinity_exists("foo", "region")
                    .affinity_exists("bar", "zone")
                    .build(),
                vec![
                    make_pod()
                        .name("pod1")
                        .labels(&[("foo", ""), ("bar", "")])
                        .node("nodeA")
                        .build(),
                ],
                vec![abc("nodeA", "z1"), abc("nodeB", "z1")],
                filtered(vec![fits(), fits()]),
            ),
            (
                "Test incoming pod's affinity: firstly check if all affinityTerms match, and then check if all topologyKeys match, and the match logic should be satisfied on the same pod",
                make_pod()
                    .affinity_exists("foo", "region")
                    .affinity_exists("bar", "zone")
                    .build(),
                vec![
                    make_pod()
                        .node("nodeA")
                        .name("pod1")
                        .labels(&[("foo", "")])
                        .build(),
                    make_pod()
                        .node("nodeB")
                        .name("pod2")
                        .labels(&[("bar", "")])
                        .build(),
                ],
                vec![abc("nodeA", "z1"), abc("nodeB", "z2")],
                filtered(vec![affinity_fails(), affinity_fails()]),
            ),
        ];
        for (name, pod, pods, nodes, want) in cases {
            assert_eq!(run_filter(&pod, &pods, &nodes), want, "{name}");
        }
    }

    /// Upstream `TestGetTPMapMatchingIncomingAffinityAntiAffinity`.
    #[test]
    fn incoming_affinity_anti_affinity_counts_per_topology_pair() {
        let normal = |labels: &[(&str, &str)]| {
            make_pod()
                .name("normal")
                .node("nodeA")
                .labels(labels)
                .build()
        };
        let pod_a = normal(&[("aaa", "")]);
        let pod_b = normal(&[("bbb", "")]);
        let pod_ab = normal(&[("aaa", ""), ("bbb", "")]);
        let node_a = node("nodeA", &[("hostname", "nodeA")]);
        let host_a =
            |count: i64| TopologyCounts::from([(("hostname".into(), "nodeA".into()), count)]);
        let none = TopologyCounts::new;
        let cases: Vec<(&str, Vec<Pod>, Pod, TopologyCounts, TopologyCounts)> = vec![
            (
                "nil test",
                vec![],
                make_pod().name("aaa-normal").build(),
                none(),
                none(),
            ),
            (
                "incoming pod without affinity/anti-affinity causes a no-op",
                vec![pod_a.clone()],
                make_pod().name("aaa-normal").build(),
                none(),
                none(),
            ),
            (
                "no pod has label that violates incoming pod's affinity and anti-affinity",
                vec![pod_b.clone()],
                make_pod()
                    .name("aaa-anti")
                    .affinity_exists("aaa", "hostname")
                    .anti_affinity_exists("aaa", "hostname")
                    .build(),
                none(),
                none(),
            ),
            (
                "existing pod matches incoming pod's affinity and anti-affinity - single term case",
                vec![pod_a.clone()],
                make_pod()
                    .name("affi-antiaffi")
                    .affinity_exists("aaa", "hostname")
                    .anti_affinity_exists("aaa", "hostname")
                    .build(),
                host_a(1),
                host_a(1),
            ),
            (
                "existing pod matches incoming pod's affinity and anti-affinity - multiple terms case",
                vec![pod_ab.clone()],
                make_pod()
                    .name("affi-antiaffi")
                    .affinity_exists("aaa", "hostname")
                    .affinity_exists("bbb", "hostname")
                    .anti_affinity_exists("aaa", "hostname")
                    .build(),
                host_a(2),
                host_a(1),
            ),
            (
                "existing pod not match incoming pod's affinity but matches anti-affinity",
                vec![pod_a.clone()],
                make_pod()
                    .name("affi-antiaffi")
                    .affinity_exists("aaa", "hostname")
                    .affinity_exists("bbb", "hostname")
                    .anti_affinity_exists("aaa", "hostname")
                    .anti_affinity_exists("bbb", "hostname")
                    .build(),
                none(),
                host_a(1),
            ),
            (
                "incoming pod's anti-affinity has more than one term - existing pod violates partial term - case 1",
                vec![pod_ab.clone()],
                make_pod()
                    .name("anaffi-antiaffiti")
                    .affinity_exists("aaa", "hostname")
                    .affinity_exists("ccc", "hostname")
                    .anti_affinity_exists("aaa", "hostname")
                    .anti_affinity_exists("ccc", "hostname")
                    .build(),
                none(),
                host_a(1),
            ),
            (
                "incoming pod's anti-affinity has more than one term - existing pod violates partial term - case 2",
                vec![pod_b.clone()],
                make_pod()
                    .name("affi-antiaffi")
                    .affinity_exists("aaa", "hostname")
                    .affinity_exists("bbb", "hostname")
                    .anti_affinity_exists("aaa", "hostname")
                    .anti_affinity_exists("bbb", "hostname")
                    .build(),
                none(),
                host_a(1),
            ),
        ];
        for (name, pods, pod, want_affinity, want_anti_affinity) in cases {
            let snapshot = snapshot(&pods, std::slice::from_ref(&node_a));
            let terms = PodAffinityTerms::of_incoming(&pod).unwrap();
            let got = incoming_affinity_anti_affinity_counts(&terms, &snapshot);
            assert_eq!(got, (want_affinity, want_anti_affinity), "{name}");
        }
    }

    /// Not upstream: the existing pods' namespace selectors see no namespace labels.
    #[test]
    fn existing_pods_namespace_selectors_see_no_namespace_labels() {
        let anti = |namespace_selector: Value| {
            make_pod()
                .name("existing")
                .namespace("other")
                .node("n1")
                .affinity(json!({
                    "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
                        "labelSelector": exists("app"),
                        "namespaceSelector": namespace_selector,
                        "topologyKey": "zone",
                    }]}
                }))
                .build()
        };
        let incoming = make_pod()
            .namespace("mine")
            .labels(&[("app", "web")])
            .build();
        let nodes = [node("n1", &[("zone", "z1")])];
        let cases = [
            (
                "everything",
                json!({}),
                filtered(vec![existing_anti_affinity_fails()]),
            ),
            (
                "no team label",
                json!({"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]}),
                filtered(vec![existing_anti_affinity_fails()]),
            ),
            ("team label", is_in("team", &["a"]), skipped()),
        ];
        for (name, selector, want) in cases {
            assert_eq!(
                run_filter(&incoming, &[anti(selector)], &nodes),
                want,
                "{name}"
            );
        }
    }

    /// PreScore and Score over every node, then NormalizeScore; None when PreScore skips.
    fn run_score(pod: &Pod, pods: &[Pod], nodes: &[Node]) -> Option<Vec<i64>> {
        let snapshot = snapshot(pods, nodes);
        let feasible: Vec<&NodeInfo> = snapshot.nodes.iter().collect();
        let state = InterPodAffinity.pre_score(pod, &feasible, &snapshot)?;
        let mut scores: Vec<i64> = nodes
            .iter()
            .map(|n| {
                let info = snapshot.get(n.metadata.name.as_deref().unwrap()).unwrap();
                InterPodAffinity.score(&state, pod, info)
            })
            .collect();
        InterPodAffinity.normalize(&state, pod, &mut scores);
        Some(scores)
    }

    fn preferred(kind: &str, terms: Value) -> Value {
        json!({kind: {"preferredDuringSchedulingIgnoredDuringExecution": terms}})
    }

    /// Upstream `TestPreferredAffinity`.
    #[test]
    fn preferred_affinity() {
        let s1 = &[("security", "S1")];
        let s2 = &[("security", "S2")];
        let china = &[("region", "China")];
        let india = &[("region", "India")];
        let az1 = &[("az", "az1")];
        let az2 = &[("az", "az2")];
        let china_az1 = &[("region", "China"), ("az", "az1")];
        let stay_with_s1_in_region = preferred(
            "podAffinity",
            json!([weighted(5, term(is_in("security", &["S1"]), "region"))]),
        );
        let stay_with_s2_in_region = preferred(
            "podAffinity",
            json!([weighted(6, term(is_in("security", &["S2"]), "region"))]),
        );
        let affinity3 = preferred(
            "podAffinity",
            json!([
                weighted(
                    8,
                    term(
                        json!({"matchExpressions": [
                {"key": "security", "operator": "NotIn", "values": ["S1"]},
                {"key": "security", "operator": "In", "values": ["S2"]}]}),
                        "region"
                    )
                ),
                weighted(
                    2,
                    term(
                        json!({"matchExpressions": [
                {"key": "security", "operator": "Exists"},
                {"key": "wrongkey", "operator": "DoesNotExist"}]}),
                        "region"
                    )
                ),
            ]),
        );
        let hard_affinity = json!({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            term(is_in("security", &["S1", "value2"]), "region"),
            term(json!({"matchExpressions": [
                {"key": "security", "operator": "Exists"},
                {"key": "wrongkey", "operator": "DoesNotExist"}]}), "region"),
        ]}});
        let away_from_s1_in_az = preferred(
            "podAntiAffinity",
            json!([weighted(5, term(is_in("security", &["S1"]), "az"))]),
        );
        let away_from_s2_in_az = preferred(
            "podAntiAffinity",
            json!([weighted(5, term(is_in("security", &["S2"]), "az"))]),
        );
        let stay_with_s1_in_region_away_from_s2_in_az = json!({
            "podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                weighted(8, term(is_in("security", &["S1"]), "region"))]},
            "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                weighted(5, term(is_in("security", &["S2"]), "az"))]},
        });
        let namespace_selector_term = |kind: &str| {
            preferred(
                kind,
                json!([weighted(
                    5,
                    json!({
                        "labelSelector": is_in("security", &["S1"]),
                        "topologyKey": "region",
                        "namespaces": ["subteam2.team2"],
                        "namespaceSelector": is_in("team", &["team1"]),
                    })
                )]),
            )
        };
        let affinity_namespace_selector = namespace_selector_term("podAffinity");
        let anti_affinity_namespace_selector = namespace_selector_term("podAntiAffinity");
        let on = |node: &str, labels: &[(&str, &str)]| make_pod().node(node).labels(labels).build();
        let on_with = |node: &str, labels: &[(&str, &str)], affinity: &Value| {
            make_pod()
                .node(node)
                .labels(labels)
                .affinity(affinity.clone())
                .build()
        };
        let in_ns = |node: &str, namespace: &str| {
            make_pod()
                .node(node)
                .namespace(namespace)
                .labels(s1)
                .build()
        };
        let incoming = |labels: &[(&str, &str)], affinity: &Value| {
            make_pod().labels(labels).affinity(affinity.clone()).build()
        };
        let cases: Vec<ScoreCase> = vec![
            (
                "all nodes are same priority as Affinity is nil",
                make_pod().labels(s1).build(),
                vec![],
                vec![
                    node("node1", china),
                    node("node2", india),
                    node("node3", az1),
                ],
                None,
            ),
            (
                "Affinity: pod that matches topology key & pods in nodes will get high score comparing to otherswhich doesn't match either pods in nodes or in topology key",
                incoming(s1, &stay_with_s1_in_region),
                vec![on("node1", s1), on("node2", s2), on("node3", s1)],
                vec![
                    node("node1", china),
                    node("node2", india),
                    node("node3", az1),
                ],
                Some(vec![100, 0, 0]),
            ),
            (
                "All the nodes that have the same topology key & label value with one of them has an existing pod that match the affinity rules, have the same score",
                incoming(&[], &stay_with_s1_in_region),
                vec![on("node1", s1)],
                vec![
                    node("node1", china),
                    node("node2", china_az1),
                    node("node3", india),
                ],
                Some(vec![100, 100, 0]),
            ),
            (
                "Affinity: nodes in one region has more matching pods comparing to other region, so the region which has more matches will get high score",
                incoming(s1, &stay_with_s2_in_region),
                vec![
                    on("node1", s2),
                    on("node1", s2),
                    on("node2", s2),
                    on("node3", s2),
                    on("node4", s2),
                    on("node5", s2),
                ],
                vec![
                    node("node1", china),
                    node("node2", india),
                    node("node3", china),
                    node("node4", china),
                    node("node5", india),
                ],
                Some(vec![100, 0, 100, 100, 0]),
            ),
            (
                "Affinity: different Label operators and values for pod affinity scheduling preference, including some match failures",
                incoming(s1, &affinity3),
                vec![on("node1", s1), on("node2", s2), on("node3", s1)],
                vec![
                    node("node1", china),
                    node("node2", india),
                    node("node3", az1),
                ],
                Some(vec![20, 100, 0]),
            ),
            (
                "Affinity symmetry: considered only the preferredDuringSchedulingIgnoredDuringExecution in pod affinity symmetry",
                make_pod().labels(s2).build(),
                vec![
                    on_with("node1", s1, &stay_with_s1_in_region),
                    on_with("node2", s2, &stay_with_s2_in_region),
                ],
                vec![
                    node("node1", china),
                    node("node2", india),
                    node("node3", az1),
                ],
                Some(vec![0, 100, 0]),
            ),
            // Adapted: upstream scores node1 100, as namespace "subteam1.team1" is labelled
            // team=team1; with no namespace labels known nothing matches.
            (
                "Affinity symmetry with namespace selector",
                make_pod().namespace("subteam1.team1").labels(s1).build(),
                vec![
                    on_with("node1", s1, &affinity_namespace_selector),
                    on_with("node2", s2, &stay_with_s2_in_region),
                ],
                vec![
                    node("node1", china),
                    node("node2", india),
                    node("node3", az1),
                ],
                None,
            ),
            // Adapted: upstream scores [0, 100, 100], for the same reason.
            (
                "AntiAffinity symmetry with namespace selector",
                make_pod().namespace("subteam1.team1").labels(s1).build(),
                vec![
                    on_with("node1", s1, &anti_affinity_namespace_selector),
                    on_with("node2", s2, &stay_with_s2_in_region),
                ],
                vec![
                    node("node1", china),
                    node("node2", india),
                    node("node3", az1),
                ],
                None,
            ),
            (
                "Affinity symmetry: considered RequiredDuringSchedulingIgnoredDuringExecution in pod affinity symmetry",
                make_pod().labels(s1).build(),
                vec![
                    on_with("node1", s1, &hard_affinity),
                    on_with("node2", s2, &hard_affinity),
                ],
                vec![
                    node("node1", china),
                    node("node2", india),
                    node("node3", az1),
                ],
                Some(vec![100, 100, 0]),
            ),
            (
                "Anti Affinity: pod that does not match existing pods in node will get high score",
                incoming(s1, &away_from_s1_in_az),
                vec![on("node1", s1), on("node2", s2)],
                vec![node("node1", az1), node("node2", china)],
                Some(vec![0, 100]),
            ),
            (
                "Anti Affinity: pod that does not match topology key & match the pods in nodes will get higher score comparing to others",
                incoming(s1, &away_from_s1_in_az),
                vec![on("node1", s1), on("node2", s1)],
                vec![node("node1", az1), node("node2", china)],
                Some(vec![0, 100]),
            ),
            (
                "Anti Affinity: one node has more matching pods comparing to other node, so the node which has more unmatches will get high score",
                incoming(s1, &away_from_s1_in_az),
                vec![on("node1", s1), on("node1", s1), on("node2", s2)],
                vec![node("node1", az1), node("node2", india)],
                Some(vec![0, 100]),
            ),
            (
                "Anti Affinity symmetry: the existing pods in node which has anti affinity match will get high score",
                make_pod().labels(s2).build(),
                vec![
                    on_with("node1", s1, &away_from_s2_in_az),
                    on_with("node2", s2, &away_from_s1_in_az),
                ],
                vec![node("node1", az1), node("node2", az2)],
                Some(vec![0, 100]),
            ),
            (
                "Affinity and Anti Affinity: considered only preferredDuringSchedulingIgnoredDuringExecution in both pod affinity & anti affinity",
                incoming(s1, &stay_with_s1_in_region_away_from_s2_in_az),
                vec![on("node1", s1), on("node2", s1)],
                vec![node("node1", china), node("node2", az1)],
                Some(vec![100, 0]),
            ),
            (
                "Affinity and Anti Affinity: considering both affinity and anti-affinity, the pod to schedule and existing pods have the same labels",
                incoming(s1, &stay_with_s1_in_region_away_from_s2_in_az),
                vec![
                    on("node1", s1),
                    on("node1", s1),
                    on("node2", s1),
                    on("node3", s1),
                    on("node3", s1),
                    on("node4", s1),
                    on("node5", s1),
                ],
                vec![
                    node("node1", china_az1),
                    node("node2", india),
                    node("node3", china),
                    node("node4", china),
                    node("node5", india),
                ],
                Some(vec![100, 0, 100, 100, 0]),
            ),
            (
                "Affinity and Anti Affinity and symmetry: considered only preferredDuringSchedulingIgnoredDuringExecution in both pod affinity & anti affinity & symmetry",
                incoming(s1, &stay_with_s1_in_region_away_from_s2_in_az),
                vec![
                    on("node1", s1),
                    on("node2", s2),
                    on_with("node3", &[], &stay_with_s1_in_region_away_from_s2_in_az),
                    on_with("node4", &[], &away_from_s1_in_az),
                ],
                vec![
                    node("node1", china),
                    node("node2", az1),
                    node("node3", india),
                    node("node4", az2),
                ],
                Some(vec![100, 0, 100, 0]),
            ),
            (
                "Avoid panic when partial nodes in a topology don't have pods with affinity",
                make_pod().labels(s1).build(),
                vec![
                    on("node1", s1),
                    on_with("node2", &[], &stay_with_s1_in_region_away_from_s2_in_az),
                ],
                vec![node("node1", china), node("node2", china)],
                Some(vec![0, 0]),
            ),
            // Adapted: upstream scores node1 100 (namespaces labelled team=team1 match too).
            (
                "Affinity with pods matching NamespaceSelector",
                make_pod()
                    .namespace("subteam1.team1")
                    .labels(s1)
                    .affinity(affinity_namespace_selector.clone())
                    .build(),
                vec![
                    in_ns("node1", "subteam1.team1"),
                    in_ns("node1", "subteam1.team1"),
                    in_ns("node1", "subteam1.team2"),
                    in_ns("node2", "subteam2.team1"),
                ],
                vec![node("node1", china), node("node2", india)],
                None,
            ),
            (
                "Affinity with pods matching both NamespaceSelector and Namespaces fields",
                make_pod()
                    .namespace("subteam1.team1")
                    .labels(s1)
                    .affinity(affinity_namespace_selector.clone())
                    .build(),
                vec![
                    in_ns("node1", "subteam1.team1"),
                    in_ns("node1", "subteam1.team1"),
                    in_ns("node1", "subteam2.team2"),
                    in_ns("node2", "subteam2.team1"),
                ],
                vec![node("node1", china), node("node2", india)],
                Some(vec![100, 0]),
            ),
            // Adapted: upstream scores [0, 100].
            (
                "Anti-affinity with pods matching NamespaceSelector",
                make_pod()
                    .namespace("subteam1.team1")
                    .labels(s1)
                    .affinity(anti_affinity_namespace_selector.clone())
                    .build(),
                vec![
                    in_ns("node1", "subteam1.team1"),
                    in_ns("node1", "subteam1.team1"),
                    in_ns("node1", "subteam1.team2"),
                    in_ns("node2", "subteam2.team1"),
                ],
                vec![node("node1", china), node("node2", india)],
                None,
            ),
            (
                "Anti-affinity with pods matching both NamespaceSelector and Namespaces fields",
                make_pod()
                    .namespace("subteam1.team1")
                    .labels(s1)
                    .affinity(anti_affinity_namespace_selector.clone())
                    .build(),
                vec![
                    in_ns("node1", "subteam1.team1"),
                    in_ns("node1", "subteam1.team1"),
                    in_ns("node1", "subteam2.team2"),
                    in_ns("node2", "subteam2.team1"),
                ],
                vec![node("node1", china), node("node2", india)],
                Some(vec![0, 100]),
            ),
            (
                "Do not ignore preferred terms of existing pods",
                make_pod().labels(s2).build(),
                vec![
                    on_with("node1", s1, &stay_with_s1_in_region_away_from_s2_in_az),
                    on_with("node2", s2, &stay_with_s2_in_region),
                ],
                vec![node("node1", china), node("node2", india)],
                Some(vec![0, 100]),
            ),
            (
                "No nodes to score",
                make_pod().labels(s2).build(),
                vec![],
                vec![],
                None,
            ),
        ];
        for (name, pod, pods, nodes, want) in cases {
            assert_eq!(run_score(&pod, &pods, &nodes), want, "{name}");
        }
    }

    /// Upstream `TestPreferredAffinity`'s "invalid (Anti)Affinity fails PreScore": here
    /// PreFilter rejects the pod (as upstream's PreFilter does first), and PreScore skips it.
    #[test]
    fn invalid_preferred_terms_reject_the_pod() {
        let bad = |kind: &str, topology_key: &str| {
            let terms = json!([weighted(
                5,
                term(is_in("security", &["{{.bad-value.}}"]), topology_key)
            )]);
            make_pod().affinity(preferred(kind, terms)).build()
        };
        let nodes = [
            node("node1", &[("region", "China")]),
            node("node2", &[("region", "China")]),
        ];
        for (kind, field, topology_key) in [
            ("podAffinity", "preferredAffinityTerms", "region"),
            ("podAntiAffinity", "preferredAntiAffinityTerms", "az"),
        ] {
            let pod = bad(kind, topology_key);
            let rejection = run_filter(&pod, &[], &nodes).unwrap_err();
            assert_eq!(rejection.code, Code::UnschedulableAndUnresolvable);
            let message = rejection.message();
            assert!(message.starts_with(&format!("parsing pod: {field}: values[0][security]: Invalid value: \"{{{{.bad-value.}}}}\"")), "{message}");
            assert_eq!(run_score(&pod, &[], &nodes), None, "{kind}");
        }
    }

    /// Upstream `TestPreferredAffinityWithHardPodAffinitySymmetricWeight` (default weight).
    #[test]
    fn existing_pods_required_affinity_scores_with_the_hard_weight() {
        let hard_pod_affinity = json!({"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
            "labelSelector": is_in("service", &["S1"]),
            "namespaces": ["", "subteam2.team2"],
            "namespaceSelector": is_in("team", &["team1"]),
            "topologyKey": "region",
        }]}});
        let pods = [
            make_pod()
                .node("node1")
                .affinity(hard_pod_affinity.clone())
                .build(),
            make_pod().node("node2").affinity(hard_pod_affinity).build(),
        ];
        let nodes = [
            node("node1", &[("region", "China")]),
            node("node2", &[("region", "India")]),
            node("node3", &[("az", "az1")]),
        ];
        let incoming = |namespace: &str| {
            make_pod()
                .namespace(namespace)
                .labels(&[("service", "S1")])
                .build()
        };
        let cases = [
            ("with default weight", incoming(""), Some(vec![100, 100, 0])),
            (
                "with no matching namespace",
                incoming("subteam1.team2"),
                None,
            ),
            // Adapted: upstream scores [100, 100, 0], "subteam1.team1" being labelled team=team1.
            (
                "with matching NamespaceSelector",
                incoming("subteam1.team1"),
                None,
            ),
            (
                "with matching Namespaces",
                incoming("subteam2.team2"),
                Some(vec![100, 100, 0]),
            ),
        ];
        for (name, pod, want) in cases {
            assert_eq!(run_score(&pod, &pods, &nodes), want, "{name}");
        }
    }

    #[test]
    fn normalize_scales_from_the_lowest_to_the_highest_score() {
        let state: State = Box::new(ScoreState {
            topology_scores: TopologyScores::from([("k".to_string(), HashMap::new())]),
        });
        let pod = make_pod().build();
        let mut scores = vec![-5, 3, 0, 7];
        InterPodAffinity.normalize(&state, &pod, &mut scores);
        assert_eq!(scores, vec![0, 66, 41, 100]);
        let mut equal = vec![4, 4];
        InterPodAffinity.normalize(&state, &pod, &mut equal);
        assert_eq!(equal, vec![0, 0]);
    }

    #[test]
    fn selector_errors_follow_upstream() {
        let requirement = |key: &str, operator: &str, values: &[&str]| {
            let selector: LabelSelector = serde_json::from_value(json!({"matchExpressions": [
                {"key": key, "operator": operator, "values": values}]}))
            .unwrap();
            parse_selector(Some(&selector)).err()
        };
        assert_eq!(
            requirement("a", "In", &[]).as_deref(),
            Some(
                "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"
            )
        );
        assert_eq!(
            requirement("a", "Exists", &["x"]).as_deref(),
            Some(
                "values: Invalid value: [\"x\"]: values set must be empty for exists and does not exist"
            )
        );
        assert_eq!(
            requirement("a", "Gt", &["1"]).as_deref(),
            Some("\"Gt\" is not a valid label selector operator")
        );
        assert!(requirement("example.com/a_b", "NotIn", &["x.y", ""]).is_none());
        assert!(
            requirement("Example.com/a", "Exists", &[])
                .unwrap()
                .starts_with(
                    "key: Invalid value: \"Example.com/a\": prefix part a lowercase RFC 1123"
                )
        );
        assert!(matches!(parse_selector(None), Ok(PodSelector::Nothing)));
        assert!(
            parse_selector(Some(&LabelSelector::default()))
                .unwrap()
                .selects_all()
        );
    }
}

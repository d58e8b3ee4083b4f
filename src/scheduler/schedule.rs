//! One scheduling attempt, pure (upstream `schedulePod`, `findNodesThatFitPod`,
//! `findNodesThatPassFilters`, `prioritizeNodes`, the node score heap, `FitError.Error()`):
//! the pod and a snapshot in, every examined node's verdict, the feasible nodes' scores and
//! the choice out. `minik8s explain` prints this same [`Decision`].

use serde::Serialize;

use super::framework::{Code, FilterPlugin, NodeInfo, ScorePlugin, Snapshot, State, Status};
use super::pod::Pod;

/// Upstream `minFeasibleNodesToFind`.
const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// Upstream `minFeasibleNodesPercentageToFind`.
const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: i64 = 5;

/// The plugins of a profile, in upstream's order, with the score weights.
pub struct Profile {
    pub filters: Vec<Box<dyn FilterPlugin>>,
    pub scores: Vec<(Box<dyn ScorePlugin>, i64)>,
    /// `percentageOfNodesToScore`; 0 is upstream's adaptive default.
    pub percentage_of_nodes_to_score: i64,
}

/// The verdict on one examined node: success, or the first filter that rejected it.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub node: String,
    /// The rejecting plugin, None when the node fits.
    pub plugin: Option<&'static str>,
    #[serde(skip)]
    pub code: Code,
    pub reasons: Vec<String>,
}

/// One plugin's score of a node.
#[derive(Clone, Debug, Serialize)]
pub struct PluginScore {
    pub plugin: &'static str,
    /// After normalisation, 0..=100.
    pub score: i64,
    pub weight: i64,
}

/// A feasible node's scores.
#[derive(Clone, Debug, Serialize)]
pub struct NodeScore {
    pub node: String,
    pub plugins: Vec<PluginScore>,
    /// Σ score × weight.
    pub total: i64,
}

/// What an attempt found.
#[derive(Clone, Debug, Serialize)]
pub struct Decision {
    /// Nodes in the cluster (upstream `NumAllNodes`).
    pub nodes: usize,
    /// A PreFilter that rejected the pod for every node: (plugin, its status).
    pub pre_filter: Option<(&'static str, Vec<String>)>,
    /// When PreFilters named the only nodes that can fit (upstream PreFilterResult): the
    /// reason every other node gets, "node(s) didn't satisfy plugin(s) [NodeAffinity]".
    pub others: Option<String>,
    /// Examined nodes, in the order they were examined.
    pub verdicts: Vec<Verdict>,
    /// Feasible nodes with their scores (empty when there was at most one feasible node:
    /// upstream does not score then).
    pub scores: Vec<NodeScore>,
    pub chosen: Option<String>,
    /// How far the next attempt's scan starts (upstream `nextStartNodeIndex`).
    #[serde(skip)]
    pub next_start: usize,
}

impl Decision {
    /// Upstream `FitError.Error()` up to the PostFilter part: "0/N nodes are available:
    /// <PreFilter message.> <sorted reason histogram.>".
    pub fn fit_error(&self) -> String {
        let mut message = format!("0/{} nodes are available:", self.nodes);
        if let Some((_, reasons)) = &self.pre_filter {
            message.push_str(&format!(" {}.", reasons.join(", ")));
            return message;
        }
        let mut histogram = std::collections::BTreeMap::<&str, usize>::new();
        for verdict in &self.verdicts {
            for reason in &verdict.reasons {
                *histogram.entry(reason).or_default() += 1;
            }
        }
        // Upstream counts the nodes without a status of their own with the absent-nodes
        // status.
        if let Some(reason) = &self.others {
            let rejected = self.rejected().count();
            if rejected < self.nodes {
                *histogram.entry(reason).or_default() += self.nodes - rejected;
            }
        }
        let mut parts: Vec<String> = histogram
            .iter()
            .map(|(reason, n)| format!("{n} {reason}"))
            .collect();
        parts.sort();
        if !parts.is_empty() {
            message.push_str(&format!(" {}.", parts.join(", ")));
        }
        message
    }

    /// The examined nodes that were rejected.
    pub fn rejected(&self) -> impl Iterator<Item = &Verdict> {
        self.verdicts.iter().filter(|v| v.plugin.is_some())
    }
}

/// Upstream `numFeasibleNodesToFind`.
pub fn feasible_nodes_to_find(percentage: i64, nodes: usize) -> usize {
    if nodes < MIN_FEASIBLE_NODES_TO_FIND {
        return nodes;
    }
    let percentage = if percentage > 0 {
        percentage
    } else {
        (50 - nodes as i64 / 125).max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    };
    (nodes as i64 * percentage / 100).max(MIN_FEASIBLE_NODES_TO_FIND as i64) as usize
}

/// A small deterministic generator (SplitMix64) for the random tie-break: seeded, so that
/// tests and `--seed` runs repeat.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The PreFilter states of the filter plugins for one pod, ready to filter any node.
pub struct Filters<'p> {
    /// (plugin, its state) for the plugins that did not skip.
    running: Vec<(&'p dyn FilterPlugin, State)>,
    /// The only nodes that can fit, and the plugins that named them.
    pub nodes: Option<(std::collections::BTreeSet<String>, Vec<&'static str>)>,
}

impl<'p> Filters<'p> {
    /// Runs every PreFilter (upstream `RunPreFilterPlugins`): an UnschedulableAndUnresolvable
    /// rejection ends it at once, an Unschedulable one is returned after all have run.
    pub fn prepare(
        profile: &'p Profile,
        pod: &Pod,
        snapshot: &Snapshot,
    ) -> Result<Self, (&'static str, Status)> {
        let mut running = Vec::new();
        let mut rejected = None;
        let mut nodes: Option<(std::collections::BTreeSet<String>, Vec<&'static str>)> = None;
        for plugin in &profile.filters {
            match plugin.pre_filter(pod, snapshot) {
                Ok(state) => {
                    if let Some(names) = plugin.pre_filter_nodes(pod) {
                        // Upstream `PreFilterResult.Merge`: the intersection.
                        let (merged, plugins) =
                            nodes.get_or_insert_with(|| (names.clone(), Vec::new()));
                        merged.retain(|n| names.contains(n));
                        plugins.push(plugin.name());
                        if merged.is_empty() {
                            let message = match plugins.as_slice() {
                                [one] => format!("node(s) didn't satisfy plugin {one}"),
                                many => format!(
                                    "node(s) didn't satisfy plugin(s) [{}] simultaneously",
                                    sorted(many)
                                ),
                            };
                            return Err((plugin.name(), Status::unresolvable(message)));
                        }
                    }
                    if let Some(state) = state {
                        running.push((plugin.as_ref(), state));
                    }
                }
                Err(status) if status.code == Code::Unschedulable => {
                    rejected = Some((plugin.name(), status));
                }
                Err(status) => return Err((plugin.name(), status)),
            }
        }
        match rejected {
            Some(rejection) => Err(rejection),
            None => Ok(Self { running, nodes }),
        }
    }

    /// Upstream `RunFilterPlugins`: the first plugin that rejects the node decides.
    pub fn run(&self, pod: &Pod, node: &NodeInfo) -> Result<(), (&'static str, Status)> {
        for (plugin, state) in &self.running {
            let status = plugin.filter(state, pod, node);
            if !status.is_success() {
                return Err((plugin.name(), status));
            }
        }
        Ok(())
    }
}

/// Plugin names as Go prints a sorted `[]string` inside `[…]`.
fn sorted(plugins: &[&'static str]) -> String {
    let mut names = plugins.to_vec();
    names.sort();
    names.join(" ")
}

/// One attempt to place `pod` (upstream `schedulePod`), scanning from `start`.
pub fn schedule(
    profile: &Profile,
    pod: &Pod,
    snapshot: &Snapshot,
    start: usize,
    rng: &mut Rng,
) -> Decision {
    let all = snapshot.nodes.len();
    let mut decision = Decision {
        nodes: all,
        pre_filter: None,
        others: None,
        verdicts: Vec::new(),
        scores: Vec::new(),
        chosen: None,
        next_start: start,
    };
    if all == 0 {
        return decision;
    }
    let filters = match Filters::prepare(profile, pod, snapshot) {
        Ok(filters) => filters,
        Err((plugin, status)) => {
            decision.pre_filter = Some((plugin, status.reasons));
            return decision;
        }
    };

    let candidates: Vec<&NodeInfo> = match &filters.nodes {
        Some((names, plugins)) => {
            decision.others = Some(format!(
                "node(s) didn't satisfy plugin(s) [{}]",
                sorted(plugins)
            ));
            snapshot
                .nodes
                .iter()
                .filter(|n| names.contains(n.name()))
                .collect()
        }
        None => snapshot.nodes.iter().collect(),
    };

    // Upstream stops once enough feasible nodes are found, scanning from where the last
    // attempt stopped so that every node gets its turn.
    let count = candidates.len();
    let wanted = feasible_nodes_to_find(profile.percentage_of_nodes_to_score, count);
    let mut feasible: Vec<&NodeInfo> = Vec::new();
    for i in 0..count {
        if feasible.len() >= wanted {
            break;
        }
        let node = candidates[(start + i) % count];
        match filters.run(pod, node) {
            Ok(()) => {
                feasible.push(node);
                decision.verdicts.push(Verdict {
                    node: node.name().to_string(),
                    plugin: None,
                    code: Code::Success,
                    reasons: Vec::new(),
                });
            }
            Err((plugin, status)) => decision.verdicts.push(Verdict {
                node: node.name().to_string(),
                plugin: Some(plugin),
                code: status.code,
                reasons: status.reasons,
            }),
        }
    }
    decision.next_start = (start + decision.verdicts.len()) % all;

    match feasible.len() {
        0 => {}
        1 => decision.chosen = Some(feasible[0].name().to_string()),
        _ => {
            decision.scores = prioritize(profile, pod, snapshot, &feasible);
            // Highest total wins; ties go to a random node (upstream: a random number per
            // node, compared after the total).
            decision.chosen = decision
                .scores
                .iter()
                .map(|s| (s.total, rng.next_u64(), &s.node))
                .max()
                .map(|(_, _, node)| node.clone());
        }
    }
    decision
}

/// Upstream `prioritizeNodes`: every score plugin over the feasible nodes, normalised, then
/// weighted and summed.
fn prioritize(
    profile: &Profile,
    pod: &Pod,
    snapshot: &Snapshot,
    feasible: &[&NodeInfo],
) -> Vec<NodeScore> {
    let mut scores: Vec<NodeScore> = feasible
        .iter()
        .map(|n| NodeScore {
            node: n.name().to_string(),
            plugins: Vec::new(),
            total: 0,
        })
        .collect();
    for (plugin, weight) in &profile.scores {
        let Some(state) = plugin.pre_score(pod, feasible, snapshot) else {
            continue;
        };
        let mut raw: Vec<i64> = feasible
            .iter()
            .map(|node| plugin.score(&state, pod, node))
            .collect();
        plugin.normalize(&state, pod, &mut raw);
        for (node, score) in scores.iter_mut().zip(raw) {
            node.plugins.push(PluginScore {
                plugin: plugin.name(),
                score,
                weight: *weight,
            });
            node.total += score * weight;
        }
    }
    scores
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use k8s_openapi::api::core::v1::Node;
    use serde_json::json;

    use super::*;

    fn node(name: &str) -> Arc<Node> {
        Arc::new(serde_json::from_value(json!({"metadata": {"name": name}})).unwrap())
    }

    fn pod() -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"containers": []}}))
            .unwrap()
    }

    /// Rejects the nodes whose names it lists, with `reason`.
    struct Reject(&'static str, Vec<&'static str>, &'static str);

    impl FilterPlugin for Reject {
        fn name(&self) -> &'static str {
            self.0
        }
        fn filter(&self, _: &State, _: &Pod, node: &NodeInfo) -> Status {
            if self.1.contains(&node.name()) {
                Status::unschedulable(self.2)
            } else {
                Status::success()
            }
        }
    }

    /// Scores a node by the last digit of its name.
    struct ByName;

    impl ScorePlugin for ByName {
        fn name(&self) -> &'static str {
            "ByName"
        }
        fn score(&self, _: &State, _: &Pod, node: &NodeInfo) -> i64 {
            node.name()
                .chars()
                .last()
                .and_then(|c| c.to_digit(10))
                .unwrap_or(0) as i64
        }
    }

    struct PreFilterRejects(Code);

    impl FilterPlugin for PreFilterRejects {
        fn name(&self) -> &'static str {
            "Early"
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

    fn snapshot(n: usize) -> Snapshot {
        Snapshot::new((1..=n).map(|i| node(&format!("node-{i}"))), [])
    }

    #[test]
    fn the_failure_message_counts_the_first_reason_of_each_node() {
        let profile = Profile {
            filters: vec![
                Box::new(Reject(
                    "A",
                    vec!["node-1", "node-2"],
                    "node(s) were unschedulable",
                )),
                Box::new(Reject("B", vec!["node-1", "node-3"], "Insufficient cpu")),
            ],
            scores: vec![],
            percentage_of_nodes_to_score: 0,
        };
        let d = schedule(&profile, &pod(), &snapshot(3), 0, &mut Rng::new(1));
        assert_eq!(d.chosen, None);
        assert_eq!(
            d.fit_error(),
            "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) were unschedulable."
        );
    }

    #[test]
    fn a_pre_filter_rejection_leads_the_message() {
        for code in [Code::Unschedulable, Code::UnschedulableAndUnresolvable] {
            let profile = Profile {
                filters: vec![Box::new(PreFilterRejects(code))],
                scores: vec![],
                percentage_of_nodes_to_score: 0,
            };
            let d = schedule(&profile, &pod(), &snapshot(2), 0, &mut Rng::new(1));
            assert_eq!(d.fit_error(), "0/2 nodes are available: early says no.");
            assert!(d.verdicts.is_empty());
        }
    }

    #[test]
    fn the_highest_weighted_total_wins_and_one_feasible_node_is_not_scored() {
        let profile = Profile {
            filters: vec![Box::new(Reject("A", vec!["node-2"], "no"))],
            scores: vec![(Box::new(ByName), 2)],
            percentage_of_nodes_to_score: 0,
        };
        let d = schedule(&profile, &pod(), &snapshot(3), 0, &mut Rng::new(7));
        assert_eq!(d.chosen.as_deref(), Some("node-3"));
        assert_eq!(d.scores.iter().map(|s| s.total).collect::<Vec<_>>(), [2, 6]);
        let only = Profile {
            filters: vec![Box::new(Reject("A", vec!["node-1", "node-2"], "no"))],
            scores: vec![(Box::new(ByName), 2)],
            percentage_of_nodes_to_score: 0,
        };
        let d = schedule(&only, &pod(), &snapshot(3), 0, &mut Rng::new(7));
        assert_eq!((d.chosen.as_deref(), d.scores.len()), (Some("node-3"), 0));
    }

    #[test]
    fn ties_are_broken_at_random_but_repeatably_for_a_seed() {
        let profile = Profile {
            filters: vec![],
            scores: vec![],
            percentage_of_nodes_to_score: 0,
        };
        let snap = snapshot(5);
        let chosen = |seed| schedule(&profile, &pod(), &snap, 0, &mut Rng::new(seed)).chosen;
        assert_eq!(chosen(3), chosen(3));
        let distinct: std::collections::BTreeSet<_> = (0..40).map(chosen).collect();
        assert!(distinct.len() > 2, "{distinct:?}");
    }

    /// Upstream `TestNumFeasibleNodesToFind`.
    #[test]
    fn nodes_examined() {
        let cases = [
            (0, 10, 10),
            (40, 10, 10),
            (0, 1000, 420),
            (40, 1000, 400),
            (0, 6000, 300),
            (40, 6000, 2400),
            (0, 50, 50),
            (0, 150, 100),
        ];
        for (percentage, nodes, want) in cases {
            assert_eq!(
                feasible_nodes_to_find(percentage, nodes),
                want,
                "{percentage}% of {nodes}"
            );
        }
    }

    #[test]
    fn the_scan_stops_at_enough_feasible_nodes_and_rotates() {
        let profile = Profile {
            filters: vec![],
            scores: vec![],
            percentage_of_nodes_to_score: 10,
        };
        let snap = snapshot(1000);
        let d = schedule(&profile, &pod(), &snap, 950, &mut Rng::new(1));
        assert_eq!(d.verdicts.len(), 100);
        assert_eq!(d.verdicts[0].node, snap.nodes[950].name());
        assert_eq!(d.next_start, 50);
    }
}

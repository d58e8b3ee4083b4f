//! `minik8s explain pod NAME`: what minik8s-scheduler would decide for a pod right now, node
//! by node — which filter rejected each node and why, each plugin's score of the nodes that
//! fit, and the node chosen. It runs the scheduler's own pure core on the cluster as listed
//! now, so the explanation and the scheduler cannot disagree.

use std::sync::Arc;

use clap::{Args, ValueEnum};
use k8s_openapi::api::core::v1::Node;
use kube::api::ListParams;
use kube::{Api, ResourceExt};

use crate::scheduler::pod::Pod;
use crate::scheduler::schedule::{self, Decision, Rng};
use crate::scheduler::{SCHEDULER_NAME, framework::Snapshot, preemption, profile};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// What to explain (only `pod`).
    #[arg(value_parser = ["pod", "pods", "po"])]
    kind: String,
    name: String,
    /// Namespace (default: the kubeconfig context's).
    #[arg(short, long)]
    namespace: Option<String>,
    #[arg(short, long, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Seed of the tie-break between equally scored nodes.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

pub async fn run(args: ExplainArgs) -> super::Result {
    let client = crate::runtime::kubeconfig::client().await?;
    let namespace = args
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_string());
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let pod = pods.get(&args.name).await?;
    let nodes: Vec<Arc<Node>> = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .map(Arc::new)
        .collect();
    // Every other pod counts where it is; the pod itself is placed anew.
    let others: Vec<Arc<Pod>> = Api::<Pod>::all(client)
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|p| p.uid() != pod.uid())
        .map(Arc::new)
        .collect();
    let snapshot = Snapshot::new(nodes, others);
    let profile = profile::default_profile(0);
    let decision = schedule::schedule(&profile, &pod, &snapshot, 0, &mut Rng::new(args.seed));
    let post_filter = decision
        .chosen
        .is_none()
        .then(|| preemption::post_filter(&profile, &pod, &snapshot, &decision, &[]).message);
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&decision)?),
        Output::Text => print!("{}", render(&pod, &decision, post_filter.as_deref())),
    }
    Ok(())
}

/// The text report (pure, so it is tested as printed).
pub fn render(pod: &Pod, decision: &Decision, post_filter: Option<&str>) -> String {
    let mut out = String::new();
    let spec = pod.spec.clone().unwrap_or_default();
    let scheduler = spec
        .scheduler_name
        .as_deref()
        .unwrap_or("default-scheduler");
    out.push_str(&format!(
        "Pod {}/{}: what {SCHEDULER_NAME} would decide now\n",
        pod.namespace().unwrap_or_default(),
        pod.name_any()
    ));
    if scheduler != SCHEDULER_NAME {
        out.push_str(&format!(
            "  (its schedulerName is {scheduler}: {SCHEDULER_NAME} does not place it)\n"
        ));
    }
    if let Some(node) = spec.node_name.as_deref().filter(|n| !n.is_empty()) {
        out.push_str(&format!(
            "  (it is bound to {node}; it is left out of that node's pods here)\n"
        ));
    }
    let feasible = decision
        .verdicts
        .iter()
        .filter(|v| v.plugin.is_none())
        .count();
    out.push_str(&format!(
        "Nodes: {}, examined: {}, feasible: {feasible}\n",
        decision.nodes,
        decision.verdicts.len()
    ));
    if let Some((plugin, reasons)) = &decision.pre_filter {
        out.push_str(&format!(
            "\nRejected before any node was examined, by {plugin}: {}\n",
            reasons.join(", ")
        ));
    }
    if !decision.verdicts.is_empty() {
        out.push_str("\nFilters:\n");
        let width = name_width(decision.verdicts.iter().map(|v| v.node.as_str()));
        for verdict in &decision.verdicts {
            let result = match verdict.plugin {
                None => "fits".to_string(),
                Some(plugin) => format!("rejected by {plugin}: {}", verdict.reasons.join(", ")),
            };
            out.push_str(&format!("  {:<width$}  {result}\n", verdict.node));
        }
    }
    if !decision.scores.is_empty() {
        out.push_str("\nScores (0-100 per plugin, × weight):\n");
        let width = name_width(decision.scores.iter().map(|s| s.node.as_str()));
        let mut header = format!("  {:<width$}", "NODE");
        for plugin in &decision.scores[0].plugins {
            header.push_str(&format!("  {}×{}", plugin.plugin, plugin.weight));
        }
        header.push_str("  TOTAL\n");
        out.push_str(&header);
        let mut scores = decision.scores.clone();
        scores.sort_by(|a, b| b.total.cmp(&a.total).then(a.node.cmp(&b.node)));
        for score in &scores {
            let mut row = format!("  {:<width$}", score.node);
            for plugin in &score.plugins {
                let column = plugin.plugin.len() + 1 + plugin.weight.to_string().len();
                row.push_str(&format!("  {:>column$}", plugin.score));
            }
            row.push_str(&format!("  {:>5}\n", score.total));
            out.push_str(&row);
        }
    }
    match &decision.chosen {
        Some(node) if decision.scores.is_empty() => {
            out.push_str(&format!("\nChosen: {node} (the only node that fits)\n"));
        }
        Some(node) => out.push_str(&format!(
            "\nChosen: {node} (highest total; equal totals are broken at random)\n"
        )),
        None => {
            let mut message = decision.fit_error();
            if let Some(post) = post_filter.filter(|p| !p.is_empty()) {
                message = format!("{message} {post}");
            }
            out.push_str(&format!("\nNo node fits. FailedScheduling: {message}\n"));
        }
    }
    out
}

fn name_width<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names.map(str::len).max().unwrap_or(4).max(4)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scheduler::framework::Snapshot;

    fn node(name: &str, cpu: &str) -> Arc<Node> {
        Arc::new(
            serde_json::from_value(json!({"metadata": {"name": name},
                "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "110"}}}))
            .unwrap(),
        )
    }

    fn pod(cpu: &str) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "ns"},
            "spec": {"schedulerName": SCHEDULER_NAME, "containers": [{"name": "c",
                     "resources": {"requests": {"cpu": cpu}}}]}
        }))
        .unwrap()
    }

    fn explain(p: &Pod, snapshot: &Snapshot) -> String {
        let profile = profile::default_profile(0);
        let d = schedule::schedule(&profile, p, snapshot, 0, &mut Rng::new(0));
        let post = preemption::post_filter(&profile, p, snapshot, &d, &[]).message;
        render(p, &d, d.chosen.is_none().then_some(post.as_str()))
    }

    #[test]
    fn every_node_gets_its_verdict_and_the_fitting_ones_their_scores() {
        let snapshot = Snapshot::new([node("small", "1"), node("big", "8"), node("mid", "4")], []);
        let text = explain(&pod("2"), &snapshot);
        assert!(
            text.contains("Nodes: 3, examined: 3, feasible: 2"),
            "{text}"
        );
        assert!(
            text.contains("small  rejected by NodeResourcesFit: Insufficient cpu"),
            "{text}"
        );
        assert!(text.contains("NodeResourcesFit×1"), "{text}");
        assert!(text.contains("Chosen: big (highest total"), "{text}");
    }

    #[test]
    fn a_pod_that_fits_nowhere_gets_the_failed_scheduling_message() {
        let snapshot = Snapshot::new([node("a", "1"), node("b", "1")], []);
        let text = explain(&pod("2"), &snapshot);
        assert!(
            text.contains(
                "No node fits. FailedScheduling: 0/2 nodes are available: 2 Insufficient cpu."
            ),
            "{text}"
        );
    }
}

//! The terminal view of a comparison: a table per step, the scaling sequences side by side,
//! and the differences.

use std::fmt::Write;

use super::summary::{SideStep, Summary};
use super::timeline::Recording;
use super::twin::{Side, Workload};

fn seconds(s: &SideStep) -> String {
    match (&s.seconds, &s.failed) {
        (Some(t), _) => format!("{t:.2} s"),
        (None, Some(_)) => "failed".to_owned(),
        (None, None) => "-".to_owned(),
    }
}

/// The names of both twins as kubectl would show them, e.g. `Deployment web`.
pub fn titles(recording: &Recording) -> [String; 2] {
    let workload = recording.workload.unwrap_or(Workload::Deployment);
    Side::BOTH.map(|side| {
        format!(
            "{} {}",
            workload.type_meta(side).1,
            recording.names[side.index()]
        )
    })
}

pub fn text(recording: &Recording, summary: &Summary) -> String {
    let mut out = String::new();
    let [b, m] = titles(recording);
    let _ = writeln!(
        out,
        "{b} (built-in) vs {m} (minik8s), namespace {}",
        recording.namespace
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<28} {:<9} {:>9} {:>5} {:>6} {:>8} {:>7}  {:<10} conditions",
        "STEP", "SIDE", "TIME", "PODS", "AVAIL", "SETS+", "SCALED", "REVISIONS"
    );
    for (i, step) in summary.steps.iter().enumerate() {
        for side in Side::BOTH {
            let s = &step.sides[side.index()];
            let label = if side == Side::Builtin {
                format!("{} {}", i + 1, step.step)
            } else {
                String::new()
            };
            let revisions: Vec<String> = s.revisions.iter().map(i64::to_string).collect();
            let conditions: Vec<String> = s
                .conditions
                .iter()
                .map(|c| match c.reason.as_str() {
                    "" => format!("{}={}", c.type_, c.status),
                    reason => format!("{}={}/{reason}", c.type_, c.status),
                })
                .collect();
            let _ = writeln!(
                out,
                "{:<28} {:<9} {:>9} {:>5} {:>6} {:>8} {:>7}  {:<10} {}",
                truncate(&label, 28),
                side.label(),
                seconds(s),
                s.most_pods,
                s.fewest_available.map_or("-".to_owned(), |a| a.to_string()),
                s.sets_created,
                s.sets_scaled,
                if revisions.is_empty() {
                    "-".to_owned()
                } else {
                    revisions.join(",")
                },
                conditions.join(" ")
            );
        }
    }
    let _ = writeln!(
        out,
        "\n(TIME: until the side completed the step; PODS: most pods at once; AVAIL: fewest available; SETS+: sets created; SCALED: scalings of existing sets)"
    );
    let _ = writeln!(out, "\nscaling, step by step");
    let _ = writeln!(out, "{:<28} {:<26} minik8s", "STEP", "built-in");
    for (i, step) in summary.steps.iter().enumerate() {
        let [left, right] = step.sides.each_ref().map(|s| &s.scaling);
        let rows = left.len().max(right.len());
        for row in 0..rows {
            let label = if row == 0 {
                format!("{} {}", i + 1, step.step)
            } else {
                String::new()
            };
            let cell = |v: &Vec<String>| v.get(row).cloned().unwrap_or_default();
            let _ = writeln!(
                out,
                "{:<28} {:<26} {}",
                truncate(&label, 28),
                cell(left),
                cell(right)
            );
        }
    }
    let _ = writeln!(out, "\nfinal state");
    for side in Side::BOTH {
        let f = &summary.final_state[side.index()];
        let placed = match &f.node {
            Some(node) => format!(", on node {node}"),
            None if recording.workload == Some(Workload::Pod) => ", not scheduled".to_owned(),
            None => String::new(),
        };
        if let Some(e) = &f.endpoints {
            let _ = writeln!(
                out,
                "{:<9} {} ready addresses, {} not ready, ports [{}], {} EndpointSlices",
                side.label(),
                e.ready.len(),
                e.not_ready.len(),
                e.ports.join(", "),
                f.sets.len()
            );
            continue;
        }
        let _ = writeln!(
            out,
            "{:<9} replicas {}/{} updated {} ready {} available {}{placed}",
            side.label(),
            f.replicas,
            f.desired,
            f.updated,
            f.ready,
            f.available
        );
    }
    let _ = writeln!(out);
    if summary.differences.is_empty() {
        let _ = writeln!(
            out,
            "differences: none (sets, revisions, conditions, event reasons, final state and bounds alike)"
        );
    } else {
        let _ = writeln!(out, "differences ({}):", summary.differences.len());
        for d in &summary.differences {
            let _ = writeln!(out, "  - {d}");
        }
    }
    out
}

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(width - 1).collect();
        t.push('…');
        t
    }
}

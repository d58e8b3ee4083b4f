//! The HTML report of a comparison: one self-contained page (styles inline, charts as inline
//! SVG drawn with plotters, no script or font fetched) with, on one time axis, each side's
//! pods total/ready/available, each side's sets as stacked areas, the steps and events as
//! marks; then the step table, the scaling sequences and the differences.

use std::collections::BTreeSet;
use std::fmt::Write;

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::summary::{Replay, Summary, set_label};
use super::timeline::{Fact, Recording};
use super::twin::Side;

/// Points of one side over time, in seconds.
#[derive(Default)]
struct Series {
    total: Vec<(f64, f64)>,
    ready: Vec<(f64, f64)>,
    available: Vec<(f64, f64)>,
    /// Each set's `spec.replicas`, by label, in the order the sets appeared.
    sets: Vec<(String, Vec<(f64, f64)>)>,
    /// (time, warning, reason) of each event.
    events: Vec<(f64, bool, String)>,
}

fn series(recording: &Recording) -> [Series; 2] {
    let mut out: [Series; 2] = Default::default();
    let mut replay = Replay::new(recording);
    let mut labelled: [BTreeSet<String>; 2] = Default::default();
    for entry in &recording.entries {
        for side in replay.apply(entry).sides() {
            let t = entry.t_ms as f64 / 1000.0;
            let s = &mut out[side.index()];
            if let Fact::Event(e) = &entry.fact {
                s.events.push((t, e.type_ == "Warning", e.reason.clone()));
                continue;
            }
            step_to(&mut s.total, t, replay.pods_total(side) as f64);
            step_to(&mut s.ready, t, replay.pods_ready(side) as f64);
            if let Some(a) = replay.available(side) {
                step_to(&mut s.available, t, a as f64);
            }
            for set in replay.sets[side.index()].values() {
                let label = set_label(recording.workload, set);
                if labelled[side.index()].insert(label.clone()) {
                    s.sets.push((label, vec![(t, 0.0)]));
                }
            }
            for (label, points) in &mut s.sets {
                let value = replay.sets[side.index()]
                    .values()
                    .filter(|set| set_label(recording.workload, set) == *label)
                    .map(|set| set.desired as f64)
                    .sum();
                step_to(points, t, value);
            }
        }
    }
    let end = recording.end_ms as f64 / 1000.0;
    for s in &mut out {
        for points in [&mut s.total, &mut s.ready, &mut s.available]
            .into_iter()
            .chain(s.sets.iter_mut().map(|(_, p)| p))
        {
            if let Some(&(_, v)) = points.last() {
                points.push((end, v));
            }
        }
    }
    out
}

/// Appends a value as a step: the old value holds until `t`.
fn step_to(points: &mut Vec<(f64, f64)>, t: f64, value: f64) {
    match points.last() {
        Some(&(_, v)) if v == value => {}
        Some(&(_, v)) => {
            points.push((t, v));
            points.push((t, value));
        }
        None => points.push((t, value)),
    }
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(66, 133, 244),
    RGBColor(251, 140, 0),
    RGBColor(52, 168, 83),
    RGBColor(171, 71, 188),
    RGBColor(0, 172, 193),
    RGBColor(229, 57, 53),
];

/// A light, opaque version of a colour: stacked areas must not show through one another.
fn tint(c: RGBColor) -> RGBColor {
    let light = |v: u8| v + ((255 - v) as f64 * 0.6) as u8;
    RGBColor(light(c.0), light(c.1), light(c.2))
}

type Drawn = Result<(), Box<dyn std::error::Error>>;

/// The step boundaries, as (seconds, label).
fn step_marks(recording: &Recording) -> Vec<(f64, String)> {
    recording
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.start_ms as f64 / 1000.0, format!("{}", i + 1)))
        .collect()
}

type Chart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// One chart on the shared time axis (0 to `end` seconds), with the steps marked and a
/// legend; `draw` adds the series.
fn chart(
    recording: &Recording,
    (title, y_desc, height): (&str, &str, u32),
    (end, top): (f64, f64),
    legend: SeriesLabelPosition,
    draw: impl FnOnce(&mut Chart) -> Drawn,
) -> Result<String, Box<dyn std::error::Error>> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (960, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(44)
            .build_cartesian_2d(0f64..end, 0f64..top)?;
        chart
            .configure_mesh()
            .x_desc("seconds since the start")
            .y_desc(y_desc)
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        draw(&mut chart)?;
        for (t, label) in step_marks(recording) {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(t, 0.0), (t, top)],
                RGBColor(160, 160, 160).stroke_width(1),
            )))?;
            chart.draw_series(std::iter::once(Text::new(
                label,
                (t, top * 0.97),
                ("sans-serif", 12)
                    .into_font()
                    .color(&RGBColor(110, 110, 110)),
            )))?;
        }
        chart
            .configure_series_labels()
            .position(legend)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .draw()?;
        root.present()?;
    }
    Ok(svg)
}

/// Pods total and ready (from the pods) and available (the top object's status), with the
/// events as triangles along the bottom.
fn pods_chart(
    recording: &Recording,
    s: &Series,
    title: &str,
    axes: (f64, f64),
) -> Result<String, Box<dyn std::error::Error>> {
    let top = axes.1;
    let available_label = match recording.workload {
        Some(super::twin::Workload::Service) => "ready addresses (endpoints)",
        _ => "available (status)",
    };
    chart(
        recording,
        (title, "pods", 300),
        axes,
        SeriesLabelPosition::LowerRight,
        |chart| {
            for (points, color, label) in [
                (&s.total, PALETTE[0], "pods"),
                (&s.ready, PALETTE[2], "ready"),
                (&s.available, PALETTE[1], available_label),
            ] {
                chart
                    .draw_series(LineSeries::new(
                        points.iter().copied(),
                        color.stroke_width(2),
                    ))?
                    .label(label)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                    });
            }
            chart.draw_series(s.events.iter().map(|(t, warning, _)| {
                let color = if *warning {
                    PALETTE[5]
                } else {
                    RGBColor(90, 90, 90)
                };
                TriangleMarker::new((*t, top * 0.02), 4, color.filled())
            }))?;
            Ok(())
        },
    )
}

/// Each set's `spec.replicas`, stacked. Each lower area covers the part of the one above it,
/// so the stack is drawn from its top down.
fn sets_chart(
    recording: &Recording,
    s: &Series,
    title: &str,
    axes: (f64, f64),
) -> Result<String, Box<dyn std::error::Error>> {
    chart(
        recording,
        (
            title,
            match recording.workload {
                Some(super::twin::Workload::Service) => "endpoints",
                _ => "replicas",
            },
            260,
        ),
        axes,
        SeriesLabelPosition::UpperRight,
        |chart| {
            for (i, level) in stack(&s.sets).iter().enumerate().rev() {
                let color = PALETTE[i % PALETTE.len()];
                chart
                    .draw_series(
                        AreaSeries::new(level.iter().copied(), 0.0, tint(color))
                            .border_style(color.stroke_width(1)),
                    )?
                    .label(s.sets[i].0.clone())
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 14, y + 5)], tint(color).filled())
                    });
            }
            Ok(())
        },
    )
}

/// The sets stacked: level i is the sum of sets 0..=i, as a step line over every moment any
/// of them changed.
fn stack(sets: &[(String, Vec<(f64, f64)>)]) -> Vec<Vec<(f64, f64)>> {
    let mut times: Vec<f64> = sets
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(t, _)| *t))
        .collect();
    times.sort_by(f64::total_cmp);
    times.dedup();
    let value_at = |points: &[(f64, f64)], t: f64| {
        points
            .iter()
            .take_while(|(pt, _)| *pt <= t)
            .last()
            .map_or(0.0, |(_, v)| *v)
    };
    let mut running = vec![0.0; times.len()];
    sets.iter()
        .map(|(_, points)| {
            for (k, &t) in times.iter().enumerate() {
                running[k] += value_at(points, t);
            }
            let mut level = Vec::with_capacity(2 * times.len());
            for (k, &t) in times.iter().enumerate() {
                if k > 0 {
                    level.push((t, running[k - 1]));
                }
                level.push((t, running[k]));
            }
            level
        })
        .collect()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The whole page.
pub fn html(
    recording: &Recording,
    summary: &Summary,
) -> Result<String, Box<dyn std::error::Error>> {
    let series = series(recording);
    let end = (recording.end_ms as f64 / 1000.0).max(1.0);
    let most = |f: &dyn Fn(&Series) -> f64| series.iter().map(f).fold(1.0f64, f64::max);
    let pods_top = most(&|s| {
        s.total
            .iter()
            .chain(&s.ready)
            .map(|p| p.1)
            .fold(0.0, f64::max)
    }) * 1.15
        + 1.0;
    let sets_top = most(&|s| {
        stack(&s.sets)
            .last()
            .map_or(0.0, |level| level.iter().map(|p| p.1).fold(0.0, f64::max))
    }) * 1.1
        + 1.0;
    let titles = super::render::titles(recording);
    let mut charts = String::new();
    for side in Side::BOTH {
        let s = &series[side.index()];
        let title = format!("{} ({}): pods", titles[side.index()], side.label());
        charts.push_str(&pods_chart(recording, s, &title, (end, pods_top))?);
    }
    for side in Side::BOTH {
        let s = &series[side.index()];
        let what = match recording.workload {
            Some(super::twin::Workload::Service) => "EndpointSlices' endpoints",
            _ => "sets' replicas",
        };
        let title = format!("{} ({}): {what}", titles[side.index()], side.label());
        charts.push_str(&sets_chart(recording, s, &title, (end, sets_top))?);
    }
    let mut page = String::new();
    let heading = format!("{} vs {}", titles[0], titles[1]);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>minik8s compare: {h}</title>\n<style>{STYLE}</style></head>\n<body>\n<h1>minik8s compare: {h}</h1>\n<p>Namespace <code>{ns}</code>, {steps} steps, {secs:.1} s recorded. Steps start at the grey lines (numbered as in the table); triangles are events (red: warnings).</p>\n",
        h = escape(&heading),
        ns = escape(&recording.namespace),
        steps = recording.steps.len(),
        secs = end,
    );
    let _ = write!(page, "<section id=\"differences\"><h2>Differences</h2>");
    if summary.differences.is_empty() {
        page.push_str("<p class=\"same\">None: sets, revisions, conditions, event reasons, final state and bounds alike.</p>");
    } else {
        page.push_str("<ul class=\"differ\">");
        for d in &summary.differences {
            let _ = write!(page, "<li>{}</li>", escape(d));
        }
        page.push_str("</ul>");
    }
    page.push_str("</section>\n<section id=\"charts\"><h2>Over time</h2>\n");
    page.push_str(&charts);
    page.push_str("</section>\n<section id=\"steps\"><h2>Steps</h2><table><thead><tr><th>step</th><th>side</th><th>time</th><th>most pods</th><th>fewest available</th><th>sets created</th><th>scalings</th><th>revisions</th><th>conditions at the end</th></tr></thead><tbody>\n");
    for (i, step) in summary.steps.iter().enumerate() {
        for side in Side::BOTH {
            let s = &step.sides[side.index()];
            let first = side == Side::Builtin;
            let conditions: Vec<String> = s
                .conditions
                .iter()
                .map(|c| escape(&c.to_string()))
                .collect();
            let revisions: Vec<String> = s.revisions.iter().map(i64::to_string).collect();
            let _ = writeln!(
                page,
                "<tr class=\"{side_class}\">{step}<td>{side}</td><td>{time}</td><td>{pods}</td><td>{avail}</td><td>{created}</td><td>{scaled}</td><td>{revs}</td><td>{conds}</td></tr>",
                side_class = super::twin::side_value(side),
                step = if first {
                    format!("<td rowspan=\"2\">{} {}</td>", i + 1, escape(&step.step))
                } else {
                    String::new()
                },
                side = side.label(),
                time = match (s.seconds, &s.failed) {
                    (Some(t), _) => format!("{t:.2} s"),
                    (None, Some(why)) => format!("failed: {}", escape(why)),
                    _ => "-".to_owned(),
                },
                pods = s.most_pods,
                avail = s.fewest_available.map_or("-".to_owned(), |a| a.to_string()),
                created = s.sets_created,
                scaled = s.sets_scaled,
                revs = revisions.join(", "),
                conds = conditions.join("<br>"),
            );
        }
    }
    page.push_str("</tbody></table></section>\n<section id=\"scaling\"><h2>Scaling, step by step</h2><table><thead><tr><th>step</th><th>built-in</th><th>minik8s</th></tr></thead><tbody>\n");
    for (i, step) in summary.steps.iter().enumerate() {
        let [b, m] = step.sides.each_ref().map(|s| s.scaling.join(", "));
        let _ = writeln!(
            page,
            "<tr><td>{} {}</td><td>{}</td><td>{}</td></tr>",
            i + 1,
            escape(&step.step),
            escape(&b),
            escape(&m)
        );
    }
    page.push_str("</tbody></table></section>\n<section id=\"events\"><h2>Events, in the order observed</h2><table><thead><tr><th>time</th><th>side</th><th>object</th><th>reason</th><th>message</th></tr></thead><tbody>\n");
    let sides = super::timeline::sides(recording);
    for entry in &recording.entries {
        if let Fact::Event(e) = &entry.fact {
            let Some(side) = sides.get(&e.about) else {
                continue;
            };
            let _ = writeln!(
                page,
                "<tr class=\"{}\"><td>{:.3} s</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                if e.type_ == "Warning" { "warning" } else { "" },
                entry.t_ms as f64 / 1000.0,
                side.label(),
                escape(&e.object),
                escape(&e.reason),
                escape(&e.message)
            );
        }
    }
    // The only script: it marks the page as drawn, for tools that check it loaded.
    page.push_str("</tbody></table></section>\n<script>document.body.dataset.charts = document.querySelectorAll('#charts svg').length;</script>\n</body></html>\n");
    Ok(page)
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#222}\
h1{font-size:22px}h2{font-size:18px;margin-top:28px}svg{display:block;margin:8px 0}\
table{border-collapse:collapse;font-size:13px;width:100%}td,th{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}td:nth-child(-n+3){white-space:nowrap}td{overflow-wrap:anywhere}\
th{background:#f4f4f4}tr.warning td{color:#b71c1c}.same{color:#1b5e20}.differ li{color:#b71c1c}code{background:#f4f4f4;padding:1px 4px}";

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_is_self_contained_with_four_charts() {
        let recording = crate::compare::summary::tests::rollout(|_, _| {});
        let summary = crate::compare::summarize(&recording);
        let page = super::html(&recording, &summary).unwrap();
        std::fs::write("/tmp/report-test.html", &page).unwrap();
        assert_eq!(page.matches("<svg").count(), 4);
        assert!(
            !page.contains("http://")
                || page.matches("http://").count()
                    == page.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
        );
        assert!(!page.contains("https://"));
        assert!(page.contains("<p class=\"same\">None"));
        // The sets' areas and the pods' lines are drawn.
        assert!(page.contains("<polygon") || page.contains("<path"));
        assert!(page.contains("<polyline"));
        assert!(page.contains("rev2\n</text>"), "the legend names the sets");
        assert!(page.contains("ScalingReplicaSet"));
    }

    #[test]
    fn sets_stack_on_one_another() {
        let sets = vec![
            ("rev1".to_owned(), vec![(0.0, 2.0), (1.0, 2.0), (1.0, 1.0)]),
            ("rev2".to_owned(), vec![(0.5, 0.0), (0.5, 1.0)]),
        ];
        let levels = super::stack(&sets);
        assert_eq!(
            levels[0],
            [(0.0, 2.0), (0.5, 2.0), (0.5, 2.0), (1.0, 2.0), (1.0, 1.0)]
        );
        assert_eq!(
            levels[1],
            [(0.0, 2.0), (0.5, 2.0), (0.5, 3.0), (1.0, 3.0), (1.0, 2.0)]
        );
    }
}

//! What a recording says: per step and side, how long it took and what happened; and the
//! differences a user would see between the two twins. Pure: a recording in, a summary out.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::steps::Step;
use super::timeline::{
    Condition, EndpointsState, Entry, Fact, PodState, Recording, SetState, TopState,
};
use super::twin::{Side, Workload};

/// The state of both sides at one moment of a recording, rebuilt entry by entry.
pub struct Replay<'a> {
    sides: HashMap<String, Side>,
    workload: Option<Workload>,
    /// A service's selector: the pods it selects belong to both sides.
    selector: Option<BTreeMap<String, String>>,
    pub tops: [Option<&'a TopState>; 2],
    pub sets: [BTreeMap<&'a str, &'a SetState>; 2],
    pub pods: [BTreeMap<&'a str, &'a PodState>; 2],
    pub endpoints: [Option<&'a EndpointsState>; 2],
}

/// The sides an entry concerns.
#[derive(Clone, Copy, Default)]
pub struct Touched([bool; 2]);

impl Touched {
    fn one(side: Side) -> Self {
        let mut t = Touched::default();
        t.0[side.index()] = true;
        t
    }

    pub fn sides(self) -> impl Iterator<Item = Side> {
        Side::BOTH.into_iter().filter(move |s| self.0[s.index()])
    }
}

impl<'a> Replay<'a> {
    pub fn new(recording: &Recording) -> Self {
        let selector = recording.entries.iter().find_map(|e| match &e.fact {
            Fact::Top(t) if recording.workload == Some(Workload::Service) => {
                super::timeline::selector_of(t)
            }
            _ => None,
        });
        Replay {
            sides: super::timeline::sides(recording),
            workload: recording.workload,
            selector,
            tops: [None, None],
            sets: Default::default(),
            pods: Default::default(),
            endpoints: [None, None],
        }
    }

    /// Both sides as the recording leaves them.
    pub fn at_end(recording: &'a Recording) -> Self {
        let mut replay = Replay::new(recording);
        for entry in &recording.entries {
            replay.apply(entry);
        }
        replay
    }

    /// Applies one entry; returns the sides it concerns.
    pub fn apply(&mut self, entry: &'a Entry) -> Touched {
        match &entry.fact {
            Fact::Top(t) => {
                self.tops[t.side.index()] = Some(t);
                Touched::one(t.side)
            }
            Fact::Set(s) => {
                let Some(&side) = self.sides.get(&s.uid) else {
                    return Touched::default();
                };
                if s.gone {
                    self.sets[side.index()].remove(s.uid.as_str());
                } else {
                    self.sets[side.index()].insert(&s.uid, s);
                }
                Touched::one(side)
            }
            Fact::Pod(p) => {
                let touched = match self.sides.get(&p.uid) {
                    Some(&side) => Touched::one(side),
                    None if self.selects(p) => Touched([true; 2]),
                    None => return Touched::default(),
                };
                for side in touched.sides() {
                    if p.gone {
                        self.pods[side.index()].remove(p.uid.as_str());
                    } else {
                        self.pods[side.index()].insert(&p.uid, p);
                    }
                }
                touched
            }
            Fact::Event(e) => self
                .sides
                .get(&e.about)
                .map_or_else(Touched::default, |&side| Touched::one(side)),
            Fact::Endpoints(e) => {
                self.endpoints[e.side.index()] = (!e.gone).then_some(e);
                Touched::one(e.side)
            }
        }
    }

    fn selects(&self, pod: &PodState) -> bool {
        self.selector
            .as_ref()
            .is_some_and(|selector| selector.iter().all(|(k, v)| pod.labels.get(k) == Some(v)))
    }

    /// Pods that exist and are not terminating.
    pub fn pods_total(&self, side: Side) -> usize {
        self.pods[side.index()]
            .values()
            .filter(|p| !p.terminating)
            .count()
    }

    pub fn pods_ready(&self, side: Side) -> usize {
        self.pods[side.index()]
            .values()
            .filter(|p| p.ready && !p.terminating)
            .count()
    }

    /// Available replicas from the top object's status; for a service, its ready addresses.
    pub fn available(&self, side: Side) -> Option<i32> {
        if self.workload == Some(Workload::Service) {
            return self.endpoints[side.index()].map(|e| e.ready.len() as i32);
        }
        self.tops[side.index()].map(|t| t.available)
    }

    /// Replicas wanted; for a service, the pods it selects.
    pub fn desired(&self, side: Side) -> Option<i32> {
        if self.workload == Some(Workload::Service) {
            return Some(self.pods_total(side) as i32);
        }
        self.tops[side.index()].map(|t| t.desired)
    }

    /// The sum of the sets' `spec.replicas`: what a deployment bounds by maxSurge.
    pub fn sets_desired(&self, side: Side) -> i32 {
        self.sets[side.index()].values().map(|s| s.desired).sum()
    }
}

/// How a set is named in sequences and charts: by revision, which both sides share.
pub fn set_label(workload: Option<Workload>, set: &SetState) -> String {
    match (workload, set.revision) {
        (Some(Workload::ReplicaSet), _) => "pods".to_owned(),
        (Some(Workload::Service), _) => set.name.clone(),
        (_, Some(r)) => format!("rev{r}"),
        (_, None) => set.name.clone(),
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct SideStep {
    /// Seconds from the step's start until this side completed it.
    pub seconds: Option<f64>,
    pub failed: Option<String>,
    pub most_pods: usize,
    pub fewest_available: Option<i32>,
    pub sets_created: usize,
    pub sets_scaled: usize,
    /// Revisions of the sets that exist when the step ends.
    pub revisions: Vec<i64>,
    /// Conditions of the top object when the step ends.
    pub conditions: Vec<Condition>,
    /// Every condition the top object showed during the step.
    pub conditions_reached: BTreeSet<Condition>,
    pub event_reasons: BTreeSet<String>,
    /// Each change of a set's `spec.replicas`, in order: `rev2 0→1`.
    pub scaling: Vec<String>,
    /// Bounds crossed during the step, in words.
    pub crossed: Vec<String>,
    /// A service's Endpoints (MiniEndpoints) when the step ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<EndpointsState>,
}

#[derive(Clone, Debug, Serialize)]
pub struct StepSummary {
    pub step: String,
    pub sides: [SideStep; 2],
}

/// What each side ends with.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FinalState {
    pub desired: i32,
    pub replicas: i32,
    pub updated: i32,
    pub ready: i32,
    pub available: i32,
    pub conditions: Vec<Condition>,
    /// (revision, image, spec.replicas) of each set, by revision.
    pub sets: Vec<(Option<i64>, String, i32)>,
    pub pods: usize,
    /// A pod compared with its twin: the node it was bound to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// A service's Endpoints (MiniEndpoints).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<EndpointsState>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub steps: Vec<StepSummary>,
    pub final_state: [FinalState; 2],
    /// How often each event reason was seen, per side.
    pub event_reasons: [BTreeMap<String, usize>; 2],
    /// Everything a user would see differ, in words; empty when the twins behaved alike.
    pub differences: Vec<String>,
}

pub fn summarize(recording: &Recording) -> Summary {
    let mut replay = Replay::new(recording);
    let mut entries = recording.entries.iter().peekable();
    let mut steps = Vec::new();
    let mut event_reasons: [BTreeMap<String, usize>; 2] = Default::default();
    let mut bounds = [Bounds::default(); 2];
    let mut seen_sets: [BTreeMap<String, i32>; 2] = Default::default();
    for (i, record) in recording.steps.iter().enumerate() {
        let end = recording
            .steps
            .get(i + 1)
            .map_or(recording.end_ms, |next| next.start_ms);
        // A step's window is (start, end]: what was seen in the millisecond a step's write
        // was made cannot be its effect (for existing objects, the initial lists end there).
        while let Some(entry) = entries.next_if(|e| e.t_ms <= record.start_ms) {
            replay.apply(entry);
            note_sets(&replay, &mut seen_sets);
        }
        if matches!(record.step, Step::DeletePods { .. }) {
            for b in &mut bounds {
                b.settled = None;
            }
        }
        // Watches of different kinds are not ordered with one another: a set may be seen
        // scaled before the change to `replicas` that caused it. The bounds therefore allow
        // every `replicas` the top object shows during the step, from the start on.
        let window = recording
            .entries
            .iter()
            .filter(|e| e.t_ms > record.start_ms && e.t_ms <= end);
        let mut range = Side::BOTH.map(|side| replay.desired(side).map(|d| (d, d)));
        for entry in window {
            if let Fact::Top(t) = &entry.fact {
                let r = &mut range[t.side.index()];
                *r = Some(r.map_or((t.desired, t.desired), |(lo, hi)| {
                    (lo.min(t.desired), hi.max(t.desired))
                }));
            }
        }
        for side in Side::BOTH {
            bounds[side.index()].desired_range = range[side.index()];
        }
        let mut sides: [SideStep; 2] = Default::default();
        for side in Side::BOTH {
            let s = &mut sides[side.index()];
            s.most_pods = replay.pods_total(side);
            s.fewest_available = replay.available(side);
            if let Some(top) = replay.tops[side.index()] {
                s.conditions_reached.extend(top.conditions.iter().cloned());
            }
        }
        while let Some(entry) = entries.next_if(|e| e.t_ms <= end) {
            for side in replay.apply(entry).sides() {
                let s = &mut sides[side.index()];
                match &entry.fact {
                    Fact::Event(e) if keeps_its_own_service(recording.workload, e) => {}
                    Fact::Event(e) => {
                        s.event_reasons.insert(e.reason.clone());
                        *event_reasons[side.index()]
                            .entry(e.reason.clone())
                            .or_default() += 1;
                    }
                    Fact::Top(t) => s.conditions_reached.extend(t.conditions.iter().cloned()),
                    Fact::Set(set) if !set.gone => {
                        let known = &mut seen_sets[side.index()];
                        match known.insert(set.uid.clone(), set.desired) {
                            None => {
                                s.sets_created += 1;
                                if set.desired > 0 {
                                    let label = set_label(recording.workload, set);
                                    s.scaling.push(format!("{label} 0→{}", set.desired));
                                }
                            }
                            Some(before) if before != set.desired => {
                                s.sets_scaled += 1;
                                let label = set_label(recording.workload, set);
                                s.scaling.push(format!("{label} {before}→{}", set.desired));
                            }
                            Some(_) => {}
                        }
                    }
                    _ => {}
                }
                s.most_pods = s.most_pods.max(replay.pods_total(side));
                if let Some(available) = replay.available(side) {
                    s.fewest_available =
                        Some(s.fewest_available.map_or(available, |f| f.min(available)));
                }
                check_bounds(
                    recording.workload,
                    &replay,
                    side,
                    entry.t_ms,
                    &mut bounds[side.index()],
                    s,
                );
            }
        }
        for side in Side::BOTH {
            let s = &mut sides[side.index()];
            s.seconds = record.done_ms[side.index()]
                .map(|done| done.saturating_sub(record.start_ms) as f64 / 1000.0);
            s.failed = record.failed[side.index()].clone();
            let mut revisions: Vec<i64> = replay.sets[side.index()]
                .values()
                .filter_map(|s| s.revision)
                .collect();
            revisions.sort();
            s.revisions = revisions;
            s.conditions = replay.tops[side.index()]
                .map(|t| t.conditions.clone())
                .unwrap_or_default();
            s.endpoints = replay.endpoints[side.index()].cloned();
            if record.step == Step::Wait && s.seconds.is_some() {
                bounds[side.index()].settled = replay.desired(side);
            }
        }
        steps.push(StepSummary {
            step: record.step.to_string(),
            sides,
        });
    }
    for entry in entries {
        replay.apply(entry);
    }
    let final_state = Side::BOTH.map(|side| final_state(&replay, side));
    let mut summary = Summary {
        steps,
        final_state,
        event_reasons,
        differences: Vec::new(),
    };
    summary.differences = differences(recording, &summary);
    summary
}

/// An event about the Service a MiniService's controller keeps for it (`mini-NAME`), which the
/// built-in Service has no counterpart of: left out of the comparison (the report lists it).
fn keeps_its_own_service(workload: Option<Workload>, e: &super::timeline::EventFact) -> bool {
    workload == Some(Workload::Service)
        && e.object.starts_with("MiniService/")
        && (e.message.starts_with("Created Service: ")
            || matches!(
                e.reason.as_str(),
                "FailedToCreateService" | "FailedToUpdateService"
            ))
}

fn note_sets(replay: &Replay, seen: &mut [BTreeMap<String, i32>; 2]) {
    for side in Side::BOTH {
        for set in replay.sets[side.index()].values() {
            seen[side.index()].insert(set.uid.clone(), set.desired);
        }
    }
}

/// A deployment keeps its sets' replicas within `replicas + maxSurge` and its available pods
/// at or above `replicas − maxUnavailable`; a set alone keeps its pods within `replicas`.
/// While a step changes `replicas`, the looser value applies: the higher one for the surge,
/// for availability the one the side last settled at, if lower.
/// What the bounds of one side are measured against.
#[derive(Clone, Copy, Default)]
struct Bounds {
    /// The least and most `replicas` the top object shows from the step's start to its end.
    desired_range: Option<(i32, i32)>,
    /// Availability is bounded once a side has settled (a completed wait), at the replicas it
    /// settled at or fewer; deleting pods on purpose lifts the bound until the next wait.
    settled: Option<i32>,
    /// Whether the side is outside a bound (surge, availability) right now: a crossing is
    /// reported once, when it begins.
    outside: [bool; 2],
}

fn check_bounds(
    workload: Option<Workload>,
    replay: &Replay,
    side: Side,
    t_ms: u64,
    bounds: &mut Bounds,
    s: &mut SideStep,
) {
    let Bounds {
        desired_range,
        settled,
        ref mut outside,
    } = *bounds;
    let Some(top) = replay.tops[side.index()] else {
        return;
    };
    let (low_desired, high) = desired_range.unwrap_or((top.desired, top.desired));
    let at = format!("at {:.1} s", t_ms as f64 / 1000.0);
    let mut report = |i: usize, crossed: Option<String>| {
        if let Some(message) = &crossed
            && !outside[i]
        {
            s.crossed.push(message.clone());
        }
        outside[i] = crossed.is_some();
    };
    match workload {
        Some(Workload::Pod | Workload::Service) => {}
        Some(Workload::ReplicaSet) => {
            let pods = replay.pods_total(side) as i32;
            report(
                0,
                (pods > high).then(|| format!("{pods} pods {at}, above replicas {high}")),
            );
        }
        _ => {
            let total = replay.sets_desired(side);
            report(
                0,
                (total > high + top.max_surge).then(|| {
                    format!(
                        "sets' replicas summed to {total} {at}, above replicas + maxSurge = {high} + {}",
                        top.max_surge
                    )
                }),
            );
            let low = settled.map(|s| s.min(low_desired));
            let short = low.filter(|low| {
                top.observed_generation >= top.generation
                    && top.available < low - top.max_unavailable
            });
            report(
                1,
                short.map(|low| {
                    format!(
                        "{} available {at}, below replicas − maxUnavailable = {low} − {}",
                        top.available, top.max_unavailable
                    )
                }),
            );
        }
    }
}

fn final_state(replay: &Replay, side: Side) -> FinalState {
    let Some(top) = replay.tops[side.index()] else {
        return FinalState::default();
    };
    let mut sets: Vec<(Option<i64>, String, i32)> = replay.sets[side.index()]
        .values()
        .map(|s| (s.revision, s.image.clone(), s.desired))
        .collect();
    sets.sort();
    FinalState {
        desired: top.desired,
        replicas: top.replicas,
        updated: top.updated,
        ready: top.ready,
        available: top.available,
        conditions: top.conditions.clone(),
        sets,
        pods: replay.pods_total(side),
        node: top.node.clone(),
        endpoints: replay.endpoints[side.index()].cloned(),
    }
}

/// The differences between the sides. Timing-dependent details (how many scaling steps a
/// rollout took, what a set held at a moment between waits) are left out: they differ between
/// two runs of the same controller. What is compared is settled: each stretch of steps up to
/// a `wait` (sets created, revisions, conditions reached), the event reasons, the final state,
/// and any bound crossed.
pub fn differences(recording: &Recording, summary: &Summary) -> Vec<String> {
    let mut out = Vec::new();
    let [b, m] = [Side::Builtin, Side::Minik8s].map(Side::label);
    for (i, step) in summary.steps.iter().enumerate() {
        let name = format!("step {} ({})", i + 1, step.step);
        for side in Side::BOTH {
            let s = &step.sides[side.index()];
            if let Some(why) = &s.failed {
                out.push(format!(
                    "{name}: {} did not complete it: {why}",
                    side.label()
                ));
            }
            for crossed in &s.crossed {
                out.push(format!("{name}: {}: {crossed}", side.label()));
            }
        }
    }
    let mut first = 0;
    for (i, record) in recording.steps.iter().enumerate() {
        let last = i + 1 == recording.steps.len();
        if record.step != Step::Wait && !last {
            continue;
        }
        let stretch = &summary.steps[first..=i];
        let name = if first == i {
            format!("step {} ({})", i + 1, stretch[0].step)
        } else {
            let steps: Vec<&str> = stretch.iter().map(|s| s.step.as_str()).collect();
            format!("steps {}–{} ({})", first + 1, i + 1, steps.join(", "))
        };
        first = i + 1;
        let per_side = |f: &dyn Fn(&SideStep) -> String| {
            Side::BOTH.map(|side| {
                let parts: Vec<String> =
                    stretch.iter().map(|s| f(&s.sides[side.index()])).collect();
                parts.join(" ")
            })
        };
        let created = per_side(&|s| s.sets_created.to_string());
        let created_total = Side::BOTH.map(|side| {
            stretch
                .iter()
                .map(|s| s.sides[side.index()].sets_created)
                .sum::<usize>()
        });
        if created_total[0] != created_total[1] {
            out.push(format!(
                "{name}: sets created: {b} {}, {m} {} (per step {} vs {})",
                created_total[0], created_total[1], created[0], created[1]
            ));
        }
        let end = &stretch[stretch.len() - 1].sides;
        if end[0].revisions != end[1].revisions {
            out.push(format!(
                "{name}: revisions at the end: {b} {:?}, {m} {:?}",
                end[0].revisions, end[1].revisions
            ));
        }
        let reached = Side::BOTH.map(|side| {
            stretch
                .iter()
                .flat_map(|s| s.sides[side.index()].conditions_reached.iter().cloned())
                .collect::<BTreeSet<Condition>>()
        });
        for c in reached[0].symmetric_difference(&reached[1]) {
            let who = if reached[0].contains(c) { b } else { m };
            out.push(format!("{name}: only {who} reached condition {c}"));
        }
        if let [Some(eb), Some(em)] = [&end[0].endpoints, &end[1].endpoints] {
            out.extend(endpoint_differences(&name, eb, em));
        }
        if end[0].conditions != end[1].conditions {
            out.push(format!(
                "{name}: conditions at the end: {b} [{}], {m} [{}]",
                join(&end[0].conditions),
                join(&end[1].conditions)
            ));
        }
    }
    let reasons = summary
        .event_reasons
        .each_ref()
        .map(|r| r.keys().collect::<BTreeSet<_>>());
    for reason in reasons[0].symmetric_difference(&reasons[1]) {
        let who = if reasons[0].contains(reason) { b } else { m };
        out.push(format!("events: only {who} emitted {reason}"));
    }
    if let [Some(tb), Some(tm)] = final_tops(recording) {
        for key in tb
            .spec
            .keys()
            .chain(tm.spec.keys())
            .collect::<BTreeSet<_>>()
        {
            let [vb, vm] =
                [&tb.spec, &tm.spec].map(|s| s.get(key).map_or("(none)", String::as_str));
            if vb != vm {
                out.push(format!("spec: {key}: {b} {vb}, {m} {vm}"));
            }
        }
    }
    let [fb, fm] = &summary.final_state;
    // Which node is not compared: both schedulers break ties between equal nodes at random.
    if recording.workload == Some(Workload::Pod) && fb.node.is_some() != fm.node.is_some() {
        let placed = |f: &FinalState| {
            f.node
                .as_ref()
                .map_or("not scheduled".to_owned(), |n| format!("bound to {n}"))
        };
        out.push(format!(
            "scheduling: {b} {}, {m} {}",
            placed(fb),
            placed(fm)
        ));
    }
    if let [Some(eb), Some(em)] = [&fb.endpoints, &fm.endpoints] {
        out.extend(endpoint_differences("final endpoints", eb, em));
    } else if fb.endpoints.is_some() != fm.endpoints.is_some() {
        let has = |f: &FinalState| {
            if f.endpoints.is_some() {
                "has endpoints"
            } else {
                "has none"
            }
        };
        out.push(format!("final endpoints: {b} {}, {m} {}", has(fb), has(fm)));
    }
    let counts = |f: &FinalState| {
        format!(
            "replicas {}/{} updated {} ready {} available {}, {} pods",
            f.replicas, f.desired, f.updated, f.ready, f.available, f.pods
        )
    };
    if counts(fb) != counts(fm) {
        out.push(format!(
            "final state: {b} {}; {m} {}",
            counts(fb),
            counts(fm)
        ));
    }
    if fb.sets != fm.sets {
        let sets = |f: &FinalState| {
            let s: Vec<String> = f
                .sets
                .iter()
                .map(|(r, image, n)| match r {
                    Some(r) => format!("rev{r} {image} ×{n}"),
                    None => format!("{image} ×{n}"),
                })
                .collect();
            s.join(", ")
        };
        out.push(format!(
            "final sets: {b} [{}]; {m} [{}]",
            sets(fb),
            sets(fm)
        ));
    }
    if fb.conditions != fm.conditions {
        out.push(format!(
            "final conditions: {b} [{}]; {m} [{}]",
            join(&fb.conditions),
            join(&fm.conditions)
        ));
    }
    out
}

/// What differs between two sides' addresses: ready, not ready, ports.
fn endpoint_differences(at: &str, b: &EndpointsState, m: &EndpointsState) -> Vec<String> {
    let mut out = Vec::new();
    for (what, left, right) in [
        ("ready addresses", &b.ready, &m.ready),
        ("not-ready addresses", &b.not_ready, &m.not_ready),
        ("ports", &b.ports, &m.ports),
    ] {
        if left != right {
            out.push(format!(
                "{at}: {what}: built-in [{}], minik8s [{}]",
                left.join(", "),
                right.join(", ")
            ));
        }
    }
    out
}

/// Each side's top object as last recorded.
fn final_tops(recording: &Recording) -> [Option<&TopState>; 2] {
    let mut tops = [None, None];
    for entry in &recording.entries {
        if let Fact::Top(t) = &entry.fact {
            tops[t.side.index()] = Some(t);
        }
    }
    tops
}

fn join(conditions: &[Condition]) -> String {
    let c: Vec<String> = conditions.iter().map(Condition::to_string).collect();
    c.join(", ")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::compare::timeline::{EventFact, StepRecord};

    /// A recorded rolling update of 2 replicas (maxSurge 1, maxUnavailable 0) from rev1 to
    /// rev2, the same on both sides unless `edit` changes one.
    pub(crate) fn rollout(edit: impl Fn(Side, &mut Vec<Entry>)) -> Recording {
        let mut entries = Vec::new();
        for side in Side::BOTH {
            let top_uid = format!("{side:?}-top");
            let top =
                |t_ms, generation, observed, replicas, updated, available, reason: &str| Entry {
                    t_ms,
                    fact: Fact::Top(TopState {
                        side,
                        uid: top_uid.clone(),
                        generation,
                        observed_generation: observed,
                        desired: 2,
                        max_surge: 1,
                        max_unavailable: 0,
                        replicas,
                        updated,
                        ready: available,
                        available,
                        conditions: vec![Condition {
                            type_: "Progressing".into(),
                            status: "True".into(),
                            reason: reason.into(),
                        }],
                        ..TopState::default()
                    }),
                };
            let set = |t_ms, rev: i64, desired| Entry {
                t_ms,
                fact: Fact::Set(SetState {
                    uid: format!("{side:?}-rev{rev}"),
                    name: format!("web-{rev}"),
                    owner: Some(top_uid.clone()),
                    revision: Some(rev),
                    image: format!("app:v{rev}"),
                    desired,
                    ..SetState::default()
                }),
            };
            let pod = |t_ms, n: u32, rev: i64, ready, gone| Entry {
                t_ms,
                fact: Fact::Pod(PodState {
                    uid: format!("{side:?}-pod{n}"),
                    name: format!("pod{n}"),
                    owner: Some(format!("{side:?}-rev{rev}")),
                    scheduled: true,
                    ready,
                    terminating: false,
                    gone,
                    ..PodState::default()
                }),
            };
            let event = |t_ms, reason: &str| Entry {
                t_ms,
                fact: Fact::Event(EventFact {
                    about: top_uid.clone(),
                    object: "Deployment/web".into(),
                    reason: reason.into(),
                    message: String::new(),
                    type_: "Normal".into(),
                }),
            };
            let mut side_entries = vec![
                top(10, 1, 1, 0, 0, 0, "NewReplicaSetCreated"),
                set(11, 1, 2),
                event(12, "ScalingReplicaSet"),
                pod(20, 1, 1, true, false),
                pod(21, 2, 1, true, false),
                top(30, 1, 1, 2, 2, 2, "NewReplicaSetAvailable"),
                // step 3 (image) starts at 1000
                top(1010, 2, 2, 2, 0, 2, "ReplicaSetUpdated"),
                set(1011, 2, 1),
                pod(1020, 3, 2, true, false),
                set(1030, 1, 1),
                pod(1031, 1, 1, false, true),
                set(1040, 2, 2),
                pod(1050, 4, 2, true, false),
                set(1060, 1, 0),
                pod(1061, 2, 1, false, true),
                top(1070, 2, 2, 2, 2, 2, "NewReplicaSetAvailable"),
            ];
            edit(side, &mut side_entries);
            entries.extend(side_entries);
        }
        entries.sort_by_key(|e| e.t_ms);
        let step = |step: Step, start_ms, done| StepRecord {
            step,
            start_ms,
            done_ms: [Some(done), Some(done)],
            failed: [None, None],
        };
        Recording {
            namespace: "ns".into(),
            names: ["web".into(), "web".into()],
            workload: Some(Workload::Deployment),
            steps: vec![
                step(Step::Create, 0, 10),
                step(Step::Wait, 15, 30),
                step(
                    Step::Image {
                        container: "app".into(),
                        image: "app:v2".into(),
                    },
                    1000,
                    1010,
                ),
                step(Step::Wait, 1015, 1070),
            ],
            entries,
            end_ms: 2000,
        }
    }

    #[test]
    fn alike_twins_have_no_differences() {
        let summary = summarize(&rollout(|_, _| {}));
        assert_eq!(summary.differences, Vec::<String>::new());
        let image = &summary.steps[2].sides[1];
        assert_eq!(image.seconds, Some(0.01));
        let wait = &summary.steps[3].sides[0];
        assert_eq!(wait.most_pods, 3);
        assert_eq!(wait.fewest_available, Some(2));
        assert_eq!(wait.revisions, vec![1, 2]);
        let scaling: Vec<&str> = summary.steps[2].sides[0]
            .scaling
            .iter()
            .chain(&wait.scaling)
            .map(String::as_str)
            .collect();
        assert_eq!(scaling, ["rev2 0→1", "rev1 2→1", "rev2 1→2", "rev1 1→0"]);
        assert_eq!(summary.final_state[0].sets.len(), 2);
        assert_eq!(summary.event_reasons[1]["ScalingReplicaSet"], 1);
    }

    #[test]
    fn a_surge_past_the_bound_and_an_extra_set_are_differences() {
        let recording = rollout(|side, entries| {
            if side == Side::Minik8s {
                // Both sets at 2: 4 replicas, above 2 + maxSurge 1; and a third set.
                let mut surge = entries[7].clone();
                surge.t_ms = 1012;
                if let Fact::Set(s) = &mut surge.fact {
                    s.desired = 2;
                }
                entries.push(surge);
                let mut extra = entries[7].clone();
                if let Fact::Set(s) = &mut extra.fact {
                    s.uid = "extra".into();
                    s.revision = Some(3);
                    s.desired = 0;
                }
                entries.push(extra);
            }
        });
        let summary = summarize(&recording);
        assert_eq!(
            summary.differences,
            [
                "step 3 (image app=app:v2): minik8s: sets' replicas summed to 4 at 1.0 s, above replicas + maxSurge = 2 + 1",
                "steps 3–4 (image app=app:v2, wait): sets created: built-in 1, minik8s 2 (per step 1 0 vs 2 0)",
                "steps 3–4 (image app=app:v2, wait): revisions at the end: built-in [1, 2], minik8s [1, 2, 3]",
                "final sets: built-in [rev1 app:v1 ×0, rev2 app:v2 ×2]; minik8s [rev1 app:v1 ×0, rev2 app:v2 ×2, rev3 app:v2 ×0]",
            ]
        );
    }

    #[test]
    fn condition_and_event_reasons_only_one_side_reached_are_differences() {
        let recording = rollout(|side, entries| {
            if side == Side::Minik8s {
                if let Fact::Top(t) = &mut entries[15].fact {
                    t.spec
                        .insert("strategy.rollingUpdate.maxSurge".into(), "2".into());
                }
                if let Fact::Top(t) = &mut entries[5].fact {
                    t.conditions[0].reason = "Stalled".into();
                }
                entries.retain(|e| !matches!(&e.fact, Fact::Event(_)));
            }
        });
        let differences = summarize(&recording).differences;
        assert_eq!(
            differences,
            [
                "steps 1–2 (create, wait): only built-in reached condition Progressing=True (NewReplicaSetAvailable)",
                "steps 1–2 (create, wait): only minik8s reached condition Progressing=True (Stalled)",
                "steps 1–2 (create, wait): conditions at the end: built-in [Progressing=True (NewReplicaSetAvailable)], minik8s [Progressing=True (Stalled)]",
                "steps 3–4 (image app=app:v2, wait): only minik8s reached condition Progressing=True (Stalled)",
                "events: only built-in emitted ScalingReplicaSet",
                "spec: strategy.rollingUpdate.maxSurge: built-in (none), minik8s 2",
            ]
        );
    }

    #[test]
    fn a_side_that_does_not_finish_a_step_is_a_difference() {
        let mut recording = rollout(|_, _| {});
        recording.steps[3].done_ms[1] = None;
        recording.steps[3].failed[1] = Some("timed out after 3m".into());
        let summary = summarize(&recording);
        assert_eq!(summary.steps[3].sides[1].seconds, None);
        assert_eq!(
            summary.differences,
            ["step 4 (wait): minik8s did not complete it: timed out after 3m"]
        );
    }

    #[test]
    fn availability_below_the_bound_after_a_wait_is_crossed_but_not_after_deleting_pods() {
        let dip = |side: Side, entries: &mut Vec<Entry>| {
            if side == Side::Builtin {
                let mut low = entries[5].clone();
                low.t_ms = 1012;
                if let Fact::Top(t) = &mut low.fact {
                    t.generation = 2;
                    t.observed_generation = 2;
                    t.available = 1;
                }
                entries.push(low);
            }
        };
        let summary = summarize(&rollout(dip));
        assert_eq!(
            summary.steps[2].sides[0].crossed,
            ["1 available at 1.0 s, below replicas − maxUnavailable = 2 − 0"]
        );
        let mut deleted = rollout(dip);
        deleted.steps[2].step = Step::DeletePods { count: 1 };
        assert!(summarize(&deleted).steps[2].sides[0].crossed.is_empty());
    }

    #[test]
    fn endpoints_that_differ_are_named_and_the_miniservices_own_service_is_not_compared() {
        let endpoints = |ready: &[&str]| EndpointsState {
            ready: ready.iter().map(|s| s.to_string()).collect(),
            ports: vec!["http/8080/TCP".into()],
            ..EndpointsState::default()
        };
        assert_eq!(
            endpoint_differences(
                "step 2 (wait)",
                &endpoints(&["10.0.0.1", "10.0.0.2"]),
                &endpoints(&["10.0.0.1"])
            ),
            ["step 2 (wait): ready addresses: built-in [10.0.0.1, 10.0.0.2], minik8s [10.0.0.1]"]
        );
        assert!(endpoint_differences("x", &endpoints(&["a"]), &endpoints(&["a"])).is_empty());
        let event = |object: &str, reason: &str, message: &str| EventFact {
            about: String::new(),
            object: object.into(),
            reason: reason.into(),
            message: message.into(),
            type_: "Normal".into(),
        };
        let own = event(
            "MiniService/web",
            "SuccessfulCreate",
            "Created Service: mini-web",
        );
        assert!(keeps_its_own_service(Some(Workload::Service), &own));
        assert!(!keeps_its_own_service(Some(Workload::Deployment), &own));
        let other = event("MiniEndpoints/web", "FailedToUpdateEndpoint", "conflict");
        assert!(!keeps_its_own_service(Some(Workload::Service), &other));
    }

    #[test]
    fn a_set_seen_scaled_before_its_deployment_is_within_the_bounds() {
        // The set's watch delivers the scale-up to 4 before the deployment's shows replicas 4.
        let recording = rollout(|side, entries| {
            if side == Side::Minik8s {
                let mut set = entries[1].clone();
                set.t_ms = 1004;
                if let Fact::Set(s) = &mut set.fact {
                    s.desired = 4;
                }
                let mut top = entries[6].clone();
                top.t_ms = 1006;
                if let Fact::Top(t) = &mut top.fact {
                    t.desired = 4;
                }
                entries.extend([set, top]);
            }
        });
        let summary = summarize(&recording);
        assert!(
            summary.steps[2].sides[1].crossed.is_empty(),
            "{:?}",
            summary.steps[2].sides[1].crossed
        );
    }

    #[test]
    fn what_was_seen_in_the_millisecond_a_step_began_predates_it() {
        // Recording existing objects: the initial list of sets ends in the step's first
        // millisecond; those sets were not created by the step.
        let mut recording = rollout(|_, _| {});
        recording.steps[0].start_ms = 11;
        let summary = summarize(&recording);
        assert_eq!(summary.steps[0].sides[0].sets_created, 0);
        assert_eq!(summary.differences, Vec::<String>::new());
    }
}

//! Property tests for the parsers and planners that hostile or unusual input reaches: values
//! that pass admission but sit at the edges (huge percentages, long quantities), orders that
//! must hold for every pair, hashes that must not depend on how a template was written.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use proptest::prelude::*;
use serde_json::json;

use crate::api::deployment::RollingUpdateDeployment;
use crate::api::quantity::Quantity;
use crate::controllers::deployment::util::{MAX_SCALED, fenceposts, scaled_value, template_hash};
use crate::controllers::ranking::{Ranked, delete_before, sort_for_deletion};

/// What admission lets through for an int-or-percent field: `[0-9]+%` (any length) or an
/// integer ≥ 0.
fn int_or_percent() -> impl Strategy<Value = IntOrString> {
    prop_oneof![
        (0..=i32::MAX).prop_map(IntOrString::Int),
        "[0-9]{1,30}%".prop_map(IntOrString::String),
        (0u32..=200).prop_map(|p| IntOrString::String(format!("{p}%"))),
    ]
}

proptest! {
    /// A percentage of any size, of any replica count: no overflow, never negative, never
    /// more than [`MAX_SCALED`], at most the total up to 100%, and rounding up adds at most 1.
    #[test]
    fn scaled_values_stay_in_range(value in int_or_percent(), total in 0..=i32::MAX) {
        let up = scaled_value(&value, total, true);
        let down = scaled_value(&value, total, false);
        prop_assert!((0..=MAX_SCALED).contains(&down) && down <= up && up <= MAX_SCALED);
        if let IntOrString::String(s) = &value {
            let percent: u128 = s.trim_end_matches('%').parse().unwrap_or(u128::MAX);
            if percent <= 100 {
                prop_assert!(up <= total, "{s} of {total} gave {up}");
            }
            if up < MAX_SCALED {
                prop_assert!(up - down <= 1);
            }
        }
    }

    /// Rolling bounds for any replicas and any admitted surge/unavailability: both ≥ 0, not
    /// both 0, and `replicas + maxSurge` fits in an i32 (the planners add them).
    #[test]
    fn rolling_bounds_never_overflow(
        surge in int_or_percent(),
        unavailable in int_or_percent(),
        replicas in 0..=1_000_000i32,
    ) {
        let bounds = RollingUpdateDeployment { max_surge: surge, max_unavailable: unavailable };
        let (surge, unavailable) = fenceposts(&bounds, replicas);
        prop_assert!(surge >= 0 && unavailable >= 0 && (surge, unavailable) != (0, 0));
        prop_assert!(replicas.checked_add(surge).is_some());
        prop_assert!(replicas.checked_add(unavailable).is_some());
    }

    /// Any text: parsing does not panic; what parses prints in canonical form that parses back
    /// to the same value, and its scaled values do not panic.
    #[test]
    fn quantities_round_trip_through_their_canonical_form(text in "\\PC{0,24}|[+-]?[0-9]{0,30}(\\.[0-9]{0,12})?([numkMGTPE]|[KMGTPE]i|[eE][+-]?[0-9]{1,3})?") {
        if let Some(q) = Quantity::parse(&text) {
            let canonical = q.canonical();
            prop_assert_eq!(Quantity::parse(&canonical), Some(q), "{} printed as {}", text, canonical);
            for scale in [-9, -3, 0, 3] {
                let _ = q.value_in(scale);
            }
            let _ = q.rounded_up_to_milli();
        }
    }

    /// The pod-template-hash is a function of the template's content only: the order its keys
    /// were written in does not change it; it is a short safe name.
    #[test]
    fn template_hashes_do_not_depend_on_key_order(
        labels in proptest::collection::btree_map("[a-z]{1,8}", "[a-z0-9]{0,8}", 0..6),
        image in "[a-z]{1,10}:[0-9]{1,3}",
        collisions in proptest::option::of(0..100i32),
        seed in any::<u64>(),
    ) {
        let mut pairs: Vec<(String, String)> = labels.into_iter().collect();
        let written = |pairs: &[(String, String)]| {
            let mut labels = serde_json::Map::new();
            for (k, v) in pairs {
                labels.insert(k.clone(), json!(v));
            }
            let template = json!({
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": image}]}
            });
            template.as_object().unwrap().clone()
        };
        let first = template_hash(&written(&pairs), collisions);
        shuffle(&mut pairs, seed);
        prop_assert_eq!(template_hash(&written(&pairs), collisions), first.clone());
        prop_assert!(!first.is_empty() && first.len() <= 10);
        prop_assert!(first.bytes().all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b)));
    }

    /// The scale-down order: no pod goes before itself, two pods are never each before the
    /// other, and sorting keeps every pod.
    #[test]
    fn the_deletion_order_is_a_strict_weak_order_whatever_the_input_order(pods in proptest::collection::vec(pod(), 1..12), seed in any::<u64>()) {
        let now = "2026-06-01T12:00:00Z".parse().unwrap();
        let ranked: Vec<Ranked> = pods.iter().enumerate().map(|(i, pod)| Ranked { pod, rank: i % 3 }).collect();
        for a in &ranked {
            prop_assert!(!delete_before(a, a, now));
            for b in &ranked {
                prop_assert!(!(delete_before(a, b, now) && delete_before(b, a, now)));
            }
        }
        // Transitive, and so is "neither goes first": a strict weak order, which is what
        // sorting needs to give one answer.
        let equivalent = |a: &Ranked, b: &Ranked| !delete_before(a, b, now) && !delete_before(b, a, now);
        for a in &ranked {
            for b in &ranked {
                for c in &ranked {
                    if delete_before(a, b, now) && delete_before(b, c, now) {
                        prop_assert!(delete_before(a, c, now));
                    }
                    if equivalent(a, b) && equivalent(b, c) {
                        prop_assert!(equivalent(a, c));
                    }
                }
            }
        }
        let sorted_from = |seed: u64| {
            let mut sorted = ranked.clone();
            shuffle(&mut sorted, seed);
            sort_for_deletion(&mut sorted, now);
            sorted
        };
        let (sorted, again) = (sorted_from(seed), sorted_from(seed.rotate_left(17) ^ 0x9e37));
        let mut names: Vec<_> = sorted.iter().map(|r| r.pod.metadata.uid.clone()).collect();
        let mut expected: Vec<_> = ranked.iter().map(|r| r.pod.metadata.uid.clone()).collect();
        names.sort();
        expected.sort();
        prop_assert_eq!(names, expected);
        // Whatever order the pods came in, the same pods (or ones the order cannot tell
        // apart) are deleted first.
        for (a, b) in sorted.iter().zip(&again) {
            prop_assert!(equivalent(a, b), "{:?} vs {:?}", a.pod.metadata.name, b.pod.metadata.name);
        }
        for pair in sorted.windows(2) {
            prop_assert!(!delete_before(&pair[1], &pair[0], now));
        }
    }

    /// Label selectors with any operators and values: converting never panics, refuses
    /// exactly what upstream's `labels.NewRequirement` refuses, a selector that converts
    /// matches exactly as upstream's `labels.Requirement.Matches` says, and the string
    /// written to the scale subresource is what it prints.
    #[test]
    fn selectors_match_as_upstream_requirements_do(
        match_labels in proptest::option::of(proptest::collection::btree_map("[ab]", "[xy]", 0..3)),
        expressions in proptest::option::of(proptest::collection::vec(
            ("[abc]", prop_oneof![Just("In"), Just("NotIn"), Just("Exists"), Just("DoesNotExist"), Just("Gt"), Just("in"), Just("")],
             proptest::option::of(proptest::collection::vec("[xyz]", 0..3))),
            0..4)),
        labels in proptest::collection::btree_map("[abc]", "[xyz]", 0..4),
    ) {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
        use kube::core::SelectorExt;
        let requirements: Vec<LabelSelectorRequirement> = expressions.clone().unwrap_or_default().into_iter()
            .map(|(key, operator, values)| LabelSelectorRequirement { key, operator: operator.into(), values })
            .collect();
        let selector = LabelSelector { match_labels: match_labels.clone(), match_expressions: expressions.map(|_| requirements.clone()) };
        let printed = crate::controllers::replicaset::status::selector_string(&selector);
        let Ok(query) = crate::runtime::label_selector::to_selector(&selector) else {
            prop_assert!(printed.is_none());
            prop_assert!(requirements.iter().any(|r| !upstream_accepts(r)), "{:?}", requirements);
            return Ok(());
        };
        prop_assert!(requirements.iter().all(upstream_accepts), "{:?}", requirements);
        prop_assert_eq!(printed, Some(query.to_string()));
        let holds = |r: &LabelSelectorRequirement| {
            let values = r.values.clone().unwrap_or_default();
            match (r.operator.as_str(), labels.get(&r.key)) {
                ("In", Some(v)) => values.contains(v),
                ("In", None) => false,
                ("NotIn", Some(v)) => !values.contains(v),
                ("NotIn", None) => true,
                ("Exists", found) => found.is_some(),
                ("DoesNotExist", found) => found.is_none(),
                _ => unreachable!("refused above"),
            }
        };
        let expected = match_labels.unwrap_or_default().iter().all(|(k, v)| labels.get(k) == Some(v))
            && requirements.iter().all(holds);
        prop_assert_eq!(query.matches(&labels), expected, "{} on {:?}", query, labels);
    }

    /// Revision and rollback-to annotations of any text are read as Go's
    /// `strconv.ParseInt(v, 10, 64)` reads them; the next revision is never below 1 and the
    /// previous one is upstream's `LastRevision` (the second highest, counting from 0).
    #[test]
    fn revisions_are_read_as_upstream_reads_them(
        texts in proptest::collection::vec("\\PC{0,6}|[+-]?[0-9]{1,20}|-?[0-9]{1,3}", 0..6),
    ) {
        use crate::controllers::deployment::util::{REVISION, max_revision, parse_revision, previous_revision};
        let go_parse_int = |text: &str| -> Option<i64> {
            let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let magnitude: i128 = digits.parse().ok()?;
            let value = if text.starts_with('-') { -magnitude } else { magnitude };
            i64::try_from(value).ok()
        };
        for text in &texts {
            prop_assert_eq!(parse_revision(text), go_parse_int(text), "{:?}", text);
        }
        let sets: Vec<_> = texts.iter().enumerate().map(|(i, text)| std::sync::Arc::new(serde_json::from_value::<crate::api::MiniReplicaSet>(json!({
            "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniReplicaSet",
            "metadata": {"name": format!("r{i}"), "annotations": {REVISION: text}},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {}}
        })).unwrap())).collect();
        let mut parsed: Vec<i64> = texts.iter().filter_map(|t| go_parse_int(t)).chain([0, 0]).collect();
        parsed.sort_unstable_by(|a, b| b.cmp(a));
        prop_assert_eq!(max_revision(&sets), parsed[0]);
        prop_assert_eq!(previous_revision(&sets), parsed[1]);
    }
}

/// What upstream's `labels.NewRequirement` accepts (the keys generated here are all valid):
/// a known operator, values for In and NotIn, none for Exists and DoesNotExist.
fn upstream_accepts(
    r: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement,
) -> bool {
    let values = r.values.as_ref().map_or(0, Vec::len);
    match r.operator.as_str() {
        "In" | "NotIn" => values > 0,
        "Exists" | "DoesNotExist" => values == 0,
        _ => false,
    }
}

/// A Fisher–Yates shuffle driven by `seed` (proptest shrinks the seed like any input).
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        items.swap(i, (seed >> 33) as usize % (i + 1));
    }
}

/// Pods that differ in everything the ranking looks at.
fn pod() -> impl Strategy<Value = crate::controllers::cached_pod::CachedPod> {
    (
        any::<u32>(),
        proptest::option::of(0..3u8),
        prop_oneof![Just("Pending"), Just("Unknown"), Just("Running")],
        any::<bool>(),
        proptest::option::of(-5..5i32),
        (0..7200u32, 0..7200u32),
        0..4i32,
    )
        .prop_map(|(uid, node, phase, ready, cost, (age, ready_for), restarts)| {
            let at = |seconds_ago: u32| {
                let t: k8s_openapi::jiff::Timestamp = "2026-06-01T12:00:00Z".parse().unwrap();
                (t - k8s_openapi::jiff::SignedDuration::from_secs(i64::from(seconds_ago))).to_string()
            };
            let mut value = json!({
                "metadata": {"name": format!("p{uid}"), "uid": format!("uid-{uid}"), "creationTimestamp": at(age)},
                "spec": {"containers": [{"name": "c"}]},
                "status": {
                    "phase": phase,
                    "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }, "lastTransitionTime": at(ready_for.min(age))}],
                    "containerStatuses": [{"name": "c", "restartCount": restarts, "ready": ready, "image": "i", "imageID": ""}]
                }
            });
            if let Some(node) = node {
                value["spec"]["nodeName"] = json!(format!("node-{node}"));
            }
            if let Some(cost) = cost {
                value["metadata"]["annotations"] = json!({crate::controllers::ranking::DELETION_COST: cost.to_string()});
            }
            serde_json::from_value::<crate::controllers::cached_pod::CachedPod>(value).unwrap()
        })
}

//! Label selectors as users write them (matchLabels and matchExpressions with any operator,
//! key and values): turning one into a label query and matching it against any labels never
//! panics; a selector of matchLabels only matches its own labels; and the selector string
//! written to the scale subresource is what the query prints.
#![no_main]

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use kube::core::SelectorExt;
use libfuzzer_sys::fuzz_target;
use minik8s::controllers::replicaset::status::selector_string;
use minik8s::runtime::label_selector::to_selector;

#[derive(arbitrary::Arbitrary, Debug)]
struct Input {
    match_labels: Option<BTreeMap<String, String>>,
    expressions: Option<Vec<(String, Operator, Option<Vec<String>>)>>,
    labels: BTreeMap<String, String>,
}

#[derive(arbitrary::Arbitrary, Debug)]
enum Operator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
    Other(String),
}

fuzz_target!(|input: Input| {
    let only_labels = input.expressions.is_none();
    let selector = LabelSelector {
        match_labels: input.match_labels.clone(),
        match_expressions: input.expressions.map(|expressions| {
            expressions
                .into_iter()
                .map(|(key, operator, values)| LabelSelectorRequirement {
                    key,
                    operator: match operator {
                        Operator::In => "In".into(),
                        Operator::NotIn => "NotIn".into(),
                        Operator::Exists => "Exists".into(),
                        Operator::DoesNotExist => "DoesNotExist".into(),
                        Operator::Other(s) => s,
                    },
                    values,
                })
                .collect()
        }),
    };
    let printed = selector_string(&selector);
    let Ok(query) = to_selector(&selector) else {
        assert!(printed.is_none());
        return;
    };
    assert_eq!(printed.as_deref(), Some(query.to_string().as_str()));
    let _ = query.matches(&input.labels);
    if only_labels && let Some(own) = &input.match_labels {
        assert!(query.matches(own), "{query} does not match its own labels {own:?}");
    }
});

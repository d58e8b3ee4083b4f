//! CEL validation rules shared by several kinds.
//!
//! Messages follow the wording of the built-in validation (`pkg/apis/apps/validation`,
//! `pkg/apis/core/validation`), so users see the same explanation for the same mistake.

use kube::core::{Reason, Rule};

/// The template's labels must satisfy the selector, or the owner would create pods it does not
/// select and then create more, forever. Evaluates `matchLabels` and every
/// `matchExpressions` operator the way `metav1.LabelSelectorAsSelector` does.
pub(super) fn selector_matches_template_labels() -> Rule {
    const LABELS: &str = "self.template.metadata.labels";
    let has_labels = "has(self.template.metadata) && has(self.template.metadata.labels)";
    let rule = format!(
        "(!has(self.selector.matchLabels) || self.selector.matchLabels.all(k, {has_labels} && \
         k in {LABELS} && {LABELS}[k] == self.selector.matchLabels[k])) && \
         (!has(self.selector.matchExpressions) || self.selector.matchExpressions.all(e, \
         e.operator == 'In' ? ({has_labels} && e.key in {LABELS} && has(e.values) && {LABELS}[e.key] in e.values) : \
         e.operator == 'NotIn' ? (!({has_labels} && e.key in {LABELS}) || !has(e.values) || !({LABELS}[e.key] in e.values)) : \
         e.operator == 'Exists' ? ({has_labels} && e.key in {LABELS}) : \
         !({has_labels} && e.key in {LABELS})))"
    );
    Rule::new(rule)
        .message("`selector` does not match template `labels`")
        .field_path(".template.metadata.labels")
        .reason(Reason::FieldValueInvalid)
}

/// An empty selector would select every pod in the namespace.
pub(super) fn selector_not_empty(kind: &str) -> Rule {
    Rule::new(
        "(has(self.selector.matchLabels) && size(self.selector.matchLabels) > 0) || \
         (has(self.selector.matchExpressions) && size(self.selector.matchExpressions) > 0)",
    )
    .message(format!("empty selector is invalid for {kind}").as_str())
    .field_path(".selector")
    .reason(Reason::FieldValueInvalid)
}

/// `matchExpressions` operators and their values, as `ValidateLabelSelectorRequirement` checks.
pub(super) fn selector_requirements_valid() -> [Rule; 2] {
    [
        Rule::new(
            "!has(self.selector.matchExpressions) || self.selector.matchExpressions.all(e, \
             e.operator in ['In', 'NotIn', 'Exists', 'DoesNotExist'])",
        )
        .message(
            "selector.matchExpressions: operator must be one of \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\"",
        )
        .field_path(".selector.matchExpressions")
        .reason(Reason::FieldValueInvalid),
        Rule::new(
            "!has(self.selector.matchExpressions) || self.selector.matchExpressions.all(e, \
             (e.operator in ['In', 'NotIn']) == (has(e.values) && size(e.values) > 0))",
        )
        .message(
            "selector.matchExpressions: values must be non-empty when `operator` is 'In' or 'NotIn', \
             and empty when it is 'Exists' or 'DoesNotExist'",
        )
        .field_path(".selector.matchExpressions")
        .reason(Reason::FieldValueInvalid),
    ]
}

/// An int-or-string field holding an int ≥ 0 or a percentage `N%`.
pub(super) fn int_or_percent() -> [Rule; 2] {
    [
        Rule::new("type(self) != string || self.matches('^[0-9]+%$')").message(
            "a valid percent string must be a numeric string followed by an ending '%' \
             (e.g. '1%', or '93%', regex used for validation is '[0-9]+%')",
        ),
        Rule::new("type(self) != int || self >= 0").message("must be greater than or equal to 0"),
    ]
}

/// A percentage may not exceed 100% (maxUnavailable).
pub(super) fn at_most_100_percent() -> Rule {
    Rule::new(
        "type(self) != string || !self.matches('^[0-9]+%$') || \
         int(self.substring(0, size(self) - 1)) <= 100",
    )
    .message("must not be greater than 100%")
}

/// CEL for "this int-or-percent field is zero".
pub(super) fn is_zero(field: &str) -> String {
    format!("(type({field}) == int ? {field} == 0 : {field}.matches('^0+%$'))")
}

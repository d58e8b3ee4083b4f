//! Label selectors read as upstream's `metav1.LabelSelectorAsSelector` reads them, with the
//! checks of `labels.NewRequirement` (keys, values, how many values each operator takes) and
//! its error messages. kube's own conversion leaves some of them out: it accepts an `Exists`
//! requirement with values, for one, which upstream refuses.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::core::Selector;

/// The selector as a label query, or upstream's error for the first invalid requirement set.
/// An empty selector selects everything (the callers that must refuse it check
/// `selects_all`).
pub fn to_selector(selector: &LabelSelector) -> Result<Selector, String> {
    for (key, value) in selector.match_labels.iter().flatten() {
        validate_requirement(key, "Equals", std::slice::from_ref(value))?;
    }
    for requirement in selector.match_expressions.iter().flatten() {
        let operator = requirement.operator.as_str();
        if !matches!(operator, "In" | "NotIn" | "Exists" | "DoesNotExist") {
            return Err(format!(
                "{operator:?} is not a valid label selector operator"
            ));
        }
        let values = requirement.values.as_deref().unwrap_or_default();
        validate_requirement(&requirement.key, operator, values)?;
    }
    Selector::try_from(selector.clone()).map_err(|e| e.to_string())
}

/// Upstream `labels.NewRequirement`'s validation: the key, the number of values the operator
/// takes, and each value.
pub fn validate_requirement(key: &str, operator: &str, values: &[String]) -> Result<(), String> {
    let mut errors = Vec::new();
    let key_errors = label_key_errors(key);
    if !key_errors.is_empty() {
        errors.push(format!(
            "key: Invalid value: {key:?}: {}",
            key_errors.join("; ")
        ));
    }
    let count_error = match operator {
        "In" | "NotIn" if values.is_empty() => {
            Some("for 'in', 'notin' operators, values set can't be empty")
        }
        "Equals" if values.len() != 1 => {
            Some("exact-match compatibility requires one single value")
        }
        "Exists" | "DoesNotExist" if !values.is_empty() => {
            Some("values set must be empty for exists and does not exist")
        }
        _ => None,
    };
    if let Some(message) = count_error {
        let shown = if values.is_empty() {
            "null".to_string()
        } else {
            serde_json::to_string(values).unwrap_or_default()
        };
        errors.push(format!("values: Invalid value: {shown}: {message}"));
    }
    for (i, value) in values.iter().enumerate() {
        let value_errors = label_value_errors(value);
        if !value_errors.is_empty() {
            errors.push(format!(
                "values[{i}][{key}]: Invalid value: {value:?}: {}",
                value_errors.join("; ")
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(aggregate(errors))
    }
}

const LABEL_KEY_FORMAT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_MAX_LENGTH: usize = 63;

/// Upstream `validation.RegexError`.
fn regex_error(message: &str, format: &str, examples: &[&str]) -> String {
    let examples: Vec<String> = examples.iter().map(|e| format!("'{e}', ")).collect();
    format!(
        "{message} (e.g. {}regex used for validation is '{format}')",
        examples.join(" or ")
    )
}

fn max_length_error(length: usize) -> String {
    format!("must be no more than {length} bytes")
}

/// Starts and ends with an ASCII alphanumeric, and has only those or `inner` characters.
fn alphanumeric_bounded(s: &str, inner: impl Fn(u8) -> bool) -> bool {
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes.iter().all(|&c| c.is_ascii_alphanumeric() || inner(c))
        }
        _ => false,
    }
}

fn is_label_name(s: &str) -> bool {
    alphanumeric_bounded(s, |c| matches!(c, b'-' | b'_' | b'.'))
}

/// Upstream `content.IsLabelValue`.
fn label_value_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > LABEL_MAX_LENGTH {
        errors.push(max_length_error(LABEL_MAX_LENGTH));
    }
    if !value.is_empty() && !is_label_name(value) {
        errors.push(regex_error(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', \
             '_' or '.', and must start and end with an alphanumeric character",
            &format!("({LABEL_KEY_FORMAT})?"),
            &["MyValue", "my_value", "12345"],
        ));
    }
    errors
}

/// Upstream `content.IsLabelKey`: an optional DNS subdomain prefix and '/', then a name.
fn label_key_errors(key: &str) -> Vec<String> {
    const MESSAGE: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must \
                           start and end with an alphanumeric character";
    let name_regex_error =
        || regex_error(MESSAGE, LABEL_KEY_FORMAT, &["MyName", "my.name", "123-abc"]);
    let mut errors = Vec::new();
    let parts: Vec<&str> = key.split('/').collect();
    let name = match parts.as_slice() {
        [name] => name,
        [prefix, name] => {
            if prefix.is_empty() {
                errors.push("prefix part must be non-empty".to_string());
            } else {
                errors.extend(
                    dns_subdomain_errors(prefix)
                        .iter()
                        .map(|e| format!("prefix part {e}")),
                );
            }
            name
        }
        _ => {
            return vec![format!(
                "a valid label key {} with an optional DNS subdomain prefix and '/' (e.g. \
                 'example.com/MyName')",
                name_regex_error()
            )];
        }
    };
    if name.is_empty() {
        errors.push("name part must be non-empty".to_string());
    } else if name.len() > LABEL_MAX_LENGTH {
        errors.push(format!("name part {}", max_length_error(LABEL_MAX_LENGTH)));
    }
    if !is_label_name(name) {
        errors.push(format!("name part {}", name_regex_error()));
    }
    errors
}

/// Upstream `content.IsDNS1123Subdomain`.
fn dns_subdomain_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > 253 {
        errors.push(max_length_error(253));
    }
    let is_lower_alphanumeric = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let valid = value.split('.').all(|label| {
        let bytes = label.as_bytes();
        match (bytes.first(), bytes.last()) {
            (Some(&first), Some(&last)) => {
                is_lower_alphanumeric(first)
                    && is_lower_alphanumeric(last)
                    && bytes.iter().all(|&c| is_lower_alphanumeric(c) || c == b'-')
            }
            _ => false,
        }
    });
    if !valid {
        errors.push(regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, \
             '-' or '.', and must start and end with an alphanumeric character",
            "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*",
            &["example.com"],
        ));
    }
    errors
}

/// Upstream `utilerrors.NewAggregate(...).Error()`: one message as is, several deduplicated
/// within brackets.
pub fn aggregate(messages: Vec<String>) -> String {
    let mut unique: Vec<String> = Vec::new();
    for message in messages {
        if !unique.contains(&message) {
            unique.push(message);
        }
    }
    match unique.as_slice() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(selector: serde_json::Value) -> Result<String, String> {
        to_selector(&serde_json::from_value(selector).unwrap()).map(|s| s.to_string())
    }

    #[test]
    fn valid_selectors_convert_as_kube_prints_them() {
        assert_eq!(
            parse(json!({"matchLabels": {"app": "web"},
                         "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]})),
            Ok("app=web,tier in (a,b)".to_string())
        );
        assert_eq!(parse(json!({})), Ok(String::new()));
    }

    #[test]
    fn requirements_upstream_refuses_are_refused_with_its_message() {
        assert_eq!(
            parse(json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]})),
            Err(r#"values: Invalid value: ["x"]: values set must be empty for exists and does not exist"#.to_string())
        );
        assert_eq!(
            parse(json!({"matchExpressions": [{"key": "a", "operator": "In"}]})),
            Err("values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty".to_string())
        );
        assert_eq!(
            parse(json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]})),
            Err(r#""Gt" is not a valid label selector operator"#.to_string())
        );
        assert!(
            parse(json!({"matchLabels": {"a b": "x"}}))
                .unwrap_err()
                .starts_with("key: Invalid value: \"a b\"")
        );
        assert!(
            parse(json!({"matchLabels": {"a": "-x"}}))
                .unwrap_err()
                .starts_with("values[0][a]: Invalid value: \"-x\"")
        );
    }
}

//! The chart's README lists every value, as helm-docs would: its key, type, default and the
//! comment above it in values.yaml. This test regenerates that table and fails when the
//! README's copy differs; `make chart-readme` writes it.

use std::path::Path;

use serde_json::Value;

const START: &str = "<!-- values:start (generated from values.yaml by `make chart-readme`) -->";
const END: &str = "<!-- values:end -->";

/// One key of values.yaml with the comment lines right above it.
struct Documented {
    path: Vec<String>,
    comment: String,
}

/// The keys of a block-style YAML file with their comments, in file order. A comment belongs
/// to the key on the line right after it; a blank line in between detaches it.
fn documented_keys(values_yaml: &str) -> Vec<Documented> {
    let mut keys = Vec::new();
    let mut comment: Vec<String> = Vec::new();
    let mut parents: Vec<(usize, String)> = Vec::new();
    for line in values_yaml.lines() {
        let indent = line.len() - line.trim_start().len();
        let text = line.trim();
        if text.is_empty() {
            comment.clear();
            continue;
        }
        if let Some(rest) = text.strip_prefix('#') {
            comment.push(rest.trim().to_owned());
            continue;
        }
        // A list item or the continuation of a flow value is not a key.
        let Some((key, _)) = text.split_once(':').filter(|_| !text.starts_with('-')) else {
            comment.clear();
            continue;
        };
        while parents.last().is_some_and(|(i, _)| *i >= indent) {
            parents.pop();
        }
        let mut path: Vec<String> = parents.iter().map(|(_, k)| k.clone()).collect();
        path.push(key.to_owned());
        keys.push(Documented {
            path,
            comment: comment.join(" "),
        });
        comment.clear();
        parents.push((indent, key.to_owned()));
    }
    keys
}

fn lookup<'v>(values: &'v Value, path: &[String]) -> &'v Value {
    path.iter().fold(values, |v, k| &v[k.as_str()])
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() || n.is_u64() => "int",
        Value::Number(_) => "float",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

/// The Markdown table: one row per commented key; keys under a commented key are part of its
/// default and not listed again.
fn values_table(values_yaml: &str) -> String {
    let values: Value = serde_norway::from_str(values_yaml).expect("values.yaml parses");
    let keys = documented_keys(values_yaml);
    let mut out = String::from(
        "| Key | Type | Default | Description |\n|-----|------|---------|-------------|\n",
    );
    let mut listed: Vec<&[String]> = Vec::new();
    for key in &keys {
        if key.comment.is_empty() || listed.iter().any(|p| key.path.starts_with(p)) {
            continue;
        }
        let value = lookup(&values, &key.path);
        out.push_str(&format!(
            "| {} | {} | `{}` | {} |\n",
            key.path.join("."),
            type_name(value),
            serde_json::to_string(value).unwrap().replace('|', "\\|"),
            key.comment.replace('|', "\\|")
        ));
        listed.push(&key.path);
    }
    out
}

#[test]
fn every_value_is_documented() {
    let values_yaml = std::fs::read_to_string(chart().join("values.yaml")).unwrap();
    let keys = documented_keys(&values_yaml);
    let documented: Vec<&[String]> = keys
        .iter()
        .filter(|k| !k.comment.is_empty())
        .map(|k| k.path.as_slice())
        .collect();
    // Every key is documented itself or through an ancestor, or is only a parent of keys
    // that are.
    for key in &keys {
        let covered = documented.iter().any(|d| key.path.starts_with(d))
            || keys.iter().any(|child| {
                child.path.len() > key.path.len() && child.path.starts_with(&key.path)
            });
        assert!(
            covered,
            "values.yaml: {} has no comment above it",
            key.path.join(".")
        );
    }
}

#[test]
fn the_chart_readme_lists_the_values_as_values_yaml_has_them() {
    let values_yaml = std::fs::read_to_string(chart().join("values.yaml")).unwrap();
    let readme_path = chart().join("README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let (before, rest) = readme
        .split_once(START)
        .expect("charts/minik8s/README.md has the values:start marker");
    let (_, after) = rest.split_once(END).expect("and the values:end marker");
    let expected = format!(
        "{before}{START}\n{}{END}{after}",
        values_table(&values_yaml)
    );
    if std::env::var_os("MINIK8S_WRITE_CHART_README").is_some() {
        std::fs::write(&readme_path, &expected).unwrap();
        return;
    }
    assert!(
        readme == expected,
        "charts/minik8s/README.md is out of date with values.yaml; run `make chart-readme`"
    );
}

#[test]
fn comments_belong_to_the_key_below_them() {
    let keys = documented_keys("# a\na: 1\n\n# detached\n\nb:\n  # c\n  c: [x]\n  d: 2\n");
    let paths: Vec<(String, &str)> = keys
        .iter()
        .map(|k| (k.path.join("."), k.comment.as_str()))
        .collect();
    assert_eq!(
        paths,
        [
            ("a".to_owned(), "a"),
            ("b".to_owned(), ""),
            ("b.c".to_owned(), "c"),
            ("b.d".to_owned(), "")
        ]
    );
    let table = values_table("# a\na: 1\n# b\nb:\n  c: {x: 1}\n");
    assert!(table.contains("| a | int | `1` | a |"), "{table}");
    assert!(
        table.contains("| b | object | `{\"c\":{\"x\":1}}` | b |"),
        "{table}"
    );
    assert!(!table.contains("| b.c |"), "{table}");
}

fn chart() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/minik8s")
}

//! The CRDs install, serve every kind with its short name and category, print the columns
//! `kubectl get` users expect, and support `kubectl scale`.

use std::collections::BTreeMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use minik8s::api::{MiniDeployment, MiniEndpoints, MiniReplicaSet, MiniService};
use serde_json::json;

use crate::common::{TestNamespace, client, install_crds};
use crate::fixtures;

#[tokio::test]
async fn crds_install_and_become_established() {
    let client = client().await;
    install_crds(&client).await;
    let api: Api<CustomResourceDefinition> = Api::all(client);
    for (name, short) in [
        ("minireplicasets.minik8s.dev", "mrs"),
        ("minideployments.minik8s.dev", "mdeploy"),
        ("miniservices.minik8s.dev", "msvc"),
        ("miniendpoints.minik8s.dev", "mep"),
    ] {
        let crd = api.get(name).await.unwrap();
        let established = crd
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        assert!(established, "{name} is not Established");
        assert_eq!(crd.spec.names.short_names, Some(vec![short.to_string()]));
        assert_eq!(crd.spec.names.categories, Some(vec!["minik8s".to_string()]));
        assert_eq!(crd.spec.scope, "Namespaced");
    }
}

#[tokio::test]
async fn kubectl_get_shows_the_expected_columns() {
    let ns = TestNamespace::new("columns").await;
    ns.create::<MiniReplicaSet>(fixtures::mini(fixtures::replicaset("web")))
        .await
        .unwrap();
    ns.create::<MiniDeployment>(fixtures::mini(fixtures::deployment("web")))
        .await
        .unwrap();
    ns.create::<MiniService>(fixtures::mini(fixtures::service("web")))
        .await
        .unwrap();
    ns.create::<MiniEndpoints>(json!({
        "apiVersion": "minik8s.dev/v1alpha1",
        "kind": "MiniEndpoints",
        "metadata": {"name": "web"},
        "subsets": [{
            "addresses": [{"ip": "10.244.0.7"}],
            "notReadyAddresses": [{"ip": "10.244.1.9"}],
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]
        }]
    }))
    .await
    .unwrap();

    // Columns, and cells of the one row. Status is empty: no controller runs in this test. A
    // printer column shows the first value of a list (an API server limit for custom resources).
    let expectations: [(&str, &[&str], Cells); 4] = [
        (
            "mrs",
            &["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
            &[("NAME", "web"), ("DESIRED", "2"), ("CURRENT", "")],
        ),
        (
            "mdeploy",
            &["NAME", "DESIRED", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
            &[("NAME", "web"), ("DESIRED", "2"), ("AVAILABLE", "")],
        ),
        (
            "msvc",
            &["NAME", "TYPE", "CLUSTER-IP", "PORT(S)", "AGE"],
            &[("TYPE", "ClusterIP"), ("CLUSTER-IP", ""), ("PORT(S)", "80")],
        ),
        (
            "mep",
            &["NAME", "ADDRESSES", "NOT-READY", "PORTS", "AGE"],
            &[
                ("ADDRESSES", "10.244.0.7"),
                ("NOT-READY", "10.244.1.9"),
                ("PORTS", "80"),
            ],
        ),
    ];
    for (short, columns, cells) in expectations {
        let table = ns.kubectl(&["get", short]);
        let (header, rows) = parse_table(&table);
        assert_eq!(header, columns, "kubectl get {short}:\n{table}");
        assert_eq!(rows.len(), 1, "kubectl get {short}:\n{table}");
        for (column, value) in cells {
            assert_eq!(
                rows[0][*column], *value,
                "kubectl get {short}, column {column}:\n{table}"
            );
        }
    }

    let wide = ns.kubectl(&["get", "mdeploy", "-o", "wide"]);
    for column in ["CONTAINERS", "IMAGES", "SELECTOR"] {
        assert!(wide.contains(column), "wide output lacks {column}:\n{wide}");
    }
    assert!(wide.contains("registry.k8s.io/nginx-slim:0.27"), "{wide}");

    // `kubectl get minik8s` lists every kind through the category.
    let all = ns.kubectl(&["get", "minik8s"]);
    for kind in [
        "minireplicaset.minik8s.dev/web",
        "minideployment.minik8s.dev/web",
        "miniservice.minik8s.dev/web",
        "miniendpoints.minik8s.dev/web",
    ] {
        assert!(
            all.contains(kind),
            "kubectl get minik8s lacks {kind}:\n{all}"
        );
    }
    ns.cleanup().await;
}

#[tokio::test]
async fn kubectl_scale_uses_the_scale_subresource() {
    let ns = TestNamespace::new("scale").await;
    ns.create::<MiniReplicaSet>(fixtures::mini(fixtures::replicaset("web")))
        .await
        .unwrap();
    ns.create::<MiniDeployment>(fixtures::mini(fixtures::deployment("web")))
        .await
        .unwrap();
    ns.kubectl(&["scale", "mrs/web", "--replicas=5"]);
    ns.kubectl(&["scale", "mdeploy/web", "--replicas=7"]);
    let rs: Api<MiniReplicaSet> = ns.api();
    let deploy: Api<MiniDeployment> = ns.api();
    assert_eq!(rs.get("web").await.unwrap().spec.replicas, 5);
    assert_eq!(deploy.get("web").await.unwrap().spec.replicas, 7);

    // The scale subresource reports the selector from status (for HorizontalPodAutoscalers).
    let scale = ns.kubectl(&[
        "get",
        "--raw",
        &format!(
            "/apis/minik8s.dev/v1alpha1/namespaces/{}/minideployments/web/scale",
            ns.name
        ),
    ]);
    let scale: serde_json::Value = serde_json::from_str(&scale).unwrap();
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["spec"]["replicas"], 7);
    ns.cleanup().await;
}

/// (column, expected cell) pairs of a table row.
type Cells = &'static [(&'static str, &'static str)];

/// Splits kubectl's table output into its header and rows of cells keyed by column name.
/// Cells are cut at the header's column offsets, so empty cells stay empty.
fn parse_table(table: &str) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let mut lines = table.lines();
    let header_line = lines.next().expect("a header line");
    let mut starts: Vec<(usize, String)> = Vec::new();
    let mut previous = ' ';
    for (offset, ch) in header_line.char_indices() {
        if ch != ' ' && previous == ' ' {
            let name: String = header_line[offset..].split(' ').next().unwrap().to_string();
            starts.push((offset, name));
        }
        previous = ch;
    }
    let rows = lines
        .map(|line| {
            starts
                .iter()
                .enumerate()
                .map(|(i, (start, name))| {
                    let end = starts
                        .get(i + 1)
                        .map_or(line.len(), |(next, _)| *next)
                        .min(line.len());
                    let cell = line.get((*start).min(line.len())..end).unwrap_or("");
                    (name.clone(), cell.trim().to_string())
                })
                .collect()
        })
        .collect();
    (starts.into_iter().map(|(_, name)| name).collect(), rows)
}

/// Every manifest in samples/ is one the API server accepts as it is (server-side dry run).
#[tokio::test]
async fn the_samples_are_accepted_as_they_are() {
    let ns = TestNamespace::new("samples").await;
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let applied = ns.kubectl(&["apply", "--dry-run=server", "-f", samples.to_str().unwrap()]);
    for kind in [
        "deployment.apps/web-builtin",
        "minideployment.minik8s.dev/web",
        "service/web",
        "miniservice.minik8s.dev/web",
        "pod/hello-default",
        "pod/hello-minik8s",
    ] {
        assert!(applied.contains(kind), "{kind} not applied:\n{applied}");
    }
    ns.cleanup().await;
}

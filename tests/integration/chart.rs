//! The Helm chart: lint-clean, accepted by the API server, installable; and the controllers
//! work with exactly the permissions it grants (and nothing more).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use kube::api::{DeleteParams, Patch, PatchParams};
use minik8s::api::{MiniDeployment, MiniEndpoints, MiniService};
use serde_json::json;

use crate::common::{TestNamespace, controller_manager_process, eventually, kubectl};
use crate::kubelet::service_account_kubeconfig;

fn chart() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("charts/minik8s")
        .display()
        .to_string()
}

fn helm(args: &[&str]) -> String {
    helm_result(args).unwrap_or_else(|stderr| panic!("helm {} failed: {stderr}", args.join(" ")))
}

/// helm's output, or what it printed on stderr when it failed.
fn helm_result(args: &[&str]) -> Result<String, String> {
    let output = Command::new("helm")
        .args(args)
        .output()
        .expect("helm is not on PATH; run the tests through `make test`");
    if output.status.success() {
        Ok(String::from_utf8(output.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// The objects `helm template` renders, with `values` (`--set` arguments and the like).
fn rendered(namespace: &str, values: &[&str]) -> Vec<serde_json::Value> {
    let chart = chart();
    let mut args = vec!["template", "mk", &chart, "--namespace", namespace];
    args.extend(values);
    let text = helm(&args);
    serde_norway::Deserializer::from_str(&text)
        .map(|document| serde::Deserialize::deserialize(document).unwrap())
        .filter(|object: &serde_json::Value| !object.is_null())
        .collect()
}

fn find<'a>(objects: &'a [serde_json::Value], kind: &str, name: &str) -> &'a serde_json::Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} rendered"))
}

fn names_of<'a>(objects: &'a [serde_json::Value], kind: &str) -> Vec<&'a str> {
    objects
        .iter()
        .filter(|o| o["kind"] == kind)
        .map(|o| o["metadata"]["name"].as_str().unwrap())
        .collect()
}

#[test]
fn the_chart_is_lint_clean() {
    let out = helm(&["lint", "--strict", &chart()]);
    assert!(out.contains("0 chart(s) failed"), "{out}");
}

#[tokio::test]
async fn rendered_manifests_pass_server_side_dry_run() {
    let ns = TestNamespace::new("chart-render").await;
    let watch = format!("watchNamespace={}", ns.name);
    for values in [
        vec![],
        vec![
            "--set",
            "leaderElection.enabled=false,replicas=2,scheduler.replicas=2,log.format=plain",
            "--set",
            "priorityClassName=system-cluster-critical,extraArgs={--kube-api-qps=7}",
        ],
        vec!["--set", &watch],
    ] {
        let chart = chart();
        // The test pod's service account would not exist in a dry run.
        let mut args = vec![
            "template",
            "minik8s",
            &chart,
            "--namespace",
            &ns.name,
            "--skip-tests",
        ];
        args.extend(values);
        let rendered = helm(&args);
        let output = kubectl_with_input(
            &[
                "apply",
                "--dry-run=server",
                "--namespace",
                &ns.name,
                "-f",
                "-",
            ],
            &rendered,
        );
        assert!(
            output.status.success(),
            "the API server refused the chart: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let out = String::from_utf8_lossy(&output.stdout);
        for kind in [
            "serviceaccount",
            "clusterrole.rbac",
            "clusterrolebinding.rbac",
            "deployment.apps",
            "service/",
        ] {
            assert!(out.contains(kind), "{kind} missing from:\n{out}");
        }
    }
    ns.cleanup().await;
}

/// The journey of a user on a shared cluster: `helm install --wait` into a namespace that
/// enforces the restricted Pod Security Standard (the API server's admission is real: a
/// privileged pod is refused there), `helm test` passes, and `helm uninstall` leaves nothing
/// of the release behind but the CRDs.
///
/// The local cluster's pods run nothing, so this test does for the `helm test` pod what a
/// kubelet would: once it is Running, it runs the pod's own command (`minik8s selftest ...`)
/// with the pod's service account, and reports the exit code as the pod's phase.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_installs_into_a_restricted_namespace_passes_helm_test_and_uninstalls_cleanly() {
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::PostParams;

    let ns = TestNamespace::new("chart-restricted").await;
    kubectl(&[
        "label",
        "namespace",
        &ns.name,
        "pod-security.kubernetes.io/enforce=restricted",
        "pod-security.kubernetes.io/enforce-version=latest",
    ]);
    let privileged: Pod = serde_json::from_value(json!({
        "metadata": {"name": "privileged"},
        "spec": {"containers": [{"name": "c", "image": "busybox", "securityContext": {"privileged": true}}]}
    }))
    .unwrap();
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    match ns.api::<Pod>().create(&dry_run, &privileged).await {
        Err(kube::Error::Api(status)) => assert!(
            status
                .message
                .contains("violates PodSecurity \"restricted:latest\""),
            "{}",
            status.message
        ),
        other => panic!("a privileged pod should be refused: {other:?}"),
    }

    // Both Deployments' pods must be admitted and become ready for --wait to return.
    let release = format!("mk-{}", ns.name.rsplit('-').next().unwrap());
    let chart = chart();
    helm(&[
        "install",
        &release,
        &chart,
        "--namespace",
        &ns.name,
        "--wait",
        "--timeout",
        "2m",
        "--set",
        "crds.install=false",
    ]);
    let pods = ns.api::<Pod>();
    let running = pods.list(&Default::default()).await.unwrap().items;
    assert_eq!(running.len(), 2, "the controller-manager and the scheduler");

    // The controllers, locally, with the release's service account and lease.
    let config = std::env::temp_dir().join(format!("{}-minik8s-kubeconfig.json", ns.name));
    service_account_kubeconfig(&ns.name, &format!("{release}-minik8s"), &config);
    let mut controller = controller_manager_process(&ns.name, "minik8s-controller-manager")
        .env("KUBECONFIG", &config)
        .spawn()
        .unwrap();

    let test = {
        let (release, namespace) = (release.clone(), ns.name.clone());
        std::thread::spawn(move || {
            Command::new("helm")
                .args([
                    "test",
                    &release,
                    "--namespace",
                    &namespace,
                    "--timeout",
                    "3m",
                ])
                .output()
                .unwrap()
        })
    };
    let run =
        crate::kubelet::run_helm_test_pod(&ns.client, &ns.name, Duration::from_secs(60)).await;
    assert_eq!(run.args[0], "selftest", "{:?}", run.args);
    let printed = String::from_utf8_lossy(&run.output.stdout).into_owned();
    assert!(
        run.output.status.success(),
        "minik8s {}: {printed}{}",
        run.args.join(" "),
        String::from_utf8_lossy(&run.output.stderr)
    );
    assert!(printed.contains("ready (1/1 pods)"), "{printed}");
    let tested = test.join().unwrap();
    let report = String::from_utf8_lossy(&tested.stdout);
    assert!(
        tested.status.success(),
        "helm test: {report}{}",
        String::from_utf8_lossy(&tested.stderr)
    );
    assert!(report.contains("Succeeded"), "{report}");

    let _ = controller.kill();
    let _ = controller.wait();
    helm(&["uninstall", &release, "--namespace", &ns.name, "--wait"]);
    let selector = format!("app.kubernetes.io/instance={release}");
    let left = kubectl(&[
        "get",
        "deployments,replicasets,services,serviceaccounts,roles,rolebindings,poddisruptionbudgets,configmaps",
        "--namespace",
        &ns.name,
        "-l",
        &selector,
        "-o",
        "name",
    ]);
    assert_eq!(left.trim(), "", "left in the namespace");
    let cluster = kubectl(&[
        "get",
        "clusterroles,clusterrolebindings",
        "-l",
        &selector,
        "-o",
        "name",
    ]);
    assert_eq!(cluster.trim(), "", "left in the cluster");
    eventually(
        Duration::from_secs(60),
        "the release's pods gone",
        || async {
            pods.list(&Default::default())
                .await
                .unwrap()
                .items
                .is_empty()
        },
    )
    .await;
    let sets = kubectl(&[
        "get",
        "minireplicasets",
        "--namespace",
        &ns.name,
        "-o",
        "name",
    ]);
    assert_eq!(sets.trim(), "", "the selftest's MiniReplicaSet is removed");
    // The CRDs stay (they are the test run's here; a release's own are kept by crds.keep).
    kubectl(&["get", "crd", "minireplicasets.minik8s.dev"]);
    let _ = std::fs::remove_file(&config);
    ns.cleanup().await;
}

/// The aggregated roles: a user bound to the built-in `edit` role in a namespace may create
/// MiniDeployments there, one bound to `view` may read them and not create them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_editors_may_manage_the_minik8s_kinds_and_viewers_read_them() {
    let ns = TestNamespace::new("chart-aggregate").await;
    let release = format!("agg-{}", ns.name.rsplit('-').next().unwrap());
    let chart = chart();
    let roles = helm(&[
        "template",
        &release,
        &chart,
        "--namespace",
        &ns.name,
        "--show-only",
        "templates/rbac-aggregate.yaml",
    ]);
    apply(&roles);
    let mut configs = Vec::new();
    for (user, role) in [("editor", "edit"), ("viewer", "view")] {
        ns.kubectl(&["create", "serviceaccount", user]);
        ns.kubectl(&[
            "create",
            "rolebinding",
            user,
            &format!("--clusterrole={role}"),
            &format!("--serviceaccount={}:{user}", ns.name),
        ]);
        let config = std::env::temp_dir().join(format!("{}-{user}-kubeconfig.json", ns.name));
        service_account_kubeconfig(&ns.name, user, &config);
        configs.push(config);
    }
    let as_user = |config: &Path, args: &[&str]| {
        Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", config)
            .output()
            .unwrap()
    };
    // The aggregation controller folds the rules in shortly after the roles appear.
    eventually(
        Duration::from_secs(60),
        "edit to include the minik8s kinds",
        || async {
            let can = as_user(
                &configs[0],
                &["auth", "can-i", "create", "minideployments.minik8s.dev"],
            );
            String::from_utf8_lossy(&can.stdout).trim() == "yes"
        },
    )
    .await;
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/minideployment.yaml");
    let created = as_user(&configs[0], &["apply", "-f", manifest.to_str().unwrap()]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let scaled = as_user(
        &configs[0],
        &["scale", "minideployment/web", "--replicas=2"],
    );
    assert!(
        scaled.status.success(),
        "{}",
        String::from_utf8_lossy(&scaled.stderr)
    );
    let read = as_user(
        &configs[1],
        &[
            "get",
            "minideployments,minireplicasets,miniservices,miniendpoints",
        ],
    );
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let refused = as_user(&configs[1], &["delete", "minideployment/web"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("forbidden"));
    kubectl(&[
        "delete",
        "clusterrole",
        &format!("{release}-minik8s-view"),
        &format!("{release}-minik8s-edit"),
    ]);
    for config in configs {
        let _ = std::fs::remove_file(config);
    }
    ns.cleanup().await;
}

fn numbers_as_floats(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Number(n) => json!(n.as_f64().unwrap()),
        Value::Array(items) => Value::Array(items.iter().map(numbers_as_floats).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), numbers_as_floats(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `kubectl apply -f -` of `manifests`.
fn apply(manifests: &str) {
    let output = kubectl_with_input(&["apply", "-f", "-"], manifests);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// kubectl with `args`, reading `input` on its standard input.
fn kubectl_with_input(args: &[&str], input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new("kubectl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Installs the chart into the test's namespace; returns the release name and a kubeconfig
/// for its service account `<release>-<account>`. The CRDs are the test run's (applied once
/// for every test), so the release leaves them alone.
fn install_release(
    ns: &TestNamespace,
    account: &str,
    values: &[&str],
) -> (String, std::path::PathBuf) {
    let release = format!("mk-{}", ns.name.rsplit('-').next().unwrap());
    let chart = chart();
    let mut args = vec![
        "install",
        &release,
        &chart,
        "--namespace",
        &ns.name,
        "--wait=false",
        "--set",
        "crds.install=false",
    ];
    args.extend(values);
    helm(&args);
    let config = std::env::temp_dir().join(format!("{}-{account}-kubeconfig.json", ns.name));
    service_account_kubeconfig(&ns.name, &format!("{release}-{account}"), &config);
    (release, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controllers_work_with_the_charts_service_account_and_nothing_more() {
    let ns = TestNamespace::new("chart-rbac").await;
    controllers_work_with_the_release(ns, &[]).await;
}

/// `watchNamespace`: the same journey with a Role in the one namespace (and node reads), and
/// nothing cluster-wide beyond that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_watch_namespace_the_controllers_work_with_a_role_in_that_namespace() {
    let ns = TestNamespace::new("chart-ns").await;
    let watch = format!("watchNamespace={}", ns.name);
    let rendered = rendered(&ns.name, &["--set", &watch]);
    assert!(names_of(&rendered, "Role").contains(&"mk-minik8s"));
    let mut cluster_roles = names_of(&rendered, "ClusterRole");
    cluster_roles.sort();
    // The node reads, the aggregated roles for users (which grant the account nothing), and
    // the scheduler's, which is cluster-wide by nature.
    assert_eq!(
        cluster_roles,
        [
            "mk-minik8s-edit",
            "mk-minik8s-nodes",
            "mk-minik8s-scheduler",
            "mk-minik8s-view"
        ]
    );
    let nodes = find(&rendered, "ClusterRole", "mk-minik8s-nodes");
    assert_eq!(
        nodes["rules"],
        json!([{"apiGroups": [""], "resources": ["nodes"], "verbs": ["list", "watch"]}])
    );
    let args = &find(&rendered, "Deployment", "mk-minik8s")["spec"]["template"]["spec"]["containers"]
        [0]["args"];
    assert!(
        args.as_array()
            .unwrap()
            .contains(&json!(format!("--namespace={}", ns.name))),
        "{args}"
    );
    let without_slices = rendered_with_controllers(&ns.name, &watch);
    assert!(!names_of(&without_slices, "ClusterRole").contains(&"mk-minik8s-nodes"));
    controllers_work_with_the_release(ns, &["--set", &watch]).await;
}

fn rendered_with_controllers(namespace: &str, watch: &str) -> Vec<serde_json::Value> {
    rendered(
        namespace,
        &[
            "--set",
            watch,
            "--set",
            "controllers={replicaset,deployment,endpoints}",
        ],
    )
}

/// Installs the chart with `values`, runs the controllers as a local process under its
/// service account, and drives a MiniDeployment rollout and a MiniService through them.
async fn controllers_work_with_the_release(ns: TestNamespace, values: &[&str]) {
    let (release, config) = install_release(&ns, "minik8s", values);

    // The controllers as a local process, with the chart's identity (leader election too).
    let mut controller = controller_manager_process(&ns.name, "minik8s-controller-manager")
        .env("KUBECONFIG", &config)
        .spawn()
        .unwrap();

    let manifest = json!({
        "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniDeployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "app:v1"}]}}}
    });
    ns.create::<MiniDeployment>(manifest).await.unwrap();
    let api = ns.api::<MiniDeployment>();
    let rolled_out = |image: &'static str| {
        let api = api.clone();
        move || {
            let api = api.clone();
            async move {
                let d = api.get("web").await.unwrap();
                let s = d.status.clone().map(|s| s.status).unwrap_or_default();
                d.spec.template.raw()["spec"]["containers"][0]["image"] == image
                    && s.observed_generation == d.metadata.generation
                    && [s.updated_replicas, s.available_replicas, s.replicas] == [Some(3); 3]
            }
        }
    };
    eventually(
        Duration::from_secs(90),
        "the first rollout",
        rolled_out("app:v1"),
    )
    .await;
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:v2"}]}}}});
    api.patch("web", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    eventually(
        Duration::from_secs(90),
        "the rolling update",
        rolled_out("app:v2"),
    )
    .await;
    // The MiniService controllers: the MiniEndpoints (endpoints), and the Service mini-web,
    // its status and its slices (endpointslice).
    let service = json!({
        "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniService",
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}
    });
    ns.create::<MiniService>(service).await.unwrap();
    let endpoints = ns.api::<MiniEndpoints>();
    eventually(Duration::from_secs(60), "the MiniEndpoints", || async {
        endpoints.get_opt("web").await.unwrap().is_some_and(|ep| {
            ep.subsets
                .iter()
                .map(|s| s.addresses.as_ref().map_or(0, Vec::len))
                .sum::<usize>()
                == 3
        })
    })
    .await;
    eventually(
        Duration::from_secs(60),
        "the MiniService's Service and slices",
        || async {
            let status = ns.api::<MiniService>().get("web").await.unwrap().status;
            let slices = crate::endpointslices::ours(&ns, "web").await;
            status.is_some_and(|s| s.cluster_ip.is_some()) && slices.len() == 3
        },
    )
    .await;
    // Orphaned, so that the controller, not the garbage collector, removes the MiniEndpoints.
    ns.api::<MiniService>()
        .delete("web", &DeleteParams::orphan())
        .await
        .unwrap();
    eventually(
        Duration::from_secs(60),
        "the MiniEndpoints removed",
        || async { endpoints.get_opt("web").await.unwrap().is_none() },
    )
    .await;
    assert!(
        controller.try_wait().unwrap().is_none(),
        "the controller exited: a permission is missing"
    );

    // Outside its role: refused.
    let secrets = Command::new("kubectl")
        .args(["get", "secrets", "--namespace", &ns.name])
        .env("KUBECONFIG", &config)
        .output()
        .unwrap();
    assert!(!secrets.status.success());
    assert!(
        String::from_utf8_lossy(&secrets.stderr).contains("forbidden"),
        "{}",
        String::from_utf8_lossy(&secrets.stderr)
    );

    // Nothing beyond its namespace in watchNamespace mode; everywhere otherwise.
    let all_pods = Command::new("kubectl")
        .args(["auth", "can-i", "list", "pods", "--all-namespaces"])
        .env("KUBECONFIG", &config)
        .output()
        .unwrap();
    let cluster_wide = String::from_utf8_lossy(&all_pods.stdout).trim() == "yes";
    assert_eq!(
        cluster_wide,
        !values.iter().any(|v| v.starts_with("watchNamespace="))
    );

    let _ = controller.kill();
    let _ = controller.wait();
    let _ = std::fs::remove_file(&config);
    helm(&["uninstall", &release, "--namespace", &ns.name]);
    ns.cleanup().await;
}

/// minik8s-scheduler as a local process with the chart's scheduler service account: it
/// binds, records events, sets the PodScheduled condition and holds its Lease with nothing
/// more than the chart grants.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_works_with_its_charts_service_account() {
    use k8s_openapi::api::core::v1::{Event, Pod};
    let ns = TestNamespace::new("chart-sched").await;
    let (release, config) = install_release(&ns, "minik8s-scheduler", &[]);
    let name = format!("minik8s-scheduler-{}", ns.name);
    let mut scheduler = Command::new(env!("CARGO_BIN_EXE_minik8s"))
        .args([
            "scheduler",
            "--scheduler-name",
            &name,
            "--health-address",
            "127.0.0.1:0",
        ])
        .args(["--leader-elect", "--leader-elect-namespace", &ns.name])
        .args(["--log-level", "warn"])
        .env("KUBECONFIG", &config)
        .env("POD_NAME", "chart-test")
        .spawn()
        .unwrap();
    let pod = |pod_name: &str, cpu: &str| -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": pod_name},
            "spec": {"schedulerName": name, "containers": [{"name": "app", "image": "app:v1",
                     "resources": {"requests": {"cpu": cpu}}}]}
        }))
        .unwrap()
    };
    let pods = ns.api::<Pod>();
    pods.create(&Default::default(), &pod("fits", "10m"))
        .await
        .unwrap();
    pods.create(&Default::default(), &pod("too-big", "1000"))
        .await
        .unwrap();
    eventually(Duration::from_secs(60), "the pod bound", || async {
        pods.get("fits")
            .await
            .unwrap()
            .spec
            .and_then(|s| s.node_name)
            .is_some()
    })
    .await;
    eventually(
        Duration::from_secs(60),
        "PodScheduled=False and the events",
        || async {
            let condition = pods
                .get("too-big")
                .await
                .unwrap()
                .status
                .and_then(|s| s.conditions);
            let unschedulable = condition
                .into_iter()
                .flatten()
                .any(|c| c.type_ == "PodScheduled" && c.status == "False");
            let reasons: Vec<String> = ns
                .api::<Event>()
                .list(&Default::default())
                .await
                .unwrap()
                .items
                .into_iter()
                .filter_map(|e| e.reason)
                .collect();
            unschedulable
                && reasons.iter().any(|r| r == "Scheduled")
                && reasons.iter().any(|r| r == "FailedScheduling")
        },
    )
    .await;
    assert!(
        scheduler.try_wait().unwrap().is_none(),
        "the scheduler exited: a permission is missing"
    );
    let _ = scheduler.kill();
    let _ = scheduler.wait();
    let _ = std::fs::remove_file(&config);
    helm(&["uninstall", &release, "--namespace", &ns.name]);
    ns.cleanup().await;
}

/// One permission: API group, resource, resource name ("" for any) and verb.
type Permission = (String, String, String, String);

/// docs/permissions.md's table under `heading`: (cluster-wide, release namespace only).
fn documented_permissions(heading: &str) -> (BTreeSet<Permission>, BTreeSet<Permission>) {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/permissions.md"))
            .unwrap();
    let section = doc
        .split("\n## ")
        .find(|s| s.starts_with(heading))
        .unwrap_or_else(|| panic!("docs/permissions.md has no section '{heading}'"));
    let (mut cluster, mut namespaced) = (BTreeSet::new(), BTreeSet::new());
    for row in section.lines().filter(|l| l.starts_with("| ")).skip(1) {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        let [group, resource, name, verbs, scope, _why] = cells[..] else {
            panic!("docs/permissions.md: a row of six cells expected: {row}");
        };
        let group = if group == "core" { "" } else { group };
        let into = match scope {
            "cluster" => &mut cluster,
            "release namespace" => &mut namespaced,
            other => panic!("docs/permissions.md: unknown scope '{other}' in {row}"),
        };
        for verb in verbs.split(", ") {
            into.insert((group.into(), resource.into(), name.into(), verb.into()));
        }
    }
    assert!(!cluster.is_empty(), "no rows under '{heading}'");
    (cluster, namespaced)
}

/// The granted and the documented permissions are the same; else which ones differ, each way.
fn assert_same_permissions(
    granted: BTreeSet<Permission>,
    documented: &BTreeSet<Permission>,
    what: &str,
) {
    let undocumented: Vec<_> = granted.difference(documented).collect();
    let missing: Vec<_> = documented.difference(&granted).collect();
    assert!(
        undocumented.is_empty() && missing.is_empty(),
        "{what}: granted but not in docs/permissions.md: {undocumented:?}; \
         in docs/permissions.md but not granted: {missing:?}"
    );
}

async fn account_client(kubeconfig: &Path) -> kube::Client {
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(kubeconfig).unwrap(),
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    kube::Client::try_from(config).unwrap()
}

/// What the API server says the client may do in `namespace`, one permission per row.
async fn granted_permissions(client: &kube::Client, namespace: &str) -> BTreeSet<Permission> {
    use k8s_openapi::api::authorization::v1::SelfSubjectRulesReview;
    let review: SelfSubjectRulesReview =
        serde_json::from_value(json!({"spec": {"namespace": namespace}})).unwrap();
    let status = kube::Api::<SelfSubjectRulesReview>::all(client.clone())
        .create(&Default::default(), &review)
        .await
        .unwrap()
        .status
        .unwrap();
    assert!(
        !status.incomplete,
        "the rules review is incomplete: {status:?}"
    );
    let mut permissions = BTreeSet::new();
    for rule in status.resource_rules {
        let names = rule.resource_names.unwrap_or_else(|| vec![String::new()]);
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                for name in &names {
                    for verb in &rule.verbs {
                        permissions.insert((
                            group.clone(),
                            resource.clone(),
                            name.clone(),
                            verb.clone(),
                        ));
                    }
                }
            }
        }
    }
    permissions
}

/// Whether the client may `verb` the `resource` (`resource/subresource`) in `namespace`.
async fn allowed(
    client: &kube::Client,
    verb: &str,
    resource: &str,
    namespace: Option<&str>,
    name: Option<&str>,
) -> bool {
    use k8s_openapi::api::authorization::v1::SelfSubjectAccessReview;
    let (group, resource) = match resource.split_once('.') {
        Some((resource, group)) => (group, resource),
        None => ("", resource),
    };
    let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
    let review: SelfSubjectAccessReview =
        serde_json::from_value(json!({"spec": {"resourceAttributes": {
            "verb": verb, "group": group, "resource": resource, "subresource": subresource,
            "namespace": namespace, "name": name,
        }}}))
        .unwrap();
    kube::Api::<SelfSubjectAccessReview>::all(client.clone())
        .create(&Default::default(), &review)
        .await
        .unwrap()
        .status
        .unwrap()
        .allowed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_accounts_may_do_what_docs_permissions_lists_and_nothing_more() {
    let ns = TestNamespace::new("chart-perms").await;
    let (release, controllers) = install_release(&ns, "minik8s", &[]);
    let scheduler = std::env::temp_dir().join(format!("{}-scheduler-kubeconfig.json", ns.name));
    service_account_kubeconfig(
        &ns.name,
        &format!("{release}-minik8s-scheduler"),
        &scheduler,
    );
    // What any authenticated user may do (discovery, reviews of itself): an account with no
    // bindings at all.
    kubectl(&[
        "create",
        "serviceaccount",
        "nobody",
        "--namespace",
        &ns.name,
    ]);
    let nobody_config = std::env::temp_dir().join(format!("{}-nobody-kubeconfig.json", ns.name));
    service_account_kubeconfig(&ns.name, "nobody", &nobody_config);
    let nobody = account_client(&nobody_config).await;
    let elsewhere = "default";
    let baseline = granted_permissions(&nobody, &ns.name).await;

    for (heading, kubeconfig, lease) in [
        (
            "The controller manager's service account",
            &controllers,
            "minik8s-controller-manager",
        ),
        (
            "The scheduler's service account",
            &scheduler,
            "minik8s-scheduler",
        ),
    ] {
        let client = account_client(kubeconfig).await;
        let (cluster, namespaced) = documented_permissions(heading);
        let granted = |namespace: &'static str| {
            let client = client.clone();
            let baseline = baseline.clone();
            let namespace = if namespace.is_empty() {
                ns.name.clone()
            } else {
                namespace.to_owned()
            };
            async move {
                let all = granted_permissions(&client, &namespace).await;
                all.difference(&baseline).cloned().collect::<BTreeSet<_>>()
            }
        };
        let in_release: BTreeSet<Permission> = cluster.union(&namespaced).cloned().collect();
        assert_same_permissions(
            granted("").await,
            &in_release,
            &format!("{heading}: the release's namespace"),
        );
        assert_same_permissions(
            granted(elsewhere).await,
            &cluster,
            &format!("{heading}: another namespace"),
        );

        let release_ns = Some(ns.name.as_str());
        for (verb, resource, namespace, name) in [
            ("get", "secrets", release_ns, None),
            ("list", "secrets", release_ns, None),
            ("list", "secrets", None, None),
            ("create", "pods/exec", release_ns, Some("any")),
            (
                "get",
                "leases.coordination.k8s.io",
                Some(elsewhere),
                Some(lease),
            ),
            (
                "update",
                "leases.coordination.k8s.io",
                Some(elsewhere),
                Some(lease),
            ),
            (
                "update",
                "leases.coordination.k8s.io",
                release_ns,
                Some("another-lease"),
            ),
            (
                "escalate",
                "clusterroles.rbac.authorization.k8s.io",
                None,
                None,
            ),
            ("bind", "clusterroles.rbac.authorization.k8s.io", None, None),
        ] {
            assert!(
                !allowed(&client, verb, resource, namespace, name).await,
                "{heading} may {verb} {resource} in {namespace:?} ({name:?})"
            );
        }
        // The review itself is not a dud: what the table grants is allowed.
        assert!(allowed(&client, "list", "pods", None, None).await);
        assert!(
            allowed(
                &client,
                "update",
                "leases.coordination.k8s.io",
                release_ns,
                Some(lease)
            )
            .await
        );
    }
    for path in [&controllers, &scheduler, &nobody_config] {
        let _ = std::fs::remove_file(path);
    }
    helm(&["uninstall", &release, "--namespace", &ns.name]);
    ns.cleanup().await;
}

/// values.schema.json: `helm install` refuses a value of the wrong shape and says which.
#[test]
fn values_of_the_wrong_shape_are_refused_by_helm_itself() {
    let chart = chart();
    for (set, says) in [
        ("replicas=-1", "/replicas"),
        ("controllers={replicaset,daemonset}", "/controllers/1"),
        ("image.digest=latest", "/image/digest"),
        ("log.format=xml", "/log/format"),
        ("test.timeout=soon", "/test/timeout"),
        ("replica=2", "replica"),
        (
            "scheduler.percentageOfNodesToScore=150",
            "/scheduler/percentageOfNodesToScore",
        ),
    ] {
        let refused = helm_result(&["template", "mk", &chart, "--set", set])
            .expect_err(&format!("--set {set} should be refused"));
        assert!(
            refused.contains("values don't meet the specifications of the schema")
                && refused.contains(says),
            "--set {set}: {refused}"
        );
    }
}

/// The chart's knobs end up where a user of well-kept charts expects them.
#[test]
fn the_charts_options_render_where_they_are_documented() {
    let digest = format!("sha256:{}", "a".repeat(64));
    let objects = rendered(
        "ops",
        &[
            "--set",
            "replicas=2,scheduler.replicas=3,priorityClassName=system-cluster-critical",
            "--set",
            &format!("image.digest={digest}"),
            "--set",
            "extraArgs={--kube-api-qps=7},extraEnv[0].name=TZ,extraEnv[0].value=UTC",
            "--set",
            "scheduler.extraArgs={--kube-api-burst=9}",
            "--set",
            "topologySpreadConstraints[0].maxSkew=1,topologySpreadConstraints[0].topologyKey=kubernetes.io/hostname,topologySpreadConstraints[0].whenUnsatisfiable=ScheduleAnyway",
        ],
    );
    let controller = find(&objects, "Deployment", "mk-minik8s");
    let pod = &controller["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(container["image"], format!("minik8s@{digest}"));
    assert_eq!(pod["priorityClassName"], "system-cluster-critical");
    assert!(
        container["args"]
            .as_array()
            .unwrap()
            .contains(&json!("--kube-api-qps=7"))
    );
    assert!(
        container["env"]
            .as_array()
            .unwrap()
            .contains(&json!({"name": "TZ", "value": "UTC"}))
    );
    // The spread's selector defaults to the pods' own labels.
    assert_eq!(
        pod["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"],
        controller["spec"]["selector"]["matchLabels"]
    );
    let scheduler = find(&objects, "Deployment", "mk-minik8s-scheduler");
    assert_eq!(
        scheduler["spec"]["template"]["spec"]["priorityClassName"],
        "system-cluster-critical"
    );
    assert!(
        scheduler["spec"]["template"]["spec"]["containers"][0]["args"]
            .as_array()
            .unwrap()
            .contains(&json!("--kube-api-burst=9"))
    );
    // A budget for each component with more than one replica, none otherwise.
    for name in ["mk-minik8s", "mk-minik8s-scheduler"] {
        let budget = find(&objects, "PodDisruptionBudget", name);
        assert_eq!(budget["spec"]["maxUnavailable"], 1);
    }
    assert!(names_of(&rendered("ops", &[]), "PodDisruptionBudget").is_empty());

    // Names: nameOverride replaces the chart's name, fullnameOverride the whole name; the
    // selector labels stay put, so `minik8s version` finds the release by part-of/component.
    let renamed = rendered("ops", &["--set", "nameOverride=mini"]);
    let deployment = find(&renamed, "Deployment", "mk-mini");
    assert_eq!(
        deployment["metadata"]["labels"]["app.kubernetes.io/part-of"],
        "minik8s"
    );
    assert_eq!(
        deployment["metadata"]["labels"]["app.kubernetes.io/component"],
        "controller-manager"
    );
    find(&renamed, "Deployment", "mk-mini-scheduler");
    let full = rendered("ops", &["--set", "fullnameOverride=classroom"]);
    find(&full, "Deployment", "classroom");
    find(&full, "ServiceAccount", "classroom");
    find(&full, "ClusterRoleBinding", "classroom");
    find(&full, "Pod", "classroom-test");

    // The aggregated roles: view reads, edit (and admin) write, and only the minik8s kinds.
    let view = find(&objects, "ClusterRole", "mk-minik8s-view");
    assert_eq!(
        view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"],
        "true"
    );
    assert_eq!(view["rules"][0]["verbs"], json!(["get", "list", "watch"]));
    let edit = find(&objects, "ClusterRole", "mk-minik8s-edit");
    assert_eq!(
        edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-admin"],
        "true"
    );
    assert!(
        edit["metadata"]["labels"]
            .get("rbac.authorization.k8s.io/aggregate-to-view")
            .is_none()
    );
    let none = rendered("ops", &["--set", "rbac.aggregateToDefaultRoles=false"]);
    let mut left = names_of(&none, "ClusterRole");
    left.sort();
    assert_eq!(left, ["mk-minik8s", "mk-minik8s-scheduler"]);
}

/// The CRDs are templates (so `helm upgrade` updates them), exactly the generated ones plus
/// the release's labels, kept on uninstall unless `crds.keep=false`, left out with
/// `crds.install=false`.
#[test]
fn the_crds_are_templates_kept_on_uninstall() {
    let generated = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    let objects = rendered("ops", &[]);
    let mut crds = names_of(&objects, "CustomResourceDefinition");
    crds.sort();
    assert_eq!(
        crds,
        [
            "minideployments.minik8s.dev",
            "miniendpoints.minik8s.dev",
            "minireplicasets.minik8s.dev",
            "miniservices.minik8s.dev"
        ]
    );
    for name in crds {
        let crd = find(&objects, "CustomResourceDefinition", name);
        let file = std::fs::read_to_string(generated.join(format!("{name}.yaml"))).unwrap();
        let expected: serde_json::Value = serde_norway::from_str(&file).unwrap();
        // Helm reads numbers as floats (`minimum: 0.0` comes out `0`): the same JSON number.
        assert_eq!(
            numbers_as_floats(&crd["spec"]),
            numbers_as_floats(&expected["spec"]),
            "{name} differs from crds/"
        );
        assert_eq!(
            crd["metadata"]["annotations"]["helm.sh/resource-policy"],
            "keep"
        );
        assert_eq!(
            crd["metadata"]["labels"]["app.kubernetes.io/instance"],
            "mk"
        );
    }
    let dropped = rendered("ops", &["--set", "crds.keep=false"]);
    let crd = find(
        &dropped,
        "CustomResourceDefinition",
        "minideployments.minik8s.dev",
    );
    assert!(
        crd["metadata"]["annotations"]
            .get("helm.sh/resource-policy")
            .is_none(),
        "{crd}"
    );
    let none = rendered("ops", &["--set", "crds.install=false"]);
    assert!(names_of(&none, "CustomResourceDefinition").is_empty());
}

/// The Grafana dashboard plots only series minik8s exposes (the names kube-controller-manager
/// exposes too): each name in its queries is in the /metrics of a controller-manager that
/// has led and synced something. The chart ships it in a ConfigMap for the Grafana sidecar.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grafana_dashboard_plots_what_minik8s_exposes() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("charts/minik8s/dashboards/minik8s.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();

    let ns = TestNamespace::new("dashboard").await;
    ns.create::<minik8s::api::MiniReplicaSet>(crate::fixtures::small_replicaset("web", 1, false))
        .await
        .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut controller = Command::new(env!("CARGO_BIN_EXE_minik8s"))
        .args([
            "controller-manager",
            "--namespace",
            &ns.name,
            "--leader-elect",
        ])
        .args(["--leader-elect-namespace", &ns.name, "--log-level", "warn"])
        .args(["--health-address", &format!("127.0.0.1:{port}")])
        .spawn()
        .unwrap();
    let scrape = || {
        Command::new("curl")
            .args(["-sf", &format!("http://127.0.0.1:{port}/metrics")])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    eventually(
        Duration::from_secs(60),
        "the replicaset queue and the lease in /metrics",
        || async {
            let metrics = scrape();
            metrics.contains("workqueue_adds_total{name=\"replicaset\"}")
                && metrics.contains(
                    "leader_election_master_status{name=\"minik8s-controller-manager\"} 1",
                )
        },
    )
    .await;
    let exposition = scrape();
    let _ = controller.kill();
    let _ = controller.wait();
    let exposed = |name: &str| {
        let base = name
            .strip_suffix("_bucket")
            .or_else(|| name.strip_suffix("_total"))
            .unwrap_or(name);
        exposition.contains(&format!("# TYPE {base} "))
    };
    let mut plotted = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap();
            // A series is a name followed by its label matchers.
            for (at, _) in expr.match_indices('{') {
                let name: String = expr[..at]
                    .chars()
                    .rev()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                if !name.is_empty() {
                    assert!(
                        exposed(&name),
                        "{name} (panel {}) is not in /metrics:\n{exposition}",
                        panel["title"]
                    );
                    plotted.push(name);
                }
            }
        }
    }
    for name in [
        "workqueue_depth",
        "rest_client_requests_total",
        "process_resident_memory_bytes",
        "leader_election_master_status",
    ] {
        assert!(plotted.iter().any(|p| p == name), "{name} is not plotted");
    }
    let objects = rendered("ops", &["--set", "grafana.dashboard.enabled=true"]);
    let config_map = find(&objects, "ConfigMap", "mk-minik8s-dashboard");
    assert_eq!(config_map["metadata"]["labels"]["grafana_dashboard"], "1");
    let shipped: serde_json::Value =
        serde_json::from_str(config_map["data"]["minik8s.json"].as_str().unwrap()).unwrap();
    assert_eq!(shipped, dashboard);
    assert!(names_of(&rendered("ops", &[]), "ConfigMap").is_empty());
    ns.cleanup().await;
}

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

fn chart() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("charts/minik8s")
        .display()
        .to_string()
}

fn helm(args: &[&str]) -> String {
    let output = Command::new("helm")
        .args(args)
        .output()
        .expect("helm is not on PATH; run the tests through `make test`");
    assert!(
        output.status.success(),
        "helm {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn the_chart_is_lint_clean() {
    let out = helm(&["lint", "--strict", &chart()]);
    assert!(out.contains("0 chart(s) failed"), "{out}");
}

#[tokio::test]
async fn rendered_manifests_pass_server_side_dry_run() {
    let ns = TestNamespace::new("chart-render").await;
    for values in [
        vec![],
        vec![
            "--set",
            "leaderElection.enabled=false,replicas=2,log.format=plain",
        ],
    ] {
        let chart = chart();
        let mut args = vec!["template", "minik8s", &chart, "--namespace", &ns.name];
        args.extend(values);
        let rendered = helm(&args);
        let mut apply = Command::new("kubectl")
            .args([
                "apply",
                "--dry-run=server",
                "--namespace",
                &ns.name,
                "-f",
                "-",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        apply
            .stdin
            .take()
            .unwrap()
            .write_all(rendered.as_bytes())
            .unwrap();
        let output = apply.wait_with_output().unwrap();
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

/// Every pod the chart runs (the controller manager and the scheduler) is admitted by a
/// namespace that enforces the restricted Pod Security Standard, and a privileged pod is not:
/// the admission is real.
#[tokio::test]
async fn the_charts_pods_meet_the_restricted_pod_security_standard() {
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
    let rendered = helm(&["template", "minik8s", &chart(), "--namespace", &ns.name]);
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let pods = ns.api::<Pod>();
    let mut checked = Vec::new();
    for document in serde_norway::Deserializer::from_str(&rendered) {
        let object: serde_json::Value = serde::Deserialize::deserialize(document).unwrap();
        if object["kind"] != "Deployment" {
            continue;
        }
        let name = object["metadata"]["name"].as_str().unwrap().to_owned();
        let mut spec = object["spec"]["template"]["spec"].clone();
        // A dry run creates no service account; Pod Security does not look at it.
        spec.as_object_mut().unwrap().remove("serviceAccountName");
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": object["spec"]["template"]["metadata"]["labels"]},
            "spec": spec,
        }))
        .unwrap();
        if let Err(e) = pods.create(&dry_run, &pod).await {
            panic!("the chart's {name} pod is refused under the restricted standard: {e}");
        }
        checked.push(name);
    }
    assert_eq!(checked, ["minik8s", "minik8s-scheduler"]);
    let privileged: Pod = serde_json::from_value(json!({
        "metadata": {"name": "privileged"},
        "spec": {"containers": [{"name": "c", "image": "busybox", "securityContext": {"privileged": true}}]}
    }))
    .unwrap();
    match pods.create(&dry_run, &privileged).await {
        Err(kube::Error::Api(status)) => assert!(
            status
                .message
                .contains("violates PodSecurity \"restricted:latest\""),
            "{}",
            status.message
        ),
        other => panic!("a privileged pod should be refused: {other:?}"),
    }
    ns.cleanup().await;
}

/// Installs the chart into the test's namespace; returns the release name and a kubeconfig
/// for its service account `<release>-<account>`.
fn install_release(ns: &TestNamespace, account: &str) -> (String, std::path::PathBuf) {
    let release = format!("mk-{}", ns.name.rsplit('-').next().unwrap());
    helm(&[
        "install",
        &release,
        &chart(),
        "--namespace",
        &ns.name,
        "--wait=false",
    ]);
    let config = std::env::temp_dir().join(format!("{}-{account}-kubeconfig.json", ns.name));
    service_account_kubeconfig(&ns.name, &format!("{release}-{account}"), &config);
    (release, config)
}

/// A kubeconfig for the chart's service account, from a fresh token.
fn service_account_kubeconfig(namespace: &str, account: &str, path: &Path) {
    let token = kubectl(&[
        "create",
        "token",
        account,
        "--namespace",
        namespace,
        "--duration",
        "1h",
    ]);
    let server = kubectl(&[
        "config",
        "view",
        "--minify",
        "-o",
        "jsonpath={.clusters[0].cluster.server}",
    ]);
    let ca = kubectl(&[
        "config",
        "view",
        "--minify",
        "--raw",
        "--flatten",
        "-o",
        "jsonpath={.clusters[0].cluster.certificate-authority-data}",
    ]);
    let config = json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server, "certificate-authority-data": ca}}],
        "users": [{"name": account, "user": {"token": token.trim()}}],
        "contexts": [{"name": "sa", "context": {"cluster": "c", "user": account, "namespace": namespace}}],
        "current-context": "sa"
    });
    std::fs::write(path, serde_json::to_string(&config).unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controllers_work_with_the_charts_service_account_and_nothing_more() {
    let ns = TestNamespace::new("chart-rbac").await;
    let (release, config) = install_release(&ns, "minik8s");

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
    let (release, config) = install_release(&ns, "minik8s-scheduler");
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
    let (release, controllers) = install_release(&ns, "minik8s");
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

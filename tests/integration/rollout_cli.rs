//! `minik8s rollout …` and `minik8s set image …` against a MiniDeployment, run as the binary
//! and as a kubectl plugin.

use std::process::{Command, Output};

use minik8s::api::MiniDeployment;
use serde_json::json;

use crate::common::{Controllers, TestNamespace};

fn minik8s(ns: &TestNamespace, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_minik8s"))
        .args(args)
        .args(["--namespace", &ns.name])
        .output()
        .expect("the minik8s binary runs")
}

fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The error a command printed, once it exited with kubectl's 1.
fn refused(output: Output) -> String {
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    String::from_utf8(output.stderr).unwrap()
}

fn image(d: &MiniDeployment) -> String {
    d.spec.template.raw()["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_commands_behave_like_kubectl_rollout() {
    let ns = TestNamespace::new("cli").await;
    let _controllers = Controllers::start(&ns.name, None);
    let manifest = json!({
        "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniDeployment",
        "metadata": {"name": "web", "annotations": {"kubernetes.io/change-cause": "first"}},
        "spec": {
            "replicas": 2, "progressDeadlineSeconds": 5,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": "app:v1"}]}}
        }
    });
    ns.create::<MiniDeployment>(manifest).await.unwrap();
    let status = ok(minik8s(
        &ns,
        &["rollout", "status", "mdeploy/web", "--timeout", "60s"],
    ));
    assert!(
        status.ends_with("deployment \"web\" successfully rolled out\n"),
        "{status}"
    );
    // --revision pins the revision whose status is shown, as kubectl's.
    let pinned = ok(minik8s(
        &ns,
        &["rollout", "status", "mdeploy/web", "--revision", "1"],
    ));
    assert!(pinned.ends_with("successfully rolled out\n"), "{pinned}");
    let other = minik8s(
        &ns,
        &["rollout", "status", "mdeploy/web", "--revision", "5"],
    );
    assert_eq!(
        refused(other),
        "error: desired revision (5) is different from the running revision (1)\n"
    );

    // Dry runs, as kubectl's: nothing sent (client) or nothing kept (server).
    for (flag, suffix) in [
        ("--dry-run", "dry run"),
        ("--dry-run=server", "server dry run"),
    ] {
        assert_eq!(
            ok(minik8s(
                &ns,
                &["set", "image", "mdeploy/web", "app=app:v2", flag]
            )),
            format!("minideployment.minik8s.dev/web image updated ({suffix})\n")
        );
    }
    // -o prints the object that would be written.
    let planned: serde_json::Value = serde_json::from_str(&ok(minik8s(
        &ns,
        &[
            "set",
            "image",
            "mdeploy/web",
            "app=app:v2",
            "--dry-run=server",
            "-o",
            "json",
        ],
    )))
    .unwrap();
    assert_eq!(planned["kind"], "MiniDeployment");
    assert_eq!(
        planned["spec"]["template"]["spec"]["containers"][0]["image"],
        "app:v2"
    );
    let unchanged = ns.api::<MiniDeployment>().get("web").await.unwrap();
    assert_eq!(
        unchanged.spec.template.raw()["spec"]["containers"][0]["image"],
        "app:v1"
    );
    assert_eq!(
        ok(minik8s(&ns, &["set", "image", "mdeploy/web", "app=app:v2"])),
        "minideployment.minik8s.dev/web image updated\n"
    );
    ok(minik8s(
        &ns,
        &["rollout", "status", "mdeploy", "web", "--timeout", "60s"],
    ));
    let history = ok(minik8s(&ns, &["rollout", "history", "mdeploy/web"]));
    assert_eq!(
        history,
        "minideployment.minik8s.dev/web \nREVISION  CHANGE-CAUSE\n1         first\n2         first\n\n"
    );
    let revision = ok(minik8s(
        &ns,
        &["rollout", "history", "mdeploy/web", "--revision", "1"],
    ));
    assert!(revision.contains("    Image:\tapp:v1\n"), "{revision}");

    assert_eq!(
        ok(minik8s(&ns, &["rollout", "undo", "mdeploy/web"])),
        "minideployment.minik8s.dev/web rolled back\n"
    );
    // Like kubectl's, the rollback is done when the command returns.
    let api = ns.api::<MiniDeployment>();
    assert_eq!(image(&api.get("web").await.unwrap()), "app:v1");
    ok(minik8s(
        &ns,
        &["rollout", "status", "mdeploy/web", "--timeout", "60s"],
    ));

    assert_eq!(
        ok(minik8s(&ns, &["rollout", "pause", "mdeploy/web"])),
        "minideployment.minik8s.dev/web paused\n"
    );
    assert!(api.get("web").await.unwrap().spec.paused);
    assert!(
        !minik8s(&ns, &["rollout", "pause", "mdeploy/web"])
            .status
            .success(),
        "pausing twice is an error"
    );
    assert_eq!(
        ok(minik8s(&ns, &["rollout", "resume", "mdeploy/web"])),
        "minideployment.minik8s.dev/web resumed\n"
    );
    // -o prints the object as the API server returned it.
    let paused: serde_json::Value = serde_json::from_str(&ok(minik8s(
        &ns,
        &["rollout", "pause", "mdeploy/web", "-o", "json"],
    )))
    .unwrap();
    assert_eq!(paused["spec"]["paused"], true);
    let resumed = ok(minik8s(
        &ns,
        &["rollout", "resume", "mdeploy/web", "-o", "yaml"],
    ));
    assert!(resumed.contains("kind: MiniDeployment\n"), "{resumed}");
    assert!(!api.get("web").await.unwrap().spec.paused);

    ok(minik8s(&ns, &["rollout", "restart", "mdeploy/web"]));
    let d = api.get("web").await.unwrap();
    assert!(
        d.spec.template.raw()["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
            .is_string()
    );
    ok(minik8s(
        &ns,
        &["rollout", "status", "mdeploy/web", "--timeout", "60s"],
    ));

    // A rollout whose pods never become Ready: status fails once the deadline passes.
    let patch = json!({"spec": {"template": {"metadata": {"annotations": {"sim.minik8s.dev/behavior": "never-ready"}}}}});
    api.patch(
        "web",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&patch),
    )
    .await
    .unwrap();
    let stalled = minik8s(
        &ns,
        &["rollout", "status", "mdeploy/web", "--timeout", "60s"],
    );
    assert!(!stalled.status.success());
    assert!(String::from_utf8_lossy(&stalled.stderr).contains("exceeded its progress deadline"));

    // As a kubectl plugin.
    let plugins = std::env::temp_dir().join(format!("minik8s-plugin-{}", ns.name));
    std::fs::create_dir_all(&plugins).unwrap();
    let plugin = plugins.join("kubectl-minik8s");
    let _ = std::fs::remove_file(&plugin);
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_minik8s"), &plugin).unwrap();
    let path = format!("{}:{}", plugins.display(), std::env::var("PATH").unwrap());
    let plugin = |args: &[&str]| {
        Command::new("kubectl")
            .arg("minik8s")
            .args(args)
            .args(["--namespace", &ns.name])
            .env("PATH", &path)
            .output()
            .unwrap()
    };
    assert!(
        ok(plugin(&["rollout", "history", "mdeploy/web"]))
            .starts_with("minideployment.minik8s.dev/web \nREVISION")
    );
    // Messages that name a command name it as the user typed it.
    ok(plugin(&["rollout", "pause", "mdeploy/web"]));
    // A MiniDeployment created paused never rolls out: the watch ends at its --timeout, a
    // duration as kubectl takes it.
    let paused = json!({
        "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniDeployment",
        "metadata": {"name": "paused"},
        "spec": {
            "replicas": 1, "paused": true,
            "selector": {"matchLabels": {"app": "paused"}},
            "template": {"metadata": {"labels": {"app": "paused"}}, "spec": {"containers": [{"name": "app", "image": "app:v1"}]}}
        }
    });
    ns.create::<MiniDeployment>(paused).await.unwrap();
    let waited = std::time::Instant::now();
    let timed_out = minik8s(
        &ns,
        &["rollout", "status", "mdeploy/paused", "--timeout", "2s"],
    );
    assert_eq!(
        refused(timed_out),
        "error: timed out waiting for the condition\n"
    );
    assert!(waited.elapsed() >= std::time::Duration::from_secs(2));
    assert_eq!(
        refused(plugin(&["rollout", "undo", "mdeploy/web"])),
        "error: you cannot rollback a paused deployment; resume it first with \
         'kubectl minik8s rollout resume' and try again\n"
    );
    let _ = std::fs::remove_dir_all(&plugins);

    // kubectl's --kubeconfig and --context, before or after the subcommand.
    let kubeconfig = std::env::var("KUBECONFIG").expect("KUBECONFIG is set");
    let context = crate::common::kubectl(&["config", "current-context"]);
    let elsewhere = |flags: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_minik8s"))
            .args(["rollout", "history", "mdeploy/web", "--namespace", &ns.name])
            .args(flags)
            .env("KUBECONFIG", "/nonexistent/kubeconfig")
            .output()
            .unwrap()
    };
    let chosen = ok(elsewhere(&[
        "--kubeconfig",
        &kubeconfig,
        "--context",
        context.trim(),
    ]));
    assert!(
        chosen.starts_with("minideployment.minik8s.dev/web"),
        "{chosen}"
    );
    let missing = elsewhere(&["--kubeconfig", &kubeconfig, "--context", "no-such-context"]);
    let missing = refused(missing);
    assert!(missing.contains("no-such-context"), "{missing}");
    ns.cleanup().await;
}

/// `kubectl minik8s <TAB>`: kubectl (1.26+) finds `kubectl_complete-minik8s` beside the
/// plugin on PATH, runs it with the words typed, and shows what it answers.
#[test]
fn kubectl_completes_the_plugins_commands() {
    let plugins = std::env::temp_dir().join(format!(
        "minik8s-completion-{}",
        crate::common::unique_name("plugin")
    ));
    std::fs::create_dir_all(&plugins).unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_minik8s"),
        plugins.join("kubectl-minik8s"),
    )
    .unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/plugins/kubectl_complete-minik8s"
    );
    std::os::unix::fs::symlink(script, plugins.join("kubectl_complete-minik8s")).unwrap();
    let path = format!("{}:{}", plugins.display(), std::env::var("PATH").unwrap());
    let complete = |words: &[&str]| {
        let output = Command::new("kubectl")
            .args(["__complete", "minik8s"])
            .args(words)
            .env("PATH", &path)
            .output()
            .expect("kubectl is on PATH");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let top = complete(&["ro"]);
    assert!(top.starts_with("rollout\t"), "{top}");
    let rollout = complete(&["rollout", ""]);
    for sub in ["history", "pause", "restart", "resume", "status", "undo"] {
        assert!(
            rollout.lines().any(|l| l.starts_with(&format!("{sub}\t"))),
            "{sub}: {rollout}"
        );
    }
    assert!(rollout.trim_end().ends_with(":4"), "{rollout}");
    let _ = std::fs::remove_dir_all(&plugins);
}

/// `minik8s version`: kubectl's two lines, then each minik8s Deployment found in the cluster
/// with the version of the image it runs; `--client` needs no cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_names_the_client_the_server_and_the_controllers_running() {
    use k8s_openapi::api::apps::v1::Deployment;
    let ns = TestNamespace::new("version").await;
    let installed = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "minik8s", "labels": {"app.kubernetes.io/part-of": "minik8s",
                                                    "app.kubernetes.io/component": "controller-manager"}},
        "spec": {
            "replicas": 0, "selector": {"matchLabels": {"app": "minik8s-version-test"}},
            "template": {"metadata": {"labels": {"app": "minik8s-version-test"}},
                         "spec": {"containers": [{"name": "minik8s", "image": "localhost/minik8s:0.1.0"}]}}
        }
    });
    ns.create::<Deployment>(installed).await.unwrap();
    let server = ns.client.apiserver_version().await.unwrap().git_version;
    let version = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_minik8s"))
            .arg("version")
            .args(args)
            .output()
            .unwrap()
    };
    let text = ok(version(&[]));
    let client = format!("Client Version: v{}\n", env!("CARGO_PKG_VERSION"));
    assert!(
        text.starts_with(&format!("{client}Server Version: {server}\n")),
        "{text}"
    );
    let ours = format!(
        "minik8s Version: v0.1.0 (deployment {}/minik8s, image localhost/minik8s:0.1.0)\n",
        ns.name
    );
    assert!(text.contains(&ours), "{text}");
    let json: serde_json::Value = serde_json::from_str(&ok(version(&["-o", "json"]))).unwrap();
    assert_eq!(json["serverVersion"], server.as_str());
    let deployment = format!("{}/minik8s", ns.name);
    assert!(
        json["components"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["deployment"] == deployment.as_str() && c["version"] == "v0.1.0"),
        "{json}"
    );
    let offline = Command::new(env!("CARGO_BIN_EXE_minik8s"))
        .args(["version", "--client"])
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .output()
        .unwrap();
    assert_eq!(ok(offline), client);
    ns.cleanup().await;
}

/// `-l` on `rollout restart` and `set image`, as kubectl's: every MiniDeployment selected, a
/// line each; a refusal gathered and reported at the end while the others go on; nothing
/// selected is no error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_and_set_image_take_a_label_selector() {
    let ns = TestNamespace::new("rollout-selector").await;
    for (name, paused) in [("a", false), ("b", false), ("c", true)] {
        let d = json!({
            "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniDeployment",
            "metadata": {"name": name, "labels": {"tier": if paused { "back" } else { "front" }}},
            "spec": {
                "replicas": 0, "paused": paused,
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "app", "image": "app:v1"}]}}
            }
        });
        ns.create::<MiniDeployment>(d).await.unwrap();
    }
    assert_eq!(
        ok(minik8s(
            &ns,
            &["set", "image", "mdeploy", "-l", "tier=front", "app=app:v2"]
        )),
        "minideployment.minik8s.dev/a image updated\nminideployment.minik8s.dev/b image updated\n"
    );
    let images = ns.kubectl(&[
        "get",
        "mdeploy",
        "-o",
        "jsonpath={.items[*].spec.template.spec.containers[0].image}",
    ]);
    assert_eq!(images, "app:v2 app:v2 app:v1");
    assert_eq!(
        ok(minik8s(
            &ns,
            &["rollout", "restart", "mdeploy", "-l", "tier=front"]
        )),
        "minideployment.minik8s.dev/a restarted\nminideployment.minik8s.dev/b restarted\n"
    );
    // A second restart within the same second would be refused (nothing to change).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let paused = minik8s(
        &ns,
        &[
            "rollout",
            "restart",
            "mdeploy",
            "-l",
            "tier in (front,back)",
        ],
    );
    assert_eq!(paused.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&paused.stdout),
        "minideployment.minik8s.dev/a restarted\nminideployment.minik8s.dev/b restarted\n"
    );
    assert_eq!(
        String::from_utf8_lossy(&paused.stderr),
        "error: minideployments.minik8s.dev \"c\" can't restart paused deployment (run rollout resume first)\n"
    );
    let none = minik8s(&ns, &["rollout", "restart", "mdeploy", "-l", "tier=none"]);
    assert!(none.status.success());
    assert_eq!(
        String::from_utf8_lossy(&none.stderr),
        format!("No resources found in {} namespace.\n", ns.name)
    );
    let both = minik8s(
        &ns,
        &["rollout", "restart", "mdeploy/a", "-l", "tier=front"],
    );
    assert_eq!(both.status.code(), Some(1));
    ns.cleanup().await;
}

/// The krew manifest (`plugins/minik8s.yaml`, filled in for an archive of this binary by
/// tests/cluster/krew-package.sh): krew installs it, and kubectl then runs `kubectl minik8s`.
#[test]
fn krew_installs_kubectl_minik8s_from_the_plugin_manifest() {
    let krew = std::env::var("MINIK8S_KREW")
        .expect("MINIK8S_KREW is not set: run the tests through `make test` (tests/cluster/install-krew.sh)");
    let dir = std::env::temp_dir().join(format!("minik8s-krew-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = dir.join("out");
    let package = Command::new(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cluster/krew-package.sh"),
    )
    .args([env!("CARGO_BIN_EXE_minik8s"), "linux", "amd64"])
    .arg(&out)
    .output()
    .unwrap();
    let manifest = ok(package);
    let installed = Command::new(&krew)
        .args(["install", &format!("--manifest={}", manifest.trim())])
        .arg(format!(
            "--archive={}",
            out.join("minik8s_linux_amd64.tar.gz").display()
        ))
        .env("KREW_ROOT", dir.join("root"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    // krew reports on stderr.
    let said = String::from_utf8_lossy(&installed.stderr).into_owned();
    ok(installed);
    assert!(said.contains("Installed plugin: minik8s"), "{said}");
    let store = dir
        .join("root/store/minik8s")
        .join(format!("v{}", env!("CARGO_PKG_VERSION")));
    assert!(store.join("kubectl_complete-minik8s").exists());
    let path = format!(
        "{}:{}",
        dir.join("root/bin").display(),
        std::env::var("PATH").unwrap()
    );
    let version = Command::new("kubectl")
        .args(["minik8s", "version", "--client"])
        .env("PATH", path)
        .output()
        .unwrap();
    assert_eq!(
        ok(version),
        format!("Client Version: v{}\n", env!("CARGO_PKG_VERSION"))
    );
    let _ = std::fs::remove_dir_all(&dir);
}

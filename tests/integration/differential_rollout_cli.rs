//! `kubectl rollout …` on a built-in Deployment and `minik8s rollout …` on a MiniDeployment of
//! the same name, through the same situations: what each prints, on stdout and stderr, and its
//! exit code must be the same once the resource's name is mapped (kubectl is the oracle).

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::ResourceExt;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use minik8s::api::{MiniDeployment, MiniReplicaSet};
use serde_json::{Value, json};

use crate::common::{Controllers, TestNamespace, eventually};
use crate::fixtures;

const TIMEOUT: Duration = Duration::from_secs(90);

/// What one command did.
#[derive(Debug, PartialEq)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }
}

/// kubectl's output for the built-in twin as it reads for the MiniDeployment: the resource as
/// kubectl names a MiniDeployment, the command that resumes it, and no pod-template-hash
/// values (each kind hashes templates its own way). Applied to both sides.
fn as_mini(output: &str) -> String {
    let mapped = output
        .replace("deployment.apps/", "minideployment.minik8s.dev/")
        .replace("deployments.apps \"", "minideployments.minik8s.dev \"")
        .replace("'kubectl rollout resume'", "'minik8s rollout resume'");
    let mut out = String::new();
    let mut rest = mapped.as_str();
    while let Some(at) = rest.find("pod-template-hash=") {
        let value = at + "pod-template-hash=".len();
        out.push_str(&rest[..value]);
        out.push_str("<hash>");
        let end = rest[value..].find('\n').map_or(rest.len(), |e| value + e);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn normalized(run: Run) -> Run {
    Run {
        code: run.code,
        stdout: as_mini(&run.stdout),
        stderr: as_mini(&run.stderr),
    }
}

fn kubectl_rollout(ns: &TestNamespace, verb: &str, name: &str, extra: &[&str]) -> Command {
    let mut command = Command::new("kubectl");
    command
        .args(["rollout", verb, &format!("deployment/{name}")])
        .args(extra)
        .args(["--namespace", &ns.name]);
    command
}

fn minik8s_rollout(ns: &TestNamespace, verb: &str, name: &str, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_minik8s"));
    command
        .args(["rollout", verb, &format!("mdeploy/{name}")])
        .args(extra)
        .args(["--namespace", &ns.name]);
    command
}

/// Runs `rollout <verb>` on both twins named `name`; records a mismatch in `diffs`, returns
/// the minik8s run.
fn compare(
    diffs: &mut Vec<String>,
    ns: &TestNamespace,
    situation: &str,
    verb: &str,
    name: &str,
    extra: &[&str],
) -> Run {
    let builtin = normalized(
        kubectl_rollout(ns, verb, name, extra)
            .output()
            .expect("kubectl runs")
            .into(),
    );
    let mini = normalized(
        minik8s_rollout(ns, verb, name, extra)
            .output()
            .expect("minik8s runs")
            .into(),
    );
    if builtin != mini {
        diffs.push(format!(
            "{situation}:\n  kubectl: {builtin:?}\n  minik8s: {mini:?}"
        ));
    }
    mini
}

fn assert_no_diffs(diffs: &[String]) {
    assert!(
        diffs.is_empty(),
        "minik8s rollout differs from kubectl rollout:\n{}",
        diffs.join("\n")
    );
}

/// The fixture Deployment with one replica, a change-cause, and a volume, so that a revision's
/// pod template has most of what describe prints.
fn manifest(paused: bool) -> Value {
    let mut d = fixtures::deployment("web");
    d["spec"]["replicas"] = json!(1);
    d["spec"]["paused"] = json!(paused);
    d["metadata"]["annotations"] = json!({"kubernetes.io/change-cause": "create"});
    let template = &mut d["spec"]["template"];
    template["metadata"]["annotations"] = json!({"example.com/team": "web"});
    template["spec"]["volumes"] = json!([{"name": "cache", "emptyDir": {}}]);
    template["spec"]["containers"][0]["volumeMounts"] =
        json!([{"name": "cache", "mountPath": "/cache"}]);
    d
}

async fn create_both(ns: &TestNamespace, manifest: Value) {
    ns.create::<MiniDeployment>(fixtures::mini(manifest.clone()))
        .await
        .unwrap();
    ns.create::<Deployment>(manifest).await.unwrap();
}

async fn patch_both(ns: &TestNamespace, patch: Value) {
    let params = PatchParams::default();
    ns.api::<Deployment>()
        .patch("web", &params, &Patch::Merge(&patch))
        .await
        .unwrap();
    ns.api::<MiniDeployment>()
        .patch("web", &params, &Patch::Merge(&patch))
        .await
        .unwrap();
}

/// Waits until both twins have a set at `revision`.
async fn both_have_revision(ns: &TestNamespace, revision: &str) {
    eventually(TIMEOUT, &format!("revision {revision} on both"), || async {
        let builtin = ns
            .api::<ReplicaSet>()
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .any(|rs| {
                rs.annotations().get("deployment.kubernetes.io/revision")
                    == Some(&revision.to_owned())
            });
        let mini = ns
            .api::<MiniReplicaSet>()
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .any(|rs| rs.annotations().get("minik8s.dev/revision") == Some(&revision.to_owned()));
        builtin && mini
    })
    .await;
}

async fn builtin_template(ns: &TestNamespace) -> Value {
    let d = ns.api::<Deployment>().get("web").await.unwrap();
    serde_json::to_value(&d).unwrap()["spec"]["template"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_refusals_match_kubectl_on_a_paused_deployment_without_history() {
    let ns = TestNamespace::new("rollout-paused").await;
    // Created paused, neither controller makes a set: there is no history at all.
    create_both(&ns, manifest(true)).await;
    let mut diffs = Vec::new();
    let d = &mut diffs;
    compare(d, &ns, "history, none yet", "history", "web", &[]);
    compare(
        d,
        &ns,
        "history --revision, none yet",
        "history",
        "web",
        &["--revision=1"],
    );
    compare(
        d,
        &ns,
        "history --revision -1",
        "history",
        "web",
        &["--revision=-1"],
    );
    compare(
        d,
        &ns,
        "status --revision -1",
        "status",
        "web",
        &["--revision=-1"],
    );
    compare(
        d,
        &ns,
        "status of a revision not running",
        "status",
        "web",
        &["--revision=3"],
    );
    compare(d, &ns, "undo, no history", "undo", "web", &[]);
    compare(
        d,
        &ns,
        "undo to a missing revision",
        "undo",
        "web",
        &["--to-revision=3"],
    );
    compare(
        d,
        &ns,
        "undo to a negative revision",
        "undo",
        "web",
        &["--to-revision=-1"],
    );
    compare(d, &ns, "pause while paused", "pause", "web", &[]);
    compare(d, &ns, "restart while paused", "restart", "web", &[]);
    compare(d, &ns, "resume", "resume", "web", &[]);
    compare(d, &ns, "resume while not paused", "resume", "web", &[]);
    compare(d, &ns, "pause", "pause", "web", &[]);
    for verb in ["status", "history", "undo", "pause", "resume", "restart"] {
        compare(
            d,
            &ns,
            &format!("{verb} of a missing object"),
            verb,
            "nope",
            &[],
        );
    }
    assert_no_diffs(&diffs);
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_history_and_undo_match_kubectl() {
    let ns = TestNamespace::new("rollout-undo").await;
    let _controllers = Controllers::start(&ns.name, None);
    create_both(&ns, manifest(false)).await;
    both_have_revision(&ns, "1").await;
    let mut diffs = Vec::new();
    let d = &mut diffs;
    compare(d, &ns, "undo with one revision", "undo", "web", &[]);
    compare(
        d,
        &ns,
        "undo to the current revision",
        "undo",
        "web",
        &["--to-revision=1"],
    );

    patch_both(
        &ns,
        json!({"metadata": {"annotations": {"kubernetes.io/change-cause": "image 0.28"}},
               "spec": {"template": {"spec": {"containers": [
                   {"name": "web", "image": "registry.k8s.io/nginx-slim:0.28"}]}}}}),
    )
    .await;
    both_have_revision(&ns, "2").await;
    compare(d, &ns, "history", "history", "web", &[]);
    compare(
        d,
        &ns,
        "history --revision 1",
        "history",
        "web",
        &["--revision=1"],
    );
    compare(
        d,
        &ns,
        "history --revision 2",
        "history",
        "web",
        &["--revision=2"],
    );
    compare(
        d,
        &ns,
        "history, unknown revision",
        "history",
        "web",
        &["--revision=9"],
    );
    compare(
        d,
        &ns,
        "undo to a missing revision",
        "undo",
        "web",
        &["--to-revision=9"],
    );
    // Dry runs change nothing: what follows still sees revision 2.
    compare(
        d,
        &ns,
        "undo --dry-run=client",
        "undo",
        "web",
        &["--dry-run=client"],
    );
    compare(
        d,
        &ns,
        "undo --dry-run=server",
        "undo",
        "web",
        &["--dry-run=server"],
    );
    compare(
        d,
        &ns,
        "undo to the current revision, server dry run",
        "undo",
        "web",
        &["--to-revision=2", "--dry-run=server"],
    );
    compare(d, &ns, "history after the dry runs", "history", "web", &[]);

    compare(d, &ns, "pause", "pause", "web", &[]);
    compare(d, &ns, "pause twice", "pause", "web", &[]);
    compare(d, &ns, "undo while paused", "undo", "web", &[]);
    compare(d, &ns, "restart while paused", "restart", "web", &[]);
    compare(d, &ns, "resume", "resume", "web", &[]);
    compare(d, &ns, "resume twice", "resume", "web", &[]);
    compare(d, &ns, "pause -o name", "pause", "web", &["-o", "name"]);
    compare(d, &ns, "resume -o name", "resume", "web", &["-o", "name"]);
    let mini_before = ns.api::<MiniDeployment>().get("web").await.unwrap();
    for image in [
        &builtin_template(&ns).await["spec"]["containers"][0]["image"],
        &mini_before.spec.template.raw()["spec"]["containers"][0]["image"],
    ] {
        assert_eq!(
            image, "registry.k8s.io/nginx-slim:0.28",
            "refused rollbacks changed nothing"
        );
    }
    assert!(
        !mini_before
            .annotations()
            .contains_key("minik8s.dev/rollback-to")
    );

    // The rollback itself: done when the command returns, template and change-cause alike.
    compare(d, &ns, "undo", "undo", "web", &[]);
    let builtin = ns.api::<Deployment>().get("web").await.unwrap();
    let mini = ns.api::<MiniDeployment>().get("web").await.unwrap();
    let template = builtin_template(&ns).await;
    for (what, b, m) in [
        (
            "image",
            &template["spec"]["containers"][0]["image"],
            &mini.spec.template.raw()["spec"]["containers"][0]["image"],
        ),
        (
            "template labels",
            &template["metadata"]["labels"],
            &mini.spec.template.raw()["metadata"]["labels"],
        ),
    ] {
        assert_eq!(b, m, "{what} after undo");
    }
    assert_eq!(
        template["spec"]["containers"][0]["image"],
        "registry.k8s.io/nginx-slim:0.27"
    );
    assert_eq!(
        builtin.annotations().get("kubernetes.io/change-cause"),
        mini.annotations().get("kubernetes.io/change-cause")
    );
    both_have_revision(&ns, "3").await;
    compare(d, &ns, "history after undo", "history", "web", &[]);

    // A second restart within the same second changes nothing and is refused; two runs may
    // straddle a second, so each side restarts until one is refused.
    for (side, rollout) in [
        (
            "kubectl",
            kubectl_rollout as fn(&TestNamespace, &str, &str, &[&str]) -> Command,
        ),
        ("minik8s", minik8s_rollout),
    ] {
        let first = Run::from(rollout(&ns, "restart", "web", &[]).output().unwrap());
        assert_eq!(first.code, Some(0), "{side}: {first:?}");
        let refusal = (0..5).find_map(|_| {
            let again = Run::from(rollout(&ns, "restart", "web", &[]).output().unwrap());
            (again.code != Some(0)).then_some(again)
        });
        let refusal = refusal.unwrap_or_else(|| panic!("{side} never refused a second restart"));
        assert_eq!(
            refusal,
            Run {
                code: Some(1),
                stdout: String::new(),
                stderr: "error: failed to create patch for web: if restart has already been triggered within the past second, please wait before attempting to trigger another\n".into(),
            },
            "{side}"
        );
    }
    let stamp = |template: &Value| {
        template["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let builtin_stamp = stamp(&builtin_template(&ns).await);
    let mini_stamp = stamp(&Value::Object(
        ns.api::<MiniDeployment>()
            .get("web")
            .await
            .unwrap()
            .spec
            .template
            .raw()
            .clone(),
    ));
    // RFC 3339 in whole seconds: 2026-01-02T03:04:05Z (kubectl: local time with its offset).
    for s in [&builtin_stamp, &mini_stamp] {
        assert!(!s.contains('.'), "{s}");
        assert!(s.parse::<k8s_openapi::jiff::Timestamp>().is_ok(), "{s}");
    }
    assert_no_diffs(&diffs);
    ns.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_status_of_a_deleted_object_matches_kubectl() {
    let ns = TestNamespace::new("rollout-status").await;
    let _controllers = Controllers::start(&ns.name, None);
    // Paused before its first set, the rollout waits until it is deleted.
    create_both(&ns, manifest(true)).await;
    let watch = |mut command: Command| {
        command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the command starts")
    };
    let builtin = watch(kubectl_rollout(&ns, "status", "web", &[]));
    let mini = watch(minik8s_rollout(&ns, "status", "web", &[]));
    tokio::time::sleep(Duration::from_secs(5)).await;
    let delete = DeleteParams::background();
    ns.api::<Deployment>().delete("web", &delete).await.unwrap();
    ns.api::<MiniDeployment>()
        .delete("web", &delete)
        .await
        .unwrap();
    let finish = |child: std::process::Child| {
        tokio::task::spawn_blocking(move || normalized(child.wait_with_output().unwrap().into()))
    };
    let (builtin, mini) = (finish(builtin), finish(mini));
    let (builtin, mini) = (builtin.await.unwrap(), mini.await.unwrap());
    assert_eq!(
        (builtin.code, &builtin.stderr),
        (mini.code, &mini.stderr),
        "exit code and error"
    );
    assert_eq!(builtin.stderr, "error: object has been deleted\n");
    // Both print the status at every version of the object they watch; the built-in and the
    // minik8s controller write their objects a different number of times, so the last word
    // is what is compared.
    assert_eq!(
        builtin.stdout.lines().last(),
        mini.stdout.lines().last(),
        "{builtin:?} {mini:?}"
    );
    ns.cleanup().await;
}

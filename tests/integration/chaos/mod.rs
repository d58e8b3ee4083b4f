//! The chaos suite: faults while the controllers and the scheduler work, with the invariants
//! checked at every pod event (`invariants`), then exact convergence. `make test` runs the
//! smaller size; `make chaos` (`MINIK8S_CHAOS=full`) the full one, plus the scenarios that
//! restart the shared API server, alone. Each scenario writes its figures to
//! `target/chaos/<scenario>.json`; docs/reliability.md has the table.

mod control_plane;
mod invariants;
mod leader;
mod proxy;
mod scenarios;
mod slices;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use minik8s::api::{MiniDeployment, MiniEndpoints, MiniReplicaSet};
use serde_json::{Value, json};

use crate::common::TestNamespace;

/// How big a run is.
#[derive(Clone, Copy, Debug)]
pub struct Size {
    pub full: bool,
    /// Replicas of the rolled MiniDeployment.
    pub replicas: i32,
    pub kills: u32,
    pub kill_every: Duration,
    /// How long pods are deleted at random.
    pub pod_chaos: Duration,
}

pub fn size() -> Size {
    if std::env::var("MINIK8S_CHAOS").as_deref() == Ok("full") {
        Size {
            full: true,
            replicas: 200,
            kills: 20,
            kill_every: Duration::from_secs(3),
            pod_chaos: Duration::from_secs(60),
        }
    } else {
        Size {
            full: false,
            replicas: 40,
            kills: 5,
            kill_every: Duration::from_secs(2),
            pod_chaos: Duration::from_secs(15),
        }
    }
}

/// Writes a scenario's figures to `target/chaos/<scenario>.json` and prints them.
pub fn record(scenario: &str, figures: Value) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/chaos");
    std::fs::create_dir_all(&dir).unwrap();
    let mut figures = figures;
    figures["scenario"] = json!(scenario);
    figures["size"] = json!(if size().full { "full" } else { "small" });
    let text = serde_json::to_string_pretty(&figures).unwrap();
    std::fs::write(dir.join(format!("{scenario}.json")), &text).unwrap();
    println!("chaos figures: {text}");
}

/// Fails the scenario when an invariant broke at any event, with the first few breaches.
pub fn assert_held(scenario: &str, seen: &invariants::Seen) {
    assert!(
        seen.violations.is_empty(),
        "{scenario}: invariants broken ({} times), first: {:?}",
        seen.violations.len(),
        &seen.violations[..seen.violations.len().min(5)]
    );
}

/// A process that a scenario kills and starts again.
pub struct Restartable {
    command: Box<dyn Fn() -> Command + Send>,
    child: Child,
    pub restarts: u32,
}

impl Restartable {
    pub fn start(command: impl Fn() -> Command + Send + 'static) -> Self {
        let child = command().spawn().expect("the minik8s binary runs");
        Self {
            command: Box::new(command),
            child,
            restarts: 0,
        }
    }

    /// SIGKILL, as the OOM killer or a node failure would: nothing is flushed or released.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn kill_and_restart(&mut self) {
        self.kill();
        self.child = (self.command)().spawn().expect("the minik8s binary runs");
        self.restarts += 1;
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Still running (a crash would be a finding).
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Restartable {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `minik8s controller-manager` for `namespace`, without leader election (a restarted
/// process takes over at once), at the given client limits.
pub fn controller_manager(
    namespace: &str,
    qps: u32,
    kubeconfig: Option<&std::path::Path>,
) -> Command {
    let mut command = controller_manager_serving(namespace, qps, "127.0.0.1:0");
    if let Some(path) = kubeconfig {
        command.env("KUBECONFIG", path);
    }
    command
}

/// [`controller_manager`] serving its health and metrics at `health_address`.
pub fn controller_manager_serving(namespace: &str, qps: u32, health_address: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_minik8s"));
    command
        .args(["controller-manager", "--namespace", namespace])
        .args(["--health-address", health_address, "--log-level", "warn"])
        .args(["--kube-api-qps", &qps.to_string()])
        .args(["--kube-api-burst", &(qps * 3 / 2).to_string()])
        .stdout(Stdio::null());
    command
}

/// `minik8s scheduler` for the pods naming `scheduler_name`.
pub fn scheduler(scheduler_name: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_minik8s"));
    command
        .args(["scheduler", "--scheduler-name", scheduler_name])
        .args(["--health-address", "127.0.0.1:0", "--log-level", "warn"])
        .stdout(Stdio::null());
    command
}

/// A MiniDeployment of `replicas` pods labelled `app=<name>` (25 % surge and unavailable, as
/// the defaults), placed by `scheduler_name` when given.
pub fn deployment(name: &str, replicas: i32, image: &str, scheduler_name: Option<&str>) -> Value {
    let mut spec = json!({"containers": [container(image)], "terminationGracePeriodSeconds": 0});
    if let Some(s) = scheduler_name {
        spec["schedulerName"] = json!(s);
    }
    json!({
        "apiVersion": "minik8s.dev/v1alpha1", "kind": "MiniDeployment",
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}
    })
}

/// The one container of the scenarios' pods, with the named port their MiniServices target.
/// A merge patch replaces the whole list, so every change of image writes all of it.
pub fn container(image: &str) -> Value {
    json!({"name": "app", "image": image, "ports": [{"name": "http", "containerPort": 8080}]})
}

/// `replicas + maxSurge` and `replicas − maxUnavailable` for the default 25 % / 25 %.
pub fn rolling_bounds(replicas: i32) -> (usize, usize) {
    let surge = (replicas as f64 * 0.25).ceil() as i32;
    let unavailable = (replicas as f64 * 0.25).floor() as i32;
    (
        (replicas + surge) as usize,
        (replicas - unavailable) as usize,
    )
}

pub async fn set_image(ns: &TestNamespace, name: &str, image: &str) {
    let patch = json!({"spec": {"template": {"spec": {"containers": [container(image)]}}}});
    ns.api::<MiniDeployment>()
        .patch(name, &Default::default(), &kube::api::Patch::Merge(&patch))
        .await
        .unwrap();
}

/// Sets the MiniDeployment's replicas and image in one write.
pub async fn scale_and_set_image(ns: &TestNamespace, name: &str, replicas: i32, image: &str) {
    let patch = json!({"spec": {"replicas": replicas,
        "template": {"spec": {"containers": [container(image)]}}}});
    ns.api::<MiniDeployment>()
        .patch(name, &Default::default(), &kube::api::Patch::Merge(&patch))
        .await
        .unwrap();
}

/// The active pods labelled `app=<name>`.
pub async fn active_pods(ns: &TestNamespace, name: &str) -> Vec<Pod> {
    crate::replicaset::active_pods(ns, name).await
}

/// Whether the MiniDeployment is done rolling to `image`: status observed and complete, and
/// exactly `replicas` active pods, all of the image and ready.
pub async fn rolled_out(ns: &TestNamespace, name: &str, image: &str, replicas: i32) -> bool {
    let Ok(d) = ns.api::<MiniDeployment>().get(name).await else {
        return false;
    };
    let s = d.status.clone().map(|s| s.status).unwrap_or_default();
    let status_done = d.spec.template.raw()["spec"]["containers"][0]["image"] == image
        && s.observed_generation == d.metadata.generation
        && [
            s.updated_replicas,
            s.available_replicas,
            s.ready_replicas,
            s.replicas,
        ] == [Some(replicas); 4];
    if !status_done {
        return false;
    }
    let pods = active_pods(ns, name).await;
    pods.len() == replicas as usize
        && pods.iter().all(|p| {
            let spec = p.spec.as_ref().unwrap();
            spec.containers[0].image.as_deref() == Some(image)
                && spec.node_name.is_some()
                && is_ready(p)
        })
}

pub fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// The MiniEndpoints of `name` lists exactly the active pods' IPs as ready addresses.
pub async fn endpoints_match_pods(ns: &TestNamespace, name: &str) -> bool {
    let Some(endpoints) = ns.api::<MiniEndpoints>().get_opt(name).await.unwrap() else {
        return false;
    };
    let mut listed: Vec<String> = endpoints
        .subsets
        .iter()
        .flat_map(|s| s.addresses.iter().flatten())
        .map(|a| a.ip.clone())
        .collect();
    let not_ready = endpoints
        .subsets
        .iter()
        .map(|s| s.not_ready_addresses.as_ref().map_or(0, Vec::len))
        .sum::<usize>();
    let mut ips: Vec<String> = active_pods(ns, name)
        .await
        .iter()
        .filter_map(|p| p.status.as_ref()?.pod_ip.clone())
        .collect();
    listed.sort();
    ips.sort();
    not_ready == 0 && listed == ips
}

/// The MiniReplicaSets of a MiniDeployment rolled through `images` (in order): one per image,
/// revisions 1…n in that order, only the last with replicas.
pub async fn sets_as_without_faults(ns: &TestNamespace, images: &[String], replicas: i32) {
    let sets = ns
        .api::<MiniReplicaSet>()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    let mut by_revision: Vec<(u32, String, i32)> = sets
        .iter()
        .map(|rs| {
            let revision = rs
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(minik8s::controllers::deployment::util::REVISION))
                .and_then(|r| r.parse().ok())
                .unwrap_or(0);
            let image = rs.spec.template.raw()["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            (revision, image, rs.spec.replicas)
        })
        .collect();
    by_revision.sort();
    let expected: Vec<(u32, String, i32)> = images
        .iter()
        .enumerate()
        .map(|(i, image)| {
            let last = i + 1 == images.len();
            (i as u32 + 1, image.clone(), if last { replicas } else { 0 })
        })
        .collect();
    assert_eq!(
        by_revision, expected,
        "the sets and revisions after the faults"
    );
}

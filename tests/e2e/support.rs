//! What every journey needs: a namespace of its own, kubectl and minik8s commands in it, and
//! waiting for a condition.

use std::future::Future;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace as CoreNamespace, Node};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

/// Real nodes pull images and start containers: give them time.
pub const TIMEOUT: Duration = Duration::from_secs(240);

/// The Helm release under test: (name, namespace).
pub fn release() -> (String, String) {
    let get = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run the suite through `make e2e` or `make e2e-kind`")
        })
    };
    (
        get("MINIK8S_E2E_RELEASE"),
        get("MINIK8S_E2E_RELEASE_NAMESPACE"),
    )
}

pub async fn client() -> Client {
    Client::try_default().await.unwrap_or_else(|e| {
        panic!("no cluster ({e}): set KUBECONFIG to the cluster minik8s is installed in")
    })
}

/// Whether the cluster's nodes are KWOK's simulated ones (the local control plane), whose
/// pods run nothing.
pub async fn nodes_are_simulated(client: &Client) -> bool {
    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .unwrap();
    nodes.items.iter().any(|n| {
        n.metadata
            .annotations
            .iter()
            .flatten()
            .any(|(k, _)| k == "kwok.x-k8s.io/node")
    })
}

/// A namespace of the journey's own, deleted at the end.
pub struct Namespace {
    pub name: String,
    pub client: Client,
}

impl Namespace {
    pub async fn new(prefix: &str) -> Self {
        // The journeys need minik8s installed and running; only the harness knows it is.
        let _ = release();
        let client = client().await;
        let name = format!("e2e-{prefix}-{:06x}", fastrand::u32(..0xffffff));
        let namespace: CoreNamespace =
            serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        Api::<CoreNamespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .unwrap();
        Self { name, client }
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }

    pub fn kubectl(&self, args: &[&str]) -> Command {
        let mut command = Command::new("kubectl");
        command.args(args).args(["--namespace", &self.name]);
        command
    }

    pub fn minik8s(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_minik8s"));
        command.args(args).args(["--namespace", &self.name]);
        command
    }

    pub async fn delete(self) {
        let _ = Api::<CoreNamespace>::all(self.client.clone())
            .delete(&self.name, &DeleteParams::background())
            .await;
    }
}

pub fn run(mut command: Command) -> Output {
    command.output().expect("the command starts")
}

/// stdout of a command that must succeed.
pub fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

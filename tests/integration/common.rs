//! Test harness: the cluster client, one namespace per test, kubectl, polling.

use std::future::Future;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::{Namespace, ResourceQuota, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, Status};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Api, Client, Resource};
use serde_json::Value;
use tokio::sync::OnceCell;

/// A client for the cluster in `KUBECONFIG`. Panics when there is none: an integration test
/// must never pass without talking to an API server.
pub async fn client() -> Client {
    if std::env::var_os("KUBECONFIG").is_none() {
        panic!(
            "KUBECONFIG is not set: integration tests need a cluster. Run `make test` (it starts \
             the local control plane), or `make cluster-up` and export the KUBECONFIG it prints."
        );
    }
    let client = Client::try_default()
        .await
        .expect("cannot build a client from KUBECONFIG");
    client
        .apiserver_version()
        .await
        .expect("the API server in KUBECONFIG does not answer; is the cluster up?");
    client
}

/// Installs the CRDs from `crds/` (as a user would, with server-side apply) once per test run
/// and waits until they are Established.
pub async fn install_crds(client: &Client) {
    static INSTALLED: OnceCell<()> = OnceCell::const_new();
    INSTALLED
        .get_or_init(|| async {
            let api: Api<CustomResourceDefinition> = Api::all(client.clone());
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
            for entry in std::fs::read_dir(dir).expect("crds/ exists") {
                let path = entry.unwrap().path();
                let crd: CustomResourceDefinition =
                    serde_norway::from_str(&std::fs::read_to_string(&path).unwrap())
                        .unwrap_or_else(|e| panic!("{} is not a CRD: {e}", path.display()));
                let name = crd.metadata.name.clone().unwrap();
                api.patch(
                    &name,
                    &PatchParams::apply("minik8s-tests").force(),
                    &Patch::Apply(&crd),
                )
                .await
                .unwrap_or_else(|e| panic!("the API server refused {}: {e}", path.display()));
                within(
                    Duration::from_secs(30),
                    await_condition(api.clone(), &name, conditions::is_crd_established()),
                )
                .await
                .unwrap_or_else(|| panic!("CRD {name} did not become Established"))
                .unwrap();
            }
        })
        .await;
}

/// A namespace of its own for one test, deleted by `cleanup`.
pub struct TestNamespace {
    pub client: Client,
    pub name: String,
}

impl TestNamespace {
    pub async fn new(prefix: &str) -> Self {
        let client = client().await;
        install_crds(&client).await;
        let name = unique_name(prefix);
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let ns: Namespace = serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "labels": {"minik8s.dev/test": "true"}}
        }))
        .unwrap();
        namespaces
            .create(&PostParams::default(), &ns)
            .await
            .unwrap();
        // Pods are refused until the service account controller has made `default`.
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &name);
        eventually(
            Duration::from_secs(30),
            "default service account",
            || async { accounts.get_opt("default").await.unwrap().is_some() },
        )
        .await;
        Self { client, name }
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }

    /// An untyped API for kind `K`, to send objects the typed structs could not express.
    pub fn dynamic<K: Resource<DynamicType = ()>>(&self) -> Api<DynamicObject> {
        Api::namespaced_with(
            self.client.clone(),
            &self.name,
            &ApiResource::erase::<K>(&()),
        )
    }

    /// Creates `manifest` (a JSON object with apiVersion and kind) in this namespace.
    pub async fn create<K: Resource<DynamicType = ()>>(
        &self,
        manifest: Value,
    ) -> Result<DynamicObject, Status> {
        let object: DynamicObject = serde_json::from_value(manifest).expect("a valid object");
        match self
            .dynamic::<K>()
            .create(&PostParams::default(), &object)
            .await
        {
            Ok(created) => Ok(created),
            Err(kube::Error::Api(status)) => Err(*status),
            Err(other) => panic!("request failed without an API answer: {other}"),
        }
    }

    /// Runs kubectl in this namespace and returns its stdout; panics when it fails.
    pub fn kubectl(&self, args: &[&str]) -> String {
        kubectl(&[&["--namespace", &self.name], args].concat())
    }

    pub async fn cleanup(self) {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let _ = namespaces
            .delete(&self.name, &DeleteParams::background())
            .await;
    }
}

/// A failed test's namespace goes too: pods left running there would hold the local
/// cluster's capacity and fail the tests after it. Set `MINIK8S_KEEP_FAILED_NAMESPACES=1` to
/// keep them for a look.
impl Drop for TestNamespace {
    fn drop(&mut self) {
        if !std::thread::panicking() || std::env::var_os("MINIK8S_KEEP_FAILED_NAMESPACES").is_some()
        {
            return;
        }
        eprintln!(
            "deleting namespace {} of the failed test (MINIK8S_KEEP_FAILED_NAMESPACES=1 keeps it)",
            self.name
        );
        let _ = Command::new("kubectl")
            .args(["delete", "namespace", &self.name, "--wait=false"])
            .output();
    }
}

/// A namespace whose pods a quota limits to 2, enforced before this returns.
pub async fn quota_namespace(prefix: &str) -> TestNamespace {
    let ns = TestNamespace::new(prefix).await;
    let quota: ResourceQuota = serde_json::from_value(
        serde_json::json!({"metadata": {"name": "pods"}, "spec": {"hard": {"pods": "2"}}}),
    )
    .unwrap();
    ns.api::<ResourceQuota>()
        .create(&PostParams::default(), &quota)
        .await
        .unwrap();
    eventually(
        Duration::from_secs(60),
        "the quota to be enforced",
        || async {
            let q = ns.api::<ResourceQuota>().get("pods").await.unwrap();
            q.status
                .and_then(|s| s.hard)
                .is_some_and(|h| h.contains_key("pods"))
        },
    )
    .await;
    ns
}

/// Runs kubectl (the pinned one on PATH under `make test`) and returns its stdout.
pub fn kubectl(args: &[&str]) -> String {
    let output = Command::new("kubectl")
        .args(args)
        .output()
        .expect("kubectl is not on PATH; run the tests through `make test`");
    assert!(
        output.status.success(),
        "kubectl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Polls `check` every 100 ms until it is true; panics after `timeout`.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls `check` every 100 ms until it gives `Ok`; after `timeout` panics with what its last
/// `Err` said, so that a timeout tells what the cluster held, not only what was awaited.
pub async fn eventually_explained<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let start = Instant::now();
    loop {
        let Err(seen) = check().await else {
            return;
        };
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}; last seen: {seen}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `future`'s output, or None when it takes longer than `timeout`.
pub async fn within<T>(timeout: Duration, future: impl Future<Output = T>) -> Option<T> {
    tokio::time::timeout(timeout, future).await.ok()
}

/// A DNS-label name that no other test (or earlier run) uses.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{:x}{n}", nanos & 0xfffff)
}

/// minik8s controllers running in this test process, scoped to one namespace.
pub struct Controllers {
    task: Option<tokio::task::JoinHandle<()>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Controllers {
    /// Starts the controller manager for `namespace`, unlimited or at `rate_limit`.
    pub fn start(namespace: &str, rate_limit: Option<minik8s::runtime::client::RateLimit>) -> Self {
        Self::start_with(minik8s::manager::Options {
            namespace: Some(namespace.to_owned()),
            rate_limit,
            ..Default::default()
        })
    }

    /// Starts the controller manager with `options` (scope them to the test's namespace).
    pub fn start_with(options: minik8s::manager::Options) -> Self {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            minik8s::manager::run(options, shutdown)
                .await
                .expect("controller manager failed");
        });
        Self {
            task: Some(task),
            stop: Some(stop),
        }
    }

    /// Stops the controllers abruptly, as a crash would: syncs in flight are cut short.
    pub fn kill(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    /// Stops the controllers gracefully and waits for them.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Controllers {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Watches the pods of a namespace and remembers the most that existed at once.
pub struct PodCounter {
    max: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl PodCounter {
    /// Counts pods matching `labels` that are not being deleted.
    pub async fn start(client: Client, namespace: &str, labels: &str) -> Self {
        use futures::StreamExt;
        use k8s_openapi::api::core::v1::Pod;
        use kube::runtime::watcher;

        let api: Api<Pod> = Api::namespaced(client, namespace);
        let max = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = max.clone();
        let (ready, is_ready) = tokio::sync::oneshot::channel();
        let config = watcher::Config::default().labels(labels);
        let task = tokio::spawn(async move {
            let mut live = std::collections::HashSet::new();
            let mut ready = Some(ready);
            let mut events = watcher::watcher(api, config).boxed();
            while let Some(Ok(event)) = events.next().await {
                match event {
                    watcher::Event::Apply(pod) | watcher::Event::InitApply(pod) => {
                        let name = pod.metadata.name.clone().unwrap();
                        if pod.metadata.deletion_timestamp.is_none() {
                            live.insert(name);
                        } else {
                            live.remove(&name);
                        }
                    }
                    watcher::Event::Delete(pod) => {
                        live.remove(pod.metadata.name.as_ref().unwrap());
                    }
                    watcher::Event::InitDone => {
                        if let Some(ready) = ready.take() {
                            let _ = ready.send(());
                        }
                    }
                    watcher::Event::Init => live.clear(),
                }
                seen.fetch_max(live.len(), Ordering::SeqCst);
            }
        });
        let _ = is_ready.await;
        Self { max, task }
    }

    pub fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
}

impl Drop for PodCounter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The `minik8s controller-manager` binary for `namespace`, electing a leader through the
/// Lease `lease` there; callers add the identity (POD_NAME) or credentials (KUBECONFIG).
pub fn controller_manager_process(namespace: &str, lease: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_minik8s"));
    command
        .args([
            "controller-manager",
            "--namespace",
            namespace,
            "--health-address",
            "127.0.0.1:0",
        ])
        .args([
            "--leader-elect",
            "--leader-elect-namespace",
            namespace,
            "--leader-elect-lease-name",
            lease,
        ])
        .args(["--log-level", "warn"]);
    command
}

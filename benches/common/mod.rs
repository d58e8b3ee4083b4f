//! What the benchmarks share: the bench namespace, the minik8s process, memory readings and
//! where results go.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use anyhow::{Context, bail};
use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
use kube::api::PostParams;
use kube::{Api, Client};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

/// A setting: both controllers limited to kube-controller-manager's QPS, or neither.
pub fn limits(setting: &str) -> anyhow::Result<(Option<f64>, Option<u32>)> {
    match setting {
        "limited" => Ok((Some(20.0), Some(30))),
        "unlimited" => Ok((None, None)),
        other => bail!("unknown setting {other}"),
    }
}

/// The value of `--setting` among the arguments.
pub fn setting_arg() -> anyhow::Result<Option<String>> {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--summary") {
        return Ok(None);
    }
    let setting = args
        .iter()
        .position(|a| a == "--setting")
        .and_then(|i| args.get(i + 1))
        .context("usage: --setting limited|unlimited, or --summary")?;
    Ok(Some(setting.clone()))
}

/// Creates `namespace` and waits until pods can be created in it.
pub async fn create_namespace(client: &Client, namespace: &str) -> anyhow::Result<()> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": namespace}}))?;
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .context("creating the bench namespace")?;
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    for _ in 0..300 {
        if accounts.get_opt("default").await?.is_some() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("no default service account in {namespace}")
}

/// One setting's run: its limits, a client of the bench cluster, the bench namespace made,
/// and minik8s started with `controllers` at those limits.
pub struct Run {
    pub setting: String,
    pub qps: Option<f64>,
    pub burst: Option<u32>,
    pub client: Client,
    pub controller: OwnedProcess,
}

/// Sets up the run `--setting` asks for in `namespace`; None for `--summary`.
pub async fn start(namespace: &str, controllers: &str) -> anyhow::Result<Option<Run>> {
    let Some(setting) = setting_arg()? else {
        return Ok(None);
    };
    let (qps, burst) = limits(&setting)?;
    let client = Client::try_default()
        .await
        .context("KUBECONFIG must point at the bench cluster")?;
    create_namespace(&client, namespace).await?;
    let controller = start_minik8s(controllers, qps, burst)?;
    Ok(Some(Run {
        setting,
        qps,
        burst,
        client,
        controller,
    }))
}

/// Starts the release minik8s controller-manager with these controllers and limits.
pub fn start_minik8s(
    controllers: &str,
    qps: Option<f64>,
    burst: Option<u32>,
) -> anyhow::Result<OwnedProcess> {
    let bin = std::env::var("MINIK8S_BIN").context("MINIK8S_BIN: the release minik8s binary")?;
    let mut command = Command::new(bin);
    command.args([
        "controller-manager",
        "--controllers",
        controllers,
        "--log-level",
    ]);
    // MINIK8S_BENCH_LOG (a tracing filter) to look into a run, e.g.
    // `warn,minik8s::controllers::driver=debug`.
    command.arg(std::env::var("MINIK8S_BENCH_LOG").unwrap_or_else(|_| "warn".into()));
    command.args(["--kube-api-qps", &qps.unwrap_or(0.0).to_string()]);
    command.args(["--kube-api-burst", &burst.unwrap_or(1).to_string()]);
    // MINIK8S_BENCH_ARGS: more flags, e.g. `--replicaset-updates-batch-period=100ms`.
    if let Ok(extra) = std::env::var("MINIK8S_BENCH_ARGS") {
        command.args(extra.split_whitespace());
    }
    Ok(OwnedProcess(command.spawn()?))
}

/// A process a bench started (minik8s, kube-scheduler), stopped when dropped: a bench that
/// fails midway must not leave it running, holding the health port the next bench's
/// minik8s needs or competing for the machine's cores.
pub struct OwnedProcess(pub Child);

impl std::ops::Deref for OwnedProcess {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for OwnedProcess {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for OwnedProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The API requests the bench's minik8s has made so far, by verb (watches left out), read
/// from its /metrics on the default health address.
// Each bench compiles this module on its own; not every one reads requests yet.
#[allow(dead_code)]
pub async fn minik8s_requests() -> anyhow::Result<std::collections::BTreeMap<String, u64>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect("127.0.0.1:8080")
        .await
        .context("minik8s /metrics on 127.0.0.1:8080")?;
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .await?;
    let mut text = String::new();
    stream.read_to_string(&mut text).await?;
    let mut by_verb = std::collections::BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("minik8s_api_requests_total{") else {
            continue;
        };
        let verb = rest
            .split("verb=\"")
            .nth(1)
            .and_then(|v| v.split('"').next())
            .unwrap_or("other");
        let count: f64 = line
            .rsplit(' ')
            .next()
            .unwrap_or("0")
            .parse()
            .unwrap_or(0.0);
        if verb != "watch" {
            *by_verb.entry(verb.to_string()).or_insert(0) += count as u64;
        }
    }
    Ok(by_verb)
}

/// `after - before`, verb by verb.
#[allow(dead_code)]
pub fn requests_between(
    before: &std::collections::BTreeMap<String, u64>,
    after: &std::collections::BTreeMap<String, u64>,
) -> std::collections::BTreeMap<String, u64> {
    after
        .iter()
        .map(|(verb, n)| (verb.clone(), n - before.get(verb).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// Resident memory of a process, in MiB.
pub fn rss_mib(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .context("no VmRSS")?
        .parse()?;
    Ok(kib / 1024.0)
}

/// Resident memory of the cluster's kube-controller-manager, in MiB.
pub fn kube_controller_manager_rss_mib() -> anyhow::Result<f64> {
    let pid: u32 = std::fs::read_to_string(std::env::var("MINIK8S_KCM_PIDFILE")?)?
        .trim()
        .parse()?;
    rss_mib(pid)
}

pub fn out_dir() -> PathBuf {
    std::env::var("MINIK8S_BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("target/bench"))
}

/// Writes one setting's results as `target/bench/<bench>-<setting>.json`.
pub fn save<T: Serialize>(bench: &str, setting: &str, result: &T) -> anyhow::Result<PathBuf> {
    let path = out_dir().join(format!("{bench}-{setting}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(result)?)?;
    Ok(path)
}

/// The results of every setting measured so far, for `--summary`.
#[allow(dead_code)]
pub fn load<T: DeserializeOwned>(bench: &str) -> anyhow::Result<Vec<T>> {
    load_settings(bench, &["limited", "unlimited"])
}

/// The results of the given settings measured so far, in that order.
pub fn load_settings<T: DeserializeOwned>(
    bench: &str,
    settings: &[&str],
) -> anyhow::Result<Vec<T>> {
    let results: Vec<T> = settings
        .iter()
        .filter_map(|setting| {
            std::fs::read_to_string(out_dir().join(format!("{bench}-{setting}.json"))).ok()
        })
        .map(|text| serde_json::from_str(&text))
        .collect::<serde_json::Result<_>>()?;
    if results.is_empty() {
        bail!("no results under {}; run `make bench`", out_dir().display());
    }
    Ok(results)
}

/// The user agent of the scale bench's ceiling (`scale/ceiling.rs`), by which the audit log
/// tells its calls apart.
#[allow(dead_code)]
pub const CEILING_USER_AGENT: &str = "minik8s-bench-ceiling";

/// Whether the pod has the condition Ready=True.
#[allow(dead_code)]
pub fn has_ready_condition(pod: &Pod) -> bool {
    pod.status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// Who made a call, as the API server's audit log names the client (its user agent).
#[allow(dead_code)]
pub enum Caller {
    /// kube-controller-manager's controllers with these names (each has its own user agent,
    /// `kube-controller-manager/… /replicaset-controller`).
    Builtin(&'static [&'static str]),
    /// The bench's minik8s controller manager.
    Minik8s,
    /// The scale bench's ceiling, a client with no logic.
    Ceiling,
}

impl Caller {
    fn made(&self, user_agent: &str) -> bool {
        match self {
            Self::Builtin(controllers) => {
                user_agent.starts_with("kube-controller-manager/")
                    && controllers
                        .iter()
                        .any(|c| user_agent.ends_with(&format!("/{c}")))
            }
            Self::Minik8s => user_agent.starts_with("minik8s-controller-manager/"),
            Self::Ceiling => user_agent.starts_with(&format!("{CEILING_USER_AGENT}/")),
        }
    }
}

/// The API calls one controller made about one namespace in a window, from the audit log:
/// every request but watches (which last the whole run), by verb and resource.
#[derive(Debug, Default, Clone, Serialize, serde::Deserialize)]
pub struct Calls {
    pub total: u64,
    /// create, update, patch and delete.
    pub writes: u64,
    /// `verb resource[/subresource]` → calls.
    pub by_kind: std::collections::BTreeMap<String, u64>,
}

impl Calls {
    /// `writes/total`, as the tables print them.
    #[allow(dead_code)]
    pub fn cell(&self) -> String {
        format!("{}/{}", self.writes, self.total)
    }
}

/// Now, as the audit log's timestamps are written.
#[allow(dead_code)]
pub fn now() -> k8s_openapi::jiff::Timestamp {
    k8s_openapi::jiff::Timestamp::now()
}

/// The calls `caller` made in `namespace` from `from` to `to` (received in that window),
/// read from the audit log that tests/cluster/run-bench.sh turns on (`MINIK8S_AUDIT_LOG`).
#[allow(dead_code)]
pub async fn calls(
    namespace: &str,
    caller: &Caller,
    from: k8s_openapi::jiff::Timestamp,
    to: k8s_openapi::jiff::Timestamp,
) -> anyhow::Result<Calls> {
    let path = std::env::var("MINIK8S_AUDIT_LOG")
        .context("MINIK8S_AUDIT_LOG is not set: run the benchmarks through `make bench`")?;
    // The log backend writes an event as its response completes; let the last ones land.
    tokio::time::sleep(Duration::from_secs(1)).await;
    // The API server rotates the log at 100 MB (audit-<time>.log beside it): read them all.
    let path = std::path::Path::new(&path);
    let dir = path.parent().context("the audit log's directory")?;
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("{}", dir.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.starts_with("audit") && name.ends_with(".log") {
            files.push(dir.join(name));
        }
    }
    let mut calls = Calls::default();
    for file in files {
        let file =
            std::fs::File::open(&file).with_context(|| format!("audit log {}", file.display()))?;
        count_calls(file, namespace, caller, from, to, &mut calls)?;
    }
    Ok(calls)
}

/// Adds the calls of one audit log file to `calls`.
fn count_calls(
    file: std::fs::File,
    namespace: &str,
    caller: &Caller,
    from: k8s_openapi::jiff::Timestamp,
    to: k8s_openapi::jiff::Timestamp,
    calls: &mut Calls,
) -> anyhow::Result<()> {
    use std::io::BufRead;
    for line in std::io::BufReader::new(file).lines() {
        let line = line?;
        let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let object = &event["objectRef"];
        if event["stage"] != "ResponseComplete"
            || event["verb"] == "watch"
            || object["namespace"] != namespace
            || !caller.made(event["userAgent"].as_str().unwrap_or_default())
        {
            continue;
        }
        let Some(received) = event["requestReceivedTimestamp"]
            .as_str()
            .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok())
        else {
            continue;
        };
        if received < from || received >= to {
            continue;
        }
        let verb = event["verb"].as_str().unwrap_or_default();
        let mut resource = object["resource"].as_str().unwrap_or_default().to_owned();
        if let Some(sub) = object["subresource"].as_str() {
            resource = format!("{resource}/{sub}");
        }
        calls.total += 1;
        if matches!(verb, "create" | "update" | "patch" | "delete") {
            calls.writes += 1;
        }
        *calls
            .by_kind
            .entry(format!("{verb} {resource}"))
            .or_default() += 1;
    }
    Ok(())
}

/// Each side's calls by verb and resource, one line per kind either made.
#[allow(dead_code)]
pub fn print_calls(label: &str, builtin: &Calls, mini: &Calls) {
    let kinds: std::collections::BTreeSet<&String> =
        builtin.by_kind.keys().chain(mini.by_kind.keys()).collect();
    for kind in kinds {
        println!(
            "  {label:<40} {kind:<32} {:>8} {:>8}",
            builtin.by_kind.get(kind).copied().unwrap_or(0),
            mini.by_kind.get(kind).copied().unwrap_or(0)
        );
    }
}

//! `minik8s controller-manager`: runs the chosen controllers against the cluster in
//! KUBECONFIG (or in-cluster), like kube-controller-manager runs the built-in ones.

use clap::Args;

use crate::manager::{self, ControllerName, Options};
use crate::runtime::client::RateLimit;
use crate::runtime::leader::Election;
use crate::runtime::shutdown;
use crate::runtime::telemetry::{self, LogFormat};

#[derive(Args, Debug)]
pub struct ControllerManagerArgs {
    /// Controllers to run.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "replicaset,deployment,endpoints,endpointslice"
    )]
    pub controllers: Vec<ControllerName>,

    /// Requests per second to the API server, per controller (kube-controller-manager:
    /// 20). 0 means no limit.
    #[arg(long, default_value_t = RateLimit::CONTROLLER_MANAGER.qps)]
    pub kube_api_qps: f64,

    /// Burst above --kube-api-qps (kube-controller-manager: 30).
    #[arg(long, default_value_t = RateLimit::CONTROLLER_MANAGER.burst)]
    pub kube_api_burst: u32,

    /// MiniReplicaSets synced at once (kube-controller-manager: 5 ReplicaSets).
    #[arg(long, default_value_t = 5)]
    pub concurrent_replicaset_syncs: u16,

    /// How long the sync a pod event asks for waits for more events of the same
    /// MiniReplicaSet, e.g. `100ms`: fewer syncs and status writes, each up to that much later.
    /// A minik8s extension, after kube-controller-manager's --endpoint-updates-batch-period;
    /// 0 (the default) syncs at once, as the built-in ReplicaSet controller does.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub replicaset_updates_batch_period: std::time::Duration,

    /// MiniDeployments synced at once (kube-controller-manager: 5 Deployments).
    #[arg(long, default_value_t = 5)]
    pub concurrent_deployment_syncs: u16,

    /// MiniServices whose MiniEndpoints are synced at once (kube-controller-manager: 5
    /// Services, --concurrent-endpoint-syncs).
    #[arg(long, default_value_t = 5)]
    pub concurrent_endpoint_syncs: u16,

    /// MiniServices whose EndpointSlices are synced at once (kube-controller-manager: 5, the
    /// EndpointSlice controller's workers).
    #[arg(long, default_value_t = 5)]
    pub concurrent_service_endpoint_syncs: u16,

    /// Most endpoints in one EndpointSlice (kube-controller-manager: 100).
    #[arg(long, default_value_t = crate::controllers::endpointslice::DEFAULT_MAX_ENDPOINTS_PER_SLICE)]
    pub max_endpoints_per_slice: usize,

    /// Serve /healthz, /readyz and /metrics on this address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub health_address: std::net::SocketAddr,

    /// Run the controllers only while holding a Lease, so that several replicas can run and
    /// only one writes.
    #[arg(long)]
    pub leader_elect: bool,

    /// Name of the Lease for --leader-elect.
    #[arg(long, default_value = "minik8s-controller-manager")]
    pub leader_elect_lease_name: String,

    /// Namespace of the Lease (default: $POD_NAMESPACE, else `default`).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub leader_elect_namespace: String,

    /// Watch one namespace only (default: all namespaces).
    #[arg(long)]
    pub namespace: Option<String>,

    #[arg(long, value_enum, default_value_t = LogFormat::Plain)]
    pub log_format: LogFormat,

    /// Log filter, e.g. `info` or `minik8s=debug,kube=info` (RUST_LOG overrides it).
    #[arg(long, default_value = "info")]
    pub log_level: String,
}

pub async fn run(args: ControllerManagerArgs) -> super::Result {
    telemetry::init(args.log_format, &args.log_level);
    let identity = identity();
    crate::runtime::client::set_user_agent("minik8s-controller-manager", &identity);
    let leader_election = args.leader_elect.then(|| {
        Election::new(
            &args.leader_elect_namespace,
            &args.leader_elect_lease_name,
            &identity,
        )
    });
    let options = Options {
        health_address: Some(args.health_address),
        leader_election,
        controllers: args.controllers.iter().copied().collect(),
        rate_limit: RateLimit::new(args.kube_api_qps, args.kube_api_burst),
        namespace: args.namespace,
        replicaset_workers: args.concurrent_replicaset_syncs,
        replicaset_batch_period: args.replicaset_updates_batch_period,
        deployment_workers: args.concurrent_deployment_syncs,
        endpoints_workers: args.concurrent_endpoint_syncs,
        endpointslice_workers: args.concurrent_service_endpoint_syncs,
        max_endpoints_per_slice: args.max_endpoints_per_slice,
        ..Options::default()
    };
    tracing::info!(controllers = ?options.controllers, rate_limit = ?options.rate_limit, namespace = ?options.namespace, "starting controller-manager");
    manager::run(options, shutdown::signal()).await?;
    Ok(())
}

/// This replica's name in the election: the pod name in a cluster, else host and process.
pub(super) fn identity() -> String {
    std::env::var("POD_NAME").unwrap_or_else(|_| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        format!("{}-{}", host.trim(), std::process::id())
    })
}

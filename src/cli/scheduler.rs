//! `minik8s scheduler`: the secondary scheduler, with kube-scheduler's flag names.

use clap::Args;

use crate::runtime::client::RateLimit;
use crate::runtime::leader::Election;
use crate::runtime::shutdown;
use crate::runtime::telemetry::{self, LogFormat};
use crate::scheduler::{self, profile, run};

#[derive(Args, Debug)]
pub struct SchedulerArgs {
    /// Place the pods whose spec.schedulerName is this.
    #[arg(long, default_value = scheduler::SCHEDULER_NAME)]
    pub scheduler_name: String,

    /// Requests per second to the API server (kube-scheduler: 50). 0 means no limit.
    #[arg(long, default_value_t = RateLimit::SCHEDULER.qps)]
    pub kube_api_qps: f64,

    /// Burst above --kube-api-qps (kube-scheduler: 100).
    #[arg(long, default_value_t = RateLimit::SCHEDULER.burst)]
    pub kube_api_burst: u32,

    /// Percentage of nodes to examine once enough feasible ones are found; 0 is
    /// kube-scheduler's adaptive default (50% − nodes/125, at least 5%, at least 100 nodes).
    #[arg(long, default_value_t = 0)]
    pub percentage_of_nodes_to_score: i64,

    /// Seed of the tie-break between equally scored nodes (default: from the clock).
    #[arg(long)]
    pub seed: Option<u64>,

    /// Serve /healthz, /readyz and /metrics on this address.
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub health_address: std::net::SocketAddr,

    /// Schedule only while holding the Lease, so that several replicas can run.
    #[arg(long)]
    pub leader_elect: bool,

    /// Name of the Lease for --leader-elect.
    #[arg(long, default_value = "minik8s-scheduler")]
    pub leader_elect_lease_name: String,

    /// Namespace of the Lease (default: $POD_NAMESPACE, else `default`).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub leader_elect_namespace: String,

    #[arg(long, value_enum, default_value_t = LogFormat::Plain)]
    pub log_format: LogFormat,

    /// Log filter, e.g. `info` or `minik8s=debug,kube=info` (RUST_LOG overrides it).
    #[arg(long, default_value = "info")]
    pub log_level: String,
}

pub async fn run(args: SchedulerArgs) -> super::Result {
    telemetry::init(args.log_format, &args.log_level);
    let identity = super::controller_manager::identity();
    crate::runtime::client::set_user_agent("minik8s-scheduler", &identity);
    let leader_election = args.leader_elect.then(|| {
        Election::new(
            &args.leader_elect_namespace,
            &args.leader_elect_lease_name,
            &identity,
        )
    });
    let options = run::Options {
        name: args.scheduler_name,
        rate_limit: RateLimit::new(args.kube_api_qps, args.kube_api_burst),
        percentage_of_nodes_to_score: args.percentage_of_nodes_to_score,
        seed: args.seed,
        health_address: Some(args.health_address),
        leader_election,
    };
    tracing::info!(scheduler = %options.name, rate_limit = ?options.rate_limit, "starting scheduler");
    let profile = profile::default_profile(options.percentage_of_nodes_to_score);
    run::run(options, profile, shutdown::signal()).await?;
    Ok(())
}

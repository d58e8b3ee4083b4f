//! Integration tests against a real API server (`KUBECONFIG`). `make test` starts the local
//! control plane for them when `KUBECONFIG` is not set.

/// The allocator of the minik8s binary (src/main.rs), so that the memory the tests measure
/// (`runtime::churn_…`) is what the controllers would hold in production, not glibc's
/// per-thread arenas under the test harness's threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod admission;
mod chaos;
mod chart;
mod cluster;
mod common;
mod compare;
mod crds;
mod deployment;
mod differential_deployment;
mod differential_endpoints;
mod differential_endpointslices;
mod differential_events;
mod differential_replicaset;
mod differential_rollout_cli;
mod endpoints;
mod endpointslices;
mod fixtures;
mod hostile;
mod hpa;
#[path = "../shared/kubelet.rs"]
mod kubelet;
mod leader_election;
mod replicaset;
mod rollout_cli;
mod roundtrip;
mod runtime;
mod scheduler;
mod template_defaults;

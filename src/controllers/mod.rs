//! The controllers. Each one is a pure planning part (what should change, given what is
//! observed) and a thin executor that turns the plan into API calls; the shared parts below
//! mirror `pkg/controller/controller_utils.go` and `controller_ref_manager.go` upstream.

pub mod backoff;
pub mod cached_pod;
pub mod claim;
pub mod deployment;
pub mod driver;
pub mod endpoints;
pub mod endpointslice;
pub mod expectations;
pub mod pod;
pub mod queue;
pub mod ranking;
pub mod replicaset;
pub mod slow_start;
pub mod written;

#[cfg(test)]
mod upstream_tests;

/// The name kube-controller-manager gives the work queue of a controller's built-in twin, so
/// that `workqueue_*{name="replicaset"}` reads the same for both.
pub fn queue_name(controller: &str) -> &str {
    match controller {
        replicaset::CONTROLLER_NAME => "replicaset",
        deployment::CONTROLLER_NAME => "deployment",
        endpoints::CONTROLLER_NAME => "endpoint",
        endpointslice::CONTROLLER_NAME => "endpoint_slice",
        other => other,
    }
}

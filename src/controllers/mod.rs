//! The controllers. Each one is a pure planning part (what should change, given what is
//! observed) and a thin executor that turns the plan into API calls; the shared parts below
//! mirror `pkg/controller/controller_utils.go` and `controller_ref_manager.go` upstream.

pub mod backoff;
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

#[cfg(test)]
mod upstream_tests;

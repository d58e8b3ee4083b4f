//! minik8s-scheduler: a secondary scheduler following kube-scheduler's default profile
//! (upstream `pkg/scheduler`), for the pods whose `spec.schedulerName` is
//! [`SCHEDULER_NAME`].
//!
//! - `framework`: pure — the snapshot of nodes and their pods, plugin interfaces, statuses.
//! - `resources`, `node_selector`: pure helpers the plugins share.
//! - `plugins`: one file per plugin of the default profile, each with upstream's test tables.

pub mod framework;
pub mod node_selector;
pub mod plugins;
pub mod resources;

/// The secondary scheduler's name: pods with this `schedulerName` are its.
pub const SCHEDULER_NAME: &str = "minik8s-scheduler";

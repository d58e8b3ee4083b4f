//! minik8s-scheduler: a secondary scheduler following kube-scheduler's default profile
//! (upstream `pkg/scheduler`), for the pods whose `spec.schedulerName` is
//! [`SCHEDULER_NAME`].
//!
//! - `cache`: nodes and the pods on them, with the assumed ones, fed by the informers.
//! - `framework`: pure — the snapshot of nodes and their pods, plugin interfaces, statuses.
//! - `resources`, `node_selector`: pure helpers the plugins share.
//! - `plugins`: one file per plugin of the default profile, each with upstream's test tables.
//! - `queue`: pure — activeQ, backoffQ and the unschedulable pods.
//! - `schedule`: pure — one attempt: filters, scores, the choice, the failure message.
//! - `preemption`: pure — DefaultPreemption's PostFilter: victims, the node, the message.
//! - `profile`: the default profile's plugins, in order, with their weights.
//! - `run`: the process — informers, the scheduling loop, binding, events.

pub mod cache;
pub mod framework;
pub mod node_selector;
pub mod plugins;
pub mod pod;
pub mod preemption;
pub mod profile;
pub mod queue;
pub mod resources;
pub mod run;
pub mod schedule;

/// The secondary scheduler's name: pods with this `schedulerName` are its.
pub const SCHEDULER_NAME: &str = "minik8s-scheduler";

//! The minik8s API: custom resources that mirror their built-in twins field for field.
//!
//! This module is the only place where schemas live. Each kind's validation (OpenAPI bounds
//! and CEL rules) sits next to its type, so the API server refuses bad input with a clear
//! message before any controller sees it.

mod cel;
pub mod crd;
pub mod deployment;
pub mod endpoints;
pub mod pod_template;
pub mod quantity;
pub mod replicaset;
mod schema;
pub mod service;
pub mod template_defaults;

pub use deployment::{MiniDeployment, MiniDeploymentSpec, MiniDeploymentStatus};
pub use endpoints::MiniEndpoints;
pub use pod_template::PodTemplate;
pub use replicaset::{MiniReplicaSet, MiniReplicaSetSpec, MiniReplicaSetStatus};
pub use service::{MiniService, MiniServiceSpec, MiniServiceStatus};

/// API group of every minik8s kind.
pub const GROUP: &str = "minik8s.dev";
/// The one served and stored version.
pub const VERSION: &str = "v1alpha1";
/// `kubectl get minik8s` lists every kind in this category.
pub const CATEGORY: &str = "minik8s";

//! What every controller process needs: an API client with client-side rate limits, a shared
//! informer cache, logging, and shutdown on signals.

pub mod api_error;
pub mod client;
pub mod connection;
pub mod events;
pub mod fence;
pub mod health;
pub mod informer;
pub mod kubeconfig;
pub mod label_selector;
pub mod leader;
pub mod metrics;
pub mod pod_projection;
pub mod process_metrics;
pub mod shutdown;
pub mod telemetry;
pub mod token_bucket;
pub mod watch_backoff;

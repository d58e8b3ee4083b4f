//! Kubernetes events, recorded as the built-in controllers record them (client-go's
//! `record.EventBroadcaster`, which kube-controller-manager's ReplicaSet and Deployment
//! controllers still use in v1.36): `core/v1` Events, so `kubectl describe` and
//! `kubectl get events` read the same for a Deployment and a MiniDeployment.
//!
//! As there: recording never blocks a sync (events go through a queue of 1000, dropped when
//! full, to a task of their own, on a client of their own, so they do not use the controller's
//! request budget); the task runs each event through client-go's correlator (aggregation of
//! similar events, counting of repeated ones, the spam filter — see [`correlator`]) and then
//! creates the Event or patches the earlier one. A scale-up of 30 pods therefore leaves 10
//! `SuccessfulCreate` Events (the last one "(combined from similar events): …", counted 16),
//! and a scale-down right after it leaves none: the object's 25 Normal events are spent.
//!
//! Written fields are those of client-go's `makeEvent`: no `action`, no `eventTime`,
//! `reportingComponent` = `source.component`, `reportingInstance` = `source.host` (empty).

pub mod correlator;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use tokio::sync::{Semaphore, mpsc};

use self::correlator::{Correlator, Write};
use crate::runtime::api_error;

/// Upstream `maxQueuedEvents`.
const QUEUE: usize = 1000;
/// Upstream `maxTriesPerEvent`.
const MAX_TRIES: u32 = 12;
/// Upstream `defaultSleepDuration` between tries when the API server cannot be reached.
const RETRY_SLEEP: Duration = Duration::from_secs(10);

/// Records events for one controller. Cheap to clone.
#[derive(Clone)]
pub struct EventRecorder {
    queue: mpsc::Sender<Event>,
    component: String,
}

impl EventRecorder {
    /// Starts the task that writes events as `component` (e.g. `minireplicaset-controller`),
    /// one at a time, as client-go's `record.EventBroadcaster` writes them.
    pub fn start(client: Client, component: &str) -> Self {
        Self::start_with_writers(client, component, 1)
    }

    /// Like [`start`](Self::start), with up to `writers` events written at once.
    /// kube-scheduler records through client-go's `events.EventBroadcaster`, which writes each
    /// event in a goroutine of its own: written one at a time, a burst of bindings fills the
    /// queue and `Scheduled` events are dropped where kube-scheduler drops none. Bounded
    /// rather than one task an event, so that a burst holds a handful of requests in flight,
    /// not thousands. Each event is still correlated in arrival order, once a writer is
    /// free, so one writer is exactly the sequential recorder.
    pub fn start_with_writers(client: Client, component: &str, writers: usize) -> Self {
        let (queue, mut events) = mpsc::channel::<Event>(QUEUE);
        let writers = Arc::new(Semaphore::new(writers.max(1)));
        tokio::spawn(async move {
            let correlator = Arc::new(Mutex::new(Correlator::default()));
            while let Some(event) = events.recv().await {
                let Ok(writer) = writers.clone().acquire_owned().await else {
                    return;
                };
                let correlated = correlator
                    .lock()
                    .expect("correlator lock")
                    .correlate(event, Timestamp::now());
                let Some(write) = correlated else {
                    continue;
                };
                let (client, correlator) = (client.clone(), correlator.clone());
                tokio::spawn(async move {
                    write_with_retries(&client, &correlator, write).await;
                    drop(writer);
                });
            }
        });
        Self {
            queue,
            component: component.into(),
        }
    }

    pub fn normal(&self, object: &ObjectReference, reason: &str, note: String) {
        self.record(object, "Normal", reason, note);
    }

    pub fn warning(&self, object: &ObjectReference, reason: &str, note: String) {
        self.record(object, "Warning", reason, note);
    }

    fn record(&self, object: &ObjectReference, type_: &str, reason: &str, note: String) {
        let event = new_event(
            object,
            type_,
            reason,
            note,
            &self.component,
            Timestamp::now(),
        );
        if self.queue.try_send(event).is_err() {
            tracing::warn!(reason, "too many queued events; event dropped");
        }
    }
}

/// Upstream `makeEvent` as `generateEvent` completes it.
fn new_event(
    object: &ObjectReference,
    type_: &str,
    reason: &str,
    note: String,
    component: &str,
    now: Timestamp,
) -> Event {
    let namespace = object
        .namespace
        .clone()
        .filter(|ns| !ns.is_empty())
        .unwrap_or_else(|| "default".into());
    Event {
        metadata: ObjectMeta {
            // Named as client-go names them: object name, then the time in hex nanoseconds.
            name: Some(format!(
                "{}.{:x}",
                object.name.as_deref().unwrap_or(""),
                now.as_nanosecond()
            )),
            namespace: Some(namespace),
            ..Default::default()
        },
        involved_object: object.clone(),
        reason: Some(reason.into()),
        message: Some(note),
        type_: Some(type_.into()),
        count: Some(1),
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        source: Some(EventSource {
            component: Some(component.into()),
            host: None,
        }),
        reporting_component: Some(component.into()),
        ..Default::default()
    }
}

/// Upstream `recordToSink`: tries again (up to 12 times, 10 s apart, the first wait random)
/// only while the API server cannot be reached; an answered refusal is final.
async fn write_with_retries(client: &Client, correlator: &Mutex<Correlator>, write: Write) {
    for attempt in 1..=MAX_TRIES {
        match write_once(client, &write).await {
            Ok(written) => {
                correlator
                    .lock()
                    .expect("correlator lock")
                    .update_state(&written);
                return;
            }
            Err(kube::Error::Api(status)) => {
                let error = kube::Error::Api(status);
                if api_error::is_namespace_terminating(&error) || is_already_exists(&error) {
                    tracing::debug!(error = %api_error::message(&error), "server rejected event");
                } else {
                    tracing::warn!(error = %api_error::message(&error), reason = ?write.event().reason, "server rejected event");
                }
                return;
            }
            Err(error) if attempt < MAX_TRIES => {
                tracing::warn!(error = %api_error::message(&error), "could not write event; will retry");
                let sleep = if attempt == 1 {
                    RETRY_SLEEP.mul_f64(jitter())
                } else {
                    RETRY_SLEEP
                };
                tokio::time::sleep(sleep).await;
            }
            Err(error) => {
                tracing::warn!(error = %api_error::message(&error), "could not write event; giving up");
            }
        }
    }
}

/// Upstream `recordEvent`: patch a repeated event; create a first one, or a repeated one
/// whose Event is gone.
async fn write_once(client: &Client, write: &Write) -> Result<Event, kube::Error> {
    let event = write.event();
    let api: Api<Event> = Api::namespaced(
        client.clone(),
        event.metadata.namespace.as_deref().unwrap_or("default"),
    );
    if let Write::Patch { event, patch } = write {
        let name = event.metadata.name.as_deref().unwrap_or_default();
        match api
            .patch(name, &PatchParams::default(), &Patch::Strategic(patch))
            .await
        {
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            other => return other,
        }
    }
    let mut event = event.clone();
    event.metadata.resource_version = None;
    api.create(&PostParams::default(), &event).await
}

fn is_already_exists(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409)
}

/// A number in [0, 1) that differs between processes and calls, to spread retries.
fn jitter() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    f64::from(nanos) / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_has_the_fields_client_go_writes() {
        let object = ObjectReference {
            kind: Some("MiniReplicaSet".into()),
            name: Some("web".into()),
            namespace: Some("shop".into()),
            uid: Some("u1".into()),
            ..Default::default()
        };
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let event = new_event(
            &object,
            "Normal",
            "SuccessfulCreate",
            "Created pod: web-x".into(),
            "minireplicaset-controller",
            now,
        );
        assert_eq!(
            event.metadata.name.as_deref(),
            Some(format!("web.{:x}", now.as_nanosecond()).as_str())
        );
        assert_eq!(event.metadata.namespace.as_deref(), Some("shop"));
        assert_eq!(event.count, Some(1));
        assert_eq!(event.action, None);
        assert_eq!(event.event_time, None);
        assert_eq!(
            event.reporting_component.as_deref(),
            Some("minireplicaset-controller")
        );
        assert_eq!(event.reporting_instance, None);
        assert_eq!(
            event.source.unwrap().component.as_deref(),
            Some("minireplicaset-controller")
        );
    }
}

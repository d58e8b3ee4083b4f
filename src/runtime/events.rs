//! Kubernetes events, recorded as the built-in controllers record them: one `core/v1` Event
//! per occurrence (so `kubectl describe` and `kubectl get events` read the same for a
//! Deployment and a MiniDeployment), without slowing the controllers down.
//!
//! As in client-go's event broadcaster: recording never blocks a sync (events go through a
//! queue to a task of their own, on a client of their own, so they do not use the
//! controller's request budget), and a spam filter lets through at most 25 events per object
//! and reason, then one every five minutes. A scale-up of 1000 pods therefore records 25
//! `SuccessfulCreate` events, not 1000.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client};
use tokio::sync::mpsc;

const QUEUE: usize = 1000;
const SPAM_BURST: u32 = 25;
const SPAM_REFILL: Duration = Duration::from_secs(300);

/// Records events for one controller. Cheap to clone.
#[derive(Clone)]
pub struct EventRecorder {
    queue: mpsc::Sender<Event>,
    component: String,
    spam_filter: std::sync::Arc<DefaultKeyedRateLimiter<(String, String)>>,
}

impl EventRecorder {
    /// Starts the task that writes events as `component` (e.g. `minireplicaset-controller`).
    pub fn start(client: Client, component: &str) -> Self {
        let (queue, mut events) = mpsc::channel::<Event>(QUEUE);
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                let namespace = event.metadata.namespace.clone().unwrap_or_default();
                let api: Api<Event> = Api::namespaced(client.clone(), &namespace);
                if let Err(error) = api.create(&PostParams::default(), &event).await {
                    tracing::warn!(%error, reason = ?event.reason, "could not record event");
                }
            }
        });
        let quota = Quota::with_period(SPAM_REFILL)
            .expect("non-zero period")
            .allow_burst(NonZeroU32::new(SPAM_BURST).expect("non-zero burst"));
        Self {
            queue,
            component: component.into(),
            spam_filter: std::sync::Arc::new(RateLimiter::keyed(quota)),
        }
    }

    pub fn normal(&self, object: &ObjectReference, reason: &str, action: &str, note: String) {
        self.record(object, "Normal", reason, action, note);
    }

    pub fn warning(&self, object: &ObjectReference, reason: &str, action: &str, note: String) {
        self.record(object, "Warning", reason, action, note);
    }

    fn record(
        &self,
        object: &ObjectReference,
        type_: &str,
        reason: &str,
        action: &str,
        note: String,
    ) {
        let key = (object.uid.clone().unwrap_or_default(), reason.to_owned());
        if self.spam_filter.check_key(&key).is_err() {
            return;
        }
        let now = Timestamp::now();
        let event = Event {
            metadata: ObjectMeta {
                // Named as client-go names them: object name, then a unique suffix.
                name: Some(format!(
                    "{}.{:x}",
                    object.name.as_deref().unwrap_or("object"),
                    now.as_nanosecond()
                )),
                namespace: object.namespace.clone(),
                ..Default::default()
            },
            involved_object: object.clone(),
            reason: Some(reason.into()),
            message: Some(note),
            type_: Some(type_.into()),
            action: Some(action.into()),
            count: Some(1),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            event_time: None::<MicroTime>,
            source: Some(EventSource {
                component: Some(self.component.clone()),
                host: None,
            }),
            reporting_component: Some(self.component.clone()),
            reporting_instance: std::env::var("POD_NAME").ok(),
            ..Default::default()
        };
        if self.queue.try_send(event).is_err() {
            tracing::debug!(reason, "event queue full; event dropped");
        }
    }
}

//! Kubernetes events, recorded without slowing the controllers down.
//!
//! As in client-go's event broadcaster: recording never blocks a sync (events go through a
//! queue to a task of their own, on a client of their own, so they do not use the
//! controller's request budget), and a spam filter lets through at most 25 events per object
//! and reason, then one every five minutes. A scale-up of 1000 pods therefore records 25
//! `SuccessfulCreate` events, not 1000.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use tokio::sync::mpsc;

const QUEUE: usize = 1000;
const SPAM_BURST: u32 = 25;
const SPAM_REFILL: Duration = Duration::from_secs(300);

/// Records events for one controller. Cheap to clone.
#[derive(Clone)]
pub struct EventRecorder {
    queue: mpsc::Sender<(ObjectReference, Event)>,
    spam_filter: std::sync::Arc<DefaultKeyedRateLimiter<(String, String)>>,
}

impl EventRecorder {
    /// Starts the task that writes events as `controller` (e.g. `minireplicaset-controller`).
    pub fn start(client: Client, controller: &str) -> Self {
        let reporter = Reporter {
            controller: controller.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        let recorder = Recorder::new(client, reporter);
        let (queue, mut events) = mpsc::channel::<(ObjectReference, Event)>(QUEUE);
        tokio::spawn(async move {
            while let Some((object, event)) = events.recv().await {
                if let Err(error) = recorder.publish(&event, &object).await {
                    tracing::warn!(%error, reason = %event.reason, "could not record event");
                }
            }
        });
        let quota = Quota::with_period(SPAM_REFILL)
            .expect("non-zero period")
            .allow_burst(NonZeroU32::new(SPAM_BURST).expect("non-zero burst"));
        Self {
            queue,
            spam_filter: std::sync::Arc::new(RateLimiter::keyed(quota)),
        }
    }

    pub fn normal(&self, object: &ObjectReference, reason: &str, action: &str, note: String) {
        self.record(object, EventType::Normal, reason, action, note);
    }

    pub fn warning(&self, object: &ObjectReference, reason: &str, action: &str, note: String) {
        self.record(object, EventType::Warning, reason, action, note);
    }

    fn record(
        &self,
        object: &ObjectReference,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
    ) {
        let key = (object.uid.clone().unwrap_or_default(), reason.to_owned());
        if self.spam_filter.check_key(&key).is_err() {
            return;
        }
        let event = Event {
            type_,
            reason: reason.into(),
            note: Some(note),
            action: action.into(),
            secondary: None,
        };
        if self.queue.try_send((object.clone(), event)).is_err() {
            tracing::debug!(reason, "event queue full; event dropped");
        }
    }
}

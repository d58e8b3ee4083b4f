//! Holding back the write that only drops ended terminating endpoints.
//!
//! A deleted pod reaches a Service's slices twice: first its endpoint turns terminating
//! (not ready; consumers stop sending it new connections), then, once the pod is gone, the
//! endpoint leaves. The second write tells a consumer nothing it acts on while the Service has
//! ready endpoints, and under churn each deleted pod otherwise costs one more write to every
//! watcher of slices (every node's kube-proxy). So a sync whose only change is such removals
//! (`reconciler::only_drops_terminating`) waits up to [`HOLD`]; any other change written
//! meanwhile carries them. Upstream writes them at once when its cache is current, and when it
//! is not (right after its own write, the usual case under churn) retries the whole sync after
//! a 1 s backoff, which holds every change of the service, not only these.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::tracker::ServiceKey;

/// The longest a removal of ended terminating endpoints waits for another write to join.
pub const HOLD: Duration = Duration::from_secs(1);

/// Since when each service has had only such removals to write.
///
/// Asking how long is left never ends a hold: a sync that waits for a token of the rate limit
/// plans, and so asks, twice (`client::plan_at_turn`). Only the write ends it ([`Self::written`]),
/// or a plan with any other change.
#[derive(Default)]
pub struct HeldRemovals {
    since: Mutex<HashMap<ServiceKey, Instant>>,
}

impl HeldRemovals {
    /// How much longer the write of `service` waits: None to write now (or nothing to hold).
    pub fn remaining(
        &self,
        service: &ServiceKey,
        only_drops_terminating: bool,
        now: Instant,
    ) -> Option<Duration> {
        let mut since = self.since.lock().expect("held removals lock");
        if !only_drops_terminating {
            since.remove(service);
            return None;
        }
        let held = now.saturating_duration_since(*since.entry(service.clone()).or_insert(now));
        HOLD.checked_sub(held).filter(|left| !left.is_zero())
    }

    /// The service's slices were written: the next removal waits afresh.
    pub fn written(&self, service: &ServiceKey) {
        self.forget(service);
    }

    pub fn forget(&self, service: &ServiceKey) {
        self.since
            .lock()
            .expect("held removals lock")
            .remove(service);
    }

    pub fn retain(&self, keep: impl Fn(&ServiceKey) -> bool) {
        self.since
            .lock()
            .expect("held removals lock")
            .retain(|key, _| keep(key));
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::discovery::v1::EndpointSlice;

    use super::*;
    use crate::controllers::cached_pod::CachedPod;
    use crate::controllers::endpointslice::reconciler::{Plan, only_drops_terminating};
    use crate::controllers::endpointslice::upstream_tests::{
        apply, found, new_pod, new_service, run,
    };

    fn key() -> ServiceKey {
        ("ns".into(), "mini-web".into())
    }

    #[test]
    fn a_removal_waits_until_the_hold_is_over_then_goes() {
        let held = HeldRemovals::default();
        let t0 = Instant::now();
        assert_eq!(held.remaining(&key(), true, t0), Some(HOLD));
        let later = t0 + Duration::from_millis(300);
        assert_eq!(
            held.remaining(&key(), true, later),
            Some(HOLD - Duration::from_millis(300)),
            "the hold counts from the first sync that had only removals"
        );
        assert_eq!(held.remaining(&key(), true, t0 + HOLD), None);
        assert_eq!(
            held.remaining(&key(), true, t0 + HOLD + Duration::from_millis(5)),
            None,
            "asking again before the write (a sync that waited for its rate-limit token \
             plans again) does not start a new hold"
        );
        held.written(&key());
        assert_eq!(
            held.remaining(&key(), true, t0 + HOLD),
            Some(HOLD),
            "after the write the next removal waits afresh"
        );
    }

    #[test]
    fn any_other_change_is_written_at_once_and_ends_the_hold() {
        let held = HeldRemovals::default();
        let t0 = Instant::now();
        held.remaining(&key(), true, t0);
        assert_eq!(held.remaining(&key(), false, t0), None);
        assert_eq!(
            held.remaining(&key(), true, t0 + HOLD),
            Some(HOLD),
            "a removal after another change waits afresh"
        );
        held.forget(&key());
        held.retain(|_| false);
        assert_eq!(held.remaining(&key(), true, t0), Some(HOLD));
    }

    /// One sync of `pods` over `existing`: its plan and the slices after its writes.
    fn sync(pods: &[CachedPod], existing: &[EndpointSlice]) -> (Plan, Vec<EndpointSlice>) {
        let plan = run(&new_service("web"), pods, existing, 100, &found);
        let slices = apply(existing, &plan, &mut 0);
        (plan, slices)
    }

    #[test]
    fn only_the_removal_of_endpoints_written_as_terminating_is_held() {
        let (_, slices) = sync(&[new_pod(1, true, false), new_pod(2, true, false)], &[]);
        // Pod 2 is deleted: turning terminating is a change consumers act on.
        let (plan, slices) = sync(&[new_pod(1, true, false), new_pod(2, false, true)], &slices);
        assert!(!plan.is_empty() && !only_drops_terminating(&plan, &[]));
        let (_, before) = sync(&[new_pod(1, true, false), new_pod(2, true, false)], &[]);
        assert!(!only_drops_terminating(&plan, &before));
        // Pod 2 is gone: only a terminating endpoint leaves.
        let (plan, _) = sync(&[new_pod(1, true, false)], &slices);
        assert!(only_drops_terminating(&plan, &slices));
        // Gone, and pod 1 turned not ready meanwhile: written at once.
        let (plan, _) = sync(&[new_pod(1, false, false)], &slices);
        assert!(!only_drops_terminating(&plan, &slices));
        // Gone, and a pod 3 came: written at once.
        let (plan, _) = sync(&[new_pod(1, true, false), new_pod(3, true, false)], &slices);
        assert!(!only_drops_terminating(&plan, &slices));
        // A ready endpoint leaving (its pod lost the label) is never held.
        let (plan, _) = sync(&[new_pod(2, false, true)], &slices);
        assert!(!only_drops_terminating(&plan, &slices));
        // The last endpoint leaving turns the slice into the placeholder (no ports): written
        // at once, so that the Service is seen to have no endpoints.
        let (_, slices) = sync(&[new_pod(1, false, true)], &slices);
        let (plan, _) = sync(&[], &slices);
        assert!(!plan.is_empty() && !only_drops_terminating(&plan, &slices));
        // Nothing to write: nothing to hold.
        assert!(!only_drops_terminating(&Plan::default(), &slices));
    }
}

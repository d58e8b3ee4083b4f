//! client-go's `EventCorrelator` (tools/record/events_cache.go), which every built-in controller
//! puts between its recorder and the API server. Pure: the caller passes the time and does the
//! writing. For each event, in upstream's order:
//!
//! 1. **Aggregate** (`EventAggregator`): events that differ only in their message are "similar".
//!    From the 10th distinct message within 10 minutes on, an event is replaced by one
//!    aggregate event, "(combined from similar events): <message>".
//! 2. **Observe** (`eventLogger`): an event identical to one already written (same source,
//!    object, type, reason and message — or the same aggregate) is not a new Event object: the
//!    existing one gets `count` + 1 and a new `lastTimestamp`, `message`, by a patch.
//! 3. **Spam filter** (`EventSourceObjectSpamFilter`): per source, object and event type — not
//!    reason — a token bucket of 25 that refills one every 5 minutes. Events past it are
//!    dropped (after step 2 counted them, as upstream does).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};

use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::json;

/// Upstream `maxLruCacheEntries`: each of the three caches remembers this many keys.
const LRU_ENTRIES: usize = 4096;
/// Upstream `defaultAggregateMaxEvents`.
const AGGREGATE_MAX_EVENTS: usize = 10;
/// Upstream `defaultAggregateIntervalInSeconds`.
const AGGREGATE_INTERVAL: SignedDuration = SignedDuration::from_secs(600);
/// Upstream `defaultSpamBurst`.
const SPAM_BURST: f64 = 25.0;
/// Upstream `defaultSpamQPS`: one event per 5 minutes.
const SPAM_QPS: f64 = 1.0 / 300.0;
/// Upstream `EventAggregatorByReasonMessageFunc`'s prefix.
pub const AGGREGATE_PREFIX: &str = "(combined from similar events): ";

/// What to send to the API server for one recorded event.
#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    /// A new Event object.
    Create(Event),
    /// Another occurrence of an Event already written: a strategic merge patch of `count`,
    /// `lastTimestamp` and `message` on `event.metadata.name` (create `event` instead if that
    /// Event is gone).
    Patch {
        event: Event,
        patch: serde_json::Value,
    },
}

impl Write {
    pub fn event(&self) -> &Event {
        match self {
            Write::Create(event) | Write::Patch { event, .. } => event,
        }
    }
}

/// Upstream `EventCorrelator` with its default options.
pub struct Correlator {
    aggregates: Lru<Key, AggregateRecord>,
    observed: Lru<Key, EventLog>,
    spam: Lru<Key, TokenBucket>,
}

impl Default for Correlator {
    fn default() -> Self {
        Self::with_capacity(LRU_ENTRIES)
    }
}

impl Correlator {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            aggregates: Lru::new(capacity),
            observed: Lru::new(capacity),
            spam: Lru::new(capacity),
        }
    }

    /// Upstream `EventCorrelate`: what to write for `event` at `now`, or None to drop it.
    pub fn correlate(&mut self, event: Event, now: Timestamp) -> Option<Write> {
        let (event, key) = self.aggregate(event, now);
        let write = self.observe(event, key);
        if self.spam_filtered(write.event(), now) {
            return None;
        }
        Some(write)
    }

    /// Upstream `UpdateState`: remember the Event as the API server returned it (its name and
    /// count), under its full key.
    pub fn update_state(&mut self, written: &Event) {
        self.observed.insert(
            event_key(written),
            EventLog {
                count: written.count.unwrap_or(0),
                first_timestamp: written.first_timestamp.clone(),
                name: written.metadata.name.clone().unwrap_or_default(),
                resource_version: written.metadata.resource_version.clone(),
            },
        );
    }

    /// Upstream `EventAggregator.EventAggregate`: the event to go on with, and its cache key
    /// for the observer (the full key, or the aggregate key for an aggregate event).
    fn aggregate(&mut self, event: Event, now: Timestamp) -> (Event, Key) {
        let key = event_key(&event);
        let (aggregate_key, local_key) = aggregate_keys(&event);
        let mut record = self
            .aggregates
            .get(&aggregate_key)
            .cloned()
            .filter(|r| now.duration_since(r.last_timestamp) <= AGGREGATE_INTERVAL)
            .unwrap_or_else(|| AggregateRecord {
                local_keys: BTreeSet::new(),
                last_timestamp: now,
            });
        record.local_keys.insert(local_key);
        record.last_timestamp = now;
        let aggregating = record.local_keys.len() >= AGGREGATE_MAX_EVENTS;
        if aggregating {
            // Upstream drops an arbitrary key (Go's `PopAny`) to keep the set at its bound;
            // here the smallest, so that the outcome does not depend on chance.
            record.local_keys.pop_first();
        }
        self.aggregates.insert(aggregate_key, record);
        if !aggregating {
            return (event, key);
        }
        let message = format!("{AGGREGATE_PREFIX}{}", event.message.unwrap_or_default());
        let name = event.involved_object.name.clone().unwrap_or_default();
        let aggregate = Event {
            metadata: ObjectMeta {
                name: Some(format!("{name}.{:x}", now.as_nanosecond())),
                namespace: event.metadata.namespace,
                ..Default::default()
            },
            count: Some(1),
            first_timestamp: Some(Time(now)),
            involved_object: event.involved_object,
            last_timestamp: Some(Time(now)),
            message: Some(message),
            type_: event.type_,
            reason: event.reason,
            source: event.source,
            ..Default::default()
        };
        (aggregate, aggregate_key)
    }

    /// Upstream `eventLogger.eventObserve`: a first occurrence is created; a repeated one
    /// takes the name and first timestamp of the first and patches it with the next count.
    fn observe(&mut self, mut event: Event, key: Key) -> Write {
        let last = self.observed.get(&key).cloned().filter(|log| log.count > 0);
        let write = match last {
            None => Write::Create(event.clone()),
            Some(last) => {
                event.metadata.name = Some(last.name);
                event.metadata.resource_version = last.resource_version;
                event.first_timestamp = last.first_timestamp;
                event.count = Some(last.count + 1);
                // The two-way merge patch upstream computes against a copy with count 0,
                // lastTimestamp 0 and no message: exactly these three fields.
                let patch = json!({
                    "count": event.count,
                    "lastTimestamp": event.last_timestamp,
                    "message": event.message,
                });
                Write::Patch {
                    event: event.clone(),
                    patch,
                }
            }
        };
        self.observed.insert(
            key,
            EventLog {
                count: event.count.unwrap_or(0),
                first_timestamp: event.first_timestamp.clone(),
                name: event.metadata.name.clone().unwrap_or_default(),
                resource_version: event.metadata.resource_version.clone(),
            },
        );
        write
    }

    /// Upstream `EventSourceObjectSpamFilter.Filter`: true when the event must be dropped.
    fn spam_filtered(&mut self, event: &Event, now: Timestamp) -> bool {
        let key = spam_key(event);
        let mut bucket = self.spam.get(&key).cloned().unwrap_or(TokenBucket {
            tokens: SPAM_BURST,
            last: now,
        });
        let allowed = bucket.try_accept(now);
        self.spam.insert(key, bucket);
        !allowed
    }
}

#[derive(Clone, Debug)]
struct AggregateRecord {
    /// The distinct messages seen in the current interval (at most 9 kept).
    local_keys: BTreeSet<Key>,
    last_timestamp: Timestamp,
}

#[derive(Clone, Debug)]
struct EventLog {
    count: i32,
    first_timestamp: Option<Time>,
    name: String,
    resource_version: Option<String>,
}

/// golang.org/x/time/rate's limiter as client-go's passive token bucket uses it: starts full,
/// refills continuously at [`SPAM_QPS`] up to [`SPAM_BURST`].
#[derive(Clone, Debug)]
struct TokenBucket {
    tokens: f64,
    last: Timestamp,
}

impl TokenBucket {
    fn try_accept(&mut self, now: Timestamp) -> bool {
        let elapsed = now.duration_since(self.last).as_secs_f64().max(0.0);
        self.tokens = (self.tokens + elapsed * SPAM_QPS).min(SPAM_BURST);
        if now > self.last {
            self.last = now;
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

fn source(event: &Event) -> [&str; 2] {
    let source = event.source.as_ref();
    [
        source.and_then(|s| s.component.as_deref()).unwrap_or(""),
        source.and_then(|s| s.host.as_deref()).unwrap_or(""),
    ]
}

fn object(event: &Event) -> [&str; 4] {
    let o = &event.involved_object;
    [
        o.kind.as_deref().unwrap_or(""),
        o.namespace.as_deref().unwrap_or(""),
        o.name.as_deref().unwrap_or(""),
        o.uid.as_deref().unwrap_or(""),
    ]
}

/// A cache key: the hash of upstream's key, the string its parts make joined with nothing in
/// between (`strings.Join(parts, "")`). Upstream keeps the string itself; made of names, UIDs
/// and messages, 4096 of them in each of three caches are megabytes, where a hash is 8 bytes
/// and two of 4096 collide with a chance of about one in 10¹².
type Key = u64;

fn key_of(parts: &[&[&str]]) -> Key {
    let mut hasher = std::hash::DefaultHasher::new();
    for part in parts.iter().flat_map(|p| p.iter()) {
        // The bytes alone, as the joined string has them (`str`'s `Hash` adds a separator).
        hasher.write(part.as_bytes());
    }
    hasher.finish()
}

/// Upstream `getEventKey`: everything that makes two events the same event.
fn event_key(event: &Event) -> Key {
    let o = &event.involved_object;
    let [kind, namespace, name, uid] = object(event);
    key_of(&[
        &source(event)[..],
        &[
            kind,
            namespace,
            name,
            o.field_path.as_deref().unwrap_or(""),
            uid,
        ],
        &[
            o.api_version.as_deref().unwrap_or(""),
            event.type_.as_deref().unwrap_or(""),
            event.reason.as_deref().unwrap_or(""),
            event.message.as_deref().unwrap_or(""),
        ],
    ])
}

/// Upstream `getSpamKey`: source, object and type — not the reason.
fn spam_key(event: &Event) -> Key {
    key_of(&[
        &source(event)[..],
        &object(event)[..],
        &[
            event.involved_object.api_version.as_deref().unwrap_or(""),
            event.type_.as_deref().unwrap_or(""),
        ],
    ])
}

/// Upstream `EventAggregatorByReasonFunc`: (everything but the message, the message).
fn aggregate_keys(event: &Event) -> (Key, Key) {
    let key = key_of(&[
        &source(event)[..],
        &object(event)[..],
        &[
            event.involved_object.api_version.as_deref().unwrap_or(""),
            event.type_.as_deref().unwrap_or(""),
            event.reason.as_deref().unwrap_or(""),
            event.reporting_component.as_deref().unwrap_or(""),
            event.reporting_instance.as_deref().unwrap_or(""),
        ],
    ]);
    (key, key_of(&[&[event.message.as_deref().unwrap_or("")]]))
}

/// A map that forgets its least recently used key beyond `capacity` (upstream `lru.Cache`).
struct Lru<K, V> {
    capacity: usize,
    entries: HashMap<K, (V, u64)>,
    order: BTreeMap<u64, K>,
    clock: u64,
}

impl<K: Clone + Eq + Hash, V> Lru<K, V> {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: HashMap::new(),
            order: BTreeMap::new(),
            clock: 0,
        }
    }

    fn touch(&mut self, key: &K) -> Option<u64> {
        self.clock += 1;
        let (_, used) = self.entries.get_mut(key)?;
        let previous = std::mem::replace(used, self.clock);
        self.order.remove(&previous);
        self.order.insert(self.clock, key.clone());
        Some(self.clock)
    }

    fn get(&mut self, key: &K) -> Option<&V> {
        self.touch(key)?;
        self.entries.get(key).map(|(value, _)| value)
    }

    fn insert(&mut self, key: K, value: V) {
        if self.touch(&key).is_some() {
            self.entries.get_mut(&key).expect("touched").0 = value;
            return;
        }
        self.order.insert(self.clock, key.clone());
        self.entries.insert(key, (value, self.clock));
        while self.entries.len() > self.capacity {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The cases of client-go's events_cache_test.go, and the scale-up/scale-down sequence the
    //! ReplicaSet controllers produce.

    use k8s_openapi::api::core::v1::{EventSource, ObjectReference};

    use super::*;

    fn reference(kind: &str, name: &str, namespace: &str) -> ObjectReference {
        ObjectReference {
            kind: Some(kind.into()),
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            uid: Some("C934D34AFB20242".into()),
            api_version: Some("version".into()),
            field_path: Some("spec.containers{mycontainer}".into()),
            ..Default::default()
        }
    }

    fn event(reason: &str, message: &str, object: ObjectReference) -> Event {
        Event {
            metadata: ObjectMeta {
                name: Some(format!("{}.1", object.name.clone().unwrap())),
                namespace: object.namespace.clone(),
                ..Default::default()
            },
            reason: Some(reason.into()),
            message: Some(message.into()),
            involved_object: object,
            source: Some(EventSource {
                component: Some("kubelet".into()),
                host: Some("kublet.node1".into()),
            }),
            count: Some(1),
            type_: Some("Normal".into()),
            ..Default::default()
        }
    }

    fn pod_event(reason: &str, message: &str) -> Event {
        event(reason, message, reference("Pod", "my-pod", "my-ns"))
    }

    /// Upstream's SimpleIntervalClock: each reading is `step` seconds after the previous one.
    struct Clock {
        now: Timestamp,
        step: i64,
    }

    impl Clock {
        fn new(step: i64) -> Self {
            Self {
                now: "2026-01-01T00:00:00Z".parse().unwrap(),
                step,
            }
        }

        fn next(&mut self) -> Timestamp {
            self.now += SignedDuration::from_secs(self.step);
            self.now
        }
    }

    /// Plays `previous` as the sink would (writing, then `update_state`), then correlates
    /// `new`. Returns what to write for it.
    fn play(previous: Vec<Event>, new: Event, step: i64) -> Option<Write> {
        let mut clock = Clock::new(step);
        let mut correlator = Correlator::default();
        for mut e in previous {
            let now = clock.next();
            e.first_timestamp = Some(Time(now));
            e.last_timestamp = Some(Time(now));
            if let Some(write) = correlator.correlate(e, now) {
                correlator.update_state(write.event());
            }
        }
        let now = clock.next();
        let mut new = new;
        new.first_timestamp = Some(Time(now));
        new.last_timestamp = Some(Time(now));
        correlator.correlate(new, now)
    }

    fn similar(n: usize, template: &Event) -> Vec<Event> {
        (0..n)
            .map(|i| {
                let mut e = template.clone();
                let message = template.message.clone().unwrap();
                e.message = Some(format!("{message}-{i}-{message}"));
                e
            })
            .collect()
    }

    fn summary(write: &Write) -> (bool, i32, &str) {
        let e = write.event();
        (
            matches!(write, Write::Patch { .. }),
            e.count.unwrap(),
            e.message.as_deref().unwrap(),
        )
    }

    #[test]
    fn create_a_single_event() {
        let write = play(vec![], pod_event("first", "i am first"), 5).unwrap();
        assert_eq!(summary(&write), (false, 1, "i am first"));
    }

    #[test]
    fn the_same_event_should_just_count() {
        let e = pod_event("duplicate", "me again");
        let write = play(vec![e.clone()], e, 5).unwrap();
        assert_eq!(summary(&write), (true, 2, "me again"));
        let Write::Patch { event, patch } = write else {
            unreachable!()
        };
        // Patched onto the first occurrence, keeping its first timestamp.
        assert_eq!(event.metadata.name.as_deref(), Some("my-pod.1"));
        assert_ne!(event.first_timestamp, event.last_timestamp);
        assert_eq!(
            patch,
            json!({"count": 2, "lastTimestamp": event.last_timestamp, "message": "me again"})
        );
    }

    #[test]
    fn the_same_event_should_just_count_even_if_more_than_aggregate() {
        let e = pod_event("duplicate", "me again");
        let write = play(vec![e.clone(); AGGREGATE_MAX_EVENTS], e, 30).unwrap();
        assert_eq!(summary(&write), (true, 11, "me again"));
    }

    #[test]
    fn the_same_event_is_spam_if_it_happens_too_frequently() {
        let e = pod_event("duplicate", "me again");
        assert_eq!(play(vec![e.clone(); 26], e, 1), None);
    }

    #[test]
    fn create_many_unique_events() {
        let unique: Vec<Event> = (0..30)
            .map(|i| {
                event(
                    &format!("reason-{i}"),
                    &format!("message-{i}"),
                    reference("Pod", &format!("pod-{i}"), &format!("ns-{i}")),
                )
            })
            .collect();
        let write = play(unique, pod_event("unique", "snowflake"), 5).unwrap();
        assert_eq!(summary(&write), (false, 1, "snowflake"));
    }

    fn similar_event() -> Event {
        let mut e = pod_event("similar", "similar message");
        e.involved_object.field_path = Some("spec.containers{container1}".into());
        e
    }

    #[test]
    fn similar_events_should_aggregate() {
        let e = similar_event();
        let write = play(similar(AGGREGATE_MAX_EVENTS - 1, &e), e, 5).unwrap();
        assert_eq!(
            summary(&write),
            (false, 1, "(combined from similar events): similar message")
        );
        assert_eq!(write.event().reason.as_deref(), Some("similar"));
    }

    #[test]
    fn similar_events_many_times_should_count_the_aggregate() {
        let e = similar_event();
        let write = play(similar(AGGREGATE_MAX_EVENTS, &e), e, 5).unwrap();
        assert_eq!(
            summary(&write),
            (true, 2, "(combined from similar events): similar message")
        );
    }

    #[test]
    fn events_from_different_containers_do_not_aggregate() {
        let e = similar_event();
        let mut other = e.clone();
        other.involved_object.field_path = Some("spec.containers{container2}".into());
        let write = play(vec![other], e, 5).unwrap();
        assert_eq!(summary(&write), (false, 1, "similar message"));
    }

    #[test]
    fn similar_events_further_apart_than_the_interval_do_not_aggregate() {
        // Upstream plays this at 600 s per clock reading, with several readings per event;
        // what matters is a gap of more than 600 s between two similar events.
        let e = similar_event();
        let write = play(similar(AGGREGATE_MAX_EVENTS - 1, &e), e, 601).unwrap();
        assert_eq!(summary(&write), (false, 1, "similar message"));
    }

    // Upstream TestEventSpamFilter, with the default key: one token (burst 1 there) is shared
    // by all reasons of an object.
    #[test]
    fn the_spam_filter_counts_all_reasons_of_an_object_and_type_together() {
        let mut correlator = Correlator::default();
        let mut clock = Clock::new(1);
        for i in 0..25 {
            let write = correlator.correlate(pod_event(&format!("reason-{i}"), "m"), clock.next());
            correlator.update_state(write.unwrap().event());
        }
        assert_eq!(
            correlator.correlate(pod_event("another", "m"), clock.next()),
            None
        );
        // A warning about the same object has a bucket of its own.
        let mut warning = pod_event("another", "m");
        warning.type_ = Some("Warning".into());
        assert!(correlator.correlate(warning, clock.next()).is_some());
    }

    #[test]
    fn the_spam_filter_refills_one_event_per_five_minutes() {
        let mut correlator = Correlator::default();
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        for i in 0..25 {
            assert!(
                correlator
                    .correlate(pod_event("r", &format!("{i}")), start)
                    .is_some()
            );
        }
        let later = |secs| start + SignedDuration::from_secs(secs);
        assert_eq!(correlator.correlate(pod_event("s", "a"), later(299)), None);
        assert!(
            correlator
                .correlate(pod_event("s", "b"), later(300))
                .is_some()
        );
        assert_eq!(correlator.correlate(pod_event("s", "c"), later(301)), None);
    }

    /// What a ReplicaSet controller records for a scale from 0 to 30 and back to 0 within a
    /// minute: 9 SuccessfulCreate events, one aggregate counted to 16 (events 10 to 25), the
    /// rest dropped, and every SuccessfulDelete dropped.
    #[test]
    fn a_scale_up_of_30_then_down_to_0() {
        let mut correlator = Correlator::default();
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let rs = reference("ReplicaSet", "web", "ns");
        let mut written: BTreeMap<String, Event> = BTreeMap::new();
        let mut record = |reason: &str, message: String, at: i64| {
            let now = start + SignedDuration::from_millis(at);
            let mut e = event(reason, &message, rs.clone());
            e.metadata.name = Some(format!("web.{at}"));
            if let Some(write) = correlator.correlate(e, now) {
                let e = write.event().clone();
                written.insert(e.metadata.name.clone().unwrap(), e.clone());
                correlator.update_state(&e);
            }
        };
        for i in 0..30 {
            record("SuccessfulCreate", format!("Created pod: web-{i}"), i * 100);
        }
        for i in 0..30 {
            record(
                "SuccessfulDelete",
                format!("Deleted pod: web-{i}"),
                30_000 + i * 100,
            );
        }
        let events: Vec<&Event> = written.values().collect();
        assert_eq!(events.len(), 10);
        assert!(
            events
                .iter()
                .all(|e| e.reason.as_deref() == Some("SuccessfulCreate"))
        );
        let aggregate: Vec<&&Event> = events
            .iter()
            .filter(|e| e.message.as_deref().unwrap().starts_with(AGGREGATE_PREFIX))
            .collect();
        assert_eq!(aggregate.len(), 1);
        assert_eq!(aggregate[0].count, Some(16));
        assert_eq!(
            aggregate[0].message.as_deref(),
            Some("(combined from similar events): Created pod: web-24")
        );
        assert_eq!(events.iter().filter(|e| e.count == Some(1)).count(), 9);
    }

    /// The key is upstream's `getEventKey` string, hashed: its parts joined with nothing in
    /// between, in upstream's order.
    #[test]
    fn an_event_key_is_upstreams_joined_string_hashed() {
        let event = pod_event("Started", "Started container");
        let joined = [
            "kubelet",
            "kublet.node1",
            "Pod",
            "my-ns",
            "my-pod",
            "spec.containers{mycontainer}",
            "C934D34AFB20242",
            "version",
            "Normal",
            "Started",
            "Started container",
        ]
        .concat();
        assert_eq!(event_key(&event), key_of(&[&[joined.as_str()]]));
        assert_ne!(event_key(&event), spam_key(&event));
    }

    #[test]
    fn the_lru_forgets_the_least_recently_used_key() {
        let mut lru = Lru::new(2);
        lru.insert("a", 1);
        lru.insert("b", 2);
        assert_eq!(lru.get(&"a"), Some(&1));
        lru.insert("c", 3);
        assert_eq!(lru.get(&"b"), None);
        assert_eq!(lru.get(&"a"), Some(&1));
        assert_eq!(lru.get(&"c"), Some(&3));
    }
}

//! Prometheus metrics of the process: syncs per controller (count, errors, duration), API
//! requests by verb and status code, informer cache sizes and objects the informers could not
//! decode, and the size of each controller's per-object bookkeeping (expectations, backoff).
//! One registry per process, as Prometheus client libraries keep it.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SyncLabels {
    pub controller: String,
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabel {
    pub controller: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub verb: String,
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabel {
    pub queue: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

/// client-go's REST client labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RestLabels {
    pub code: String,
    pub method: String,
    pub host: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RestLatencyLabels {
    pub verb: String,
    pub host: String,
}

/// client-go's `name` label: a work queue's name (`replicaset`, `deployment`, `endpoint`,
/// `endpoint_slice`, as kube-controller-manager names its queues), or a lease's.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NameLabel {
    pub name: String,
}

/// One work queue's share of client-go's `workqueue_*` metrics, so that dashboards made for
/// kube-controller-manager read minik8s's queues too.
#[derive(Clone, Debug)]
pub struct QueueMetrics {
    /// Keys waiting to be synced (client-go counts a key added while its sync runs too).
    pub depth: Gauge,
    pub adds: Counter,
    /// From a key's add to a worker taking it.
    pub queue_seconds: Histogram,
    /// From a worker taking a key to its `done`.
    pub work_seconds: Histogram,
    /// Keys queued again after a failed sync (client-go's `AddRateLimited`).
    pub retries: Counter,
}

pub struct Metrics {
    registry: Registry,
    syncs: Family<SyncLabels, Counter>,
    sync_seconds: Family<ControllerLabel, Histogram>,
    pending: Family<ControllerLabel, Gauge>,
    requests: Family<RequestLabels, Counter>,
    cached: Family<KindLabel, Gauge>,
    undecodable: Family<KindLabel, Counter>,
    expectations: Family<ControllerLabel, Gauge>,
    backoff: Family<ControllerLabel, Gauge>,
    schedule_attempts: Family<ResultLabel, Counter>,
    attempt_seconds: Family<ResultLabel, Histogram>,
    pending_pods: Family<QueueLabel, Gauge>,
    workqueue_depth: Family<NameLabel, Gauge>,
    workqueue_adds: Family<NameLabel, Counter>,
    workqueue_queue_seconds: Family<NameLabel, Histogram>,
    workqueue_work_seconds: Family<NameLabel, Histogram>,
    workqueue_retries: Family<NameLabel, Counter>,
    rest_requests: Family<RestLabels, Counter>,
    rest_seconds: Family<RestLatencyLabels, Histogram>,
    leader: Family<NameLabel, Gauge>,
}

/// client-go's buckets for the work queue durations: 10 ns to 1000 s, ten to a step.
fn workqueue_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1e-8, 10.0, 12))
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process's metrics.
pub fn global() -> &'static Metrics {
    &METRICS
}

impl Metrics {
    fn new() -> Self {
        // client-go's names go unprefixed; minik8s's own under `minik8s_`.
        let mut root = Registry::default();
        let workqueue_depth = Family::<NameLabel, Gauge>::default();
        root.register(
            "workqueue_depth",
            "Current depth of workqueue",
            workqueue_depth.clone(),
        );
        let workqueue_adds = Family::<NameLabel, Counter>::default();
        root.register(
            "workqueue_adds",
            "Total number of adds handled by workqueue",
            workqueue_adds.clone(),
        );
        let workqueue_queue_seconds =
            Family::<NameLabel, Histogram>::new_with_constructor(workqueue_histogram);
        root.register(
            "workqueue_queue_duration_seconds",
            "How long in seconds an item stays in workqueue before being requested.",
            workqueue_queue_seconds.clone(),
        );
        let workqueue_work_seconds =
            Family::<NameLabel, Histogram>::new_with_constructor(workqueue_histogram);
        root.register(
            "workqueue_work_duration_seconds",
            "How long in seconds processing an item from workqueue takes.",
            workqueue_work_seconds.clone(),
        );
        let workqueue_retries = Family::<NameLabel, Counter>::default();
        root.register(
            "workqueue_retries",
            "Total number of retries handled by workqueue",
            workqueue_retries.clone(),
        );
        let rest_requests = Family::<RestLabels, Counter>::default();
        root.register(
            "rest_client_requests",
            "Number of HTTP requests, partitioned by status code, method, and host.",
            rest_requests.clone(),
        );
        // client-go's buckets for request latency.
        let rest_seconds = Family::<RestLatencyLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0,
            ])
        });
        root.register(
            "rest_client_request_duration_seconds",
            "Request latency in seconds. Broken down by verb, and host.",
            rest_seconds.clone(),
        );
        let leader = Family::<NameLabel, Gauge>::default();
        root.register(
            "leader_election_master_status",
            "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease.",
            leader.clone(),
        );
        root.register_collector(Box::new(super::process_metrics::ProcessCollector));
        let registry = root.sub_registry_with_prefix("minik8s");
        let syncs = Family::<SyncLabels, Counter>::default();
        registry.register(
            "syncs",
            "Syncs by controller and result (success, error)",
            syncs.clone(),
        );
        let sync_seconds = Family::<ControllerLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 16))
        });
        registry.register(
            "sync_duration_seconds",
            "Duration of syncs by controller",
            sync_seconds.clone(),
        );
        let pending = Family::<ControllerLabel, Gauge>::default();
        registry.register(
            "queue_pending",
            "Sync requests from watched objects not yet picked up",
            pending.clone(),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "api_requests",
            "Requests to the API server by verb and HTTP status",
            requests.clone(),
        );
        let cached = Family::<KindLabel, Gauge>::default();
        registry.register(
            "informer_objects",
            "Objects in the informer caches by kind",
            cached.clone(),
        );
        let undecodable = Family::<KindLabel, Counter>::default();
        registry.register(
            "informer_undecodable_objects",
            "Object versions the informers skipped because they could not be decoded, by kind",
            undecodable.clone(),
        );
        let expectations = Family::<ControllerLabel, Gauge>::default();
        registry.register(
            "expectations_entries",
            "Owners with recorded expectations, by controller",
            expectations.clone(),
        );
        let backoff = Family::<ControllerLabel, Gauge>::default();
        registry.register(
            "backoff_entries",
            "Objects with a failure count (per-object retry backoff), by controller",
            backoff.clone(),
        );
        // The scheduler's, named as kube-scheduler names them (`scheduler_…`).
        let schedule_attempts = Family::<ResultLabel, Counter>::default();
        registry.register(
            "scheduler_schedule_attempts",
            "Scheduling attempts by result (scheduled, unschedulable, error)",
            schedule_attempts.clone(),
        );
        let attempt_seconds = Family::<ResultLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0001, 2.0, 16))
        });
        registry.register(
            "scheduler_scheduling_attempt_duration_seconds",
            "Duration of the scheduling algorithm of an attempt, by result",
            attempt_seconds.clone(),
        );
        let pending_pods = Family::<QueueLabel, Gauge>::default();
        registry.register(
            "scheduler_pending_pods",
            "Pending pods by queue (active, backoff, unschedulable)",
            pending_pods.clone(),
        );
        Self {
            registry: root,
            workqueue_depth,
            workqueue_adds,
            workqueue_queue_seconds,
            workqueue_work_seconds,
            workqueue_retries,
            rest_requests,
            rest_seconds,
            leader,
            schedule_attempts,
            attempt_seconds,
            pending_pods,
            syncs,
            sync_seconds,
            pending,
            requests,
            cached,
            undecodable,
            expectations,
            backoff,
        }
    }

    pub fn sync_done(&self, controller: &str, ok: bool, took: Duration) {
        let result = if ok { "success" } else { "error" };
        self.syncs
            .get_or_create(&SyncLabels {
                controller: controller.into(),
                result: result.into(),
            })
            .inc();
        self.sync_seconds
            .get_or_create(&ControllerLabel {
                controller: controller.into(),
            })
            .observe(took.as_secs_f64());
    }

    /// A watched object asked for a sync (+1) or the controller took one (-1).
    pub fn pending(&self, controller: &str, delta: i64) {
        self.pending
            .get_or_create(&ControllerLabel {
                controller: controller.into(),
            })
            .inc_by(delta);
    }

    pub fn request(&self, verb: &str, code: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                verb: verb.into(),
                code: code.to_string(),
            })
            .inc();
    }

    pub fn cached(&self, kind: &str, objects: usize) {
        self.cached
            .get_or_create(&KindLabel { kind: kind.into() })
            .set(objects as i64);
    }

    /// An informer skipped a version of an object of `kind` that it could not decode.
    pub fn undecodable(&self, kind: &str) {
        self.undecodable
            .get_or_create(&KindLabel { kind: kind.into() })
            .inc();
    }

    /// Objects of `kind` skipped so far.
    pub fn undecodable_count(&self, kind: &str) -> u64 {
        self.undecodable
            .get_or_create(&KindLabel { kind: kind.into() })
            .get()
    }

    /// The gauge of `controller`'s expectation entries. Each instance of the structure moves it
    /// by its own changes, so it adds up every instance in the process.
    pub fn expectations_entries(&self, controller: &str) -> Gauge {
        self.expectations
            .get_or_create(&ControllerLabel {
                controller: controller.into(),
            })
            .clone()
    }

    /// The gauge of `controller`'s backoff entries; as [`Self::expectations_entries`].
    pub fn backoff_entries(&self, controller: &str) -> Gauge {
        self.backoff
            .get_or_create(&ControllerLabel {
                controller: controller.into(),
            })
            .clone()
    }

    /// A scheduling attempt ended with `result` after `took`.
    pub fn schedule_attempt(&self, result: &str, took: Duration) {
        let labels = ResultLabel {
            result: result.into(),
        };
        self.schedule_attempts.get_or_create(&labels).inc();
        self.attempt_seconds
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    /// The scheduling queue's lengths.
    pub fn pending_pods(&self, (active, backoff, unschedulable): (usize, usize, usize)) {
        for (queue, n) in [
            ("active", active),
            ("backoff", backoff),
            ("unschedulable", unschedulable),
        ] {
            self.pending_pods
                .get_or_create(&QueueLabel {
                    queue: queue.into(),
                })
                .set(n as i64);
        }
    }

    /// One request as client-go's REST client counts it; `code` 0 is a request that got no
    /// answer (client-go's `<error>`).
    pub fn rest_request(&self, method: &str, host: &str, code: u16, took: Duration) {
        let code = if code == 0 {
            "<error>".to_owned()
        } else {
            code.to_string()
        };
        self.rest_requests
            .get_or_create(&RestLabels {
                code,
                method: method.into(),
                host: host.into(),
            })
            .inc();
        self.rest_seconds
            .get_or_create(&RestLatencyLabels {
                verb: method.into(),
                host: host.into(),
            })
            .observe(took.as_secs_f64());
    }

    /// Whether this process holds the lease `name` (client-go's `leader_election_master_status`).
    pub fn leading(&self, name: &str, leading: bool) {
        self.leader
            .get_or_create(&NameLabel { name: name.into() })
            .set(i64::from(leading));
    }

    /// The `workqueue_*` metrics of the queue called `name`.
    pub fn work_queue(&self, name: &str) -> QueueMetrics {
        let label = NameLabel { name: name.into() };
        QueueMetrics {
            depth: self.workqueue_depth.get_or_create(&label).clone(),
            adds: self.workqueue_adds.get_or_create(&label).clone(),
            queue_seconds: self.workqueue_queue_seconds.get_or_create(&label).clone(),
            work_seconds: self.workqueue_work_seconds.get_or_create(&label).clone(),
            retries: self.workqueue_retries.get_or_create(&label).clone(),
        }
    }

    /// The Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String");
        out
    }
}

//! The API client, with the client-side rate limit that client-go applies (QPS and burst).
//!
//! kube-controller-manager talks to the API server at 20 QPS with bursts of 30; giving minik8s
//! the same limits is what makes a comparison with the built-in controllers fair.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};

use kube::Client;
use tokio::time::Sleep;
use tower::{Layer, Service};

use super::fence::{FenceLayer, LeaseFence};
use super::token_bucket::{Reservation, TokenBucket};

/// Client-side request rate limit: a token bucket refilled at `qps`, holding `burst` tokens.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    pub qps: f64,
    pub burst: u32,
}

impl RateLimit {
    /// kube-controller-manager's defaults (`--kube-api-qps=20 --kube-api-burst=30`).
    pub const CONTROLLER_MANAGER: RateLimit = RateLimit {
        qps: 20.0,
        burst: 30,
    };

    /// kube-scheduler's defaults (`--kube-api-qps=50 --kube-api-burst=100`).
    pub const SCHEDULER: RateLimit = RateLimit {
        qps: 50.0,
        burst: 100,
    };

    /// None when `qps` is 0 or less: no limit, as client-go treats a negative QPS.
    pub fn new(qps: f64, burst: u32) -> Option<Self> {
        (qps > 0.0).then_some(Self {
            qps,
            burst: burst.max(1),
        })
    }
}

/// The User-Agent of every request this process makes, set once at start-up by
/// [`set_user_agent`]. The API server's audit log and its `apiserver_request_total` tell
/// clients apart by it, as they tell kube-controller-manager's controllers apart.
static USER_AGENT: OnceLock<String> = OnceLock::new();

/// Names this process to the API server as client-go's `DefaultKubernetesUserAgent` does
/// (`NAME/VERSION (OS/ARCH)`), followed by `identity` (the replica's name in its leader
/// election), so that two replicas of one component can be told apart.
pub fn set_user_agent(component: &str, identity: &str) {
    let _ = USER_AGENT.set(user_agent(component, identity));
}

fn user_agent(component: &str, identity: &str) -> String {
    format!(
        "{component}/v{} ({}/{}) {identity}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// A client for the cluster in KUBECONFIG (or the in-cluster service account), limited to
/// `limit` requests per second when one is given; its requests are counted in the metrics.
pub async fn build(limit: Option<RateLimit>) -> Result<Client, kube::Error> {
    Clients::new(limit, None).build().await
}

/// How a process makes its clients: each with a rate limit of its own, and under leader
/// election all behind the same [`LeaseFence`].
#[derive(Clone, Debug, Default)]
pub struct Clients {
    limit: Option<RateLimit>,
    fence: Option<LeaseFence>,
}

impl Clients {
    pub fn new(limit: Option<RateLimit>, fence: Option<LeaseFence>) -> Self {
        Self { limit, fence }
    }

    pub async fn build(&self) -> Result<Client, kube::Error> {
        Ok(self.build_gated().await?.0)
    }

    /// [`Clients::build`], and the [`RateGate`] of the client's limit when it has one.
    pub async fn build_gated(&self) -> Result<(Client, Option<RateGate>), kube::Error> {
        let mut config = super::kubeconfig::config().await?;
        let agent = USER_AGENT.get_or_init(|| user_agent("minik8s", "-"));
        if let Ok(value) = http::HeaderValue::from_str(agent) {
            config.headers.push((http::header::USER_AGENT, value));
        }
        // Innermost first: the fence decides as the request leaves, after any wait for the
        // rate limit, so a write that waited is judged by the lease as it is then.
        let host = config
            .cluster_url
            .authority()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let builder = super::connection::client_builder(config)?;
        let builder = builder.with_layer(&FenceLayer::new(self.fence.clone()));
        let builder = builder.with_layer(&CountRequestsLayer { host: host.into() });
        Ok(match self.limit {
            Some(limit) => {
                let layer = RateLimitLayer::new(limit);
                let gate = layer.gate();
                (builder.with_layer(&layer).build(), Some(gate))
            }
            None => (builder.build(), None),
        })
    }
}

/// Counts API requests by verb and status code (`minik8s_api_requests_total`), and as
/// client-go's REST client does (`rest_client_requests_total{code,method,host}`,
/// `rest_client_request_duration_seconds{verb,host}`).
#[derive(Clone)]
pub struct CountRequestsLayer {
    /// The API server's `host:port`, as client-go labels its metrics.
    pub host: Arc<str>,
}

impl<S> Layer<S> for CountRequestsLayer {
    type Service = CountRequests<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CountRequests(inner, self.host.clone())
    }
}

pub struct CountRequests<S>(S, Arc<str>);

impl<S, B> Service<http::Request<B>> for CountRequests<S>
where
    S: Service<http::Request<B>>,
    S::Response: StatusOf,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let verb = verb(&request);
        let method = request.method().clone();
        let host = self.1.clone();
        let started = std::time::Instant::now();
        let response = self.0.call(request);
        Box::pin(async move {
            let response = response.await;
            let code = response.as_ref().map_or(0, StatusOf::status_code);
            let metrics = super::metrics::global();
            metrics.request(verb, code);
            metrics.rest_request(method.as_str(), &host, code, started.elapsed());
            response
        })
    }
}

/// True for a path naming a collection (`/api/v1/pods`, `/apis/g/v/namespaces/ns/things`)
/// rather than one object or a subresource.
fn is_collection(path: &str) -> bool {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = match segments.first() {
        Some(&"api") => segments.get(2..),
        Some(&"apis") => segments.get(3..),
        _ => None,
    };
    let Some(mut rest) = rest else { return false };
    if rest.len() >= 3 && rest[0] == "namespaces" {
        rest = &rest[2..];
    }
    rest.len() == 1
}

/// The HTTP status of a response, whatever its body type.
pub trait StatusOf {
    fn status_code(&self) -> u16;
}

impl<B> StatusOf for http::Response<B> {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

/// The Kubernetes verb of a request: get, list, watch, create, update, patch, delete.
fn verb<B>(request: &http::Request<B>) -> &'static str {
    let query = request.uri().query().unwrap_or_default();
    match *request.method() {
        http::Method::GET if query.contains("watch=true") || query.contains("watch=1") => "watch",
        http::Method::GET if is_collection(request.uri().path()) => "list",
        http::Method::GET => "get",
        http::Method::POST => "create",
        http::Method::PUT => "update",
        http::Method::PATCH => "patch",
        http::Method::DELETE => "delete",
        _ => "other",
    }
}

/// A tower layer that makes every request wait for a token of a shared bucket.
#[derive(Clone)]
pub struct RateLimitLayer {
    limiter: Arc<TokenBucket>,
    prepaid: Arc<AtomicU32>,
}

impl RateLimitLayer {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limiter: Arc::new(TokenBucket::new(limit.qps, limit.burst)),
            prepaid: Arc::default(),
        }
    }

    /// The gate that takes tokens of this layer's bucket ahead of the requests.
    pub fn gate(&self) -> RateGate {
        RateGate {
            limiter: self.limiter.clone(),
            prepaid: self.prepaid.clone(),
        }
    }
}

/// Takes a request's token before the request is made, so that a controller at its rate
/// limit decides what to write only once it may write it: the changes that came while it
/// waited go into the same write instead of the next one. The token is spent by the next
/// request of the same client; the bucket's rate holds either way, since every request
/// still costs exactly one token.
#[derive(Clone)]
pub struct RateGate {
    limiter: Arc<TokenBucket>,
    prepaid: Arc<AtomicU32>,
}

impl RateGate {
    /// Waits for a token and keeps it for the client's next request.
    pub async fn wait_for_turn(&self) {
        self.limiter.acquire().await;
        self.prepaid.fetch_add(1, Ordering::AcqRel);
    }
}

/// Plans with `plan`; when the plan has something to write (`writes`) and the client has a
/// gate, waits there for the write's token and plans again, so that the plan sent is made
/// from the caches as they are once it can be sent.
pub async fn plan_at_turn<T, E>(
    gate: Option<&RateGate>,
    mut plan: impl FnMut() -> Result<T, E>,
    writes: impl Fn(&T) -> bool,
) -> Result<T, E> {
    let first = plan()?;
    match gate {
        Some(gate) if writes(&first) => {
            gate.wait_for_turn().await;
            plan()
        }
        _ => Ok(first),
    }
}

/// Spends a token taken by [`RateGate::wait_for_turn`], if there is one.
fn take_prepaid(prepaid: &AtomicU32) -> bool {
    prepaid
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
        .is_ok()
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimited<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimited {
            inner,
            limiter: self.limiter.clone(),
            prepaid: self.prepaid.clone(),
            waiting: None,
            permitted: false,
        }
    }
}

/// The service made by [`RateLimitLayer`]. It is not ready until it holds a token; kube's
/// client drives it through a buffer, so requests queue in order while they wait.
pub struct RateLimited<S> {
    inner: S,
    limiter: Arc<TokenBucket>,
    prepaid: Arc<AtomicU32>,
    /// The token reserved for the next request, and the sleep until it may be used.
    waiting: Option<(Reservation, Pin<Box<Sleep>>)>,
    permitted: bool,
}

impl<S> RateLimited<S> {
    /// Gives back a reserved token that will not be used.
    fn cancel_wait(&mut self) {
        if let Some((reservation, _)) = self.waiting.take() {
            self.limiter.cancel(reservation);
        }
    }
}

impl<S> Drop for RateLimited<S> {
    fn drop(&mut self) {
        self.cancel_wait();
    }
}

impl<S, R> Service<R> for RateLimited<S>
where
    S: Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if !self.permitted && take_prepaid(&self.prepaid) {
            // A wait for the bucket that is under way gives its token back.
            self.cancel_wait();
            self.permitted = true;
        }
        if !self.permitted {
            let limiter = &self.limiter;
            let (_, sleep) = self.waiting.get_or_insert_with(|| {
                let reservation = limiter.reserve();
                (
                    reservation,
                    Box::pin(tokio::time::sleep_until(reservation.at)),
                )
            });
            ready!(sleep.as_mut().poll(cx));
            self.waiting = None;
            self.permitted = true;
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        self.permitted = false;
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use tokio::time::{Duration, Instant};

    use tower::ServiceExt;

    use super::*;

    /// client-go's REST client metrics, labelled as it labels them, and its leader gauge.
    #[tokio::test]
    async fn requests_are_counted_as_client_go_counts_them() {
        let layer = CountRequestsLayer {
            host: "api.example:6443".into(),
        };
        let created = tower::service_fn(|_: http::Request<()>| async {
            Ok::<_, Infallible>(http::Response::builder().status(201).body(()).unwrap())
        });
        let request = http::Request::builder()
            .method("POST")
            .uri("/api/v1/namespaces/ns/pods")
            .body(())
            .unwrap();
        layer.layer(created).oneshot(request).await.unwrap();
        super::super::metrics::global().leading("lease-in-a-test", true);
        let text = super::super::metrics::global().encode();
        for line in [
            r#"rest_client_requests_total{code="201",method="POST",host="api.example:6443"} 1"#,
            r#"rest_client_request_duration_seconds_count{verb="POST",host="api.example:6443"} 1"#,
            r#"leader_election_master_status{name="lease-in-a-test"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }

    #[test]
    fn requests_are_named_by_their_kubernetes_verb() {
        let verb_of = |method: &str, uri: &str| {
            verb(
                &http::Request::builder()
                    .method(method)
                    .uri(uri)
                    .body(())
                    .unwrap(),
            )
        };
        assert_eq!(verb_of("GET", "/api/v1/pods?limit=500"), "list");
        assert_eq!(verb_of("GET", "/api/v1/namespaces/ns/pods"), "list");
        assert_eq!(verb_of("GET", "/api/v1/namespaces"), "list");
        assert_eq!(verb_of("GET", "/api/v1/namespaces/ns"), "get");
        assert_eq!(verb_of("GET", "/api/v1/namespaces/ns/pods/webs"), "get");
        assert_eq!(
            verb_of(
                "GET",
                "/apis/minik8s.dev/v1alpha1/namespaces/ns/minireplicasets"
            ),
            "list"
        );
        assert_eq!(
            verb_of(
                "GET",
                "/apis/minik8s.dev/v1alpha1/namespaces/ns/minideployments/web/scale"
            ),
            "get"
        );
        assert_eq!(
            verb_of("GET", "/api/v1/pods?watch=true&resourceVersion=1"),
            "watch"
        );
        assert_eq!(verb_of("PATCH", "/api/v1/namespaces/ns/pods/a"), "patch");
        assert_eq!(verb_of("POST", "/api/v1/namespaces/ns/pods"), "create");
    }

    #[test]
    fn the_user_agent_names_the_component_version_platform_and_replica() {
        let agent = user_agent("minik8s-controller-manager", "node-1-42");
        assert!(
            agent.starts_with(&format!(
                "minik8s-controller-manager/v{} (",
                env!("CARGO_PKG_VERSION")
            )),
            "{agent}"
        );
        assert!(agent.ends_with(") node-1-42"), "{agent}");
        assert!(http::HeaderValue::from_str(&agent).is_ok());
    }

    #[test]
    fn zero_or_negative_qps_means_unlimited() {
        assert_eq!(RateLimit::new(0.0, 10), None);
        assert_eq!(RateLimit::new(-1.0, 10), None);
        assert_eq!(
            RateLimit::new(5.0, 0),
            Some(RateLimit { qps: 5.0, burst: 1 })
        );
    }

    #[tokio::test(start_paused = true)]
    async fn requests_beyond_the_burst_wait_for_tokens() {
        let layer = RateLimitLayer::new(RateLimit {
            qps: 50.0,
            burst: 5,
        });
        let mut service = layer.layer(tower::service_fn(
            |n: u32| async move { Ok::<_, Infallible>(n) },
        ));
        let start = Instant::now();
        for n in 0..10 {
            assert_eq!(service.ready().await.unwrap().call(n).await.unwrap(), n);
        }
        // 5 from the burst at once, then 5 more at 50/s: at least 80 ms.
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(80), "took {elapsed:?}");
        assert!(elapsed < Duration::from_millis(1000), "took {elapsed:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_token_taken_at_the_gate_pays_for_the_next_request() {
        let layer = RateLimitLayer::new(RateLimit {
            qps: 10.0,
            burst: 1,
        });
        let gate = layer.gate();
        let mut service = layer.layer(tower::service_fn(
            |n: u32| async move { Ok::<_, Infallible>(n) },
        ));
        let start = Instant::now();
        // The burst's token, taken at the gate, then spent by a request without waiting.
        gate.wait_for_turn().await;
        assert_eq!(service.ready().await.unwrap().call(1).await.unwrap(), 1);
        assert!(start.elapsed() < Duration::from_millis(50));
        // The next request waits for a fresh token: the gate's was not counted twice.
        assert_eq!(service.ready().await.unwrap().call(2).await.unwrap(), 2);
        assert!(start.elapsed() >= Duration::from_millis(90));
        // A token taken at the gate ahead of time is waited for there, not again.
        gate.wait_for_turn().await;
        let before = Instant::now();
        assert!(before - start >= Duration::from_millis(190));
        assert_eq!(service.ready().await.unwrap().call(3).await.unwrap(), 3);
        assert!(before.elapsed() < Duration::from_millis(50));
    }

    // Waiters come every 2 ms and a token every 10 ms, so newcomers keep arriving at refills:
    // the moment at which leaky-bucket's fair mode let the sixth overtake the second.
    #[tokio::test(start_paused = true)]
    async fn waiters_at_the_gate_are_served_in_the_order_they_came() {
        let layer = RateLimitLayer::new(RateLimit {
            qps: 100.0,
            burst: 1,
        });
        let gate = layer.gate();
        gate.wait_for_turn().await; // the burst's token: from here on every waiter waits
        let (served, mut order) = tokio::sync::mpsc::unbounded_channel();
        for n in 0..8u32 {
            let (gate, served) = (gate.clone(), served.clone());
            tokio::spawn(async move {
                gate.wait_for_turn().await;
                served.send(n).unwrap();
            });
            // Each waiter is queued before the next one comes.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        drop(served);
        let mut seen = Vec::new();
        while let Some(n) = order.recv().await {
            seen.push(n);
        }
        assert_eq!(seen, (0..8).collect::<Vec<_>>());
    }
}

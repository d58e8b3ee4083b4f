//! Writes only while the leader lease is surely held.
//!
//! Leader election alone does not stop a leader that was paused (SIGSTOP, a stalled VM, a
//! long GC pause) from writing when it wakes: its workers carry on with what they were doing,
//! and it only learns that another replica took over when its next renewal fails. Measured on
//! the local control plane, such a replica sent a burst of pod deletes and creates next to the
//! new leader's within milliseconds of waking, and the MiniDeployment went over its surge.
//! kube-controller-manager has the same window.
//!
//! The fence closes it: every mutating request other than to the Lease itself is refused
//! unless the lease was renewed less than [`HELD_FOR`] ago by the monotonic clock, which keeps
//! counting while the process is stopped. Renewals are seen where they happen, as successful
//! writes of the Lease through the same clients; a lease held at start-up (a restarted
//! replica under the same name) is read once when the election says it is held.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tower::{BoxError, Layer, Service};

use super::client::StatusOf;

/// How long after a renewal was sent this replica still writes: the lease's duration less
/// two seconds, so that a successor, which may only take over once the whole lease has run
/// out by its own clock, never writes at the same time even with a little clock skew.
pub const HELD_FOR: Duration = Duration::from_secs(super::leader::LEASE_SECONDS - 2);

/// Shared by every client of a process under leader election.
#[derive(Clone, Debug)]
pub struct LeaseFence {
    state: Arc<State>,
}

#[derive(Debug)]
struct State {
    origin: Instant,
    /// Until when writes go through, in milliseconds since `origin`; 0 while closed.
    held_until: AtomicU64,
    /// `/apis/coordination.k8s.io/v1/namespaces/NS/leases`.
    leases_path: String,
    /// `/apis/coordination.k8s.io/v1/namespaces/NS/leases/NAME`.
    lease_path: String,
}

impl LeaseFence {
    /// A closed fence for the Lease `namespace/name`.
    pub fn new(namespace: &str, name: &str) -> Self {
        let leases_path = format!("/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases");
        Self {
            state: Arc::new(State {
                origin: Instant::now(),
                held_until: AtomicU64::new(0),
                lease_path: format!("{leases_path}/{name}"),
                leases_path,
            }),
        }
    }

    fn millis(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.state.origin).as_millis() as u64
    }

    /// The lease is held until `until` at the latest (only ever extends).
    pub fn held_until(&self, until: Instant) {
        let until = self.millis(until).max(1);
        self.state.held_until.fetch_max(until, Ordering::AcqRel);
    }

    /// A renewal sent at `sent` succeeded.
    fn renewed(&self, sent: Instant) {
        self.held_until(sent + HELD_FOR);
    }

    /// The lease is lost or given up: no more writes.
    pub fn close(&self) {
        self.state.held_until.store(0, Ordering::Release);
    }

    /// Whether a write may go out at `now`.
    pub fn is_open(&self, now: Instant) -> bool {
        self.millis(now) < self.state.held_until.load(Ordering::Acquire)
    }
}

/// Refuses writes while the fence is closed and sees the lease's renewals go by; without a
/// fence (no leader election) it lets everything through.
#[derive(Clone)]
pub struct FenceLayer(Option<LeaseFence>);

impl FenceLayer {
    pub fn new(fence: Option<LeaseFence>) -> Self {
        Self(fence)
    }
}

impl<S> Layer<S> for FenceLayer {
    type Service = Fenced<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Fenced {
            inner,
            fence: self.0.clone(),
        }
    }
}

pub struct Fenced<S> {
    inner: S,
    fence: Option<LeaseFence>,
}

/// Refused by the fence: the controller retries with its backoff, and the process exits
/// once the election reports the lease lost.
#[derive(Debug, thiserror::Error)]
#[error(
    "not sending {method} {path}: the leader lease is not known to be held (it was not renewed \
     in the last {}s); waiting for the election",
    HELD_FOR.as_secs()
)]
pub struct NotLeader {
    method: http::Method,
    path: String,
}

fn is_write(method: &http::Method) -> bool {
    !matches!(
        *method,
        http::Method::GET | http::Method::HEAD | http::Method::OPTIONS
    )
}

impl<S, B> Service<http::Request<B>> for Fenced<S>
where
    S: Service<http::Request<B>>,
    S::Response: StatusOf + Send,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<S::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = request.method().clone();
        let now = Instant::now();
        let Some(fence) = self.fence.as_ref().filter(|_| is_write(&method)) else {
            let response = self.inner.call(request);
            return Box::pin(async move { response.await.map_err(Into::into) });
        };
        let path = request.uri().path().to_owned();
        if path == fence.state.lease_path {
            let fence = fence.clone();
            let response = self.inner.call(request);
            return Box::pin(async move {
                let response = response.await.map_err(Into::into)?;
                if (200..300).contains(&response.status_code()) {
                    fence.renewed(now);
                }
                Ok(response)
            });
        }
        // The first replica creates the Lease: that is the election, not a controller write.
        if method == http::Method::POST && path == fence.state.leases_path {
            let response = self.inner.call(request);
            return Box::pin(async move { response.await.map_err(Into::into) });
        }
        if !fence.is_open(now) {
            tracing::warn!(%method, path, "write refused: the leader lease is not known to be held");
            return Box::pin(async move { Err(NotLeader { method, path }.into()) });
        }
        let response = self.inner.call(request);
        Box::pin(async move { response.await.map_err(Into::into) })
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tower::ServiceExt;

    use super::*;

    const LEASE: &str = "/apis/coordination.k8s.io/v1/namespaces/ns/leases/minik8s";

    /// A server that answers every request with `status`.
    fn server(
        status: u16,
    ) -> impl Service<
        http::Request<()>,
        Response = http::Response<()>,
        Error = Infallible,
        Future = impl Send + 'static,
    > + Clone {
        tower::service_fn(move |_: http::Request<()>| async move {
            Ok::<_, Infallible>(http::Response::builder().status(status).body(()).unwrap())
        })
    }

    fn request(method: &str, path: &str) -> http::Request<()> {
        http::Request::builder()
            .method(method)
            .uri(path)
            .body(())
            .unwrap()
    }

    async fn send(
        fence: &LeaseFence,
        status: u16,
        method: &str,
        path: &str,
    ) -> Result<u16, BoxError> {
        let service = FenceLayer::new(Some(fence.clone())).layer(server(status));
        let response = service.oneshot(request(method, path)).await?;
        Ok(response.status().as_u16())
    }

    #[tokio::test]
    async fn writes_wait_for_a_renewal_and_reads_never_wait() {
        let fence = LeaseFence::new("ns", "minik8s");
        let pods = "/api/v1/namespaces/ns/pods";
        assert_eq!(send(&fence, 200, "GET", pods).await.unwrap(), 200);
        let refused = send(&fence, 201, "POST", pods).await.unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("not sending POST /api/v1/namespaces/ns/pods")
        );
        // A failed lease write opens nothing; a successful one opens the fence.
        assert_eq!(send(&fence, 409, "PATCH", LEASE).await.unwrap(), 409);
        assert!(send(&fence, 201, "POST", pods).await.is_err());
        assert_eq!(send(&fence, 200, "PATCH", LEASE).await.unwrap(), 200);
        assert_eq!(send(&fence, 201, "POST", pods).await.unwrap(), 201);
        assert_eq!(
            send(&fence, 200, "DELETE", &format!("{pods}/a"))
                .await
                .unwrap(),
            200
        );
        // The Lease is created through its collection before anyone holds it.
        let leases = "/apis/coordination.k8s.io/v1/namespaces/ns/leases";
        assert_eq!(send(&fence, 201, "POST", leases).await.unwrap(), 201);
        // Another Lease is just another object.
        let other = "/apis/coordination.k8s.io/v1/namespaces/ns/leases/other";
        fence.close();
        assert!(send(&fence, 200, "PUT", other).await.is_err());
        assert!(send(&fence, 201, "POST", pods).await.is_err());
    }

    #[tokio::test]
    async fn without_an_election_everything_goes_through() {
        let service = FenceLayer::new(None).layer(server(201));
        let response = service
            .oneshot(request("POST", "/api/v1/namespaces/ns/pods"))
            .await;
        assert_eq!(response.unwrap().status(), 201);
    }

    #[test]
    fn a_renewal_holds_for_less_than_the_lease_and_only_extends() {
        let fence = LeaseFence::new("ns", "minik8s");
        let start = Instant::now();
        fence.renewed(start);
        assert!(fence.is_open(start + HELD_FOR - Duration::from_millis(10)));
        assert!(!fence.is_open(start + HELD_FOR));
        assert!(HELD_FOR < Duration::from_secs(super::super::leader::LEASE_SECONDS));
        // An older observation does not shorten a newer one.
        fence.held_until(start + Duration::from_secs(1));
        assert!(fence.is_open(start + HELD_FOR - Duration::from_millis(10)));
        // Past the hold, by the monotonic clock (which runs on while a process is stopped).
        fence.renewed(start + Duration::from_secs(5));
        assert!(fence.is_open(start + HELD_FOR + Duration::from_secs(4)));
        assert!(!fence.is_open(start + HELD_FOR + Duration::from_secs(6)));
    }
}

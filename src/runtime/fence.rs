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
//! writes of the Lease through the same clients; a replica restarted under the same name
//! writes the Lease as it takes it again, which opens the fence like any renewal.
//!
//! A successful write of the Lease counts only when the Lease it returns names this replica;
//! one that names another closes the fence at once. The election's own updates carry the
//! version they read, so a renewal that arrives after a takeover fails anyway; the check
//! keeps any other writer of the Lease (a patch of `renewTime` alone succeeds whoever holds
//! it, which is how a renewal held by a partition once reopened the fence here) from
//! opening it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
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
    /// This replica's name in the election: a renewal counts only if the Lease names it.
    identity: String,
}

impl LeaseFence {
    /// A closed fence for the Lease `namespace/name`, held by `identity` when it is held.
    pub fn new(namespace: &str, name: &str, identity: &str) -> Self {
        let leases_path = format!("/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases");
        Self {
            state: Arc::new(State {
                origin: Instant::now(),
                held_until: AtomicU64::new(0),
                lease_path: format!("{leases_path}/{name}"),
                leases_path,
                identity: identity.to_owned(),
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

    /// A write of the Lease sent at `sent` succeeded and returned `lease` (its JSON): a
    /// renewal if the Lease names this replica, the proof that another holds it otherwise.
    fn lease_written(&self, sent: Instant, lease: &[u8]) {
        #[derive(serde::Deserialize)]
        struct Lease {
            spec: Option<Spec>,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Spec {
            holder_identity: Option<String>,
        }
        let holder = serde_json::from_slice::<Lease>(lease)
            .ok()
            .and_then(|l| l.spec?.holder_identity);
        if holder.as_deref() == Some(self.state.identity.as_str()) {
            self.renewed(sent);
        } else if holder.is_none() {
            // Released: the fence was closed before.
            self.close();
        } else {
            tracing::warn!(
                holder = holder.as_deref(),
                identity = %self.state.identity,
                "a write of the leader lease succeeded but the lease names another holder: \
                 it arrived after the lease was lost; no more writes"
            );
            self.close();
        }
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

/// The body of a response that passed the fence: the API server's own, or, for a write of
/// the Lease, the bytes the fence read to see who holds it.
pub type FencedBody = UnsyncBoxBody<Bytes, BoxError>;

fn boxed<RB>(response: http::Response<RB>) -> http::Response<FencedBody>
where
    RB: http_body::Body<Data = Bytes> + Send + 'static,
    RB::Error: Into<BoxError>,
{
    response.map(|body| body.map_err(Into::into).boxed_unsync())
}

impl<S, B, RB> Service<http::Request<B>> for Fenced<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    RB: http_body::Body<Data = Bytes> + Send + 'static,
    RB::Error: Into<BoxError>,
{
    type Response = http::Response<FencedBody>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Self::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = request.method().clone();
        let now = Instant::now();
        let pass = |response: S::Future| -> Self::Future {
            Box::pin(async move { Ok(boxed(response.await.map_err(Into::into)?)) })
        };
        let Some(fence) = self.fence.as_ref().filter(|_| is_write(&method)) else {
            return pass(self.inner.call(request));
        };
        let path = request.uri().path().to_owned();
        // The first replica creates the Lease (and so holds it): that is the election, not
        // a controller write.
        let is_lease_write = path == fence.state.lease_path
            || (method == http::Method::POST && path == fence.state.leases_path);
        if is_lease_write {
            let fence = fence.clone();
            let response = self.inner.call(request);
            return Box::pin(async move {
                let response = response.await.map_err(Into::into)?;
                if !(200..300).contains(&response.status_code()) {
                    return Ok(boxed(response));
                }
                let (parts, body) = response.into_parts();
                let lease = body.collect().await.map_err(Into::into)?.to_bytes();
                fence.lease_written(now, &lease);
                let body = Full::new(lease)
                    .map_err(|never| match never {})
                    .boxed_unsync();
                Ok(http::Response::from_parts(parts, body))
            });
        }
        if !fence.is_open(now) {
            tracing::warn!(%method, path, "write refused: the leader lease is not known to be held");
            return Box::pin(async move { Err(NotLeader { method, path }.into()) });
        }
        pass(self.inner.call(request))
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tower::ServiceExt;

    use super::*;

    const LEASE: &str = "/apis/coordination.k8s.io/v1/namespaces/ns/leases/minik8s";

    /// The Lease the API server returns after a write of it, held by `holder`.
    const HELD_BY_ME: &str = r#"{"kind":"Lease","spec":{"holderIdentity":"me"}}"#;
    const HELD_BY_OTHER: &str = r#"{"kind":"Lease","spec":{"holderIdentity":"other"}}"#;

    /// A server that answers every request with `status` and `body`.
    fn server(
        status: u16,
        body: &'static str,
    ) -> impl Service<
        http::Request<()>,
        Response = http::Response<String>,
        Error = Infallible,
        Future = impl Send + 'static,
    > + Clone {
        tower::service_fn(move |_: http::Request<()>| async move {
            let response = http::Response::builder().status(status);
            Ok::<_, Infallible>(response.body(body.to_owned()).unwrap())
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
        let body = if path == LEASE { HELD_BY_ME } else { "{}" };
        send_answered(fence, status, body, method, path)
            .await
            .map(|(status, _)| status)
    }

    /// Sends through the fence to a server answering `status` and `body`; the status and the
    /// body as the caller receives them.
    async fn send_answered(
        fence: &LeaseFence,
        status: u16,
        body: &'static str,
        method: &str,
        path: &str,
    ) -> Result<(u16, Bytes), BoxError> {
        let service = FenceLayer::new(Some(fence.clone())).layer(server(status, body));
        let response = service.oneshot(request(method, path)).await?;
        let status = response.status().as_u16();
        Ok((status, response.into_body().collect().await?.to_bytes()))
    }

    /// A renewal held by a partition arrives after another replica took over: the patch of
    /// `renewTime` succeeds, but the Lease it returns names the other. It must not reopen
    /// the fence, and it closes an open one; the caller still gets the Lease as sent.
    #[tokio::test]
    async fn a_renewal_answered_with_another_holder_closes_the_fence() {
        let fence = LeaseFence::new("ns", "minik8s", "me");
        let pods = "/api/v1/namespaces/ns/pods";
        let (status, body) = send_answered(&fence, 200, HELD_BY_OTHER, "PATCH", LEASE)
            .await
            .unwrap();
        assert_eq!((status, &body[..]), (200, HELD_BY_OTHER.as_bytes()));
        assert!(send(&fence, 201, "POST", pods).await.is_err());
        assert_eq!(send(&fence, 200, "PATCH", LEASE).await.unwrap(), 200);
        assert_eq!(send(&fence, 201, "POST", pods).await.unwrap(), 201);
        send_answered(&fence, 200, HELD_BY_OTHER, "PATCH", LEASE)
            .await
            .unwrap();
        assert!(send(&fence, 201, "POST", pods).await.is_err());
        // A body that is no Lease proves nothing either way: closed, as when lost.
        send_answered(&fence, 200, HELD_BY_ME, "PATCH", LEASE)
            .await
            .unwrap();
        send_answered(&fence, 200, "not json", "PATCH", LEASE)
            .await
            .unwrap();
        assert!(send(&fence, 201, "POST", pods).await.is_err());
    }

    #[tokio::test]
    async fn writes_wait_for_a_renewal_and_reads_never_wait() {
        let fence = LeaseFence::new("ns", "minik8s", "me");
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
        let service = FenceLayer::new(None).layer(server(201, "{}"));
        let response = service
            .oneshot(request("POST", "/api/v1/namespaces/ns/pods"))
            .await;
        assert_eq!(response.unwrap().status(), 201);
    }

    #[test]
    fn a_renewal_holds_for_less_than_the_lease_and_only_extends() {
        let fence = LeaseFence::new("ns", "minik8s", "me");
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

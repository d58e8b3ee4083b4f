//! The HTTP endpoints of the process: `/healthz` (alive), `/readyz` (every informer has
//! listed once, so the controllers see the whole cluster) and `/metrics` (Prometheus).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;

/// Flipped to true once the caches are synced.
#[derive(Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub fn set_ready(&self) {
        self.0.store(true, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

pub fn router(readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let ready = readiness.is_ready();
                async move {
                    if ready {
                        (StatusCode::OK, "ok")
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "caches not synced yet")
                    }
                }
            }),
        )
        .route(
            "/metrics",
            get(|| async {
                let headers = [(
                    "content-type",
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                )];
                (headers, super::metrics::global().encode())
            }),
        )
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    async fn get(router: Router, path: &str) -> (StatusCode, String) {
        let response = router
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn ready_only_after_the_caches_synced() {
        let readiness = Readiness::default();
        assert_eq!(
            get(router(readiness.clone()), "/healthz").await.0,
            StatusCode::OK
        );
        assert_eq!(
            get(router(readiness.clone()), "/readyz").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        readiness.set_ready();
        assert_eq!(
            get(router(readiness), "/readyz").await,
            (StatusCode::OK, "ok".to_string())
        );
    }

    #[tokio::test]
    async fn metrics_are_in_prometheus_text_format() {
        crate::runtime::metrics::global().sync_done(
            "test-controller",
            true,
            std::time::Duration::from_millis(3),
        );
        let (status, body) = get(router(Readiness::default()), "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            body.contains(
                "minik8s_syncs_total{controller=\"test-controller\",result=\"success\"} 1"
            ),
            "{body}"
        );
        assert!(
            body.contains("minik8s_sync_duration_seconds_bucket{le="),
            "{body}"
        );
        assert!(body.ends_with("# EOF\n"));
    }
}

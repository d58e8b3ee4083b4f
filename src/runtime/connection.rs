//! The connection to the API server: HTTP/2, as client-go's.
//!
//! kube's own client stack offers HTTP/1.1 only, so every request in flight holds a TCP and
//! TLS connection of its own: a burst of pod creates opened up to 248 of them, each a
//! handshake for the API server and a connection it keeps open. client-go negotiates HTTP/2
//! and sends every request of a client as a stream of one connection. This stack does the
//! same (ALPN `h2`, falling back to HTTP/1.1 for a server that does not offer it) and, like
//! client-go's transport, pings a connection that has been quiet for 30 s and drops it when
//! a ping goes unanswered for 15 s, so that a connection stalled by the network is replaced
//! instead of holding every request behind it.
//!
//! Otherwise it is kube's stack: the same TLS configuration, authentication, headers and
//! retries from the kubeconfig. Through a proxy, kube's stack is used as it is.

use std::time::Duration;

use http::{Request, Response};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use kube::Config;
use kube::client::retry::RetryPolicy;
use kube::client::{Body, ClientBuilder, ConfigExt, DynBody};
use tower::retry::RetryLayer;
use tower::util::BoxService;
use tower::{BoxError, ServiceBuilder, ServiceExt};

/// client-go's `ReadIdleTimeout`: a ping after this long without a frame from the server.
const PING_AFTER_IDLE: Duration = Duration::from_secs(30);
/// client-go's `PingTimeout`: the connection is closed when a ping is not answered in time.
const PING_TIMEOUT: Duration = Duration::from_secs(15);

/// The service stack behind a kube [`kube::Client`], as `ClientBuilder::try_from` makes it.
pub type ClientService = BoxService<Request<Body>, Response<Box<DynBody>>, BoxError>;

/// A client builder for `config` that speaks HTTP/2 to the API server when it can.
pub fn client_builder(config: Config) -> Result<ClientBuilder<ClientService>, kube::Error> {
    if config.proxy_url.is_some() {
        return ClientBuilder::try_from(config);
    }
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    // Go sets TCP_NODELAY on every TCP connection, so client-go sends a request at once.
    // Without it, Nagle's algorithm holds a request's later frames (the body after the
    // headers) until the server acknowledges the first, and the server delays that ACK by up
    // to 40 ms: a quiet cluster saw MiniEndpoints follow a pod 69 ms after it changed (p50)
    // without it and 25 ms with it.
    http.set_nodelay(true);
    http.set_connect_timeout(config.connect_timeout);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config.rustls_client_config()?)
        .https_or_http();
    let https = match config.tls_server_name.as_ref() {
        Some(name) => {
            let name = name.clone().try_into().map_err(|error| {
                kube::Error::RustlsTls(kube::client::RustlsTlsError::InvalidServerName(error))
            })?;
            https.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name))
        }
        None => https,
    };
    let connector = https.enable_all_versions().wrap_connector(http);
    let client = hyper_util::client::legacy::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .http2_keep_alive_interval(PING_AFTER_IDLE)
        .http2_keep_alive_timeout(PING_TIMEOUT)
        .build(connector);
    // The layers of kube's own stack, in its order (its retry of 429, 503 and 504 included);
    // only its request tracing at debug level is left out.
    let retry = config
        .default_retry
        .then(|| RetryLayer::new(RetryPolicy::server_retry()));
    let service = ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(retry)
        .option_layer(config.auth_layer()?)
        .layer(config.extra_headers_layer()?)
        .map_err(BoxError::from)
        .service(client)
        .map_response(|response| {
            response.map(|body| {
                Box::new(http_body_util::BodyExt::map_err(body, BoxError::from)) as Box<DynBody>
            })
        });
    Ok(ClientBuilder::new(
        BoxService::new(service),
        config.default_namespace,
    ))
}

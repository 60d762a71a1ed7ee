//! The HTTP side of onrecord: the JSON API under `/api/v1` (with its OpenAPI document), the
//! server-rendered web UI, `/healthz` and Prometheus `/metrics`. Every request is
//! authenticated by a token ([`auth`]); every read of content is an audit entry naming the
//! token. Private keys are unlocked once, at start, for the tenants this server serves.
//!
//! Never does: serve a recording across tenants (another tenant's recording reads as
//! missing), decrypt for an operator token, or put internals into a response ([`error`]).

pub mod api;
pub mod auth;
pub mod error;
pub mod openapi;
pub mod playback;
pub mod range;
pub mod retention;
pub mod subject_access;
pub mod tokens;
pub mod ui;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use model::{RecordingId, StreamLabel, TenantId};
use seal::TenantPrivateKey;
use tokio::net::TcpListener;

use crate::app::App;
use error::HttpError;
use playback::RenderCache;

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct HttpState(Arc<Inner>);

struct Inner {
    app: App,
    keys: HashMap<TenantId, TenantPrivateKey>,
    rendered: Mutex<RenderCache>,
    metrics: PrometheusHandle,
}

impl std::fmt::Debug for HttpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpState")
            .field("tenants_unlocked", &self.0.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl HttpState {
    /// Unlocks the private key of every configured tenant from the keyring. A tenant whose key
    /// cannot be unlocked is served without playback (its metadata still reads).
    pub fn new(app: App) -> HttpState {
        let mut keys = HashMap::new();
        for tenant in app.config.tenants.keys() {
            match app.private_key(tenant) {
                Ok(key) => {
                    keys.insert(tenant.clone(), key);
                }
                Err(error) => {
                    tracing::warn!(%tenant, %error, "private key not unlocked; playback off");
                }
            }
        }
        HttpState(Arc::new(Inner {
            app,
            keys,
            rendered: Mutex::new(RenderCache::default()),
            metrics: metrics_handle(),
        }))
    }

    pub fn app(&self) -> &App {
        &self.0.app
    }

    pub fn private_key(&self, tenant: &TenantId) -> Option<&TenantPrivateKey> {
        self.0.keys.get(tenant)
    }

    /// Bytes rendered from a stream, from the cache or made by `make` (and then cached).
    pub async fn rendered<F, Fut>(
        &self,
        recording: RecordingId,
        label: &StreamLabel,
        kind: &str,
        make: F,
    ) -> Result<Arc<Vec<u8>>, HttpError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<u8>, HttpError>>,
    {
        let key = RenderCache::key(recording, label, kind);
        if let Some(bytes) = self.cache().get(&key) {
            metrics::counter!("onrecord_http_render_cache_hits_total").increment(1);
            return Ok(bytes);
        }
        let bytes = Arc::new(make().await?);
        self.cache().put(key, Arc::clone(&bytes));
        Ok(bytes)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, RenderCache> {
        self.0
            .rendered
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The process-wide Prometheus recorder (installed once; later states share it).
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("another metrics recorder is installed; /metrics will be sparse");
            }
            handle
        })
        .clone()
}

async fn count_requests(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().to_string();
    let response = next.run(request).await;
    metrics::counter!(
        "onrecord_http_requests_total",
        "method" => method,
        "route" => route,
        "status" => response.status().as_u16().to_string()
    )
    .increment(1);
    response
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Prometheus metrics: content-blind, but still behind a token (an operator's).
async fn prometheus(
    State(state): State<HttpState>,
    principal: auth::Principal,
) -> Result<impl IntoResponse, HttpError> {
    principal.require(auth::Permission::OperatorFigures)?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.0.metrics.render(),
    ))
}

/// The whole HTTP application.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(subject_access::routes())
        .merge(retention::routes())
        .merge(openapi::routes())
        .merge(ui::routes())
        .route("/healthz", get(healthz))
        .route("/metrics", get(prometheus))
        .layer(middleware::from_fn(count_requests))
        .with_state(state)
}

/// Binds the HTTP listener (port 0 picks a free port; see `local_addr`).
pub async fn bind(address: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen for HTTP on {address}"))
}

/// Serves `app` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("the HTTP server failed")
}

/// Starts the HTTP server for `app` on `address` in the background; it stops when `shutdown`
/// completes. Returns the bound address (useful with port 0) and the server's task.
pub async fn start(
    app: App,
    address: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, tokio::task::JoinHandle<Result<()>>)> {
    let listener = bind(address).await?;
    let bound = listener.local_addr()?;
    let router = router(HttpState::new(app));
    let task = tokio::spawn(serve(listener, router, shutdown));
    Ok((bound, task))
}

//! The handshake's `Origin` check (cross-site WebSocket hijacking): a browser request to
//! `/socket.io` from an origin outside `TUTOR_CORS_ORIGINS` is refused, on polling and
//! WebSocket alike. A request without `Origin` is not from a browser and passes.
use std::sync::Arc;

use axum::{
    body::Body,
    extract::{Request, State},
    http::{StatusCode, header::ORIGIN},
    middleware::Next,
    response::{IntoResponse, Response},
};

pub async fn verificar_origem(
    State(permitidas): State<Arc<Vec<String>>>,
    req: Request<Body>,
    next: Next,
) -> Response {
    if req.uri().path().starts_with("/socket.io")
        && let Some(origem) = req.headers().get(ORIGIN)
    {
        let ok = origem
            .to_str()
            .is_ok_and(|o| permitidas.iter().any(|p| p == o));
        if !ok {
            tracing::debug!(origin = ?origem, "handshake from a disallowed origin refused");
            return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
        }
    }
    next.run(req).await
}

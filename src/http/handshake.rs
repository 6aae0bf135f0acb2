//! Guards in front of `/socket.io`: the handshake's `Origin` check (cross-site WebSocket
//! hijacking: a browser request from an origin outside `TUTOR_CORS_ORIGINS` is refused, on
//! polling and WebSocket alike; a request without `Origin` is not from a browser and passes),
//! and a cap on new sessions per address per second.
use std::{net::SocketAddr, sync::Arc};

use axum::{
    body::Body,
    extract::{ConnectInfo, Request, State},
    http::{HeaderValue, StatusCode, header::ORIGIN},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::limite::Limitador;

pub struct GuardaHandshake {
    origens: Vec<String>,
    novas_sessoes: Limitador,
}

impl GuardaHandshake {
    /// `por_segundo == 0`: no cap on new sessions.
    pub fn new(origens: Vec<String>, por_segundo: u32) -> Self {
        Self {
            origens: origens.into_iter().map(|o| o.trim().to_owned()).collect(),
            novas_sessoes: Limitador::new(
                por_segundo.saturating_mul(60),
                por_segundo.saturating_mul(2),
            ),
        }
    }

    fn origem_permitida(&self, origem: &HeaderValue) -> bool {
        origem
            .to_str()
            .is_ok_and(|o| self.origens.iter().any(|p| p == o))
    }
}

pub async fn guardar_handshake(
    State(guarda): State<Arc<GuardaHandshake>>,
    ConnectInfo(par): ConnectInfo<SocketAddr>,
    req: Request<Body>,
    next: Next,
) -> Response {
    if !req.uri().path().starts_with("/socket.io") {
        return next.run(req).await;
    }
    if let Some(origem) = req.headers().get(ORIGIN)
        && !guarda.origem_permitida(origem)
    {
        tracing::debug!(origin = ?origem, "handshake from a disallowed origin refused");
        return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    // A request without `sid` opens a new Engine.IO session.
    let nova_sessao = !req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .any(|p| p.starts_with("sid="));
    if nova_sessao && let Err(ms) = guarda.novas_sessoes.tomar(&par.ip().to_string()) {
        tracing::debug!(peer = %par.ip(), "too many handshakes from one address");
        let mut r = (StatusCode::TOO_MANY_REQUESTS, "too many connections").into_response();
        if let Ok(v) = HeaderValue::from_str(&ms.div_ceil(1000).to_string()) {
            r.headers_mut().insert("retry-after", v);
        }
        return r;
    }
    next.run(req).await
}

//! Guards in front of `/socket.io`: the handshake's `Origin` check (cross-site WebSocket
//! hijacking: a browser request from an origin outside `TUTOR_CORS_ORIGINS` is refused, on
//! polling and WebSocket alike; a request without `Origin` is not from a browser and passes),
//! and the two caps on new sessions.
//!
//! A school reaches us through one NAT address, so a cap on sessions per address would
//! refuse a class that opens the app together. What one address is charged for instead is
//! sessions that do not authenticate: each new session takes a unit of its address's budget
//! and the connect middleware gives it back once the token checks out
//! ([`Orcamento::devolver`]). Forged or expired tokens and sessions opened and left
//! half-open are what use it up. The process as a whole takes only so many new sessions
//! per second, whoever asks.
use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use axum::{
    body::Body,
    extract::{ConnectInfo, Request, State},
    http::{HeaderValue, StatusCode, header::ORIGIN},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::limite::Limitador;

/// What new sessions may cost: per address (unauthenticated ones) and for the process.
pub struct Orcamento {
    por_endereco: Limitador,
    global: Limitador,
}

/// The key of the process-wide bucket.
const GLOBAL: &str = "";

impl Orcamento {
    /// `0` for either rate: no limit of that kind.
    pub fn new(por_endereco_por_segundo: u32, rajada: u32, global_por_segundo: u32) -> Self {
        Self {
            por_endereco: Limitador::new(por_endereco_por_segundo.saturating_mul(60), rajada),
            global: Limitador::new(
                global_por_segundo.saturating_mul(60),
                global_por_segundo.saturating_mul(2),
            ),
        }
    }

    /// Charges a new session; `Err(ms)` says when to retry.
    fn cobrar(&self, ip: IpAddr) -> Result<(), u64> {
        self.global.tomar(GLOBAL)?;
        self.por_endereco.tomar(&ip.to_string())
    }

    /// A session from `ip` authenticated: it owes its address nothing.
    pub fn devolver(&self, ip: IpAddr) {
        self.por_endereco.devolver(&ip.to_string());
    }
}

pub struct GuardaHandshake {
    origens: Vec<String>,
    orcamento: Arc<Orcamento>,
}

impl GuardaHandshake {
    pub fn new(origens: Vec<String>, orcamento: Arc<Orcamento>) -> Self {
        Self {
            origens: origens.into_iter().map(|o| o.trim().to_owned()).collect(),
            orcamento,
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
    if nova_sessao && let Err(ms) = guarda.orcamento.cobrar(par.ip()) {
        tracing::debug!(peer = %par.ip(), "too many new sessions; refused");
        let mut r = (StatusCode::TOO_MANY_REQUESTS, "too many connections").into_response();
        if let Ok(v) = HeaderValue::from_str(&ms.div_ceil(1000).to_string()) {
            r.headers_mut().insert("retry-after", v);
        }
        return r;
    }
    next.run(req).await
}

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
//!
//! Behind a balancer every session comes from the balancer's address: with
//! `TUTOR_PROXIES_CONFIAVEIS` naming it, the address charged is the client's as the balancer
//! reports it in `X-Forwarded-For` (the rightmost entry that is not itself a trusted proxy;
//! what a client writes there itself is to the left of it and never trusted).
use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use axum::{
    body::Body,
    extract::{ConnectInfo, OriginalUri, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, Uri, header::ORIGIN},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{limite::Limitador, metricas::Metricas};

/// What new sessions may cost: per address (unauthenticated ones) and for the process.
pub struct Orcamento {
    por_endereco: Limitador,
    global: Limitador,
    /// Balancers whose `X-Forwarded-For` tells the client's address.
    proxies: Vec<IpAddr>,
}

/// The key of the process-wide bucket.
const GLOBAL: &str = "";

impl Orcamento {
    /// `0` for either rate: no limit of that kind.
    pub fn new(
        por_endereco_por_segundo: u32,
        rajada: u32,
        global_por_segundo: u32,
        proxies: Vec<IpAddr>,
    ) -> Self {
        Self {
            proxies,
            por_endereco: Limitador::new(por_endereco_por_segundo.saturating_mul(60), rajada),
            global: Limitador::new(
                global_por_segundo.saturating_mul(60),
                global_por_segundo.saturating_mul(2),
            ),
        }
    }

    /// The address a request is charged to: its peer, or, when the peer is a trusted proxy,
    /// the client it forwarded for.
    pub fn endereco(&self, par: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.proxies.contains(&par) {
            return par;
        }
        let encaminhados = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        for e in encaminhados.iter().rev() {
            match e.parse::<IpAddr>() {
                Ok(ip) if self.proxies.contains(&ip) => continue,
                Ok(ip) => return ip,
                // Garbage where an address should be: trust nothing further left.
                Err(_) => return par,
            }
        }
        par
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
    metricas: Arc<Metricas>,
}

impl GuardaHandshake {
    pub fn new(origens: Vec<String>, orcamento: Arc<Orcamento>, metricas: Arc<Metricas>) -> Self {
        Self {
            origens: origens.into_iter().map(|o| o.trim().to_owned()).collect(),
            orcamento,
            metricas,
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
    let cliente = guarda.orcamento.endereco(par.ip(), req.headers());
    if nova_sessao && let Err(ms) = guarda.orcamento.cobrar(cliente) {
        tracing::debug!(peer = %cliente, "too many new sessions; refused");
        guarda.metricas.handshake_recusado();
        let mut r = (StatusCode::TOO_MANY_REQUESTS, "too many connections").into_response();
        if let Ok(v) = HeaderValue::from_str(&ms.div_ceil(1000).to_string()) {
            r.headers_mut().insert("retry-after", v);
        }
        return r;
    }
    next.run(desprender(req)).await
}

/// The request with its URI (and axum's copy of it) and header values in allocations of
/// their own. hyper parses them as slices of the connection's read buffer (16 KiB), and
/// socketioxide keeps the handshake's parts for the socket's whole life: without the copy
/// every connected socket pins that buffer, the largest thing it holds.
fn desprender(req: Request<Body>) -> Request<Body> {
    let (mut partes, corpo) = req.into_parts();
    if let Ok(uri) = Uri::try_from(partes.uri.to_string()) {
        if let Some(OriginalUri(original)) = partes.extensions.get_mut::<OriginalUri>() {
            *original = uri.clone();
        }
        partes.uri = uri;
    }
    for valor in partes.headers.values_mut() {
        if let Ok(copia) = HeaderValue::from_bytes(valor.as_bytes()) {
            let sensivel = valor.is_sensitive();
            *valor = copia;
            valor.set_sensitive(sensivel);
        }
    }
    Request::from_parts(partes, corpo)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn com(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    #[test]
    fn a_detached_request_keeps_its_uri_and_headers_in_new_memory() {
        let buffer = axum::body::Bytes::from_static(b"/socket.io/?EIO=4&transport=websocketabc");
        let uri = Uri::from_maybe_shared(buffer.slice(..37)).expect("uri");
        let mut req = Request::builder()
            .uri(uri.clone())
            .body(Body::empty())
            .expect("request");
        let valor = HeaderValue::from_maybe_shared(buffer.slice(37..)).expect("value");
        req.headers_mut().insert("x-teste", valor);
        req.extensions_mut().insert(OriginalUri(uri));
        let antes = req.headers()["x-teste"].as_bytes().as_ptr();

        let req = desprender(req);
        assert_eq!(req.uri(), "/socket.io/?EIO=4&transport=websocket");
        assert_eq!(req.headers()["x-teste"], "abc");
        assert_ne!(req.headers()["x-teste"].as_bytes().as_ptr(), antes);
        let original = req.extensions().get::<OriginalUri>().expect("original uri");
        assert_eq!(original.0, *req.uri());
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        let proxy: IpAddr = "10.0.0.9".parse().expect("ip");
        let o = Orcamento::new(1, 1, 1, vec![proxy]);
        let cliente: IpAddr = "203.0.113.7".parse().expect("ip");
        assert_eq!(o.endereco(proxy, &com(&["203.0.113.7"])), cliente);
        // A client's own header is to the left of what the proxy appended.
        assert_eq!(o.endereco(proxy, &com(&["1.2.3.4, 203.0.113.7"])), cliente);
        assert_eq!(
            o.endereco(proxy, &com(&["1.2.3.4", "203.0.113.7, 10.0.0.9"])),
            cliente
        );
        assert_eq!(o.endereco(proxy, &com(&[])), proxy, "no header: the proxy");
        assert_eq!(o.endereco(proxy, &com(&["lixo"])), proxy);
        // From anyone else the header is ignored.
        assert_eq!(o.endereco(cliente, &com(&["1.2.3.4"])), cliente);
    }
}

//! `GET /metrics`: this server's metrics in the Prometheus text format. With
//! `TUTOR_METRICAS_TOKEN` set it asks for `Authorization: Bearer <token>` (401 otherwise,
//! compared in constant time); unset, it is open, which is safe because it holds counts
//! only, never a user, a conversation or a text.
//!
//! The gauges that describe the sockets (how many, on which transport; the conversation
//! rooms with members) are sampled here, at each scrape, from socketioxide itself: nothing
//! to keep in step on connect, upgrade and disconnect, so nothing can drift.
use std::{collections::HashSet, sync::Arc};

use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use secrecy::{ExposeSecret, SecretString};
use socketioxide::{SocketIo, TransportType};
use subtle::ConstantTimeEq;

use crate::{
    metricas::{CONTENT_TYPE, Metricas, Transporte},
    socket::wire,
};

/// What `/metrics` needs.
#[derive(Clone)]
pub struct Exposicao {
    pub metricas: Arc<Metricas>,
    pub io: SocketIo,
    pub token: Option<Arc<SecretString>>,
}

pub async fn metrics(State(x): State<Exposicao>, headers: HeaderMap) -> Response {
    if let Some(token) = &x.token
        && !autorizado(&headers, token)
    {
        let mut r = StatusCode::UNAUTHORIZED.into_response();
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return r;
    }
    amostrar(&x.io, &x.metricas);
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        x.metricas.render(),
    )
        .into_response()
}

fn autorizado(headers: &HeaderMap, token: &SecretString) -> bool {
    let Some(dado) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
    else {
        return false;
    };
    // Constant time over the bytes; only a length mismatch answers early.
    dado.ct_eq(token.expose_secret().as_bytes()).into()
}

/// Counts the local sockets by transport and the conversation rooms they are in.
fn amostrar(io: &SocketIo, m: &Metricas) {
    let Some(raiz) = io.of("/") else {
        m.sockets(Transporte::Polling, 0);
        m.sockets(Transporte::Websocket, 0);
        m.salas(0);
        return;
    };
    let (mut polling, mut websocket) = (0, 0);
    let mut salas = HashSet::new();
    for s in raiz.sockets() {
        match s.transport_type() {
            TransportType::Polling => polling += 1,
            TransportType::Websocket => websocket += 1,
        }
        salas.extend(s.rooms().into_iter().filter(|r| wire::e_sala_conversa(r)));
    }
    m.sockets(Transporte::Polling, polling);
    m.sockets(Transporte::Websocket, websocket);
    m.salas(salas.len());
}

//! `GET /dev/token?sub=NAME`: hands out tokens, only in demo mode (no `TUTOR_JWT_SECRET`:
//! the secret is random per run and nothing real can be reached with it) and only to a
//! client on loopback. Anywhere else it does not exist (404).
use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Json,
    extract::{ConnectInfo, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::auth::{Papel, emitir_token_com_nome};

/// The demo secret, present only in demo mode.
#[derive(Clone)]
pub struct SegredoDemo(pub Option<Arc<SecretString>>);

#[derive(Deserialize)]
pub struct Pedido {
    sub: Option<String>,
    papel: Option<String>,
}

pub async fn token_demo(
    State(SegredoDemo(segredo)): State<SegredoDemo>,
    ConnectInfo(par): ConnectInfo<SocketAddr>,
    Query(p): Query<Pedido>,
) -> Response {
    let Some(segredo) = segredo.filter(|_| par.ip().is_loopback()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let sub = p
        .sub
        .filter(|s| !s.trim().is_empty() && s.chars().count() <= 64)
        .unwrap_or_else(|| "visitante".into());
    let papel = match p.papel.as_deref() {
        Some("professor") => Papel::Professor,
        _ => Papel::Aluno,
    };
    let token = emitir_token_com_nome(
        segredo.expose_secret(),
        &sub,
        Some(&sub),
        papel,
        Duration::from_secs(12 * 3600),
    );
    Json(serde_json::json!({ "token": token })).into_response()
}

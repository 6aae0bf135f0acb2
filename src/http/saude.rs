//! `GET /health` (the process serves) and `GET /ready` (it should be sent traffic: the
//! database accepts writes, Redis answers when configured, and it is not shutting down).
use std::{sync::Arc, time::Duration};

use axum::{extract::State, http::StatusCode};

use crate::{
    conversation::{Coordenacao, Gerador},
    storage::{self, Db},
};

pub async fn health() -> &'static str {
    "ok"
}

/// A probe must answer fast, within the 1 s a balancer's or Kubernetes' check waits by
/// default: a database that cannot take a write within this is not ready.
const PRAZO: Duration = Duration::from_millis(900);

/// What `/ready` looks at.
#[derive(Clone)]
pub struct Prontidao {
    pub db: Db,
    pub coordenacao: Arc<dyn Coordenacao>,
    pub gerador: Arc<Gerador>,
}

pub async fn ready(State(p): State<Prontidao>) -> (StatusCode, &'static str) {
    if p.gerador.parando() {
        // First thing on SIGTERM: the balancer stops sending new tabs here.
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    if !p.coordenacao.saudavel() {
        return (StatusCode::SERVICE_UNAVAILABLE, "redis unavailable");
    }
    let pronto = tokio::time::timeout(PRAZO, storage::aceita_escritas(&p.db)).await;
    if pronto.unwrap_or(false) {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
    }
}

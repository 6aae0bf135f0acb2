//! `GET /health` (the process serves) and `GET /ready` (the database accepts writes).
use std::time::Duration;

use axum::{extract::State, http::StatusCode};

use crate::storage::{self, Db};

pub async fn health() -> &'static str {
    "ok"
}

/// A probe must answer fast: a database that cannot take a write within this is not ready.
const PRAZO: Duration = Duration::from_secs(2);

pub async fn ready(State(db): State<Db>) -> (StatusCode, &'static str) {
    let pronto = tokio::time::timeout(PRAZO, storage::aceita_escritas(&db)).await;
    if pronto.unwrap_or(false) {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
    }
}

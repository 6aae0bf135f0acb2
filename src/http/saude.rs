//! `GET /health` (the process serves) and `GET /ready` (the database accepts writes).
use axum::{extract::State, http::StatusCode};

use crate::storage::{self, Db};

pub async fn health() -> &'static str {
    "ok"
}

pub async fn ready(State(db): State<Db>) -> (StatusCode, &'static str) {
    if storage::aceita_escritas(&db).await {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
    }
}

//! Talking to the server: an emit with an ack, awaited with a deadline, failures as plain
//! Portuguese sentences.
use std::{
    fmt,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::FutureExt;
use rust_socketio::{Payload, asynchronous::Client};
use serde_json::Value;
use tokio::sync::oneshot;

/// How long an ack may take.
const PRAZO: Duration = Duration::from_secs(10);

/// Why a request did not succeed.
pub enum Falha {
    /// The server answered `ok: false`; its sentence.
    Recusado(String),
    /// No answer: the connection is down or the server did not reply in time. Safe to
    /// retry when the request is idempotent (a send with its `id_cliente`).
    SemResposta(&'static str),
}

impl fmt::Display for Falha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Falha::Recusado(m) => f.write_str(m),
            Falha::SemResposta(m) => f.write_str(m),
        }
    }
}

/// The first argument of an event or ack.
pub fn primeiro(p: Payload) -> Value {
    match p {
        Payload::Text(mut v) if !v.is_empty() => match v.swap_remove(0) {
            Value::Array(mut a) if a.len() == 1 => a.swap_remove(0),
            outro => outro,
        },
        _ => Value::Null,
    }
}

/// Emits with an ack and waits for it.
pub async fn pedir(c: &Client, evento: &str, dados: Value) -> Result<Value, Falha> {
    pedir_e(c, evento, dados, |_| {}).await
}

/// Emits with an ack and waits for it; `ao_ok` runs on a successful ack inside the client's
/// callback, before any packet that came after the ack is handled (see `tela`).
pub async fn pedir_e(
    c: &Client,
    evento: &str,
    dados: Value,
    ao_ok: impl FnOnce(&Value) + Send + 'static,
) -> Result<Value, Falha> {
    let (tx, rx) = oneshot::channel();
    let espera = Arc::new(Mutex::new(Some((tx, ao_ok))));
    c.emit_with_ack(evento, dados, PRAZO, move |p, _| {
        if let Some((tx, ao_ok)) = espera.lock().ok().and_then(|mut t| t.take()) {
            let ack = primeiro(p);
            // A request we gave up on (timed out) must not change the screen any more.
            if ack["ok"] == true && !tx.is_closed() {
                ao_ok(&ack);
            }
            let _ = tx.send(ack);
        }
        async {}.boxed()
    })
    .await
    .map_err(|_| Falha::SemResposta("Sem conexão com o servidor."))?;
    let ack = tokio::time::timeout(PRAZO, rx)
        .await
        .map_err(|_| Falha::SemResposta("O servidor não respondeu a tempo."))?
        .map_err(|_| Falha::SemResposta("A conexão caiu antes da resposta."))?;
    if ack["ok"] == true {
        Ok(ack)
    } else {
        Err(Falha::Recusado(
            ack["erro"]["mensagem"]
                .as_str()
                .unwrap_or("O servidor recusou o pedido.")
                .to_owned(),
        ))
    }
}

//! Talking to the server: an emit with an ack, awaited with a deadline, failures as plain
//! Portuguese sentences.
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::FutureExt;
use rust_socketio::{Payload, asynchronous::Client};
use serde_json::Value;
use tokio::sync::oneshot;

pub fn primeiro(p: Payload) -> Value {
    match p {
        Payload::Text(mut v) if !v.is_empty() => match v.swap_remove(0) {
            Value::Array(mut a) if a.len() == 1 => a.swap_remove(0),
            outro => outro,
        },
        _ => Value::Null,
    }
}

/// Emits with an ack and waits for it (10 s at most).
pub async fn pedir(c: &Client, evento: &str, dados: Value) -> Result<Value, String> {
    let (tx, rx) = oneshot::channel();
    let tx = Arc::new(Mutex::new(Some(tx)));
    c.emit_with_ack(evento, dados, Duration::from_secs(10), move |p, _| {
        if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
            let _ = tx.send(primeiro(p));
        }
        async {}.boxed()
    })
    .await
    .map_err(|e| format!("Não foi possível falar com o servidor: {e}"))?;
    let ack = tokio::time::timeout(Duration::from_secs(10), rx)
        .await
        .map_err(|_| "O servidor não respondeu a tempo.".to_owned())?
        .map_err(|_| "A conexão caiu antes da resposta.".to_owned())?;
    if ack["ok"] == true {
        Ok(ack)
    } else {
        Err(ack["erro"]["mensagem"]
            .as_str()
            .unwrap_or("O servidor recusou o pedido.")
            .to_owned())
    }
}

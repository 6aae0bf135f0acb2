//! A real Rust socket.io client (rust_socketio) for the tests: connect with a token over a
//! chosen transport, emit with an ack and await it, and record every event received, in
//! order, so tests can wait for one or assert on the whole sequence. Every wait is bounded.
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::FutureExt;
use rust_socketio::{
    Event, Payload, TransportType,
    asynchronous::{Client, ClientBuilder},
};
use serde_json::Value;
use tokio::sync::{Notify, oneshot};

/// How long any single wait may take before the test fails.
pub const PRAZO: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Registro {
    eventos: Mutex<Vec<(String, Value)>>,
    novo: Notify,
}

pub struct Cliente {
    c: Client,
    registro: Arc<Registro>,
}

fn primeiro(p: Payload) -> Value {
    match p {
        Payload::Text(mut v) if !v.is_empty() => v.swap_remove(0),
        Payload::Text(_) => Value::Null,
        #[expect(deprecated)]
        Payload::String(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
        Payload::Binary(b) => Value::String(format!("<{} bytes>", b.len())),
    }
}

/// rust_socketio hands an ack's arguments over as one JSON array: take the first.
fn argumento_do_ack(p: Payload) -> Value {
    match primeiro(p) {
        Value::Array(mut v) if !v.is_empty() => v.swap_remove(0),
        outro => outro,
    }
}

type Sinal = Arc<Mutex<Option<oneshot::Sender<Result<(), String>>>>>;

impl Cliente {
    /// Over WebSocket, so the Rust stories do not depend on rust_socketio's upgrade path (a
    /// send once went unanswered under load there, before the server registered handlers
    /// ahead of its CONNECT packet); the stock JS client covers polling and the upgrade.
    pub async fn conectar(url: &str, token: &str) -> Result<Cliente, String> {
        Self::conectar_via(url, token, TransportType::Websocket).await
    }

    /// Connects and waits for the server's verdict: `Err` carries the `connect_error` text.
    pub async fn conectar_via(url: &str, token: &str, t: TransportType) -> Result<Cliente, String> {
        Self::conectar_com(url, serde_json::json!({ "token": token }), t).await
    }

    pub async fn conectar_com(url: &str, auth: Value, t: TransportType) -> Result<Cliente, String> {
        let registro = Arc::new(Registro::default());
        let (tx, rx) = oneshot::channel();
        let sinal: Sinal = Arc::new(Mutex::new(Some(tx)));
        let (s1, s2) = (sinal.clone(), sinal.clone());
        let r = registro.clone();
        let fechou = registro.clone();
        let errou = registro.clone();
        let c = ClientBuilder::new(url)
            .transport_type(t)
            .reconnect(false)
            .auth(auth)
            .on(Event::Connect, move |_, _| {
                if let Some(tx) = s1.lock().expect("lock").take() {
                    let _ = tx.send(Ok(()));
                }
                async {}.boxed()
            })
            .on(Event::Error, move |p, _| {
                let p = primeiro(p);
                match s2.lock().expect("lock").take() {
                    Some(tx) => {
                        let _ = tx.send(Err(format!("{p:?}")));
                    }
                    None => {
                        // After the connect: a transport failure, recorded like an event.
                        errou
                            .eventos
                            .lock()
                            .expect("lock")
                            .push(("error".into(), p));
                        errou.novo.notify_waiters();
                    }
                }
                async {}.boxed()
            })
            .on(Event::Close, move |_, _| {
                // Recorded like an event, so tests can wait for the server to close the socket.
                fechou
                    .eventos
                    .lock()
                    .expect("lock")
                    .push(("close".into(), Value::Null));
                fechou.novo.notify_waiters();
                async {}.boxed()
            })
            .on_any(move |ev, p, _| {
                let nome = match ev {
                    Event::Custom(n) => n,
                    outro => outro.as_str().to_owned(),
                };
                r.eventos.lock().expect("lock").push((nome, primeiro(p)));
                r.novo.notify_waiters();
                async {}.boxed()
            })
            .connect()
            .await
            .map_err(|e| e.to_string())?;
        match tokio::time::timeout(PRAZO, rx).await {
            Ok(Ok(Ok(()))) => Ok(Cliente { c, registro }),
            Ok(Ok(Err(e))) => {
                let _ = c.disconnect().await;
                Err(e)
            }
            _ => Err("no answer to the connect".into()),
        }
    }

    /// Emits `evento` with `payload` (`None`: no argument at all, just the ack) and returns
    /// the ack's first argument.
    pub async fn emit_ack(&self, evento: &str, payload: Option<Value>) -> Value {
        let dados = match payload {
            Some(v) => Payload::Text(vec![v]),
            None => Payload::Text(vec![]),
        };
        self.emitir_e_marcar(evento, dados).await.0
    }

    /// Emits and awaits the ack like `pedir`, also returning how many events had been
    /// received when the ack arrived: rust_socketio runs event and ack callbacks one at a
    /// time in arrival order, so events at or past that position came after the ack.
    pub async fn pedir_marcando(&self, evento: &str, payload: Value) -> (Value, usize) {
        self.emitir_e_marcar(evento, Payload::Text(vec![payload]))
            .await
    }

    async fn emitir_e_marcar(&self, evento: &str, dados: Payload) -> (Value, usize) {
        let (tx, rx) = oneshot::channel();
        let tx = Arc::new(Mutex::new(Some(tx)));
        let registro = self.registro.clone();
        self.c
            .emit_with_ack(evento, dados, PRAZO, move |p, _| {
                let posicao = registro.eventos.lock().expect("lock").len();
                if let Some(tx) = tx.lock().expect("lock").take() {
                    let _ = tx.send((argumento_do_ack(p), posicao));
                }
                async {}.boxed()
            })
            .await
            .expect("emit");
        tokio::time::timeout(PRAZO, rx)
            .await
            .unwrap_or_else(|_| panic!("no ack for {evento}"))
            .expect("ack channel")
    }

    /// `emit_ack` with a payload.
    pub async fn pedir(&self, evento: &str, payload: Value) -> Value {
        self.emit_ack(evento, Some(payload)).await
    }

    /// Emits without waiting for the ack (to send several back to back).
    pub async fn emitir_sem_esperar(
        &self,
        evento: &str,
        payload: Value,
    ) -> oneshot::Receiver<Value> {
        let (tx, rx) = oneshot::channel();
        let tx = Arc::new(Mutex::new(Some(tx)));
        self.c
            .emit_with_ack(evento, payload, PRAZO, move |p, _| {
                if let Some(tx) = tx.lock().expect("lock").take() {
                    let _ = tx.send(argumento_do_ack(p));
                }
                async {}.boxed()
            })
            .await
            .expect("emit");
        rx
    }

    /// Every event received so far, in order.
    pub fn eventos(&self) -> Vec<(String, Value)> {
        self.registro.eventos.lock().expect("lock").clone()
    }

    /// The events named `nome` received so far.
    pub fn eventos_de(&self, nome: &str) -> Vec<Value> {
        self.eventos()
            .into_iter()
            .filter(|(n, _)| n == nome)
            .map(|(_, v)| v)
            .collect()
    }

    /// Waits for an event `nome` (already received or to come) whose payload satisfies `f`.
    pub async fn esperar(&self, nome: &str, f: impl Fn(&Value) -> bool) -> Value {
        let achar = async {
            loop {
                let novo = self.registro.novo.notified();
                if let Some((_, v)) = self.eventos().into_iter().find(|(n, v)| n == nome && f(v)) {
                    return v;
                }
                novo.await;
            }
        };
        tokio::time::timeout(PRAZO, achar)
            .await
            .unwrap_or_else(|_| panic!("no {nome} event arrived; got {:?}", self.nomes()))
    }

    /// Waits until the connection is gone: closed by the server, or failed.
    pub async fn esperar_queda(&self) {
        let achar = async {
            loop {
                let novo = self.registro.novo.notified();
                if self
                    .eventos()
                    .iter()
                    .any(|(n, _)| n == "close" || n == "error")
                {
                    return;
                }
                novo.await;
            }
        };
        tokio::time::timeout(PRAZO, achar)
            .await
            .unwrap_or_else(|_| panic!("the connection stayed up; got {:?}", self.nomes()))
    }

    /// Waits for the terminal event of answer `mensagem_id` of conversation `conversa_id`.
    pub async fn esperar_fim(&self, conversa_id: &str) -> (String, Value) {
        let achar = async {
            loop {
                let novo = self.registro.novo.notified();
                let fim = self.eventos().into_iter().find(|(n, v)| {
                    (n == "mensagem_respondida" || n == "erro_resposta")
                        && v["conversa_id"] == conversa_id
                });
                if let Some(f) = fim {
                    return f;
                }
                novo.await;
            }
        };
        tokio::time::timeout(PRAZO, achar)
            .await
            .unwrap_or_else(|_| panic!("the answer did not end; got {:?}", self.nomes()))
    }

    /// Waits until `n` terminal events (answers ended) have arrived.
    pub async fn esperar_fins(&self, n: usize) -> Vec<(String, Value)> {
        let achar = async {
            loop {
                let novo = self.registro.novo.notified();
                // Counted under the lock, cloned once: a client fed megabytes of pieces must
                // not spend its time copying them on every event.
                let fim = |n: &String| n == "mensagem_respondida" || n == "erro_resposta";
                let fins = {
                    let eventos = self.registro.eventos.lock().expect("lock");
                    (eventos.iter().filter(|(nome, _)| fim(nome)).count() >= n).then(|| {
                        eventos
                            .iter()
                            .filter(|(nome, _)| fim(nome))
                            .cloned()
                            .collect::<Vec<_>>()
                    })
                };
                if let Some(fins) = fins {
                    return fins;
                }
                novo.await;
            }
        };
        tokio::time::timeout(PRAZO, achar)
            .await
            .unwrap_or_else(|_| panic!("{n} answers did not end; got {:?}", self.nomes()))
    }

    /// The names of the events received, for failure messages.
    pub fn nomes(&self) -> Vec<String> {
        self.eventos().into_iter().map(|(n, _)| n).collect()
    }

    /// The deltas of answer `mensagem_id`, checked gapless, concatenated in `indice` order.
    pub fn texto_transmitido(&self, mensagem_id: &str) -> String {
        let mut partes: Vec<(u64, String)> = self
            .eventos_de("resposta_parcial")
            .into_iter()
            .filter(|v| v["mensagem_id"] == mensagem_id)
            .map(|v| {
                (
                    v["indice"].as_u64().expect("indice"),
                    v["delta"].as_str().expect("delta").to_owned(),
                )
            })
            .collect();
        partes.sort_by_key(|(i, _)| *i);
        for (esperado, (i, _)) in partes.iter().enumerate() {
            assert_eq!(*i, esperado as u64, "indice has a gap or a repeat");
        }
        partes.into_iter().map(|(_, d)| d).collect()
    }

    pub async fn desconectar(&self) {
        let _ = self.c.disconnect().await;
    }
}

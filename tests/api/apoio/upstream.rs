//! An in-process OpenAI-compatible server that streams chat completions exactly as the real
//! API does (SSE `chat.completion.chunk`s, a final chunk with `finish_reason`, `[DONE]`), and
//! that each test scripts: delays, HTTP errors, cut streams, garbage, hangs, gates. It records
//! every request body so tests can check what was sent upstream.
use std::{
    collections::VecDeque,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use futures::{StreamExt, stream};
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore};

/// What the next request gets.
#[derive(Clone)]
pub enum Roteiro {
    /// The pieces, `atraso` apart, then `finish_reason` (`stop` normally), then `[DONE]`.
    Responder {
        pedacos: Vec<String>,
        atraso: Duration,
        finish: &'static str,
    },
    /// The pieces, then a last chunk reporting `usage.total_tokens` (as OpenAI does when the
    /// request asks `stream_options.include_usage`; nothing when it does not ask).
    ComUso {
        pedacos: Vec<String>,
        total_tokens: u64,
    },
    /// Every piece waits for a permit of `portao`: the test decides when each one goes.
    Portao {
        pedacos: Vec<String>,
        portao: Arc<Semaphore>,
    },
    /// `Portao`, with the usage report of `ComUso` at the end.
    PortaoComUso {
        pedacos: Vec<String>,
        portao: Arc<Semaphore>,
        total_tokens: u64,
    },
    /// An HTTP error with an OpenAI-style body, and maybe a `Retry-After`.
    Erro {
        status: u16,
        codigo: &'static str,
        retry_after: Option<u64>,
    },
    /// Some pieces, then the connection closes without `finish_reason` or `[DONE]`.
    Cortar { pedacos: Vec<String> },
    /// Some pieces, then a `data:` line that is not JSON, then more pieces and a proper end.
    Lixo {
        antes: Vec<String>,
        depois: Vec<String>,
    },
    /// Some pieces, then one line of `bytes` bytes with no newline, forever pending after.
    LinhaEnorme { antes: Vec<String>, bytes: usize },
    /// Some pieces, then silence with the connection open.
    Pendurar { pedacos: Vec<String> },
    /// Some pieces, then the connection is torn down mid-body (no clean end of the chunked
    /// body: what a TCP reset looks like to the client).
    Resetar { pedacos: Vec<String> },
    /// Answers with the prompt's last line, three characters a piece, `atraso` apart: which
    /// answer belongs to which request shows in the text, whatever order requests come in.
    Eco { atraso: Duration },
}

impl Roteiro {
    pub fn texto(pedacos: &[&str]) -> Self {
        Roteiro::Responder {
            pedacos: pedacos.iter().map(|s| s.to_string()).collect(),
            atraso: Duration::from_millis(5),
            finish: "stop",
        }
    }

    pub fn lento(pedacos: &[&str], atraso_ms: u64) -> Self {
        Roteiro::Responder {
            pedacos: pedacos.iter().map(|s| s.to_string()).collect(),
            atraso: Duration::from_millis(atraso_ms),
            finish: "stop",
        }
    }
}

/// The answer every request gets when the test scripted nothing.
pub const PADRAO: [&str; 4] = ["Uma fração ", "representa ", "partes de ", "um todo."];

#[derive(Default)]
struct Estado {
    fila: Mutex<VecDeque<Roteiro>>,
    pedidos: Mutex<Vec<Value>>,
    chegou: Notify,
    /// Streamed responses over: sent to the end, or dropped because the client went away.
    fechados: AtomicUsize,
    fechou: Notify,
}

/// Lives inside a response body: dropping the body counts it as over.
struct Guarda(Arc<Estado>);

impl Drop for Guarda {
    fn drop(&mut self) {
        self.0.fechados.fetch_add(1, Ordering::SeqCst);
        self.0.fechou.notify_waiters();
    }
}

pub struct FakeUpstream {
    pub addr: SocketAddr,
    estado: Arc<Estado>,
    tarefa: tokio::task::JoinHandle<()>,
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.tarefa.abort();
    }
}

impl FakeUpstream {
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0".parse().expect("address")).await
    }

    /// On a given address (to stop it and start it again where the server expects it).
    pub async fn start_on(addr: SocketAddr) -> Self {
        let estado = Arc::new(Estado::default());
        let app = Router::new()
            .route("/v1/chat/completions", post(completar))
            .with_state(estado.clone());
        // A port given back can be taken in the meantime as the local end of another test's
        // connection (it lies in the ephemeral range): wait for it to be free again.
        let mut tentativas = 0;
        let listener = loop {
            match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => break l,
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && tentativas < 200 => {
                    tentativas += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(e) => panic!("bind fake upstream on {addr}: {e}"),
            }
        };
        let addr = listener.local_addr().expect("addr");
        let tarefa = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            addr,
            estado,
            tarefa,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Queues what the next request gets.
    pub fn roteiro(&self, r: Roteiro) {
        self.estado.fila.lock().expect("lock").push_back(r);
    }

    /// Every request body received so far.
    pub fn pedidos(&self) -> Vec<Value> {
        self.estado.pedidos.lock().expect("lock").clone()
    }

    /// Waits until at least `n` streamed responses are over, ended or dropped by the client
    /// (a stream that would never end by itself is over only when the server lets go of it).
    pub async fn esperar_fechados(&self, n: usize) {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let fechou = self.estado.fechou.notified();
                if self.estado.fechados.load(Ordering::SeqCst) >= n {
                    return;
                }
                fechou.await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("the server still holds an upstream stream open"))
    }

    /// Waits until at least `n` requests have arrived.
    pub async fn esperar_pedidos(&self, n: usize) -> Vec<Value> {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let chegou = self.estado.chegou.notified();
                let p = self.pedidos();
                if p.len() >= n {
                    return p;
                }
                chegou.await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("the upstream did not get {n} requests"))
    }
}

fn pedaco(conteudo: &str) -> Bytes {
    let v = json!({
        "id": "chatcmpl-teste", "object": "chat.completion.chunk", "created": 1,
        "model": "modelo-teste",
        "choices": [{"index": 0, "delta": {"content": conteudo}, "finish_reason": null}]
    });
    Bytes::from(format!("data: {v}\n\n"))
}

fn inicio() -> Bytes {
    let v = json!({
        "id": "chatcmpl-teste", "object": "chat.completion.chunk", "created": 1,
        "model": "modelo-teste",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]
    });
    Bytes::from(format!("data: {v}\n\n"))
}

fn uso(total_tokens: u64) -> Bytes {
    let v = json!({
        "id": "chatcmpl-teste", "object": "chat.completion.chunk", "created": 1,
        "model": "modelo-teste", "choices": [],
        "usage": {"prompt_tokens": total_tokens / 2, "completion_tokens": total_tokens - total_tokens / 2, "total_tokens": total_tokens}
    });
    Bytes::from(format!("data: {v}\n\n"))
}

/// The chunk with `finish_reason`.
fn terminou(finish: &str) -> Bytes {
    let v = json!({
        "id": "chatcmpl-teste", "object": "chat.completion.chunk", "created": 1,
        "model": "modelo-teste",
        "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]
    });
    Bytes::from(format!("data: {v}\n\n"))
}

const DONE: &[u8] = b"data: [DONE]\n\n";

fn fim(finish: &str) -> Bytes {
    [&terminou(finish)[..], DONE].concat().into()
}

type Fluxo = futures::stream::BoxStream<'static, Result<Bytes, std::io::Error>>;

fn sse(estado: &Arc<Estado>, corpo: Fluxo) -> Response {
    let guarda = Guarda(estado.clone());
    let corpo = corpo.map(move |item| {
        let _vivo = &guarda;
        item
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(corpo))
        .expect("response")
}

fn pedacos_com_atraso(pedacos: Vec<String>, atraso: Duration) -> Fluxo {
    stream::iter(pedacos)
        .then(move |p| async move {
            tokio::time::sleep(atraso).await;
            Ok(pedaco(&p))
        })
        .boxed()
}

/// Every piece waits for a permit of `portao`.
fn pedacos_no_portao(pedacos: Vec<String>, portao: Arc<Semaphore>) -> Fluxo {
    stream::iter(pedacos)
        .then(move |p| {
            let portao = portao.clone();
            async move {
                portao.acquire().await.expect("gate open").forget();
                Ok(pedaco(&p))
            }
        })
        .boxed()
}

/// The end of a stream that reports its usage (when the request asked for it).
fn fim_com_uso(quer_uso: bool, total_tokens: u64) -> Fluxo {
    let relatorio = quer_uso.then(|| Ok(uso(total_tokens)));
    let final_ = [
        Some(Ok(terminou("stop"))),
        relatorio,
        Some(Ok(Bytes::from_static(DONE))),
    ];
    stream::iter(final_.into_iter().flatten()).boxed()
}

async fn completar(State(estado): State<Arc<Estado>>, Json(corpo): Json<Value>) -> Response {
    let quer_uso = corpo["stream_options"]["include_usage"] == json!(true);
    let ultima = corpo["messages"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_owned();
    estado.pedidos.lock().expect("lock").push(corpo);
    estado.chegou.notify_waiters();
    let roteiro = estado
        .fila
        .lock()
        .expect("lock")
        .pop_front()
        .unwrap_or_else(|| Roteiro::texto(&PADRAO));
    let comeco = stream::once(async { Ok(inicio()) });
    match roteiro {
        Roteiro::Responder {
            pedacos,
            atraso,
            finish,
        } => sse(
            &estado,
            comeco
                .chain(pedacos_com_atraso(pedacos, atraso))
                .chain(stream::once(async move { Ok(fim(finish)) }))
                .boxed(),
        ),
        Roteiro::ComUso {
            pedacos,
            total_tokens,
        } => {
            let final_ = fim_com_uso(quer_uso, total_tokens);
            sse(
                &estado,
                comeco
                    .chain(pedacos_com_atraso(pedacos, Duration::from_millis(5)))
                    .chain(final_)
                    .boxed(),
            )
        }
        Roteiro::Portao { pedacos, portao } => sse(
            &estado,
            comeco
                .chain(pedacos_no_portao(pedacos, portao))
                .chain(stream::once(async { Ok(fim("stop")) }))
                .boxed(),
        ),
        Roteiro::PortaoComUso {
            pedacos,
            portao,
            total_tokens,
        } => {
            let final_ = fim_com_uso(quer_uso, total_tokens);
            sse(
                &estado,
                comeco
                    .chain(pedacos_no_portao(pedacos, portao))
                    .chain(final_)
                    .boxed(),
            )
        }
        Roteiro::Erro {
            status,
            codigo,
            retry_after,
        } => {
            let corpo = json!({"error": {"message": "falha simulada", "type": codigo, "param": null, "code": codigo}});
            let mut r =
                (StatusCode::from_u16(status).expect("status"), Json(corpo)).into_response();
            if let Some(s) = retry_after {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, s.to_string().parse().expect("header"));
            }
            r
        }
        Roteiro::Cortar { pedacos } => sse(
            &estado,
            comeco
                .chain(pedacos_com_atraso(pedacos, Duration::from_millis(5)))
                .boxed(),
        ),
        Roteiro::Lixo { antes, depois } => sse(
            &estado,
            comeco
                .chain(pedacos_com_atraso(antes, Duration::from_millis(5)))
                .chain(stream::once(async {
                    Ok(Bytes::from("data: {isto não é json\n\n"))
                }))
                .chain(pedacos_com_atraso(depois, Duration::from_millis(5)))
                .chain(stream::once(async { Ok(fim("stop")) }))
                .boxed(),
        ),
        Roteiro::LinhaEnorme { antes, bytes } => {
            let bloco = Bytes::from(vec![b'x'; 64 * 1024]);
            let n = bytes.div_ceil(bloco.len());
            sse(
                &estado,
                comeco
                    .chain(pedacos_com_atraso(antes, Duration::from_millis(5)))
                    .chain(stream::once(async { Ok(Bytes::from("data: ")) }))
                    .chain(stream::iter((0..n).map(move |_| Ok(bloco.clone()))))
                    .chain(stream::pending())
                    .boxed(),
            )
        }
        Roteiro::Resetar { pedacos } => sse(
            &estado,
            comeco
                .chain(pedacos_com_atraso(pedacos, Duration::from_millis(5)))
                .chain(stream::once(async {
                    // Let the pieces reach the client first; then tear the connection down.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "reset simulado",
                    ))
                }))
                .boxed(),
        ),
        Roteiro::Eco { atraso } => {
            let letras: Vec<char> = format!("eco: {ultima}").chars().collect();
            let pedacos = letras.chunks(3).map(|c| c.iter().collect()).collect();
            sse(
                &estado,
                comeco
                    .chain(pedacos_com_atraso(pedacos, atraso))
                    .chain(stream::once(async { Ok(fim("stop")) }))
                    .boxed(),
            )
        }
        Roteiro::Pendurar { pedacos } => sse(
            &estado,
            comeco
                .chain(pedacos_com_atraso(pedacos, Duration::from_millis(5)))
                .chain(stream::pending())
                .boxed(),
        ),
    }
}

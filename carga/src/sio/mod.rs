//! A minimal Socket.IO v5 client, written here rather than taken from a crate so that the
//! load tool controls every byte and every timing: it can bind a chosen source address, stop
//! reading a socket on purpose (a frozen tab), and stamp each packet the instant it is read.
//!
//! A [`Socket`] is a handle plus a channel of [`Entrada`] (events, acks, the close). The
//! transport runs in background tasks: [`ws`] (WebSocket) and [`polling`] (HTTP
//! long-polling, optionally upgraded to WebSocket the way browsers do).

pub mod pacote;
pub mod polling;
pub mod ws;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

pub use pacote::Abertura;
use pacote::Socket as Pacote;

/// How a socket reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum Transporte {
    /// WebSocket from the first byte (`transports: ['websocket']`).
    Websocket,
    /// HTTP long-polling only.
    Polling,
    /// Long-polling, then the upgrade to WebSocket (socket.io-client's default).
    Upgrade,
}

/// What one connection needs.
#[derive(Clone)]
pub struct Opcoes {
    /// `http://host:port` (or https) of the deployment.
    pub url: String,
    pub token: String,
    pub transporte: Transporte,
    /// Local address to bind (one of `--origens`), to look like another school.
    pub origem: Option<IpAddr>,
    /// HTTP client for polling, already bound to `origem`.
    pub http: reqwest::Client,
    /// Bound on the whole handshake.
    pub prazo: Duration,
}

/// Something the server sent, stamped when it was read.
#[derive(Debug, Clone)]
pub enum Entrada {
    Evento {
        nome: String,
        dados: Value,
        em: Instant,
    },
    Ack {
        id: u64,
        dados: Value,
        em: Instant,
    },
    /// The socket is gone; `motivo` follows socket.io-client's reasons where it can
    /// (`io server disconnect`, `transport close`, `transport error: …`).
    Fechado {
        motivo: String,
        em: Instant,
    },
}

/// What the client side tells its transport task.
#[derive(Debug)]
pub(crate) enum Saida {
    /// An Engine.IO packet as text.
    Texto(String),
    /// Say goodbye (`41`, then close the transport) and stop.
    Fechar,
}

/// A connected Socket.IO socket on namespace `/`.
pub struct Socket {
    saida: mpsc::UnboundedSender<Saida>,
    proximo_id: u64,
    /// Everything the server sends, in order.
    pub entrada: mpsc::UnboundedReceiver<Entrada>,
    pausa: watch::Sender<bool>,
    /// The Engine.IO open packet (sid, ping interval and timeout).
    pub abertura: Abertura,
    /// The local TCP address of a WebSocket (to find it in /proc/net/tcp).
    pub local: Option<std::net::SocketAddr>,
}

/// Why a connection attempt failed: `Recusado` is the server's `connect_error`.
#[derive(Debug)]
pub enum FalhaConexao {
    Recusado(String),
    Outra(anyhow::Error),
}

impl std::fmt::Display for FalhaConexao {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FalhaConexao::Recusado(m) => write!(f, "connect_error: {m}"),
            FalhaConexao::Outra(e) => write!(f, "{e:#}"),
        }
    }
}

impl FalhaConexao {
    /// A short label to count failures by.
    pub fn rotulo(&self) -> String {
        match self {
            FalhaConexao::Recusado(m) => format!("connect_error:{m}"),
            FalhaConexao::Outra(e) => {
                let texto = format!("{e:#}");
                if texto.contains("429") {
                    "http_429".to_owned()
                } else if texto.contains("timed out") || texto.contains("prazo") {
                    "timeout".to_owned()
                } else {
                    texto.chars().take(60).collect()
                }
            }
        }
    }
}

impl From<anyhow::Error> for FalhaConexao {
    fn from(e: anyhow::Error) -> Self {
        FalhaConexao::Outra(e)
    }
}

/// The auth payload of the CONNECT packet, as `io(url, { auth: { token } })` sends it.
pub(crate) fn pacote_conectar(token: &str) -> String {
    Pacote::Conectar(Some(json!({ "token": token }))).codificar()
}

/// Reads the server's answer to CONNECT: `Ok` on `0{sid}`, the refusal on `4{message}`.
pub(crate) fn resposta_conectar(p: &Pacote) -> Option<Result<(), FalhaConexao>> {
    match p {
        Pacote::Conectar(_) => Some(Ok(())),
        Pacote::ErroConexao(v) => Some(Err(FalhaConexao::Recusado(
            v["message"].as_str().unwrap_or("?").to_owned(),
        ))),
        _ => None,
    }
}

/// Turns a Socket.IO packet from the server into what the user of [`Socket`] sees.
pub(crate) fn traduzir(p: Pacote, em: Instant) -> Option<Entrada> {
    match p {
        Pacote::Evento {
            nome, mut dados, ..
        } => Some(Entrada::Evento {
            nome,
            dados: if dados.is_empty() {
                Value::Null
            } else {
                dados.swap_remove(0)
            },
            em,
        }),
        Pacote::Ack { id, mut dados } => Some(Entrada::Ack {
            id,
            dados: if dados.is_empty() {
                Value::Null
            } else {
                dados.swap_remove(0)
            },
            em,
        }),
        Pacote::Desconectar => Some(Entrada::Fechado {
            motivo: "io server disconnect".to_owned(),
            em,
        }),
        _ => None,
    }
}

/// Opens a socket and waits for the server's CONNECT answer.
pub async fn conectar(op: &Opcoes) -> Result<Socket, FalhaConexao> {
    match tokio::time::timeout(op.prazo, conectar_sem_prazo(op)).await {
        Ok(r) => r,
        Err(_) => Err(FalhaConexao::Outra(anyhow::anyhow!(
            "handshake timed out after {:?}",
            op.prazo
        ))),
    }
}

async fn conectar_sem_prazo(op: &Opcoes) -> Result<Socket, FalhaConexao> {
    let (entrada_tx, entrada) = mpsc::unbounded_channel();
    let (saida, saida_rx) = mpsc::unbounded_channel();
    let (pausa, pausa_rx) = watch::channel(false);
    let fios = Fios {
        entrada: entrada_tx,
        saida: saida.clone(),
        saida_rx,
        pausa: pausa_rx,
    };
    let (abertura, local) = match op.transporte {
        Transporte::Websocket => ws::iniciar(op, fios).await?,
        Transporte::Polling => polling::iniciar(op, fios, false).await?,
        Transporte::Upgrade => polling::iniciar(op, fios, true).await?,
    };
    Ok(Socket {
        saida,
        proximo_id: 0,
        entrada,
        pausa,
        abertura,
        local,
    })
}

/// The channel ends a transport task owns.
pub(crate) struct Fios {
    pub entrada: mpsc::UnboundedSender<Entrada>,
    pub saida: mpsc::UnboundedSender<Saida>,
    pub saida_rx: mpsc::UnboundedReceiver<Saida>,
    pub pausa: watch::Receiver<bool>,
}

/// The `ws://` URL of the Socket.IO endpoint for an `http://` base.
pub(crate) fn url_socketio(base: &str, websocket: bool, sid: Option<&str>) -> String {
    let base = base.trim_end_matches('/');
    let base = if websocket {
        if let Some(r) = base.strip_prefix("https://") {
            format!("wss://{r}")
        } else if let Some(r) = base.strip_prefix("http://") {
            format!("ws://{r}")
        } else {
            base.to_owned()
        }
    } else {
        base.to_owned()
    };
    let transporte = if websocket { "websocket" } else { "polling" };
    match sid {
        Some(s) => format!("{base}/socket.io/?EIO=4&transport={transporte}&sid={s}"),
        None => format!("{base}/socket.io/?EIO=4&transport={transporte}"),
    }
}

impl Socket {
    /// Emits an event with an ack; returns the ack id to match [`Entrada::Ack`] against.
    pub fn emitir(&mut self, nome: &str, dados: Value) -> u64 {
        let id = self.proximo_id;
        self.proximo_id += 1;
        let p = Pacote::Evento {
            id: Some(id),
            nome: nome.to_owned(),
            dados: vec![dados],
        };
        // A closed transport shows up as Entrada::Fechado; nothing to do here.
        let _ = self.saida.send(Saida::Texto(format!("4{}", p.codificar())));
        id
    }

    /// Emits and waits for the ack, dropping any other event that arrives meanwhile (for
    /// setup steps such as a tab joining before the measured part starts).
    pub async fn chamar(&mut self, nome: &str, dados: Value, prazo: Duration) -> Result<Value> {
        let id = self.emitir(nome, dados);
        let espera = async {
            while let Some(e) = self.entrada.recv().await {
                match e {
                    Entrada::Ack { id: i, dados, .. } if i == id => return Ok(dados),
                    Entrada::Fechado { motivo, .. } => bail!("socket closed: {motivo}"),
                    _ => {}
                }
            }
            bail!("socket closed")
        };
        tokio::time::timeout(prazo, espera)
            .await
            .with_context(|| format!("no ack for {nome} within {prazo:?}"))?
    }

    /// Stops (true) or resumes (false) reading the transport: a frozen tab. The kernel's
    /// buffers fill and then the server's queue for this socket grows.
    pub fn pausar(&self, parar: bool) {
        let _ = self.pausa.send(parar);
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        let _ = self.saida.send(Saida::Fechar);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_do_endpoint() {
        assert_eq!(
            url_socketio("http://h:1/", true, None),
            "ws://h:1/socket.io/?EIO=4&transport=websocket"
        );
        assert_eq!(
            url_socketio("https://h", true, Some("S")),
            "wss://h/socket.io/?EIO=4&transport=websocket&sid=S"
        );
        assert_eq!(
            url_socketio("http://h", false, Some("S")),
            "http://h/socket.io/?EIO=4&transport=polling&sid=S"
        );
    }

    #[test]
    fn traduz_evento_ack_e_desconexao() {
        let agora = Instant::now();
        let e = traduzir(
            Pacote::decodificar(r#"2["resposta_parcial",{"indice":3}]"#).expect("event"),
            agora,
        );
        assert!(
            matches!(e, Some(Entrada::Evento { ref nome, ref dados, .. }) if nome == "resposta_parcial" && dados["indice"] == 3)
        );
        let a = traduzir(
            Pacote::decodificar(r#"35[{"ok":false}]"#).expect("ack"),
            agora,
        );
        assert!(matches!(a, Some(Entrada::Ack { id: 5, ref dados, .. }) if dados["ok"] == false));
        let d = traduzir(Pacote::Desconectar, agora);
        assert!(
            matches!(d, Some(Entrada::Fechado { ref motivo, .. }) if motivo == "io server disconnect")
        );
        let r = resposta_conectar(
            &Pacote::decodificar(r#"4{"message":"nao_autorizado"}"#).expect("refusal"),
        );
        assert!(matches!(r, Some(Err(FalhaConexao::Recusado(ref m))) if m == "nao_autorizado"));
    }
}

//! The WebSocket transport: one text frame per Engine.IO packet. A reader task answers
//! pings and forwards packets; a writer task sends what the socket emits. The reader can be
//! paused, which is how the `stuck` scenario freezes a tab without closing it.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::pacote::{Abertura, Engine, Socket as Pacote};
use super::{Entrada, FalhaConexao, Fios, Opcoes, Saida, pacote_conectar, resposta_conectar};

pub(crate) type Ws = WebSocketStream<TcpStream>;

/// Dials `url` (ws://) from `origem`, if given, and does the WebSocket handshake.
pub(crate) async fn abrir(url: &str, origem: Option<IpAddr>) -> Result<Ws> {
    if url.starts_with("wss://") {
        bail!("wss:// is not supported: use --transporte polling for https deployments");
    }
    let req = url.into_client_request().context("websocket URL")?;
    let host = req.uri().host().context("URL without host")?.to_owned();
    let porta = req.uri().port_u16().unwrap_or(80);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let destino: SocketAddr = tokio::net::lookup_host((host, porta))
        .await
        .with_context(|| format!("resolving {host}"))?
        .next()
        .ok_or_else(|| anyhow!("{host} has no address"))?;
    let tcp = if destino.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .context("socket")?;
    if let Some(ip) = origem {
        tcp.bind(SocketAddr::new(ip, 0))
            .with_context(|| format!("binding {ip}"))?;
    }
    let stream = tcp
        .connect(destino)
        .await
        .with_context(|| format!("connecting to {destino}"))?;
    stream.set_nodelay(true).context("TCP_NODELAY")?;
    let (ws, _) = tokio_tungstenite::client_async(req, stream)
        .await
        .context("websocket handshake")?;
    Ok(ws)
}

/// Reads the next text frame as an Engine.IO packet, answering pings on the way.
async fn proximo(ws: &mut Ws) -> Result<Engine> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => match Engine::decodificar(&t)? {
                Engine::Ping(p) => ws.send(Message::Text(format!("3{p}").into())).await?,
                outro => return Ok(outro),
            },
            Some(Ok(Message::Close(_))) | None => bail!("websocket closed during the handshake"),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
        }
    }
}

/// Opens a WebSocket-only session, connects to `/` with the token, and starts the pumps.
pub(crate) async fn iniciar(
    op: &Opcoes,
    fios: Fios,
) -> Result<(Abertura, Option<SocketAddr>), FalhaConexao> {
    let mut ws = abrir(&super::url_socketio(&op.url, true, None), op.origem).await?;
    let abertura = match proximo(&mut ws).await? {
        Engine::Abrir(a) => a,
        outro => return Err(anyhow!("expected the open packet, got {outro:?}").into()),
    };
    ws.send(Message::Text(
        format!("4{}", pacote_conectar(&op.token)).into(),
    ))
    .await
    .context("sending CONNECT")?;
    loop {
        if let Engine::Mensagem(m) = proximo(&mut ws).await? {
            let p = Pacote::decodificar(&m)?;
            if let Some(r) = resposta_conectar(&p) {
                r?;
                break;
            }
        }
    }
    let local = ws.get_ref().local_addr().ok();
    bombear(ws, fios);
    Ok((abertura, local))
}

/// Runs a connected (or just upgraded) WebSocket in two tasks until either side closes.
pub(crate) fn bombear(ws: Ws, fios: Fios) {
    let Fios {
        entrada,
        saida,
        mut saida_rx,
        mut pausa,
    } = fios;
    let (mut escrita, mut leitura) = ws.split();
    tokio::spawn(async move {
        while let Some(s) = saida_rx.recv().await {
            match s {
                Saida::Texto(t) => {
                    if escrita.send(Message::Text(t.into())).await.is_err() {
                        break;
                    }
                }
                Saida::Fechar => {
                    let _ = escrita.send(Message::Text("41".into())).await;
                    let _ = escrita.close().await;
                    break;
                }
            }
        }
    });
    tokio::spawn(async move {
        let motivo = loop {
            // A paused socket reads nothing at all, pings included: a frozen tab.
            while *pausa.borrow_and_update() {
                if pausa.changed().await.is_err() {
                    return;
                }
            }
            let msg = tokio::select! {
                m = leitura.next() => m,
                _ = pausa.changed() => continue,
            };
            let em = Instant::now();
            match msg {
                Some(Ok(Message::Text(t))) => match Engine::decodificar(&t) {
                    Ok(Engine::Ping(p)) => {
                        let _ = saida.send(Saida::Texto(format!("3{p}")));
                    }
                    Ok(Engine::Mensagem(m)) => match Pacote::decodificar(&m) {
                        Ok(p) => {
                            if let Some(e) = super::traduzir(p, em) {
                                let fim = matches!(e, Entrada::Fechado { .. });
                                if entrada.send(e).is_err() || fim {
                                    return;
                                }
                            }
                        }
                        Err(e) => break format!("parse error: {e:#}"),
                    },
                    Ok(Engine::Fechar) => break "transport close".to_owned(),
                    Ok(_) => {}
                    Err(e) => break format!("parse error: {e:#}"),
                },
                Some(Ok(Message::Close(_))) | None => break "transport close".to_owned(),
                Some(Ok(_)) => {}
                Some(Err(e)) => break format!("transport error: {e}"),
            }
        };
        let _ = entrada.send(Entrada::Fechado {
            motivo,
            em: Instant::now(),
        });
    });
}

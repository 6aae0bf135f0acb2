//! HTTP long-polling: a GET that the server holds until it has packets, and a POST per batch
//! of outgoing packets, both naming the session `sid`; packets in one body are separated by
//! `\x1e`. With `upgrade`, once connected the session moves to WebSocket as socket.io-client
//! does (`2probe` → `3probe`, then `5`), so a classroom looks like real browsers.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use super::pacote::{Abertura, Engine, Socket as Pacote, dividir_polling, juntar_polling};
use super::{
    Entrada, FalhaConexao, Fios, Opcoes, Saida, pacote_conectar, resposta_conectar, url_socketio,
};

async fn get(http: &reqwest::Client, url: &str, prazo: Duration) -> Result<Vec<Engine>> {
    let r = http
        .get(url)
        .timeout(prazo)
        .send()
        .await
        .context("polling GET")?;
    let status = r.status();
    let corpo = r.text().await.context("polling GET body")?;
    if !status.is_success() {
        bail!("polling GET: HTTP {} {}", status.as_u16(), corpo.trim());
    }
    dividir_polling(&corpo)
}

async fn post(http: &reqwest::Client, url: &str, corpo: String) -> Result<()> {
    let r = http
        .post(url)
        .header("content-type", "text/plain;charset=UTF-8")
        .body(corpo)
        .send()
        .await
        .context("polling POST")?;
    if !r.status().is_success() {
        bail!("polling POST: HTTP {}", r.status().as_u16());
    }
    Ok(())
}

/// Opens a polling session, connects, optionally upgrades, and starts the pumps.
pub(crate) async fn iniciar(
    op: &Opcoes,
    fios: Fios,
    upgrade: bool,
) -> Result<(Abertura, Option<std::net::SocketAddr>), FalhaConexao> {
    let prazo = op.prazo;
    let mut pacotes = get(&op.http, &url_socketio(&op.url, false, None), prazo).await?;
    let abertura = match pacotes.first() {
        Some(Engine::Abrir(a)) => a.clone(),
        outro => return Err(anyhow!("expected the open packet, got {outro:?}").into()),
    };
    pacotes.remove(0);
    let url = url_socketio(&op.url, false, Some(&abertura.sid));
    post(&op.http, &url, format!("4{}", pacote_conectar(&op.token))).await?;
    let mut respondido = false;
    while !respondido {
        for p in pacotes.drain(..) {
            match p {
                Engine::Ping(x) => post(&op.http, &url, format!("3{x}")).await?,
                Engine::Mensagem(m) => {
                    if let Some(r) = resposta_conectar(&Pacote::decodificar(&m)?) {
                        r?;
                        respondido = true;
                    }
                }
                Engine::Fechar => return Err(anyhow!("session closed during CONNECT").into()),
                _ => {}
            }
        }
        if !respondido {
            pacotes = get(&op.http, &url, prazo).await?;
        }
    }
    if upgrade && abertura.upgrades.iter().any(|u| u == "websocket") {
        let mut ws =
            super::ws::abrir(&url_socketio(&op.url, true, Some(&abertura.sid)), op.origem).await?;
        ws.send(Message::Text("2probe".into()))
            .await
            .context("sending the probe")?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    if Engine::decodificar(&t)? == Engine::Pong("probe".into()) {
                        break;
                    }
                }
                Some(Ok(_)) => {}
                _ => return Err(anyhow!("websocket closed during the upgrade").into()),
            }
        }
        // No GET is in flight here, so nothing can be lost between the two transports:
        // the server sends whatever it still holds over the WebSocket after `5`.
        ws.send(Message::Text("5".into()))
            .await
            .context("sending upgrade")?;
        let local = ws.get_ref().local_addr().ok();
        super::ws::bombear(ws, fios);
        return Ok((abertura, local));
    } else {
        bombear(
            op.http.clone(),
            url,
            abertura.ping_interval_ms,
            abertura.ping_timeout_ms,
            fios,
        );
    }
    Ok((abertura, None))
}

/// Runs a connected polling session: one task keeps a GET open, one POSTs what is emitted.
fn bombear(http: reqwest::Client, url: String, intervalo_ms: u64, timeout_ms: u64, fios: Fios) {
    let Fios {
        entrada,
        saida,
        mut saida_rx,
        ..
    } = fios;
    let (http_w, url_w) = (http.clone(), url.clone());
    tokio::spawn(async move {
        while let Some(s) = saida_rx.recv().await {
            let mut lote = Vec::new();
            let mut fechar = false;
            let mut atual = Some(s);
            while let Some(s) = atual {
                match s {
                    Saida::Texto(t) => lote.push(t),
                    Saida::Fechar => {
                        lote.push("41".to_owned());
                        lote.push("1".to_owned());
                        fechar = true;
                        break;
                    }
                }
                atual = saida_rx.try_recv().ok();
            }
            let corpo = juntar_polling(lote.iter().map(String::as_str));
            if post(&http_w, &url_w, corpo).await.is_err() || fechar {
                break;
            }
        }
    });
    let prazo = Duration::from_millis(intervalo_ms + timeout_ms + 5_000);
    tokio::spawn(async move {
        let motivo = 'fora: loop {
            let pacotes = match get(&http, &url, prazo).await {
                Ok(p) => p,
                Err(e) => break format!("transport error: {e:#}"),
            };
            let em = Instant::now();
            for p in pacotes {
                match p {
                    Engine::Ping(x) => {
                        let _ = saida.send(Saida::Texto(format!("3{x}")));
                    }
                    Engine::Mensagem(m) => match Pacote::decodificar(&m) {
                        Ok(p) => {
                            if let Some(e) = super::traduzir(p, em) {
                                let fim = matches!(e, Entrada::Fechado { .. });
                                if entrada.send(e).is_err() || fim {
                                    return;
                                }
                            }
                        }
                        Err(e) => break 'fora format!("parse error: {e:#}"),
                    },
                    Engine::Fechar => break 'fora "transport close".to_owned(),
                    _ => {}
                }
            }
            if entrada.is_closed() {
                return;
            }
        };
        let _ = entrada.send(Entrada::Fechado {
            motivo,
            em: Instant::now(),
        });
    });
}

//! The Redis channel every process publishes its avisos on and listens to. One publishing
//! connection, fed by one queue and written in pipelined batches, keeps each process's avisos
//! in the order they were queued (Redis delivers a channel's messages in the order it ran the
//! PUBLISHes), and queueing never waits, so it can happen inside a room's lock. The listening
//! side reconnects by itself; after it lost the channel, the `Ouvinte` is told, since what
//! was published meanwhile is gone.
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures::StreamExt;
use redis::{
    Client,
    aio::{ConnectionManager, ConnectionManagerConfig},
};
use tokio::sync::{mpsc, oneshot};

use super::aviso::{Aviso, Envelope};

/// Longest wait for Redis on any one call: a probe, a batch of publishes, a (re)connect.
const PRAZO: Duration = Duration::from_secs(1);
/// Avisos sent in one round trip at most.
const LOTE: usize = 256;

/// What listens to the other processes.
#[async_trait::async_trait]
pub trait Ouvinte: Send + Sync + 'static {
    async fn ouvir(&self, aviso: Aviso);
    /// The channel was lost at `perdido_em` and is back: avisos published meanwhile never
    /// arrived.
    async fn reconectado(&self, perdido_em: chrono::DateTime<chrono::Utc>);
}

/// What the publishing task is handed, in order.
enum Saida {
    Aviso(Vec<u8>),
    /// Everything queued before this is sent (or failed): tell the sender.
    Esvaziar(oneshot::Sender<()>),
}

pub struct Barramento {
    de: String,
    fila: mpsc::UnboundedSender<Saida>,
    publicando: Arc<AtomicBool>,
    ouvindo: Arc<AtomicBool>,
}

impl Barramento {
    /// Connects (Redis must answer now: a process that cannot reach it does not start), and
    /// starts publishing, listening and probing.
    pub async fn conectar(
        url: &str,
        canal: String,
        de: String,
        ouvinte: Arc<dyn Ouvinte>,
    ) -> anyhow::Result<Self> {
        let cliente = Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(PRAZO))
            .set_response_timeout(Some(PRAZO))
            .set_max_delay(Duration::from_millis(500));
        let conexao = tokio::time::timeout(
            PRAZO * 5,
            cliente.get_connection_manager_with_config(config),
        )
        .await
        .map_err(|_| anyhow::anyhow!("Redis did not answer within {:?}", PRAZO * 5))??;
        let (fila, recebidos) = mpsc::unbounded_channel();
        let publicando = Arc::new(AtomicBool::new(true));
        let ouvindo = Arc::new(AtomicBool::new(false));
        tokio::spawn(publicar(
            conexao.clone(),
            canal.clone(),
            recebidos,
            publicando.clone(),
        ));
        tokio::spawn(sondar(conexao, publicando.clone()));
        tokio::spawn(ouvir(cliente, canal, de.clone(), ouvinte, ouvindo.clone()));
        Ok(Self {
            de,
            fila,
            publicando,
            ouvindo,
        })
    }

    /// Queues an aviso for the other processes; never waits.
    pub fn enviar(&self, aviso: Aviso) {
        let envelope = Envelope {
            de: self.de.clone(),
            aviso,
        };
        match serde_json::to_vec(&envelope) {
            Ok(b) => {
                let _ = self.fila.send(Saida::Aviso(b));
            }
            Err(e) => tracing::error!(error = %e, "aviso does not serialize"),
        }
    }

    /// Waits (at most a few seconds) until what was queued so far has been published: a
    /// stopping process's last avisos (the conversations it hands over) must leave before
    /// it exits.
    pub async fn esvaziar(&self) {
        let (pronto, esperar) = oneshot::channel();
        if self.fila.send(Saida::Esvaziar(pronto)).is_ok()
            && tokio::time::timeout(PRAZO * 3, esperar).await.is_err()
        {
            tracing::warn!("the last avisos may not have reached Redis");
        }
    }

    /// Redis takes our publishes and we hear the channel.
    pub fn saudavel(&self) -> bool {
        self.publicando.load(Ordering::Relaxed) && self.ouvindo.load(Ordering::Relaxed)
    }
}

async fn publicar(
    mut conexao: ConnectionManager,
    canal: String,
    mut recebidos: mpsc::UnboundedReceiver<Saida>,
    publicando: Arc<AtomicBool>,
) {
    let mut lote = Vec::with_capacity(LOTE);
    let mut perdidos = 0u64;
    while recebidos.recv_many(&mut lote, LOTE).await > 0 {
        let mut pipe = redis::pipe();
        let mut avisados = Vec::new();
        for saida in lote.drain(..) {
            match saida {
                Saida::Aviso(m) => {
                    pipe.cmd("PUBLISH").arg(&canal).arg(m).ignore();
                }
                Saida::Esvaziar(pronto) => avisados.push(pronto),
            }
        }
        if pipe.cmd_iter().next().is_some() {
            match pipe.query_async::<()>(&mut conexao).await {
                Ok(()) => {
                    if perdidos > 0 {
                        tracing::info!(perdidos, "publishing to Redis again");
                        perdidos = 0;
                    }
                    publicando.store(true, Ordering::Relaxed);
                }
                Err(e) => {
                    // Our own tabs already got these events; the other processes' tabs
                    // resync when their channel comes back (`Ouvinte::reconectado`).
                    if perdidos == 0 {
                        tracing::warn!(error = %e, "could not publish to Redis; other processes miss events");
                    }
                    perdidos += 1;
                    publicando.store(false, Ordering::Relaxed);
                }
            }
        }
        for pronto in avisados {
            let _ = pronto.send(());
        }
    }
}

/// Probes Redis every second, so `/ready` tells an outage even when nothing is published.
async fn sondar(mut conexao: ConnectionManager, publicando: Arc<AtomicBool>) {
    loop {
        tokio::time::sleep(PRAZO).await;
        let r = tokio::time::timeout(
            PRAZO,
            redis::cmd("PING").query_async::<String>(&mut conexao),
        )
        .await;
        publicando.store(matches!(r, Ok(Ok(_))), Ordering::Relaxed);
    }
}

async fn ouvir(
    cliente: Client,
    canal: String,
    de: String,
    ouvinte: Arc<dyn Ouvinte>,
    ouvindo: Arc<AtomicBool>,
) {
    let mut perdeu = false;
    let mut perdido_em = chrono::Utc::now();
    loop {
        let assinatura = tokio::time::timeout(PRAZO, async {
            let mut ps = cliente.get_async_pubsub().await?;
            ps.subscribe(&canal).await?;
            Ok::<_, redis::RedisError>(ps)
        })
        .await;
        match assinatura {
            Ok(Ok(ps)) => {
                ouvindo.store(true, Ordering::Relaxed);
                if perdeu {
                    tracing::info!("listening to Redis again");
                    ouvinte.reconectado(perdido_em).await;
                }
                let mut mensagens = ps.into_on_message();
                while let Some(m) = mensagens.next().await {
                    match serde_json::from_slice::<Envelope>(m.get_payload_bytes()) {
                        Ok(e) if e.de == de => {}
                        Ok(e) => ouvinte.ouvir(e.aviso).await,
                        Err(e) => tracing::warn!(error = %e, "unreadable aviso on the channel"),
                    }
                }
                tracing::warn!("lost the Redis channel; reconnecting");
            }
            Ok(Err(e)) => {
                if !perdeu {
                    tracing::warn!(error = %e, "cannot listen to Redis; retrying");
                }
            }
            Err(_) => {
                if !perdeu {
                    tracing::warn!("Redis did not answer; retrying");
                }
            }
        }
        ouvindo.store(false, Ordering::Relaxed);
        if !perdeu {
            perdido_em = chrono::Utc::now();
        }
        perdeu = true;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

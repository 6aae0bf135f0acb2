//! Several server processes on one database: the shared implementation of
//! `conversation::Coordenacao`. Leases live in the database (the `arrendamento` table), so
//! "one answer at a time per conversation" holds even if Redis is away; Redis carries the
//! room events between processes (each process emits them to its own sockets: see
//! `difusor`) and the requests that must reach the process generating an answer (cancel,
//! its state). See docs/deploy.md.
mod aviso;
mod barramento;
mod difusor;
mod ouvinte;
mod tocadas;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use sea_orm::DbErr;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::{
    conversation::{Coordenacao, Difusor, Salas},
    storage::{self, Db},
};
use aviso::Aviso;
use barramento::Barramento;
pub use difusor::DifusorCluster;
use ouvinte::Retransmissor;
use tocadas::Tocadas;

/// The channel every process of one deployment shares.
const CANAL: &str = "tutor:avisos";

pub struct Cluster {
    db: Db,
    /// This process in the lease table: its name and a random part, so two processes never
    /// share leases even when misconfigured with one `TUTOR_NO`.
    dono: String,
    arrendamento: Duration,
    barramento: Arc<Barramento>,
}

/// What the rest of the server needs from the cluster.
pub struct Partes {
    pub coordenacao: Arc<dyn Coordenacao>,
    pub difusor: Arc<dyn Difusor>,
    /// Conversations another (stopping) process let go of: to `Gerador::agendar`.
    pub chamados: mpsc::UnboundedReceiver<Uuid>,
}

impl Cluster {
    /// Joins the cluster through Redis at `url`. `local` emits to this process's sockets.
    pub async fn conectar(
        url: &str,
        db: Db,
        no: &str,
        arrendamento: Duration,
        salas: Arc<Salas>,
        local: Arc<dyn Difusor>,
    ) -> anyhow::Result<Partes> {
        let dono = format!("{no}/{}", &Uuid::new_v4().simple().to_string()[..8]);
        let (a_agendar, chamados) = mpsc::unbounded_channel();
        let tocadas = Arc::new(Tocadas::default());
        let retransmissor = Arc::new(Retransmissor {
            db: db.clone(),
            salas,
            local: local.clone(),
            barramento: OnceLock::new(),
            vivas: Mutex::new(HashMap::new()),
            a_agendar,
            tocadas: tocadas.clone(),
        });
        let barramento = Arc::new(
            Barramento::conectar(url, CANAL.to_owned(), dono.clone(), retransmissor.clone())
                .await?,
        );
        let _ = retransmissor.barramento.set(barramento.clone());
        tracing::info!(%dono, lease_ms = arrendamento.as_millis() as u64, "cluster mode: rooms shared through Redis");
        let difusor = Arc::new(DifusorCluster {
            local,
            barramento: barramento.clone(),
            tocadas,
        });
        Ok(Partes {
            coordenacao: Arc::new(Self {
                db,
                dono,
                arrendamento,
                barramento,
            }),
            difusor,
            chamados,
        })
    }

    fn agora_ms() -> i64 {
        chrono::Utc::now().timestamp_millis()
    }

    fn ate(&self) -> i64 {
        Self::agora_ms() + self.arrendamento.as_millis() as i64
    }
}

#[async_trait::async_trait]
impl Coordenacao for Cluster {
    async fn tomar(&self, conversa_id: Uuid) -> Result<bool, DbErr> {
        storage::tomar_arrendamento(
            &self.db,
            conversa_id,
            &self.dono,
            Self::agora_ms(),
            self.ate(),
        )
        .await
    }

    async fn soltar(&self, conversa_id: Uuid, para_outro: bool) {
        let solta = if para_outro {
            storage::vencer_arrendamento(&self.db, conversa_id, &self.dono).await
        } else {
            storage::soltar_arrendamento(&self.db, conversa_id, &self.dono).await
        };
        if let Err(e) = solta {
            // It expires by itself; another process takes it over then.
            tracing::warn!(error = %e, %conversa_id, "could not give a lease back");
        }
        if para_outro {
            self.barramento.enviar(Aviso::Liberada { conversa_id });
        }
    }

    async fn encerrar(&self) {
        self.barramento.esvaziar().await;
    }

    fn ceder(&self, conversa_id: Uuid) {
        self.barramento.enviar(Aviso::Liberada { conversa_id });
    }

    async fn renovar(&self) -> Option<Vec<Uuid>> {
        match storage::renovar_arrendamentos(&self.db, &self.dono, self.ate()).await {
            Ok(mantidas) => Some(mantidas),
            Err(e) => {
                tracing::warn!(error = %e, "could not renew leases");
                None
            }
        }
    }

    async fn abandonadas(&self) -> Result<Vec<Uuid>, DbErr> {
        storage::list_arrendamentos_vencidos(&self.db, Self::agora_ms()).await
    }

    fn cancelar_em_outro(&self, conversa_id: Uuid, mensagem_id: Uuid) {
        self.barramento.enviar(Aviso::Cancelar {
            conversa_id,
            mensagem_id,
        });
    }

    fn pedir_estado(&self, conversa_id: Uuid) {
        self.barramento.enviar(Aviso::PedirEstado { conversa_id });
    }

    fn intervalo(&self) -> Option<Duration> {
        Some(self.arrendamento / 3)
    }

    fn saudavel(&self) -> bool {
        self.barramento.saudavel()
    }
}

//! One server process: it is the only one that answers, cancels and streams, so every lease
//! is its own, nothing is ever abandoned while it runs (start-up recovery handles a crash),
//! and there is no other process to ask.
use std::time::Duration;

use sea_orm::DbErr;
use uuid::Uuid;

use super::Coordenacao;

pub struct Sozinho;

#[async_trait::async_trait]
impl Coordenacao for Sozinho {
    async fn tomar(&self, _: Uuid) -> Result<bool, DbErr> {
        Ok(true)
    }
    async fn soltar(&self, _: Uuid, _: bool) {}
    /// The next start answers it: the queue is the database.
    fn ceder(&self, _: Uuid) {}
    async fn renovar(&self) -> Option<Vec<Uuid>> {
        None
    }
    async fn abandonadas(&self) -> Result<Vec<Uuid>, DbErr> {
        Ok(Vec::new())
    }
    fn cancelar_em_outro(&self, _: Uuid, _: Uuid) {}
    fn pedir_estado(&self, _: Uuid) {}
    async fn encerrar(&self) {}
    fn intervalo(&self) -> Option<Duration> {
        None
    }
    fn saudavel(&self) -> bool {
        true
    }
}

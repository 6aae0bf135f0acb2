//! What differs between one server process and several: who answers a conversation's queue
//! (a lease), how a cancel or a request for an answer's state reaches the process that
//! generates it, and which conversations lost their process. The service and the worker
//! only see this trait, so one process and a cluster share the whole pipeline, the way the
//! model sits behind `llm::ModeloChat`. `Sozinho` is the in-process implementation; the
//! shared one (Postgres leases, Redis between processes) is `crate::cluster::Cluster`.
mod sozinho;

use std::time::Duration;

use sea_orm::DbErr;
use uuid::Uuid;

pub use sozinho::Sozinho;

#[async_trait::async_trait]
pub trait Coordenacao: Send + Sync + 'static {
    /// Takes the lease on answering the conversation's queue: false when another live
    /// process holds it (that process looks at the queue again before it lets go).
    async fn tomar(&self, conversa_id: Uuid) -> Result<bool, DbErr>;
    /// Gives the lease back. `para_outro`: this process stops with work left in the queue,
    /// and another should take it now rather than after the lease would have expired (the
    /// lease is left expired, so a process that misses the word still takes it within one
    /// renewal interval).
    async fn soltar(&self, conversa_id: Uuid, para_outro: bool);
    /// This process is stopping and starts no answer: another should answer the
    /// conversation (a message was just stored here).
    fn ceder(&self, conversa_id: Uuid);
    /// Extends this process's leases; returns the conversations it still holds, or `None`
    /// when leases are not shared (nothing can be lost).
    async fn renovar(&self) -> Option<Vec<Uuid>>;
    /// Conversations whose answering process is gone: their lease expired.
    async fn abandonadas(&self) -> Result<Vec<Uuid>, DbErr>;
    /// Stops the answer `mensagem_id` of the conversation in whichever process generates it.
    fn cancelar_em_outro(&self, conversa_id: Uuid, mensagem_id: Uuid);
    /// This process's view of the conversation's live answer is behind: asks the process
    /// that generates it for its whole state (it arrives in order with the answer's pieces).
    fn pedir_estado(&self, conversa_id: Uuid);
    /// The process stops: what it still has to tell the others leaves now.
    async fn encerrar(&self);
    /// How often leases are renewed and abandoned conversations looked for; `None`: never.
    fn intervalo(&self) -> Option<Duration>;
    /// Whether what this implementation depends on (Redis) answers: `/ready` reports it.
    fn saudavel(&self) -> bool;
}

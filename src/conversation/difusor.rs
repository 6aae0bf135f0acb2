//! What the conversation service tells the rooms. The socket layer implements it (the only
//! code that emits); tests of the service can implement it with a recorder.
use uuid::Uuid;

use super::modelo::{Conversa, Mensagem};

/// The socket a request came from, opaque to the service: events it causes skip it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origem(pub String);

#[async_trait::async_trait]
pub trait Difusor: Send + Sync + 'static {
    /// To every socket of `usuario` except `exceto`.
    async fn conversa_criada(&self, usuario: &str, conversa: &Conversa, exceto: &Origem);
    /// To the conversation's room except `exceto`.
    async fn mensagem_recebida(&self, mensagem: &Mensagem, exceto: &Origem);
    async fn resposta_iniciada(&self, conversa_id: Uuid, mensagem_id: Uuid);
    async fn resposta_parcial(
        &self,
        conversa_id: Uuid,
        mensagem_id: Uuid,
        indice: u64,
        delta: &str,
    );
    async fn mensagem_respondida(&self, mensagem: &Mensagem);
    async fn erro_resposta(&self, conversa_id: Uuid, mensagem_id: Uuid, codigo: &str, texto: &str);
}

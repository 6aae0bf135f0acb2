//! What the conversation service tells the rooms. The socket layer implements it (the only
//! code that emits); with several processes a wrapper also relays each event to the others.
//! Emitting never waits: each method queues the event and returns, so it can run inside a
//! room's short lock (see `sala`), in the same step as the change it reports.
use uuid::Uuid;

use super::modelo::{Atualizacao, CodigoResposta, Conversa, Mensagem};

/// The socket a request came from, opaque to the service: events it causes skip it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Origem(pub String);

pub trait Difusor: Send + Sync + 'static {
    /// To every socket of `usuario` except `exceto`.
    fn conversa_criada(&self, usuario: &str, conversa: &Conversa, exceto: &Origem);
    /// To the conversation's room except `exceto`.
    fn mensagem_recebida(&self, mensagem: &Mensagem, exceto: &Origem);
    fn resposta_iniciada(&self, conversa_id: Uuid, mensagem_id: Uuid);
    fn resposta_parcial(&self, conversa_id: Uuid, mensagem_id: Uuid, indice: u64, delta: &str);
    fn mensagem_respondida(&self, mensagem: &Mensagem);
    fn erro_resposta(&self, conversa_id: Uuid, mensagem_id: Uuid, codigo: CodigoResposta);
    /// To the professors' room (every socket following the class): a conversation changed.
    fn conversa_atualizada(&self, atualizacao: &Atualizacao);
    /// This process's sockets in the conversation's room missed events (another process's
    /// were lost on the way): they are disconnected, to catch up with `entrar_conversa` +
    /// `apos` when they reconnect, rather than go on with a gap.
    fn ressincronizar(&self, conversa_id: Uuid);
}

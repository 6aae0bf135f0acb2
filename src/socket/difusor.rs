//! The broadcaster: the only code that emits into rooms. Each event is serialized once by
//! socketioxide for the whole room; a failed emit (a socket gone, a full buffer) is logged
//! and never stops the answer: the database stays the truth, and tabs catch up on join.
use socketioxide::SocketIo;
use uuid::Uuid;

use super::wire::{self, saida};
use crate::conversation::{Conversa, Difusor, Mensagem, Origem};

pub struct DifusorSocketIo {
    io: SocketIo,
}

impl DifusorSocketIo {
    pub fn new(io: SocketIo) -> Self {
        Self { io }
    }
}

fn registrar(evento: &str, r: Result<(), socketioxide::BroadcastError>) {
    if let Err(e) = r {
        tracing::warn!(evento, error = %e, "broadcast not delivered to every socket");
    }
}

#[async_trait::async_trait]
impl Difusor for DifusorSocketIo {
    async fn conversa_criada(&self, usuario: &str, conversa: &Conversa, exceto: &Origem) {
        let r = self
            .io
            .to(wire::sala_usuario(usuario))
            .except(wire::sala_socket(&exceto.0))
            .emit(saida::CONVERSA_CRIADA, &wire::EvConversaCriada { conversa })
            .await;
        registrar(saida::CONVERSA_CRIADA, r);
    }

    async fn mensagem_recebida(&self, mensagem: &Mensagem, exceto: &Origem) {
        let ev = wire::EvMensagem {
            conversa_id: mensagem.conversa_id,
            mensagem,
        };
        let r = self
            .io
            .to(wire::sala_conversa(mensagem.conversa_id))
            .except(wire::sala_socket(&exceto.0))
            .emit(saida::MENSAGEM_RECEBIDA, &ev)
            .await;
        registrar(saida::MENSAGEM_RECEBIDA, r);
    }

    async fn resposta_iniciada(&self, conversa_id: Uuid, mensagem_id: Uuid) {
        let ev = wire::EvRespostaIniciada {
            conversa_id,
            mensagem_id,
        };
        let r = self
            .io
            .to(wire::sala_conversa(conversa_id))
            .emit(saida::RESPOSTA_INICIADA, &ev)
            .await;
        registrar(saida::RESPOSTA_INICIADA, r);
    }

    async fn resposta_parcial(
        &self,
        conversa_id: Uuid,
        mensagem_id: Uuid,
        indice: u64,
        delta: &str,
    ) {
        let ev = wire::EvRespostaParcial {
            conversa_id,
            mensagem_id,
            indice,
            delta,
        };
        let r = self
            .io
            .to(wire::sala_conversa(conversa_id))
            .emit(saida::RESPOSTA_PARCIAL, &ev)
            .await;
        registrar(saida::RESPOSTA_PARCIAL, r);
    }

    async fn mensagem_respondida(&self, mensagem: &Mensagem) {
        let ev = wire::EvMensagem {
            conversa_id: mensagem.conversa_id,
            mensagem,
        };
        let r = self
            .io
            .to(wire::sala_conversa(mensagem.conversa_id))
            .emit(saida::MENSAGEM_RESPONDIDA, &ev)
            .await;
        registrar(saida::MENSAGEM_RESPONDIDA, r);
    }

    async fn erro_resposta(&self, conversa_id: Uuid, mensagem_id: Uuid, codigo: &str, texto: &str) {
        let ev = wire::EvErroResposta {
            conversa_id,
            mensagem_id,
            erro: wire::ErroResposta {
                codigo,
                mensagem: texto,
            },
        };
        let r = self
            .io
            .to(wire::sala_conversa(conversa_id))
            .emit(saida::ERRO_RESPOSTA, &ev)
            .await;
        registrar(saida::ERRO_RESPOSTA, r);
    }
}

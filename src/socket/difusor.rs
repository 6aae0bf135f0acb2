//! The broadcaster: the only code that emits into rooms.
//!
//! Each event's payload is serialized to JSON once (`RawValue`), then handed to every local
//! socket of the room in turn, because only a per-socket send tells what each socket has
//! queued: a tab that stopped reading is disconnected once it holds more than its byte bound
//! (or its packet bound), rather than sent a stream with a gap (it catches up with
//! `entrar_conversa` + `apos` when it comes back). Failures never stop the answer: the
//! database stays the truth.
use std::sync::Arc;

use serde::Serialize;
use serde_json::value::RawValue;
use socketioxide::{SendError, SocketError, SocketIo};
use uuid::Uuid;

use super::{
    fila::Fila,
    wire::{self, saida},
};
use crate::{
    conversation::{
        Atualizacao, CodigoResposta, Conversa, Difusor, Mensagem, Origem, texto_do_erro,
    },
    metricas::Metricas,
};

pub struct DifusorSocketIo {
    io: SocketIo,
    /// Bytes one socket may have queued before it is disconnected.
    max_bytes_por_socket: usize,
    metricas: Arc<Metricas>,
}

/// Bytes a packet adds around its payload: `42["evento",…]` and the frame.
const MOLDURA: usize = 16;

impl DifusorSocketIo {
    pub fn new(io: SocketIo, max_bytes_por_socket: usize, metricas: Arc<Metricas>) -> Self {
        Self {
            io,
            max_bytes_por_socket,
            metricas,
        }
    }

    /// Emits `evento` to every socket in `sala`, except the sockets in room `exceto`.
    fn emitir<T: Serialize>(&self, sala: String, exceto: Option<String>, evento: &str, dados: &T) {
        // Before the namespace exists (start-up recovery) there is no socket to tell.
        let Some(raiz) = self.io.of("/") else {
            return;
        };
        let mut alvo = raiz.to(sala);
        if let Some(exceto) = exceto {
            alvo = alvo.except(exceto);
        }
        let sockets = alvo.sockets();
        // No one listening here (no professor following, no tab open): nothing to serialize.
        if sockets.is_empty() {
            return;
        }
        let json = match serde_json::value::to_raw_value(dados) {
            Ok(j) => j,
            Err(e) => {
                tracing::error!(evento, error = %e, "event payload does not serialize");
                return;
            }
        };
        let tamanho = json.get().len() + evento.len() + MOLDURA;
        for s in sockets {
            let fila = s.extensions.get::<Arc<Fila>>();
            match s.emit(evento, &*json as &RawValue) {
                Ok(()) => {
                    let Some(fila) = fila else {
                        continue;
                    };
                    let atras = fila.registrar(tamanho, s.buffered());
                    if atras > self.max_bytes_por_socket {
                        tracing::warn!(
                            sid = %s.id,
                            evento,
                            bytes = atras,
                            "socket not reading; disconnecting it"
                        );
                        self.lento(&fila);
                        let _ = s.disconnect();
                    }
                }
                Err(SendError::Socket(SocketError::Closed)) => {}
                Err(SendError::Socket(SocketError::InternalChannelFull)) => {
                    tracing::warn!(sid = %s.id, evento, "socket not keeping up; disconnecting it");
                    if let Some(fila) = &fila {
                        self.lento(fila);
                    }
                    let _ = s.disconnect();
                }
                Err(e) => tracing::warn!(sid = %s.id, evento, error = %e, "emit failed"),
            }
        }
    }

    /// Counts a socket dropped for not reading, once however many emits find it full.
    fn lento(&self, fila: &Fila) {
        if fila.marcar_lenta() {
            self.metricas.socket_lento();
        }
    }
}

impl Difusor for DifusorSocketIo {
    fn conversa_criada(&self, usuario: &str, conversa: &Conversa, exceto: &Origem) {
        self.emitir(
            wire::sala_usuario(usuario),
            Some(wire::sala_socket(&exceto.0)),
            saida::CONVERSA_CRIADA,
            &wire::EvConversaCriada { conversa },
        );
    }

    fn mensagem_recebida(&self, mensagem: &Mensagem, exceto: &Origem) {
        let ev = wire::EvMensagem {
            conversa_id: mensagem.conversa_id,
            mensagem,
        };
        self.emitir(
            wire::sala_conversa(mensagem.conversa_id),
            Some(wire::sala_socket(&exceto.0)),
            saida::MENSAGEM_RECEBIDA,
            &ev,
        );
    }

    fn resposta_iniciada(&self, conversa_id: Uuid, mensagem_id: Uuid) {
        let ev = wire::EvRespostaIniciada {
            conversa_id,
            mensagem_id,
        };
        self.emitir(
            wire::sala_conversa(conversa_id),
            None,
            saida::RESPOSTA_INICIADA,
            &ev,
        );
    }

    fn resposta_parcial(&self, conversa_id: Uuid, mensagem_id: Uuid, indice: u64, delta: &str) {
        let ev = wire::EvRespostaParcial {
            conversa_id,
            mensagem_id,
            indice,
            delta,
        };
        self.emitir(
            wire::sala_conversa(conversa_id),
            None,
            saida::RESPOSTA_PARCIAL,
            &ev,
        );
    }

    fn mensagem_respondida(&self, mensagem: &Mensagem) {
        let ev = wire::EvMensagem {
            conversa_id: mensagem.conversa_id,
            mensagem,
        };
        self.emitir(
            wire::sala_conversa(mensagem.conversa_id),
            None,
            saida::MENSAGEM_RESPONDIDA,
            &ev,
        );
    }

    fn erro_resposta(&self, conversa_id: Uuid, mensagem_id: Uuid, codigo: CodigoResposta) {
        let ev = wire::EvErroResposta {
            conversa_id,
            mensagem_id,
            erro: wire::ErroResposta {
                codigo,
                mensagem: texto_do_erro(codigo),
            },
        };
        self.emitir(
            wire::sala_conversa(conversa_id),
            None,
            saida::ERRO_RESPOSTA,
            &ev,
        );
    }

    fn conversa_atualizada(&self, atualizacao: &Atualizacao) {
        self.emitir(
            wire::SALA_PROFESSORES.to_owned(),
            None,
            saida::CONVERSA_ATUALIZADA,
            atualizacao,
        );
    }

    fn ressincronizar(&self, conversa_id: Uuid) {
        let Some(raiz) = self.io.of("/") else {
            return;
        };
        for s in raiz.to(wire::sala_conversa(conversa_id)).sockets() {
            tracing::warn!(sid = %s.id, %conversa_id, "socket missed events relayed from another process; disconnecting it");
            let _ = s.disconnect();
        }
    }
}

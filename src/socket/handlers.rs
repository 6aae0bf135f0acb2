//! One thin handler per client event: parse, call the service, ack. Every handler takes the
//! payload as `TryData<Value>` (a payload that fails to parse still reaches the handler and
//! gets `entrada_invalida`, instead of leaving the client's ack hanging).
use serde::Serialize;
use socketioxide::extract::{AckSender, Extension, SocketRef, TryData};

use super::{
    Estado,
    ordem::Vez,
    wire::{self, Ack},
};
use crate::{
    auth::Usuario,
    conversation::{Entrada, Origem, Pedido, PedidoTurma},
    error::Erro,
};

type Payload = TryData<serde_json::Value>;

fn responder<T: Serialize>(ack: AckSender, r: Result<T, Erro>) {
    if let Err(e) = ack.send(&Ack::from(r)) {
        tracing::debug!(error = %e, "ack not delivered");
    }
}

/// Counts a send's result, then acks it.
fn responder_envio<T: Serialize>(estado: &Estado, ack: AckSender, r: Result<T, Erro>) {
    estado.metricas.envio(r.as_ref().map(|_| ()));
    responder(ack, r);
}

fn payload<T: serde::de::DeserializeOwned>(p: Payload) -> Result<T, Erro> {
    // A payload the parser could not even decode (e.g. binary) is treated as not an object.
    wire::ler(p.0.unwrap_or(serde_json::Value::Null))
}

fn origem(s: &SocketRef) -> Origem {
    Origem(s.id.to_string())
}

pub async fn on_mensagem_enviada(
    s: SocketRef,
    ack: AckSender,
    Extension(estado): Extension<Estado>,
    Extension(usuario): Extension<Usuario>,
    vez: Vez,
    p: Payload,
) {
    // Sends from one socket are stored in the order they were sent.
    vez.esperar().await;
    let p: wire::MensagemEnviada = match payload(p) {
        Ok(p) => p,
        Err(e) => return responder_envio::<()>(&estado, ack, Err(e)),
    };
    let pedido = Pedido {
        conversa_id: p.conversa_id,
        conteudo: p.conteudo,
        id_cliente: p.id_cliente,
        chegada: vez.chegada(),
    };
    match estado.servico.enviar_mensagem(&usuario, pedido).await {
        Ok(e) => {
            // In the room before the ack: the sender must see its answer.
            s.join(wire::sala_conversa(e.conversa.id));
            let campos = wire::AckEnviada {
                conversa_id: e.conversa.id,
                mensagem: &e.mensagem,
            };
            responder_envio(&estado, ack, Ok(campos));
            // Only after the ack, so the sender hears of nothing before it.
            estado.servico.anunciar(&usuario, &e, &origem(&s));
        }
        Err(e) => responder_envio::<()>(&estado, ack, Err(e)),
    }
    drop(vez);
}

pub async fn on_entrar_conversa(
    s: SocketRef,
    ack: AckSender,
    Extension(estado): Extension<Estado>,
    Extension(usuario): Extension<Usuario>,
    p: Payload,
) {
    let p: wire::EntrarConversa = match payload(p) {
        Ok(p) => p,
        Err(e) => return responder::<()>(ack, Err(e)),
    };
    let entrada = estado
        .servico
        .entrar_conversa(&usuario, p.conversa_id, p.apos)
        .await;
    match entrada {
        Ok(Entrada {
            conversa,
            mensagens,
            em_andamento,
            parada,
        }) => {
            // Into the room and acked while the room is held still: the pieces that follow
            // continue the snapshot exactly.
            s.join(wire::sala_conversa(conversa.id));
            let resposta_em_andamento =
                em_andamento.map(|(mensagem_id, conteudo)| wire::RespostaEmAndamento {
                    mensagem_id,
                    conteudo,
                });
            responder(
                ack,
                Ok(wire::AckEntrar {
                    conversa,
                    mensagens,
                    resposta_em_andamento,
                }),
            );
            drop(parada);
        }
        Err(e) => responder::<()>(ack, Err(e)),
    }
}

pub async fn on_sair_conversa(
    s: SocketRef,
    ack: AckSender,
    Extension(estado): Extension<Estado>,
    Extension(usuario): Extension<Usuario>,
    p: Payload,
) {
    let r = match payload::<wire::ComConversa>(p) {
        Ok(p) => estado.servico.sair_conversa(&usuario, p.conversa_id).await,
        Err(e) => Err(e),
    };
    let r = r.map(|id| {
        s.leave(wire::sala_conversa(id));
        wire::AckVazio {}
    });
    responder(ack, r);
}

pub async fn on_listar_conversas(
    ack: AckSender,
    Extension(estado): Extension<Estado>,
    Extension(usuario): Extension<Usuario>,
    p: Payload,
) {
    let r = match wire::ler_opcional::<wire::ListarConversas>(p.0.unwrap_or_default()) {
        Ok(p) => estado.servico.listar_conversas(&usuario, p.usuario).await,
        Err(e) => Err(e),
    };
    responder(ack, r.map(|conversas| wire::AckListar { conversas }));
}

pub async fn on_cancelar_resposta(
    ack: AckSender,
    Extension(estado): Extension<Estado>,
    Extension(usuario): Extension<Usuario>,
    p: Payload,
) {
    let r = match payload::<wire::ComConversa>(p) {
        Ok(p) => {
            estado
                .servico
                .cancelar_resposta(&usuario, p.conversa_id)
                .await
        }
        Err(e) => Err(e),
    };
    responder(ack, r.map(|cancelada| wire::AckCancelar { cancelada }));
}

pub async fn on_listar_turma(
    ack: AckSender,
    Extension(estado): Extension<Estado>,
    Extension(usuario): Extension<Usuario>,
    p: Payload,
) {
    let r = match wire::ler_opcional::<wire::ListarTurma>(p.0.unwrap_or_default()) {
        Ok(p) => {
            let pedido = PedidoTurma {
                cursor: p.cursor,
                limite: p.limite,
                conversa_ids: p.conversa_ids,
            };
            estado.servico.listar_turma(&usuario, pedido).await
        }
        Err(e) => Err(e),
    };
    responder(
        ack,
        r.map(|t| wire::AckTurma {
            conversas: t.conversas,
            proximo_cursor: t.proximo_cursor,
            tokens_por_dia: t.tokens_por_dia,
        }),
    );
}

pub async fn on_acompanhar_turma(
    s: SocketRef,
    ack: AckSender,
    Extension(estado): Extension<Estado>,
    Extension(usuario): Extension<Usuario>,
    p: Payload,
) {
    seguir_turma(&estado, &usuario, p, ack, || s.join(wire::SALA_PROFESSORES));
}

pub async fn on_deixar_turma(
    s: SocketRef,
    ack: AckSender,
    Extension(estado): Extension<Estado>,
    Extension(usuario): Extension<Usuario>,
    p: Payload,
) {
    seguir_turma(&estado, &usuario, p, ack, || {
        s.leave(wire::SALA_PROFESSORES)
    });
}

/// `acompanhar_turma` and `deixar_turma`: the same check, then `mudar` joins or leaves.
fn seguir_turma(
    estado: &Estado,
    usuario: &Usuario,
    p: Payload,
    ack: AckSender,
    mudar: impl FnOnce(),
) {
    let r = wire::ler_opcional::<wire::Vazio>(p.0.unwrap_or_default())
        .and_then(|_| estado.servico.acompanhar_turma(usuario))
        .map(|()| {
            mudar();
            wire::AckVazio {}
        });
    responder(ack, r);
}

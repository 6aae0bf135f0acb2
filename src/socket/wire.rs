//! The wire: event names, room names and payload types, each defined once. Incoming
//! payloads are parsed here from whatever JSON a client sent; `null` counts as absent and
//! unknown fields (`role`, `system`, `model`, …) are ignored, never forwarded.
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use uuid::Uuid;

use crate::{
    conversation::{Conversa, Mensagem, ResumoConversa},
    error::{CorpoErro, Erro},
};

/// Client → server.
pub mod entrada {
    pub const MENSAGEM_ENVIADA: &str = "mensagem_enviada";
    pub const ENTRAR_CONVERSA: &str = "entrar_conversa";
    pub const SAIR_CONVERSA: &str = "sair_conversa";
    pub const LISTAR_CONVERSAS: &str = "listar_conversas";
    pub const CANCELAR_RESPOSTA: &str = "cancelar_resposta";
    /// Professors only (docs/turma.md).
    pub const LISTAR_TURMA: &str = "listar_turma";
    pub const ACOMPANHAR_TURMA: &str = "acompanhar_turma";
    pub const DEIXAR_TURMA: &str = "deixar_turma";
}

/// Server → client.
pub mod saida {
    pub const MENSAGEM_RECEBIDA: &str = "mensagem_recebida";
    pub const RESPOSTA_INICIADA: &str = "resposta_iniciada";
    pub const RESPOSTA_PARCIAL: &str = "resposta_parcial";
    pub const MENSAGEM_RESPONDIDA: &str = "mensagem_respondida";
    pub const ERRO_RESPOSTA: &str = "erro_resposta";
    pub const CONVERSA_CRIADA: &str = "conversa_criada";
    /// To the professors' room (docs/turma.md).
    pub const CONVERSA_ATUALIZADA: &str = "conversa_atualizada";
}

/// The professors' room: every socket following the class (`acompanhar_turma`), on every node.
pub const SALA_PROFESSORES: &str = "professores";

/// The room of a conversation: every socket that joined it, on every node.
pub fn sala_conversa(id: Uuid) -> String {
    format!("{PREFIXO_SALA_CONVERSA}{id}")
}

const PREFIXO_SALA_CONVERSA: &str = "conversa:";

/// Whether a room is a conversation's (not a user's or a socket's).
pub fn e_sala_conversa(sala: &str) -> bool {
    sala.starts_with(PREFIXO_SALA_CONVERSA)
}

/// Every socket of a user.
pub fn sala_usuario(id: &str) -> String {
    format!("usuario:{id}")
}

/// One socket, so broadcasts can leave out the socket that caused them on any node.
pub fn sala_socket(sid: &str) -> String {
    format!("socket:{sid}")
}

// ---- incoming payloads ----

#[derive(Debug, Deserialize)]
pub struct MensagemEnviada {
    #[serde(default)]
    pub conversa_id: Option<String>,
    pub conteudo: String,
    #[serde(default)]
    pub id_cliente: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct EntrarConversa {
    pub conversa_id: String,
    #[serde(default)]
    pub apos: Option<String>,
}

/// `sair_conversa` and `cancelar_resposta`.
#[derive(Debug, Deserialize)]
pub struct ComConversa {
    pub conversa_id: String,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListarConversas {
    #[serde(default)]
    pub usuario: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListarTurma {
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub limite: Option<u64>,
    #[serde(default)]
    pub conversa_ids: Option<Vec<String>>,
}

/// `acompanhar_turma` and `deixar_turma` carry nothing.
#[derive(Debug, Default, Deserialize)]
pub struct Vazio {}

/// Parses a payload, turning any mismatch into `entrada_invalida` with a useful sentence.
pub fn ler<T: DeserializeOwned>(v: serde_json::Value) -> Result<T, Erro> {
    if !v.is_object() {
        return Err(Erro::entrada("O payload deve ser um objeto JSON."));
    }
    serde_json::from_value(v).map_err(|e| Erro::entrada(format!("Payload inválido: {e}.")))
}

/// `listar_conversas` may come with no payload at all.
pub fn ler_opcional<T: DeserializeOwned + Default>(v: serde_json::Value) -> Result<T, Erro> {
    match &v {
        serde_json::Value::Null => Ok(T::default()),
        serde_json::Value::Array(a) if a.is_empty() => Ok(T::default()),
        _ => ler(v),
    }
}

// ---- acks ----

/// `{ ok: true, ...campos }` or `{ ok: false, erro }`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Ack<T: Serialize> {
    Sucesso {
        ok: bool,
        #[serde(flatten)]
        campos: T,
    },
    Falha {
        ok: bool,
        erro: CorpoErro,
    },
}

impl<T: Serialize> From<Result<T, Erro>> for Ack<T> {
    fn from(r: Result<T, Erro>) -> Self {
        match r {
            Ok(campos) => Ack::Sucesso { ok: true, campos },
            Err(e) => Ack::Falha {
                ok: false,
                erro: e.corpo(),
            },
        }
    }
}

#[derive(Debug, Serialize)]
pub struct AckEnviada<'a> {
    pub conversa_id: Uuid,
    pub mensagem: &'a Mensagem,
}

#[derive(Debug, Serialize)]
pub struct AckEntrar {
    pub conversa: Conversa,
    pub mensagens: Vec<Mensagem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resposta_em_andamento: Option<RespostaEmAndamento>,
}

#[derive(Debug, Serialize)]
pub struct RespostaEmAndamento {
    pub mensagem_id: Uuid,
    pub conteudo: String,
}

#[derive(Debug, Serialize)]
pub struct AckVazio {}

#[derive(Debug, Serialize)]
pub struct AckListar {
    pub conversas: Vec<Conversa>,
}

#[derive(Debug, Serialize)]
pub struct AckTurma {
    pub conversas: Vec<ResumoConversa>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proximo_cursor: Option<String>,
    pub tokens_por_dia: u64,
}

#[derive(Debug, Serialize)]
pub struct AckCancelar {
    pub cancelada: bool,
}

// ---- server events ----

#[derive(Debug, Serialize)]
pub struct EvMensagem<'a> {
    pub conversa_id: Uuid,
    pub mensagem: &'a Mensagem,
}

#[derive(Debug, Serialize)]
pub struct EvConversaCriada<'a> {
    pub conversa: &'a Conversa,
}

#[derive(Debug, Serialize)]
pub struct EvRespostaIniciada {
    pub conversa_id: Uuid,
    pub mensagem_id: Uuid,
}

#[derive(Debug, Serialize)]
pub struct EvRespostaParcial<'a> {
    pub conversa_id: Uuid,
    pub mensagem_id: Uuid,
    pub indice: u64,
    pub delta: &'a str,
}

#[derive(Debug, Serialize)]
pub struct EvErroResposta<'a> {
    pub conversa_id: Uuid,
    pub mensagem_id: Uuid,
    pub erro: ErroResposta<'a>,
}

#[derive(Debug, Serialize)]
pub struct ErroResposta<'a> {
    pub codigo: &'a str,
    pub mensagem: &'a str,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn null_fields_count_as_absent_and_unknown_fields_are_ignored() {
        let p: MensagemEnviada = ler(json!({
            "conteudo": "oi", "conversa_id": null, "id_cliente": null,
            "role": "system", "model": "gpt-4", "messages": [], "temperature": 2
        }))
        .expect("valid payload");
        assert_eq!(p.conteudo, "oi");
        assert!(p.conversa_id.is_none() && p.id_cliente.is_none());
    }
}

//! The wire: event names, room names and payload types, each defined once. Incoming
//! payloads are parsed here from whatever JSON a client sent; `null` counts as absent and
//! unknown fields (`role`, `system`, `model`, …) are ignored, never forwarded. `catalogo`
//! describes every event by those types' JSON Schemas: docs/asyncapi.yaml is held to it
//! (tests/api/contrato.rs).
use schemars::{JsonSchema, Schema, generate::SchemaSettings};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use uuid::Uuid;

use crate::{
    conversation::{Atualizacao, CodigoResposta, Conversa, Mensagem, ResumoConversa},
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

    /// Every client → server event: what `register` listens to and `catalogo` describes.
    pub const TODOS: &[&str] = &[
        MENSAGEM_ENVIADA,
        ENTRAR_CONVERSA,
        SAIR_CONVERSA,
        LISTAR_CONVERSAS,
        CANCELAR_RESPOSTA,
        LISTAR_TURMA,
        ACOMPANHAR_TURMA,
        DEIXAR_TURMA,
    ];
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

    /// Every server → client event.
    pub const TODOS: &[&str] = &[
        MENSAGEM_RECEBIDA,
        RESPOSTA_INICIADA,
        RESPOSTA_PARCIAL,
        MENSAGEM_RESPONDIDA,
        ERRO_RESPOSTA,
        CONVERSA_CRIADA,
        CONVERSA_ATUALIZADA,
    ];
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

#[derive(Debug, Deserialize, JsonSchema)]
pub struct MensagemEnviada {
    #[serde(default)]
    pub conversa_id: Option<String>,
    pub conteudo: String,
    #[serde(default)]
    pub id_cliente: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct EntrarConversa {
    pub conversa_id: String,
    #[serde(default)]
    pub apos: Option<String>,
}

/// `sair_conversa` and `cancelar_resposta`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ComConversa {
    pub conversa_id: String,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ListarConversas {
    #[serde(default)]
    pub usuario: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ListarTurma {
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    pub limite: Option<u64>,
    #[serde(default)]
    pub conversa_ids: Option<Vec<String>>,
}

/// `acompanhar_turma` and `deixar_turma` carry nothing.
#[derive(Debug, Default, Deserialize, JsonSchema)]
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
#[derive(Debug, Serialize, JsonSchema)]
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

#[derive(Debug, Serialize, JsonSchema)]
pub struct AckEnviada<'a> {
    pub conversa_id: Uuid,
    pub mensagem: &'a Mensagem,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AckEntrar {
    pub conversa: Conversa,
    pub mensagens: Vec<Mensagem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resposta_em_andamento: Option<RespostaEmAndamento>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RespostaEmAndamento {
    pub mensagem_id: Uuid,
    pub conteudo: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AckVazio {}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AckListar {
    pub conversas: Vec<Conversa>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AckTurma {
    pub conversas: Vec<ResumoConversa>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proximo_cursor: Option<String>,
    pub tokens_por_dia: u64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AckCancelar {
    pub cancelada: bool,
}

// ---- server events ----

#[derive(Debug, Serialize, JsonSchema)]
pub struct EvMensagem<'a> {
    pub conversa_id: Uuid,
    pub mensagem: &'a Mensagem,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct EvConversaCriada<'a> {
    pub conversa: &'a Conversa,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct EvRespostaIniciada {
    pub conversa_id: Uuid,
    pub mensagem_id: Uuid,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct EvRespostaParcial<'a> {
    pub conversa_id: Uuid,
    pub mensagem_id: Uuid,
    pub indice: u64,
    pub delta: &'a str,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct EvErroResposta<'a> {
    pub conversa_id: Uuid,
    pub mensagem_id: Uuid,
    pub erro: ErroResposta<'a>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ErroResposta<'a> {
    pub codigo: CodigoResposta,
    pub mensagem: &'a str,
}

// ---- the catalogue ----

/// One event of the contract, described by the server's own types.
pub struct Evento {
    pub nome: &'static str,
    /// The JSON Schema of its payload, self-contained (every subschema inlined).
    pub payload: Schema,
    /// The ack's, `{ ok: true, ... }` or `{ ok: false, erro }`; none for server → client events.
    pub ack: Option<Schema>,
}

/// Every event per direction, with what it carries: the server's half of the contract, which
/// a test holds docs/asyncapi.yaml to so the two cannot drift. What the server reads is
/// described as it reads it (a field with a default is optional), what it writes as it writes
/// it (a field it may skip is optional).
pub struct Catalogo {
    pub entrada: Vec<Evento>,
    pub saida: Vec<Evento>,
}

pub fn catalogo() -> Catalogo {
    use {entrada as e, saida as s};
    Catalogo {
        entrada: vec![
            pedido::<MensagemEnviada, AckEnviada<'static>>(e::MENSAGEM_ENVIADA),
            pedido::<EntrarConversa, AckEntrar>(e::ENTRAR_CONVERSA),
            pedido::<ComConversa, AckVazio>(e::SAIR_CONVERSA),
            pedido::<ListarConversas, AckListar>(e::LISTAR_CONVERSAS),
            pedido::<ComConversa, AckCancelar>(e::CANCELAR_RESPOSTA),
            pedido::<ListarTurma, AckTurma>(e::LISTAR_TURMA),
            pedido::<Vazio, AckVazio>(e::ACOMPANHAR_TURMA),
            pedido::<Vazio, AckVazio>(e::DEIXAR_TURMA),
        ],
        saida: vec![
            aviso::<EvMensagem<'static>>(s::MENSAGEM_RECEBIDA),
            aviso::<EvRespostaIniciada>(s::RESPOSTA_INICIADA),
            aviso::<EvRespostaParcial<'static>>(s::RESPOSTA_PARCIAL),
            aviso::<EvMensagem<'static>>(s::MENSAGEM_RESPONDIDA),
            aviso::<EvErroResposta<'static>>(s::ERRO_RESPOSTA),
            aviso::<EvConversaCriada<'static>>(s::CONVERSA_CRIADA),
            aviso::<Atualizacao>(s::CONVERSA_ATUALIZADA),
        ],
    }
}

/// A client → server event: payload `P`, ack `Ack<A>`.
fn pedido<P: JsonSchema, A: JsonSchema + Serialize>(nome: &'static str) -> Evento {
    Evento {
        nome,
        payload: esquema::<P>(SchemaSettings::for_deserialize),
        ack: Some(esquema::<Ack<A>>(SchemaSettings::for_serialize)),
    }
}

/// A server → client event with payload `P`.
fn aviso<P: JsonSchema>(nome: &'static str) -> Evento {
    Evento {
        nome,
        payload: esquema::<P>(SchemaSettings::for_serialize),
        ack: None,
    }
}

fn esquema<T: JsonSchema>(sentido: fn(SchemaSettings) -> SchemaSettings) -> Schema {
    sentido(SchemaSettings::draft2020_12())
        .with(|s| s.inline_subschemas = true)
        .into_generator()
        .into_root_schema_for::<T>()
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

    #[test]
    fn the_catalogue_describes_every_event_once_and_only_client_events_have_acks() {
        let c = catalogo();
        let nomes = |v: &[Evento]| v.iter().map(|e| e.nome).collect::<Vec<_>>();
        assert_eq!(nomes(&c.entrada), entrada::TODOS);
        assert_eq!(nomes(&c.saida), saida::TODOS);
        assert!(c.entrada.iter().all(|e| e.ack.is_some()));
        assert!(c.saida.iter().all(|e| e.ack.is_none()));
        let mut todos: Vec<_> = entrada::TODOS.iter().chain(saida::TODOS).collect();
        todos.sort();
        todos.dedup();
        assert_eq!(todos.len(), entrada::TODOS.len() + saida::TODOS.len());
    }
}

//! The protocol's objects, `Mensagem` and `Conversa`, as the service hands them out. They
//! serialize to exactly the wire shape of PROTOCOL.md, so they are written once.
use chrono::{DateTime, SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize, Serializer};
use uuid::Uuid;

pub use crate::storage::{Autor, CodigoResposta, Status};
use crate::storage::{ConversaRow, MensagemRow, ResumoRow};

fn rfc3339<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
pub struct Conversa {
    pub id: Uuid,
    pub titulo: String,
    #[serde(serialize_with = "rfc3339")]
    pub criada_em: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub atualizada_em: DateTime<Utc>,
    /// Whose conversation it is: a professor reading others' needs to tell them apart.
    pub usuario: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
pub struct Mensagem {
    pub id: Uuid,
    pub conversa_id: Uuid,
    pub papel: Autor,
    pub conteudo: String,
    pub status: Status,
    #[serde(serialize_with = "rfc3339")]
    pub criada_em: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_cliente: Option<String>,
    /// The student message an answer answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub responde_a: Option<Uuid>,
}

impl From<ConversaRow> for Conversa {
    fn from(r: ConversaRow) -> Self {
        Self {
            id: r.id,
            titulo: r.titulo,
            criada_em: r.criada_em,
            atualizada_em: r.atualizada_em,
            usuario: r.usuario_id,
        }
    }
}

impl From<MensagemRow> for Mensagem {
    fn from(r: MensagemRow) -> Self {
        Self {
            id: r.id,
            conversa_id: r.conversa_id,
            papel: r.papel,
            conteudo: r.conteudo,
            status: r.status,
            criada_em: r.criada_em,
            id_cliente: r.id_cliente,
            responde_a: r.responde_a,
        }
    }
}

/// What changed in a conversation, as the professors' room hears it (`conversa_atualizada`,
/// docs/turma.md): never message text, nor the title.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
pub struct Atualizacao {
    pub conversa_id: Uuid,
    /// The student whose conversation it is.
    pub usuario: String,
    pub motivo: Motivo,
    /// An answer streams in it after this change.
    pub gerando: bool,
    #[serde(serialize_with = "rfc3339")]
    pub atualizada_em: DateTime<Utc>,
}

/// Why a `conversa_atualizada` was sent.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Motivo {
    /// The conversation was created (with its first message).
    Criada,
    /// A student's message was stored.
    Mensagem,
    RespostaIniciada,
    /// An answer ended, whatever its status.
    RespostaTerminada,
}

/// A conversation as the class view lists it (`listar_turma`): a `Conversa` and what a
/// teacher sees beside it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, JsonSchema)]
pub struct ResumoConversa {
    #[serde(flatten)]
    pub conversa: Conversa,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nome_usuario: Option<String>,
    pub mensagens: i64,
    pub gerando: bool,
    pub tokens_hoje: i64,
}

impl From<ResumoRow> for ResumoConversa {
    fn from(r: ResumoRow) -> Self {
        Self {
            nome_usuario: r.conversa.usuario_nome.clone(),
            conversa: r.conversa.into(),
            mensagens: r.mensagens,
            gerando: r.gerando,
            tokens_hoje: r.tokens_hoje,
        }
    }
}

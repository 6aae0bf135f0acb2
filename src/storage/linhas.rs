//! The rows as the rest of the server sees them, with text as `String`. The columns that
//! hold students' text are bytes (Postgres `text` cannot hold U+0000; see the migration
//! `textos_em_bytes`): the conversion between those bytes and `String` lives here and nowhere
//! else. What is written is always the text's UTF-8, so reading it back is exact.
use chrono::{DateTime, Utc};
use entity::{
    conversa, mensagem,
    vocabulario::{Autor, CodigoResposta, Status},
};
use uuid::Uuid;

/// A conversation as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversaRow {
    pub id: Uuid,
    pub usuario_id: String,
    pub titulo: String,
    pub criada_em: DateTime<Utc>,
    pub atualizada_em: DateTime<Utc>,
    /// The student's name as their token gave it when the conversation was created.
    pub usuario_nome: Option<String>,
}

/// A message as stored: a student's, or a tutor's answer (`responde_a` set).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MensagemRow {
    pub seq: i64,
    pub id: Uuid,
    pub conversa_id: Uuid,
    pub usuario_id: String,
    pub papel: Autor,
    pub conteudo: String,
    pub status: Status,
    pub id_cliente: Option<String>,
    pub responde_a: Option<Uuid>,
    pub erro: Option<CodigoResposta>,
    pub criada_em: DateTime<Utc>,
    pub atualizada_em: DateTime<Utc>,
}

/// The bytes a text column stores.
pub(super) fn bytes(texto: &str) -> Vec<u8> {
    texto.as_bytes().to_vec()
}

/// A text column read back. Only this server writes these columns, always valid UTF-8; a row
/// written by something else is shown with U+FFFD in place of what is not text, and logged,
/// rather than making the whole conversation unreadable.
fn texto(bytes: Vec<u8>, id: Uuid, coluna: &'static str) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(%id, coluna, error = %e.utf8_error(), "stored text is not UTF-8");
            String::from_utf8_lossy(e.as_bytes()).into_owned()
        }
    }
}

impl From<conversa::Model> for ConversaRow {
    fn from(m: conversa::Model) -> Self {
        Self {
            titulo: texto(m.titulo, m.id, "conversa.titulo"),
            id: m.id,
            usuario_id: m.usuario_id,
            criada_em: m.criada_em,
            atualizada_em: m.atualizada_em,
            usuario_nome: m.usuario_nome,
        }
    }
}

impl From<mensagem::Model> for MensagemRow {
    fn from(m: mensagem::Model) -> Self {
        Self {
            conteudo: texto(m.conteudo, m.id, "mensagem.conteudo"),
            seq: m.seq,
            id: m.id,
            conversa_id: m.conversa_id,
            usuario_id: m.usuario_id,
            papel: m.papel,
            status: m.status,
            id_cliente: m.id_cliente,
            responde_a: m.responde_a,
            erro: m.erro,
            criada_em: m.criada_em,
            atualizada_em: m.atualizada_em,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_with_nul_and_emoji_survives_the_round_trip() {
        let s = "a\0b 😀 ção";
        assert_eq!(texto(bytes(s), Uuid::nil(), "t"), s);
    }

    #[test]
    fn bytes_that_are_not_utf8_read_as_replacement_characters() {
        assert_eq!(
            texto(vec![b'o', 0xff, b'i'], Uuid::nil(), "t"),
            "o\u{fffd}i"
        );
    }
}

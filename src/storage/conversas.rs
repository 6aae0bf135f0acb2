//! Conversation rows.
use entity::{conversa, mensagem};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use super::{ConversaRow, MensagemRow, NovaMensagem, linhas::bytes, mensagens::modelo_aluno};

/// The most conversations `listar_conversas` returns.
const MAX_LISTADAS: u64 = 500;

pub async fn find_conversa(
    db: &DatabaseConnection,
    id: Uuid,
) -> Result<Option<ConversaRow>, DbErr> {
    Ok(conversa::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(Into::into))
}

/// A user's conversations, most recently active first.
pub async fn list_conversas(
    db: &DatabaseConnection,
    usuario_id: &str,
) -> Result<Vec<ConversaRow>, DbErr> {
    let linhas = conversa::Entity::find()
        .filter(conversa::Column::UsuarioId.eq(usuario_id))
        .order_by_desc(conversa::Column::AtualizadaEm)
        .order_by_desc(conversa::Column::Id)
        .limit(MAX_LISTADAS)
        .all(db)
        .await?;
    Ok(linhas.into_iter().map(Into::into).collect())
}

/// A new conversation and its first message, in one short transaction: neither exists
/// without the other.
pub async fn insert_conversa_com_mensagem(
    db: &DatabaseConnection,
    conversa_id: Uuid,
    titulo: String,
    nova: NovaMensagem,
) -> Result<(ConversaRow, MensagemRow), DbErr> {
    let txn = db.begin().await?;
    let conversa = conversa::ActiveModel {
        id: Set(conversa_id),
        usuario_id: Set(nova.usuario_id.clone()),
        titulo: Set(bytes(&titulo)),
        criada_em: Set(nova.criada_em),
        atualizada_em: Set(nova.criada_em),
    };
    let conversa = conversa::Entity::insert(conversa)
        .exec_with_returning(&txn)
        .await?;
    let mensagem = mensagem::Entity::insert(modelo_aluno(conversa_id, nova))
        .exec_with_returning(&txn)
        .await?;
    txn.commit().await?;
    Ok((conversa.into(), mensagem.into()))
}

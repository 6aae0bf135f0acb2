//! Conversation rows.
use entity::conversa;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::ConversaRow;

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

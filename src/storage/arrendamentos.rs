//! Leases on answering a conversation's queue (see the `arrendamento` migration): one row per
//! conversation being answered, naming the process that answers it and until when.
use entity::arrendamento;
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait, OnConflict},
};
use uuid::Uuid;

/// Takes the lease of `conversa_id` for `dono` until `expira_em` (ms since the epoch): free,
/// expired before `agora`, or already `dono`'s. True when `dono` holds it now.
pub async fn tomar_arrendamento(
    db: &DatabaseConnection,
    conversa_id: Uuid,
    dono: &str,
    agora: i64,
    expira_em: i64,
) -> Result<bool, DbErr> {
    let am = arrendamento::ActiveModel {
        conversa_id: Set(conversa_id),
        dono: Set(dono.to_owned()),
        expira_em: Set(expira_em),
    };
    let tabela = arrendamento::Entity;
    let livre = Expr::col((tabela, arrendamento::Column::ExpiraEm))
        .lt(agora)
        .or(Expr::col((tabela, arrendamento::Column::Dono)).eq(dono));
    let conflito = OnConflict::column(arrendamento::Column::ConversaId)
        .update_columns([arrendamento::Column::Dono, arrendamento::Column::ExpiraEm])
        .action_and_where(livre)
        .to_owned();
    match arrendamento::Entity::insert(am)
        .on_conflict(conflito)
        .exec_without_returning(db)
        .await
    {
        Ok(n) => Ok(n == 1),
        Err(DbErr::RecordNotInserted) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Extends every lease `dono` holds to `expira_em`; returns the conversations it still holds
/// (a lease missing from the list was taken over after it expired).
pub async fn renovar_arrendamentos(
    db: &DatabaseConnection,
    dono: &str,
    expira_em: i64,
) -> Result<Vec<Uuid>, DbErr> {
    arrendamento::Entity::update_many()
        .col_expr(arrendamento::Column::ExpiraEm, expira_em.into())
        .filter(arrendamento::Column::Dono.eq(dono))
        .exec(db)
        .await?;
    arrendamento::Entity::find()
        .select_only()
        .column(arrendamento::Column::ConversaId)
        .filter(arrendamento::Column::Dono.eq(dono))
        .into_tuple()
        .all(db)
        .await
}

/// Gives the lease back, if `dono` still holds it.
pub async fn soltar_arrendamento(
    db: &DatabaseConnection,
    conversa_id: Uuid,
    dono: &str,
) -> Result<(), DbErr> {
    arrendamento::Entity::delete_many()
        .filter(arrendamento::Column::ConversaId.eq(conversa_id))
        .filter(arrendamento::Column::Dono.eq(dono))
        .exec(db)
        .await?;
    Ok(())
}

/// Leaves `dono`'s lease expired: any process may take the conversation now.
pub async fn vencer_arrendamento(
    db: &DatabaseConnection,
    conversa_id: Uuid,
    dono: &str,
) -> Result<(), DbErr> {
    arrendamento::Entity::update_many()
        .col_expr(arrendamento::Column::ExpiraEm, 0i64.into())
        .filter(arrendamento::Column::ConversaId.eq(conversa_id))
        .filter(arrendamento::Column::Dono.eq(dono))
        .exec(db)
        .await?;
    Ok(())
}

/// Conversations whose lease expired before `agora`: their process died (or lost the database
/// for longer than a lease).
pub async fn list_arrendamentos_vencidos(
    db: &DatabaseConnection,
    agora: i64,
) -> Result<Vec<Uuid>, DbErr> {
    arrendamento::Entity::find()
        .select_only()
        .column(arrendamento::Column::ConversaId)
        .filter(arrendamento::Column::ExpiraEm.lt(agora))
        .into_tuple()
        .all(db)
        .await
}

/// Every conversation with a lease, expired or not.
pub async fn list_arrendadas(db: &DatabaseConnection) -> Result<Vec<Uuid>, DbErr> {
    arrendamento::Entity::find()
        .select_only()
        .column(arrendamento::Column::ConversaId)
        .into_tuple()
        .all(db)
        .await
}

//! The lease on answering a conversation's queue. With several server processes on one
//! database, the process holding a conversation's row is the only one that answers it; it
//! renews `expira_em` while it works and deletes the row when the queue is empty. A row
//! whose `expira_em` has passed belongs to a process that died: any other may take it.
//! Times are milliseconds since the Unix epoch, by the clock of the process that wrote them.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Arrendamento {
    Table,
    ConversaId,
    Dono,
    ExpiraEm,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Arrendamento::Table)
                    .col(uuid(Arrendamento::ConversaId).primary_key())
                    .col(string(Arrendamento::Dono))
                    .col(big_integer(Arrendamento::ExpiraEm))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_arrendamento_expira_em")
                    .table(Arrendamento::Table)
                    .col(Arrendamento::ExpiraEm)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Arrendamento::Table).to_owned())
            .await
    }
}

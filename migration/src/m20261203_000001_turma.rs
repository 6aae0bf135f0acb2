//! The teacher's side and budgets. `conversa.usuario_nome` keeps the student's name as their
//! token gave it when the conversation was created, so a class view shows names, not ids.
//! `uso_diario` counts the model tokens each student used per calendar day (in the server's
//! `TUTOR_FUSO_HORARIO`), added in the same transaction as each answer's final write; the
//! budget is read from it, so it holds across restarts and processes. The index on
//! `conversa (atualizada_em, id)` pages the cross-user listing by keyset.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Conversa {
    Table,
    Id,
    AtualizadaEm,
    UsuarioNome,
}

#[derive(DeriveIden)]
enum UsoDiario {
    Table,
    UsuarioId,
    Dia,
    Tokens,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Conversa::Table)
                    .add_column(string_len_null(Conversa::UsuarioNome, 255))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_conversa_atualizada_em_id")
                    .table(Conversa::Table)
                    .col(Conversa::AtualizadaEm)
                    .col(Conversa::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UsoDiario::Table)
                    .col(string_len(UsoDiario::UsuarioId, 255))
                    .col(string_len(UsoDiario::Dia, 10))
                    .col(big_integer(UsoDiario::Tokens))
                    .primary_key(
                        Index::create()
                            .col(UsoDiario::UsuarioId)
                            .col(UsoDiario::Dia),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UsoDiario::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_conversa_atualizada_em_id")
                    .table(Conversa::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Conversa::Table)
                    .drop_column(Conversa::UsuarioNome)
                    .to_owned(),
            )
            .await
    }
}

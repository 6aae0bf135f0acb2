//! Conversations and their messages. Foreign keys and indexes are declared inside
//! `create_table`, because SQLite cannot add them to an existing table.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Conversa {
    Table,
    Id,
    UsuarioId,
    Titulo,
    CriadaEm,
    AtualizadaEm,
}

#[derive(DeriveIden)]
enum Mensagem {
    Table,
    Seq,
    Id,
    ConversaId,
    UsuarioId,
    Papel,
    Conteudo,
    Status,
    IdCliente,
    RespondeA,
    Erro,
    CriadaEm,
    AtualizadaEm,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Conversa::Table)
                    .if_not_exists()
                    .col(uuid(Conversa::Id).primary_key())
                    .col(string_len(Conversa::UsuarioId, 255))
                    .col(string_len(Conversa::Titulo, 255))
                    .col(timestamp_with_time_zone(Conversa::CriadaEm))
                    .col(timestamp_with_time_zone(Conversa::AtualizadaEm))
                    .to_owned(),
            )
            .await?;
        // listar_conversas: a user's conversations, most recently active first.
        manager
            .create_index(
                Index::create()
                    .name("idx_conversa_usuario_atualizada")
                    .table(Conversa::Table)
                    .col(Conversa::UsuarioId)
                    .col(Conversa::AtualizadaEm)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Mensagem::Table)
                    .if_not_exists()
                    // `seq` is the conversation order: assigned by the database, so it holds
                    // across processes, unlike timestamps.
                    .col(big_pk_auto(Mensagem::Seq))
                    .col(uuid_uniq(Mensagem::Id))
                    .col(uuid(Mensagem::ConversaId))
                    .col(string_len(Mensagem::UsuarioId, 255))
                    .col(string_len(Mensagem::Papel, 16))
                    .col(text(Mensagem::Conteudo))
                    .col(string_len(Mensagem::Status, 16))
                    .col(string_len_null(Mensagem::IdCliente, 256))
                    .col(uuid_null(Mensagem::RespondeA))
                    .col(string_len_null(Mensagem::Erro, 32))
                    .col(timestamp_with_time_zone(Mensagem::CriadaEm))
                    .col(timestamp_with_time_zone(Mensagem::AtualizadaEm))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_mensagem_conversa")
                            .from(Mensagem::Table, Mensagem::ConversaId)
                            .to(Conversa::Table, Conversa::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // History of a conversation in order.
        manager
            .create_index(
                Index::create()
                    .name("idx_mensagem_conversa_seq")
                    .table(Mensagem::Table)
                    .col(Mensagem::ConversaId)
                    .col(Mensagem::Seq)
                    .to_owned(),
            )
            .await?;
        // Idempotent retries: one message per (user, id_cliente). NULLs are distinct.
        manager
            .create_index(
                Index::create()
                    .name("idx_mensagem_usuario_id_cliente")
                    .table(Mensagem::Table)
                    .col(Mensagem::UsuarioId)
                    .col(Mensagem::IdCliente)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // "Has this student message been answered?" and at most one answer each.
        manager
            .create_index(
                Index::create()
                    .name("idx_mensagem_responde_a")
                    .table(Mensagem::Table)
                    .col(Mensagem::RespondeA)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Crash recovery: find answers left `gerando`.
        manager
            .create_index(
                Index::create()
                    .name("idx_mensagem_status")
                    .table(Mensagem::Table)
                    .col(Mensagem::Status)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Mensagem::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Conversa::Table).to_owned())
            .await
    }
}

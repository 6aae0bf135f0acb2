//! Indexes that hold only the rows their queries look for. Every write of an answer went
//! through all of mensagem's indexes, and three of them mostly held entries nobody looks up:
//! the status of every message (only `gerando` is ever searched), the NULL `id_cliente` of
//! every tutor answer, and the NULL `responde_a` of every student message. Each entry is a
//! b-tree page written to the WAL at each commit; as partial indexes they leave those rows
//! out: 27.3 WAL frames per answered message become 23.9 (BENCHMARKS.md).
//!
//! One transaction. The uniqueness rules are unchanged (NULLs were already distinct). The answers left
//! `gerando` are now found by conversation: `idx_mensagem_gerando` is keyed on `conversa_id`
//! and holds only those rows, so it stays as small as the answers streaming at once.
//! Queries name it by writing `status = 'gerando'` into their SQL
//! (`storage::mensagens::ainda_gerando`).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Mensagem {
    Table,
    ConversaId,
    UsuarioId,
    IdCliente,
    RespondeA,
    Status,
}

const STATUS: &str = "idx_mensagem_status";
const GERANDO: &str = "idx_mensagem_gerando";
const ID_CLIENTE: &str = "idx_mensagem_usuario_id_cliente";
const RESPONDE_A: &str = "idx_mensagem_responde_a";

fn largar(nome: &str) -> IndexDropStatement {
    Index::drop().name(nome).table(Mensagem::Table).to_owned()
}

fn id_cliente(parcial: bool) -> IndexCreateStatement {
    let mut i = Index::create()
        .name(ID_CLIENTE)
        .table(Mensagem::Table)
        .col(Mensagem::UsuarioId)
        .col(Mensagem::IdCliente)
        .unique()
        .to_owned();
    if parcial {
        i.and_where(Expr::col(Mensagem::IdCliente).is_not_null());
    }
    i
}

fn responde_a(parcial: bool) -> IndexCreateStatement {
    let mut i = Index::create()
        .name(RESPONDE_A)
        .table(Mensagem::Table)
        .col(Mensagem::RespondeA)
        .unique()
        .to_owned();
    if parcial {
        i.and_where(Expr::col(Mensagem::RespondeA).is_not_null());
    }
    i
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// All or none: a unique index is dropped before its partial twin is made, and no
    /// moment may lack it. (Without a transaction SQLite also ran each statement on whichever
    /// pooled connection was free, one of which still saw the dropped index.)
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(largar(STATUS)).await?;
        manager
            .create_index(
                Index::create()
                    .name(GERANDO)
                    .table(Mensagem::Table)
                    .col(Mensagem::ConversaId)
                    .and_where(Expr::col(Mensagem::Status).eq("gerando"))
                    .to_owned(),
            )
            .await?;
        manager.drop_index(largar(ID_CLIENTE)).await?;
        manager.create_index(id_cliente(true)).await?;
        manager.drop_index(largar(RESPONDE_A)).await?;
        manager.create_index(responde_a(true)).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(largar(RESPONDE_A)).await?;
        manager.create_index(responde_a(false)).await?;
        manager.drop_index(largar(ID_CLIENTE)).await?;
        manager.create_index(id_cliente(false)).await?;
        manager.drop_index(largar(GERANDO)).await?;
        manager
            .create_index(
                Index::create()
                    .name(STATUS)
                    .table(Mensagem::Table)
                    .col(Mensagem::Status)
                    .to_owned(),
            )
            .await
    }
}

//! Students' text as bytes: `mensagem.conteudo` and `conversa.titulo` (a title is the first
//! words of a message) become `bytea` on Postgres and `blob` on SQLite. Postgres `text` cannot
//! hold U+0000, and the protocol promises text back byte-exact, NUL included. The bytes are
//! the text's UTF-8; existing rows are converted in place.
//!
//! Postgres changes the column's type where it stands. SQLite cannot change a column's type:
//! a new column is filled from the old one, which is dropped, and the new one takes its name
//! (neither column is in an index or a key, so SQLite allows the drop). Everything runs in one
//! transaction on both, so a failure leaves the old schema whole.
use sea_orm_migration::{prelude::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (table, column) pairs that become bytes.
const COLUNAS: [(&str, &str); 2] = [("mensagem", "conteudo"), ("conversa", "titulo")];

fn para_bytes(backend: DbBackend, tabela: &str, coluna: &str) -> Vec<String> {
    match backend {
        DbBackend::Postgres => vec![format!(
            r#"ALTER TABLE "{tabela}" ALTER COLUMN "{coluna}" TYPE bytea USING convert_to("{coluna}", 'UTF8')"#
        )],
        _ => vec![
            format!(
                r#"ALTER TABLE "{tabela}" ADD COLUMN "{coluna}_bytes" blob NOT NULL DEFAULT x''"#
            ),
            format!(r#"UPDATE "{tabela}" SET "{coluna}_bytes" = CAST("{coluna}" AS blob)"#),
            format!(r#"ALTER TABLE "{tabela}" DROP COLUMN "{coluna}""#),
            format!(r#"ALTER TABLE "{tabela}" RENAME COLUMN "{coluna}_bytes" TO "{coluna}""#),
        ],
    }
}

/// Back to text; on Postgres a NUL cannot come back and fails the statement (the rollback
/// keeps the bytes), which is the honest outcome.
fn para_texto(backend: DbBackend, tabela: &str, coluna: &str) -> Vec<String> {
    match backend {
        DbBackend::Postgres => vec![format!(
            r#"ALTER TABLE "{tabela}" ALTER COLUMN "{coluna}" TYPE text USING convert_from("{coluna}", 'UTF8')"#
        )],
        _ => vec![
            format!(
                r#"ALTER TABLE "{tabela}" ADD COLUMN "{coluna}_texto" text NOT NULL DEFAULT ''"#
            ),
            format!(r#"UPDATE "{tabela}" SET "{coluna}_texto" = CAST("{coluna}" AS text)"#),
            format!(r#"ALTER TABLE "{tabela}" DROP COLUMN "{coluna}""#),
            format!(r#"ALTER TABLE "{tabela}" RENAME COLUMN "{coluna}_texto" TO "{coluna}""#),
        ],
    }
}

async fn executar(
    manager: &SchemaManager<'_>,
    sql: fn(DbBackend, &str, &str) -> Vec<String>,
) -> Result<(), DbErr> {
    let backend = manager.get_database_backend();
    let db = manager.get_connection();
    for (tabela, coluna) in COLUNAS {
        for s in sql(backend, tabela, coluna) {
            db.execute_unprepared(&s).await?;
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// SQLite's steps are four statements per column: all or none.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        executar(manager, para_bytes).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        executar(manager, para_texto).await
    }
}

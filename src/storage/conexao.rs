//! Opening the database: SQLite tuned for durability (WAL, `synchronous=FULL`, foreign keys),
//! Postgres as it comes; migrations run by the caller.
use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, TransactionTrait,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

/// `espera`: how long a write waits on a busy SQLite file before failing.
pub async fn conectar(url: &str, espera: Duration) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(espera.max(Duration::from_secs(1)));
    if url.starts_with("sqlite:") {
        // WAL lets readers run beside the writer; FULL makes a message durable before its
        // ack. A few connections so reads do not queue behind one slow write.
        opts.max_connections(4).min_connections(1);
        opts.map_sqlx_sqlite_opts(move |o| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(espera)
        });
    } else {
        opts.max_connections(16);
    }
    Database::connect(opts).await
}

/// True while the database accepts writes: a write statement in a transaction that is
/// rolled back (it takes the write lock on SQLite, and fails on a read-only file or replica).
pub async fn aceita_escritas(db: &DatabaseConnection) -> bool {
    let tentativa = async {
        let txn = db.begin().await?;
        txn.execute_unprepared("UPDATE conversa SET titulo = titulo WHERE 1 = 0")
            .await?;
        txn.rollback().await
    };
    match tentativa.await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "database does not accept writes");
            false
        }
    }
}

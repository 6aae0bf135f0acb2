//! Opening the database and bringing its schema up to date: SQLite tuned for durability (WAL,
//! `synchronous=FULL`, foreign keys); Postgres with a bound on lock waits, and migrations
//! under an advisory lock so that processes starting together migrate one at a time.
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr,
    TransactionTrait,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

/// How long a starting process waits for another one's migrations (and a migration for the
/// table locks it needs while other processes serve).
const ESPERA_MIGRACOES: Duration = Duration::from_secs(120);

/// `espera`: how long a statement waits on a busy database before failing: SQLite's busy
/// timeout on a locked file, Postgres' `lock_timeout` on a locked table or row (without it a
/// write behind a lock would wait forever, and its send would never be acked).
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
        let espera_ms = format!("{}ms", espera.as_millis().max(1));
        opts.map_sqlx_postgres_opts(move |o| o.options([("lock_timeout", espera_ms.as_str())]));
    }
    Database::connect(opts).await
}

/// Runs the migrations still pending. On Postgres, on one dedicated connection that holds a
/// session advisory lock meanwhile: several processes starting at once against a new
/// database would otherwise all create the same tables and fail. The lock is per database
/// and ends with the session, so a process that dies while migrating frees it.
pub async fn migrar(db: &DatabaseConnection, url: &str) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Migrator::up(db, None).await;
    }
    let mut opts = ConnectOptions::new(url.to_owned());
    let espera_ms = format!("{}ms", ESPERA_MIGRACOES.as_millis());
    opts.sqlx_logging(false)
        .max_connections(1)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(ESPERA_MIGRACOES)
        .map_sqlx_postgres_opts(move |o| o.options([("lock_timeout", espera_ms.as_str())]));
    let dedicada = Database::connect(opts).await?;
    let resultado = async {
        dedicada
            .execute_unprepared("SELECT pg_advisory_lock(hashtext('tutor.migracoes'))")
            .await?;
        let feito = Migrator::up(&dedicada, None).await;
        let solto = dedicada
            .execute_unprepared("SELECT pg_advisory_unlock(hashtext('tutor.migracoes'))")
            .await;
        feito.and(solto.map(|_| ()))
    }
    .await;
    // Closing the session also frees the lock, should the unlock above have failed.
    if let Err(e) = dedicada.close().await {
        tracing::warn!(error = %e, "closing the migrations connection");
    }
    resultado
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

//! The database a test server gets. By default a SQLite file in the test's own directory;
//! with `TUTOR_TEST_POSTGRES_URL` set to an admin URL of a PostgreSQL server
//! (`scripts/postgres.sh` starts a throwaway one), a fresh database of its own on that server,
//! `CREATE DATABASE t_<uuid>`, so tests stay as independent as with a file each.
//! Also what "another process holds the write lock" means on each.
use std::{path::Path, time::Duration};

use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, TransactionTrait,
};

/// The admin URL of the Postgres server the suite runs on, if it runs on one.
pub fn postgres_admin() -> Option<String> {
    std::env::var("TUTOR_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

pub fn e_postgres(db_url: &str) -> bool {
    db_url.starts_with("postgres:") || db_url.starts_with("postgresql:")
}

/// What the test output says about where it ran.
pub fn nome() -> &'static str {
    if postgres_admin().is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    }
}

/// `admin` with its database replaced by `banco` (query string kept).
fn com_banco(admin: &str, banco: &str) -> String {
    let (base, consulta) = match admin.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin, None),
    };
    let autoridade = base.find("://").map_or(0, |i| i + 3);
    let raiz = match base[autoridade..].find('/') {
        Some(i) => &base[..autoridade + i],
        None => base,
    };
    match consulta {
        Some(q) => format!("{raiz}/{banco}?{q}"),
        None => format!("{raiz}/{banco}"),
    }
}

/// A new, empty database for one test server: a SQLite file in `dir`, or a fresh Postgres
/// database.
pub async fn novo(dir: &Path) -> String {
    let Some(admin) = postgres_admin() else {
        return format!("sqlite://{}/tutor.db?mode=rwc", dir.display());
    };
    let banco = format!("t_{}", uuid::Uuid::new_v4().simple());
    let conexao = tokio::time::timeout(Duration::from_secs(10), Database::connect(&admin))
        .await
        .expect("the Postgres admin connection in time")
        .unwrap_or_else(|e| panic!("cannot connect to TUTOR_TEST_POSTGRES_URL: {e}"));
    tokio::time::timeout(
        Duration::from_secs(30),
        conexao.execute_unprepared(&format!("CREATE DATABASE {banco}")),
    )
    .await
    .expect("CREATE DATABASE in time")
    .expect("CREATE DATABASE");
    let _ = conexao.close().await;
    com_banco(&admin, &banco)
}

/// Another process holding the database's write lock, in an open transaction, until
/// `soltar`. On SQLite a write takes the file's one write lock; on Postgres, which locks rows
/// and tables instead, `LOCK TABLE … IN ACCESS EXCLUSIVE MODE` on both tables is what stops
/// every write and read of the server, as a long migration or a stuck administrator would.
pub struct Trava {
    transacao: DatabaseTransaction,
    _conexao: DatabaseConnection,
}

pub async fn travar_escritas(db_url: &str) -> Trava {
    let conexao = Database::connect(db_url).await.expect("connect");
    let transacao = conexao.begin().await.expect("begin");
    let sql = if e_postgres(db_url) {
        "LOCK TABLE conversa, mensagem IN ACCESS EXCLUSIVE MODE"
    } else {
        "UPDATE conversa SET titulo = titulo"
    };
    tokio::time::timeout(Duration::from_secs(10), transacao.execute_unprepared(sql))
        .await
        .expect("the lock in time")
        .expect("take the write lock");
    Trava {
        transacao,
        _conexao: conexao,
    }
}

impl Trava {
    pub async fn soltar(self) {
        self.transacao.rollback().await.expect("release");
    }
}

/// On Postgres, makes the commit of every transaction that stores a message containing
/// `marca` take `ms` longer: a deferred constraint trigger, which runs at `COMMIT`, sleeps.
/// A disk or a replica that is slow to confirm, on demand. False on SQLite, which has no
/// such hook for another process (the writer's own tests slow its commit from inside).
pub async fn retardar_commits(db_url: &str, marca: &str, ms: u64) -> bool {
    if !e_postgres(db_url) {
        return false;
    }
    let conexao = Database::connect(db_url).await.expect("connect");
    let funcao = format!(
        "CREATE FUNCTION commit_lento() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         IF position('{marca}' in convert_from(NEW.conteudo, 'UTF8')) > 0 THEN \
         PERFORM pg_sleep({}); END IF; RETURN NULL; END $$",
        ms as f64 / 1000.0
    );
    conexao.execute_unprepared(&funcao).await.expect("function");
    conexao
        .execute_unprepared(
            "CREATE CONSTRAINT TRIGGER commit_lento AFTER INSERT ON mensagem \
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION commit_lento()",
        )
        .await
        .expect("trigger");
    let _ = conexao.close().await;
    true
}

#[test]
fn the_database_goes_in_the_path_and_the_query_stays() {
    assert_eq!(
        com_banco("postgres://postgres@127.0.0.1:5432/postgres", "t_1"),
        "postgres://postgres@127.0.0.1:5432/t_1"
    );
    assert_eq!(
        com_banco("postgres://u:p@h:1/postgres?sslmode=disable", "t_1"),
        "postgres://u:p@h:1/t_1?sslmode=disable"
    );
    assert_eq!(com_banco("postgres://h:1", "t_1"), "postgres://h:1/t_1");
}

//! The writer for a SQLite file: its own `rusqlite` connection on a thread of its own. It
//! wakes once per batch (not once per statement, as a pooled connection behind a worker
//! thread does), runs the batch's statements from a cache of prepared ones, and commits
//! with one fsync. It opens the file with the same settings as the pool (WAL,
//! `synchronous=FULL`, foreign keys) and writes values exactly as sqlx does, so either side
//! reads what the other wrote.
use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use entity::mensagem;
use rusqlite::{Connection, OpenFlags, Row, types::Value as V};
use sea_orm::{ActiveEnum, DbBackend, Statement, Value};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{
    ErroEscrita, Executor, Falha, Feito, MAX_LOTE, Pedido, aplicar_lote, avisar_aplicadas,
    confirmavel, descartar_vencidas, limite, nada_gravado, responder, vencido,
};
use crate::{metricas::Metricas, storage::MensagemRow};

/// The file of a `sqlite:` URL, or `None` for an in-memory database (which only the pool's
/// connections can share).
pub(super) fn caminho(url: &str) -> Option<PathBuf> {
    let resto = url.strip_prefix("sqlite:")?;
    let resto = resto.strip_prefix("//").unwrap_or(resto);
    let (arquivo, consulta) = resto.split_once('?').unwrap_or((resto, ""));
    let memoria = consulta.split('&').any(|p| p == "mode=memory");
    if arquivo.is_empty() || arquivo == ":memory:" || memoria {
        return None;
    }
    Some(PathBuf::from(arquivo))
}

pub(super) fn iniciar(
    caminho: &Path,
    espera: Duration,
    rx: mpsc::Receiver<Pedido>,
    metricas: Arc<Metricas>,
) -> Result<(), String> {
    let conexao = abrir(caminho, espera)
        .map_err(|e| format!("opening {} to write: {e}", caminho.display()))?;
    lancar(conexao, espera, rx, metricas)
}

fn abrir(caminho: &Path, espera: Duration) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let c = Connection::open_with_flags(caminho, flags)?;
    c.busy_timeout(espera)?;
    c.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
    c.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    c.set_prepared_statement_cache_capacity(64);
    Ok(c)
}

fn lancar(
    conexao: Connection,
    espera: Duration,
    rx: mpsc::Receiver<Pedido>,
    metricas: Arc<Metricas>,
) -> Result<(), String> {
    std::thread::Builder::new()
        .name("tutor-escrita".into())
        .spawn(move || laco(conexao, rx, espera, &metricas))
        .map_err(|e| format!("starting the writer thread: {e}"))?;
    Ok(())
}

fn laco(
    conexao: Connection,
    mut rx: mpsc::Receiver<Pedido>,
    espera: Duration,
    metricas: &Metricas,
) {
    let mut lote = Vec::with_capacity(MAX_LOTE);
    while let Some(p) = rx.blocking_recv() {
        lote.push(p);
        while lote.len() < MAX_LOTE
            && let Ok(p) = rx.try_recv()
        {
            lote.push(p);
        }
        loop {
            descartar_vencidas(&mut lote);
            if lote.is_empty() {
                break;
            }
            let inicio = Instant::now();
            if let Some(resultados) = gravar(&conexao, &mut lote, espera) {
                metricas.escrita_db(inicio.elapsed(), lote.len());
                responder(std::mem::take(&mut lote), resultados);
                break;
            }
        }
    }
}

/// `None` when the batch's earliest deadline came before its commit (the write lock was not
/// had in time, or a sender gave up): nothing was written, and the caller tries again
/// without what expired.
fn gravar(
    conexao: &Connection,
    lote: &mut [Pedido],
    espera: Duration,
) -> Option<Vec<Result<Feito, ErroEscrita>>> {
    let escritas = lote.len();
    let todos = |e: rusqlite::Error| {
        tracing::warn!(error = %e, writes = escritas, "a batch of writes failed");
        (0..escritas)
            .map(|_| Err(ErroEscrita::Banco(e.to_string())))
            .collect()
    };
    // IMMEDIATE takes the write lock now (waiting up to the busy timeout), rather than at
    // the first write, where a lock upgrade can fail at once. Once it is held nothing else
    // waits on a lock, so the deadline bounds this wait only.
    let ate_o_prazo = limite(lote).map(|t| t.saturating_duration_since(Instant::now()));
    let curta = ate_o_prazo.is_some_and(|d| d < espera);
    let _ = conexao.busy_timeout(ate_o_prazo.map_or(espera, |d| d.min(espera)));
    if let Err(e) = conexao.execute_batch("BEGIN IMMEDIATE") {
        let ocupado = e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy);
        if curta && ocupado {
            return None;
        }
        return Some(todos(e));
    }
    // SQLite's busy handler sleeps in steps of up to 100 ms, so the lock may come past the
    // deadline, when the senders have been told `indisponivel`: nothing may be stored for
    // them then.
    if vencido(lote) {
        desfazer(conexao);
        return None;
    }
    // The executor never waits on anything: its futures finish at their first poll.
    let resultados = futures::executor::block_on(aplicar_lote(&mut Rusqlite(conexao), lote));
    if nada_gravado(&resultados) {
        desfazer(conexao);
        return Some(resultados);
    }
    // Past this point the senders wait for the commit, however long it takes.
    if !confirmavel(lote) {
        desfazer(conexao);
        return None;
    }
    // The write lock is held and the statements ran: only an I/O error can undo them now.
    avisar_aplicadas(lote, &resultados);
    match conexao.execute_batch("COMMIT") {
        Ok(()) => Some(resultados),
        Err(e) => {
            let _ = conexao.execute_batch("ROLLBACK");
            Some(todos(e))
        }
    }
}

fn desfazer(conexao: &Connection) {
    if let Err(e) = conexao.execute_batch("ROLLBACK") {
        tracing::warn!(error = %e, "rolling back a batch");
    }
}

struct Rusqlite<'a>(&'a Connection);

impl From<rusqlite::Error> for Falha {
    fn from(e: rusqlite::Error) -> Self {
        let unica = e.sqlite_error().is_some_and(|f| {
            f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        });
        Self {
            unica,
            texto: e.to_string(),
        }
    }
}

fn valores(s: Statement) -> Result<(String, Vec<V>), Falha> {
    let vs = s.values.map(|v| v.0).unwrap_or_default();
    let vs = vs.into_iter().map(valor).collect::<Result<_, _>>()?;
    Ok((s.sql, vs))
}

/// A value as sqlx binds it for SQLite: UUIDs as 16-byte blobs, instants as RFC 3339 text.
fn valor(v: Value) -> Result<V, Falha> {
    fn ou_nulo<T>(v: Option<T>, f: impl FnOnce(T) -> V) -> V {
        v.map_or(V::Null, f)
    }
    Ok(match v {
        Value::Bool(b) => ou_nulo(b, |b| V::Integer(i64::from(b))),
        Value::TinyInt(i) => ou_nulo(i, |i| V::Integer(i.into())),
        Value::SmallInt(i) => ou_nulo(i, |i| V::Integer(i.into())),
        Value::Int(i) => ou_nulo(i, |i| V::Integer(i.into())),
        Value::BigInt(i) => ou_nulo(i, V::Integer),
        Value::TinyUnsigned(i) => ou_nulo(i, |i| V::Integer(i.into())),
        Value::SmallUnsigned(i) => ou_nulo(i, |i| V::Integer(i.into())),
        Value::Unsigned(i) => ou_nulo(i, |i| V::Integer(i.into())),
        Value::Double(d) => ou_nulo(d, V::Real),
        Value::String(s) => ou_nulo(s, V::Text),
        Value::Bytes(b) => ou_nulo(b, V::Blob),
        Value::ChronoDateTimeUtc(t) => ou_nulo(t, |t| {
            V::Text(t.to_rfc3339_opts(SecondsFormat::AutoSi, false))
        }),
        Value::Uuid(u) => ou_nulo(u, |u| V::Blob(u.as_bytes().to_vec())),
        outro => {
            return Err(Falha {
                unica: false,
                texto: format!("the SQLite writer cannot bind {outro:?}"),
            });
        }
    })
}

impl Executor for Rusqlite<'_> {
    fn backend(&self) -> DbBackend {
        DbBackend::Sqlite
    }

    async fn executar(&mut self, s: Statement) -> Result<u64, Falha> {
        let (sql, vs) = valores(s)?;
        let n = self
            .0
            .prepare_cached(&sql)?
            .execute(rusqlite::params_from_iter(vs))?;
        Ok(n as u64)
    }

    async fn inteiro(&mut self, s: Statement) -> Result<Option<i64>, Falha> {
        let (sql, vs) = valores(s)?;
        let mut st = self.0.prepare_cached(&sql)?;
        let mut linhas = st.query(rusqlite::params_from_iter(vs))?;
        match linhas.next()? {
            Some(r) => Ok(Some(r.get(0)?)),
            None => Ok(None),
        }
    }

    async fn mensagem(&mut self, s: Statement) -> Result<Option<MensagemRow>, Falha> {
        let (sql, vs) = valores(s)?;
        let mut st = self.0.prepare_cached(&sql)?;
        let mut linhas = st.query(rusqlite::params_from_iter(vs))?;
        match linhas.next()? {
            Some(r) => Ok(Some(ler_mensagem(r)?.into())),
            None => Ok(None),
        }
    }

    async fn pares(&mut self, s: Statement) -> Result<Vec<(Uuid, i64)>, Falha> {
        let (sql, vs) = valores(s)?;
        let mut st = self.0.prepare_cached(&sql)?;
        let mut linhas = st.query(rusqlite::params_from_iter(vs))?;
        let mut pares = Vec::new();
        while let Some(r) = linhas.next()? {
            pares.push((uuid(r.get(0)?)?, r.get(1)?));
        }
        Ok(pares)
    }

    async fn mensagens(&mut self, s: Statement) -> Result<Vec<MensagemRow>, Falha> {
        let (sql, vs) = valores(s)?;
        let mut st = self.0.prepare_cached(&sql)?;
        let mut linhas = st.query(rusqlite::params_from_iter(vs))?;
        let mut todas = Vec::new();
        while let Some(r) = linhas.next()? {
            todas.push(ler_mensagem(r)?.into());
        }
        Ok(todas)
    }

    async fn bruto(&mut self, sql: &'static str) -> Result<(), Falha> {
        self.0.prepare_cached(sql)?.execute([])?;
        Ok(())
    }
}

fn ler_mensagem(r: &Row<'_>) -> Result<mensagem::Model, Falha> {
    Ok(mensagem::Model {
        seq: r.get("seq")?,
        id: uuid(r.get("id")?)?,
        conversa_id: uuid(r.get("conversa_id")?)?,
        usuario_id: r.get("usuario_id")?,
        papel: palavra(r.get("papel")?)?,
        conteudo: r.get("conteudo")?,
        status: palavra(r.get("status")?)?,
        id_cliente: r.get("id_cliente")?,
        responde_a: r
            .get::<_, Option<Vec<u8>>>("responde_a")?
            .map(uuid)
            .transpose()?,
        erro: r
            .get::<_, Option<String>>("erro")?
            .map(palavra)
            .transpose()?,
        criada_em: instante(&r.get::<_, String>("criada_em")?)?,
        atualizada_em: instante(&r.get::<_, String>("atualizada_em")?)?,
    })
}

/// One of the words a column holds (`vocabulario`), read back as its type.
fn palavra<T: ActiveEnum<Value = String>>(texto: String) -> Result<T, Falha> {
    T::try_from_value(&texto).map_err(|e| Falha {
        unica: false,
        texto: e.to_string(),
    })
}

fn uuid(b: Vec<u8>) -> Result<Uuid, Falha> {
    Uuid::from_slice(&b).map_err(|e| Falha {
        unica: false,
        texto: format!("a stored id is not a UUID: {e}"),
    })
}

/// An instant as sqlx writes it (RFC 3339), or as SQLite's own functions do.
fn instante(s: &str) -> Result<DateTime<Utc>, Falha> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(s, "%F %T%.f")
        .map(|t| t.and_utc())
        .map_err(|e| Falha {
            unica: false,
            texto: format!("a stored instant is unreadable ({s}): {e}"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{
        self, ConversaRow, NovaMensagem,
        escrita::{Destino, Escritor, Prazo},
    };

    /// A migrated database file, and the writer's connection to it.
    async fn banco(pasta: &tempfile::TempDir) -> (PathBuf, Connection) {
        let arquivo = pasta.path().join("t.db");
        let url = format!("sqlite://{}?mode=rwc", arquivo.display());
        let db = storage::conectar(&url, Duration::from_secs(5))
            .await
            .expect("connects");
        storage::migrar(&db, &url).await.expect("migrates");
        let conexao = abrir(&arquivo, Duration::from_secs(5)).expect("opens");
        (arquivo, conexao)
    }

    fn escritor(conexao: Connection) -> Escritor {
        let (tx, rx) = mpsc::channel(16);
        lancar(
            conexao,
            Duration::from_secs(5),
            rx,
            Arc::new(Metricas::new()),
        )
        .expect("starts");
        Escritor { tx }
    }

    /// A student's message `texto` in a new conversation, written in a task of its own.
    fn gravar(
        escritor: Escritor,
        texto: &str,
        prazo: &Prazo,
    ) -> tokio::task::JoinHandle<Result<(Option<ConversaRow>, MensagemRow), ErroEscrita>> {
        let destino = Destino::Nova {
            id: Uuid::now_v7(),
            titulo: texto.into(),
            nome: None,
        };
        let nova = NovaMensagem {
            id: Uuid::now_v7(),
            usuario_id: "aluno".into(),
            conteudo: texto.into(),
            id_cliente: None,
            criada_em: Utc::now(),
        };
        let prazo = prazo.clone();
        tokio::spawn(async move {
            escritor
                .gravar_aluno(destino, nova, Some(prazo), None)
                .await
        })
    }

    fn guardadas(arquivo: &Path, texto: &str) -> i64 {
        let c = Connection::open(arquivo).expect("opens");
        c.query_row(
            // Stored as bytes (see `entity::mensagem`).
            "SELECT count(*) FROM mensagem WHERE conteudo = ?1",
            [texto.as_bytes()],
            |r| r.get(0),
        )
        .expect("counts")
    }

    #[tokio::test]
    async fn a_send_whose_commit_runs_past_its_deadline_is_waited_for_and_stored() {
        let pasta = tempfile::tempdir().expect("tempdir");
        let (arquivo, conexao) = banco(&pasta).await;
        // The commit begins, says so, and takes longer than the sender's deadline.
        let (comecou, mut no_commit) = mpsc::unbounded_channel();
        conexao
            .commit_hook(Some(move || {
                let _ = comecou.send(());
                std::thread::sleep(Duration::from_millis(400));
                false
            }))
            .expect("hook");
        let escritor = escritor(conexao);
        let prazo = Prazo::new(Instant::now() + Duration::from_millis(100));
        let gravacao = gravar(escritor, "tarde", &prazo);
        no_commit.recv().await.expect("the commit begins");
        tokio::time::sleep_until((prazo.ate() + Duration::from_millis(50)).into()).await;
        assert!(
            !prazo.desistir(),
            "at the deadline the commit is under way: the sender must wait for it"
        );
        let gravada = gravacao.await.expect("joins");
        assert!(gravada.is_ok(), "stored: {gravada:?}");
        assert_eq!(guardadas(&arquivo, "tarde"), 1);
    }

    #[tokio::test]
    async fn a_send_whose_sender_gave_up_is_not_stored_when_the_lock_comes() {
        let pasta = tempfile::tempdir().expect("tempdir");
        let (arquivo, conexao) = banco(&pasta).await;
        let escritor = escritor(conexao);
        // Someone else holds the write lock while the sender gives up.
        let outro = Connection::open(&arquivo).expect("opens");
        outro.execute_batch("BEGIN IMMEDIATE").expect("locks");
        let prazo = Prazo::new(Instant::now() + Duration::from_secs(30));
        let gravacao = gravar(escritor, "desistida", &prazo);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(prazo.desistir(), "nothing was committed yet");
        outro.execute_batch("COMMIT").expect("unlocks");
        let gravada = gravacao.await.expect("joins");
        assert!(
            matches!(gravada, Err(ErroEscrita::Expirada)),
            "refused: {gravada:?}"
        );
        assert_eq!(
            guardadas(&arquivo, "desistida"),
            0,
            "a send its sender gave up on must not be stored"
        );
    }

    #[test]
    fn only_a_file_gets_a_writer_of_its_own() {
        assert_eq!(
            caminho("sqlite:///tmp/x/tutor.db?mode=rwc"),
            Some(PathBuf::from("/tmp/x/tutor.db"))
        );
        assert_eq!(
            caminho("sqlite://tutor.db"),
            Some(PathBuf::from("tutor.db"))
        );
        assert_eq!(caminho("sqlite::memory:"), None);
        assert_eq!(caminho("sqlite://t.db?mode=memory"), None);
        assert_eq!(caminho("postgres://u@h/db"), None);
    }

    #[test]
    fn instants_are_written_and_read_as_sqlx_does() {
        let t = Utc::now();
        let V::Text(s) = valor(Value::ChronoDateTimeUtc(Some(t))).expect("binds") else {
            panic!("an instant is text");
        };
        assert_eq!(instante(&s).expect("reads"), t);
        assert_eq!(s, t.to_rfc3339_opts(SecondsFormat::AutoSi, false));
    }
}

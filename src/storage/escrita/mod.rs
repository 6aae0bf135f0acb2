//! The write path: one writer per process, fed by a channel, that commits many writes in one
//! transaction (group commit). A student's message is acked only after its batch committed,
//! so the promise is unchanged (durable before the ack), but a classroom sending at once
//! costs one fsync per batch instead of one per message.
//!
//! Every write of the hot path goes through here: a student's message (with its new
//! conversation), the start of an answer, its checkpoints and its final write. Each write in
//! a batch runs under its own savepoint, so one that fails (a retried `id_cliente` hitting its
//! unique index) leaves the others of its batch to commit.
//!
//! The statements are built once from the sea-orm entities (`operacoes.rs`) and run by one
//! of two executors: file SQLite through `rusqlite` on a thread of its own (one hand-off per
//! batch, prepared statements cached), anything else (Postgres) through sea-orm on the pool.
mod juntas;
mod operacoes;
mod prazo;
mod sea;
mod sqlite;

pub use prazo::Prazo;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DbBackend, Statement};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::{CodigoResposta, ConversaRow, MensagemRow, NovaMensagem, Status};
use crate::metricas::Metricas;

/// Writes waiting for the writer before senders wait for room: a bound on memory, far above
/// what a batch takes.
const FILA: usize = 16_384;
/// The most writes in one transaction: a bound on how long one commit holds the lock.
const MAX_LOTE: usize = 512;

/// Why a write was not stored.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ErroEscrita {
    /// The user already stored a message with this `id_cliente` (a retry).
    #[error("id_cliente already stored")]
    IdClienteRepetido,
    /// Its deadline passed before the writer got to it; nothing was written.
    #[error("deadline passed before the write")]
    Expirada,
    /// The database failed (or the writer is gone); nothing of it was written.
    #[error("database: {0}")]
    Banco(String),
}

impl From<sea_orm::DbErr> for ErroEscrita {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::Banco(e.to_string())
    }
}

/// Where a student's message goes.
#[derive(Debug, Clone)]
pub enum Destino {
    Existente(Uuid),
    /// A new conversation, created in the same write.
    Nova {
        id: Uuid,
        titulo: String,
        /// The student's name from their token, shown in the class view.
        nome: Option<String>,
    },
}

/// Model tokens to add to a student's use of one day (`uso_diario`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uso {
    pub usuario_id: String,
    /// The calendar day, `AAAA-MM-DD`, in the server's time zone.
    pub dia: String,
    pub tokens: i64,
}

/// The end of an answer.
#[derive(Debug, Clone)]
pub struct FimResposta {
    pub id: Uuid,
    pub conteudo: String,
    pub status: Status,
    pub erro: Option<CodigoResposta>,
    pub agora: DateTime<Utc>,
    /// What the answer cost, added to the student's day in the same transaction: only when
    /// the answer is ended by this write (an answer ended elsewhere was counted there).
    pub uso: Option<Uso>,
}

/// One write as the writer takes it.
#[derive(Debug)]
enum Escrita {
    Aluno {
        destino: Destino,
        nova: NovaMensagem,
    },
    Resposta {
        pergunta: MensagemRow,
        id: Uuid,
        agora: DateTime<Utc>,
    },
    Parcial {
        id: Uuid,
        conteudo: String,
    },
    Final(FimResposta),
}

/// What a write gave back.
#[derive(Debug)]
enum Feito {
    Aluno(Option<ConversaRow>, MensagemRow),
    Resposta(MensagemRow),
    Parcial,
    Final(Option<MensagemRow>),
}

struct Pedido {
    escrita: Escrita,
    /// A student's message: its sender gives up at this deadline unless its commit began.
    prazo: Option<Prazo>,
    resposta: oneshot::Sender<Result<Feito, ErroEscrita>>,
    /// A student's message: told its row once its statements ran and only the commit is
    /// left (`Escritor::gravar_aluno`).
    aplicada: Option<oneshot::Sender<MensagemRow>>,
}

/// Why one statement failed, as far as the writer needs to know.
#[derive(Debug)]
struct Falha {
    /// A unique index refused it.
    unica: bool,
    texto: String,
}

impl From<sea_orm::DbErr> for Falha {
    fn from(e: sea_orm::DbErr) -> Self {
        Self {
            unica: matches!(
                e.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ),
            texto: e.to_string(),
        }
    }
}

/// A statement that could not be built (a column count that does not match).
impl From<sea_orm::sea_query::error::Error> for Falha {
    fn from(e: sea_orm::sea_query::error::Error) -> Self {
        Self {
            unica: false,
            texto: e.to_string(),
        }
    }
}

/// What runs the statements of a batch: inside a transaction that the caller opened.
trait Executor {
    fn backend(&self) -> DbBackend;
    /// Runs a statement; the rows it changed.
    async fn executar(&mut self, s: Statement) -> Result<u64, Falha>;
    /// The first column of the first row (an `INSERT … RETURNING seq`).
    async fn inteiro(&mut self, s: Statement) -> Result<Option<i64>, Falha>;
    /// A message row (an `UPDATE … RETURNING *`).
    async fn mensagem(&mut self, s: Statement) -> Result<Option<MensagemRow>, Falha>;
    /// Every row's id and number (an `INSERT` of many rows `… RETURNING id, seq`).
    async fn pares(&mut self, s: Statement) -> Result<Vec<(Uuid, i64)>, Falha>;
    /// Every message row (an `UPDATE` of many rows `… RETURNING` its columns).
    async fn mensagens(&mut self, s: Statement) -> Result<Vec<MensagemRow>, Falha>;
    /// Savepoints.
    async fn bruto(&mut self, sql: &'static str) -> Result<(), Falha>;
}

/// Runs a batch inside an open transaction: each write under its own savepoint, so a failed
/// one is undone alone. The results are only good once the caller's commit succeeds; when
/// all failed the caller rolls back instead (`nada_gravado`).
async fn aplicar_lote<E: Executor>(e: &mut E, lote: &[Pedido]) -> Vec<Result<Feito, ErroEscrita>> {
    if let [p] = lote {
        // Alone in its transaction, a failed write is undone by the rollback that follows
        // (`nada_gravado`): no savepoint needed.
        let r = operacoes::aplicar(e, &p.escrita).await;
        return vec![r.map_err(|f| erro(&p.escrita, f))];
    }
    let mut resultados = Vec::with_capacity(lote.len());
    for p in lote {
        let r = match e.bruto("SAVEPOINT escrita").await {
            Err(f) => Err(f),
            Ok(()) => {
                let r = operacoes::aplicar(e, &p.escrita).await;
                let fim = if r.is_ok() {
                    e.bruto("RELEASE escrita").await
                } else {
                    match e.bruto("ROLLBACK TO escrita").await {
                        Ok(()) => e.bruto("RELEASE escrita").await,
                        Err(f) => Err(f),
                    }
                };
                fim.and(r)
            }
        };
        resultados.push(r.map_err(|f| erro(&p.escrita, f)));
    }
    resultados
}

/// A batch with no savepoints, for a database where each statement is a round trip
/// (Postgres), in as few statements as its writes allow (`juntas`): `None` when one fails.
/// The caller then rolls the transaction back and writes the batch again with
/// `aplicar_lote`, so a retried `id_cliente` still fails nobody else, at the price of
/// writing that batch twice.
async fn aplicar_sem_savepoints<E: Executor>(
    e: &mut E,
    lote: &[Pedido],
) -> Option<Vec<Result<Feito, ErroEscrita>>> {
    let escritas: Vec<&Escrita> = lote.iter().map(|p| &p.escrita).collect();
    let feitos = juntas::aplicar(e, &escritas).await.ok()?;
    Some(feitos.into_iter().map(Ok).collect())
}

/// Before the commit: the senders that asked hear that their message's statements ran.
fn avisar_aplicadas(lote: &mut [Pedido], resultados: &[Result<Feito, ErroEscrita>]) {
    for (p, r) in lote.iter_mut().zip(resultados) {
        if let (Some(aviso), Ok(Feito::Aluno(_, m))) = (p.aplicada.take(), r) {
            let _ = aviso.send(m.clone());
        }
    }
}

fn erro(escrita: &Escrita, f: Falha) -> ErroEscrita {
    match (escrita, f.unica) {
        (Escrita::Aluno { .. }, true) => ErroEscrita::IdClienteRepetido,
        (_, _) => ErroEscrita::Banco(f.texto),
    }
}

/// Every write of the batch failed: the transaction is rolled back rather than committed
/// (a lone write has no savepoint, and may have failed halfway).
fn nada_gravado(resultados: &[Result<Feito, ErroEscrita>]) -> bool {
    resultados.iter().all(Result::is_err)
}

/// Leaves out of a batch the writes nobody waits for any more and those whose deadline
/// passed or whose sender gave up (answered `Expirada` at once): none is written.
fn descartar_vencidas(lote: &mut Vec<Pedido>) {
    let agora = Instant::now();
    let em_tempo = |t: &Prazo| t.ate() > agora && !t.desistiu();
    let (manter, fora): (Vec<Pedido>, Vec<Pedido>) = std::mem::take(lote)
        .into_iter()
        .partition(|p| !p.resposta.is_closed() && p.prazo.as_ref().is_none_or(em_tempo));
    *lote = manter;
    for p in fora {
        let _ = p.resposta.send(Err(ErroEscrita::Expirada));
    }
}

/// The earliest deadline in a batch: past it, a sender may have given up (and said
/// `indisponivel`), so the writer does not wait for a lock beyond it, gives the batch up,
/// leaves out what expired and writes the rest again. `confirmavel` is what makes this exact.
fn limite(lote: &[Pedido]) -> Option<Instant> {
    lote.iter()
        .filter_map(|p| p.prazo.as_ref().map(Prazo::ate))
        .min()
}

/// Just before a commit: true when the batch may commit, its earliest deadline not passed
/// and every sender in it agreed to wait for the commit. False when one may have given up
/// (it says `indisponivel`): the writer rolls back and writes the rest again without it.
fn confirmavel(lote: &[Pedido]) -> bool {
    !vencido(lote)
        && lote
            .iter()
            .all(|p| p.prazo.as_ref().is_none_or(Prazo::firmar))
}

/// The batch's earliest deadline has passed.
fn vencido(lote: &[Pedido]) -> bool {
    limite(lote).is_some_and(|t| Instant::now() >= t)
}

fn responder(lote: Vec<Pedido>, resultados: Vec<Result<Feito, ErroEscrita>>) {
    for (p, r) in lote.into_iter().zip(resultados) {
        // A sender that gave up in the meantime is not waiting for it.
        let _ = p.resposta.send(r);
    }
}

/// The handle the service and the worker write through. Cheap to clone.
#[derive(Clone)]
pub struct Escritor {
    tx: mpsc::Sender<Pedido>,
}

impl Escritor {
    /// Starts the writer for `url`: its own `rusqlite` connection on a thread for a SQLite
    /// file, a task on `db`'s pool otherwise. `espera` bounds how long a batch waits for a
    /// lock held by someone else.
    pub fn abrir(
        url: &str,
        db: DatabaseConnection,
        espera: Duration,
        metricas: Arc<Metricas>,
    ) -> Result<Self, String> {
        let (tx, rx) = mpsc::channel(FILA);
        match sqlite::caminho(url) {
            Some(caminho) => sqlite::iniciar(&caminho, espera, rx, metricas)?,
            None => sea::iniciar(db, rx, metricas),
        }
        Ok(Self { tx })
    }

    async fn pedir(
        &self,
        escrita: Escrita,
        prazo: Option<Prazo>,
        aplicada: Option<oneshot::Sender<MensagemRow>>,
    ) -> Result<Feito, ErroEscrita> {
        let (resposta, rx) = oneshot::channel();
        let pedido = Pedido {
            escrita,
            prazo,
            resposta,
            aplicada,
        };
        self.tx
            .send(pedido)
            .await
            .map_err(|_| ErroEscrita::Banco("the writer stopped".into()))?;
        rx.await
            .map_err(|_| ErroEscrita::Banco("the writer stopped".into()))?
    }

    /// Stores a student's message (and its new conversation), durable when this returns.
    /// Not written at all once its sender gave up at `prazo` (`Prazo::desistir`); once its
    /// commit began, written whatever the time. `aplicada` hears the row before that, once
    /// only the commit is left, which nothing but an I/O error can then fail: on SQLite
    /// only (on Postgres the writer is never asked for it).
    pub async fn gravar_aluno(
        &self,
        destino: Destino,
        nova: NovaMensagem,
        prazo: Option<Prazo>,
        aplicada: Option<oneshot::Sender<MensagemRow>>,
    ) -> Result<(Option<ConversaRow>, MensagemRow), ErroEscrita> {
        match self
            .pedir(Escrita::Aluno { destino, nova }, prazo, aplicada)
            .await?
        {
            Feito::Aluno(c, m) => Ok((c, m)),
            _ => Err(ErroEscrita::Banco("unexpected result".into())),
        }
    }

    /// Starts a tutor answer to `pergunta`, empty and `gerando`.
    pub async fn iniciar_resposta(
        &self,
        pergunta: &MensagemRow,
        id: Uuid,
        agora: DateTime<Utc>,
    ) -> Result<MensagemRow, ErroEscrita> {
        let escrita = Escrita::Resposta {
            pergunta: pergunta.clone(),
            id,
            agora,
        };
        match self.pedir(escrita, None, None).await? {
            Feito::Resposta(m) => Ok(m),
            _ => Err(ErroEscrita::Banco("unexpected result".into())),
        }
    }

    /// A checkpoint of an answer still streaming, so a crash keeps most of its text.
    pub async fn salvar_parcial(&self, id: Uuid, conteudo: &str) -> Result<(), ErroEscrita> {
        let escrita = Escrita::Parcial {
            id,
            conteudo: conteudo.to_owned(),
        };
        self.pedir(escrita, None, None).await.map(|_| ())
    }

    /// The one final write of an answer. Only an answer still `gerando` is written: `None`
    /// when it had already ended (another process took over a lease this one lost).
    pub async fn finalizar_resposta(
        &self,
        fim: FimResposta,
    ) -> Result<Option<MensagemRow>, ErroEscrita> {
        match self.pedir(Escrita::Final(fim), None, None).await? {
            Feito::Final(m) => Ok(m),
            _ => Err(ErroEscrita::Banco("unexpected result".into())),
        }
    }
}

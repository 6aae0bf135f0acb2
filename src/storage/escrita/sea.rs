//! The writer on sea-orm's pool (Postgres, or SQLite kept in memory): one task that takes
//! every write queued meanwhile and commits them in one transaction (savepoints only when a
//! write of the batch fails, see `gravar`).
use entity::mensagem;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, FromQueryResult,
    Statement, TransactionTrait,
};
use std::{sync::Arc, time::Instant};

use uuid::Uuid;

use tokio::sync::mpsc;

use super::{
    ErroEscrita, Executor, Falha, Feito, MAX_LOTE, Pedido, aplicar_lote, aplicar_sem_savepoints,
    confirmavel, descartar_vencidas, limite, nada_gravado, responder,
};
use crate::{metricas::Metricas, storage::MensagemRow};

pub(super) fn iniciar(
    db: DatabaseConnection,
    mut rx: mpsc::Receiver<Pedido>,
    metricas: Arc<Metricas>,
) {
    tokio::spawn(async move {
        let mut lote = Vec::with_capacity(MAX_LOTE);
        while rx.recv_many(&mut lote, MAX_LOTE).await > 0 {
            loop {
                descartar_vencidas(&mut lote);
                if lote.is_empty() {
                    break;
                }
                let inicio = Instant::now();
                if let Some(resultados) = gravar(&db, &lote).await {
                    metricas.escrita_db(inicio.elapsed(), lote.len());
                    responder(std::mem::take(&mut lote), resultados);
                    break;
                }
            }
        }
    });
}

/// How one try at a batch ended.
enum Tentativa {
    Feita(Vec<Result<Feito, ErroEscrita>>),
    /// A write failed and nothing was stored: the batch is written again with savepoints.
    ComSavepoints,
    /// The batch's earliest deadline came before its commit: nothing was stored.
    Vencida,
}

/// On Postgres each statement costs a round trip to the server, and a savepoint two more: a
/// batch is first written without them, and again with them only if one of its writes
/// failed. (SQLite in memory, which allows only `SELECT` in `WITH`, keeps the savepoints.)
/// `None` when the batch's earliest deadline came first: the caller tries again without
/// what expired.
async fn gravar(
    db: &DatabaseConnection,
    lote: &[Pedido],
) -> Option<Vec<Result<Feito, ErroEscrita>>> {
    if db.get_database_backend() == DbBackend::Postgres {
        match gravar_sem_savepoints(db, lote).await {
            Tentativa::Feita(resultados) => return Some(resultados),
            Tentativa::Vencida => return None,
            Tentativa::ComSavepoints => {}
        }
    }
    match gravar_com_savepoints(db, lote).await {
        Tentativa::Feita(resultados) => Some(resultados),
        Tentativa::Vencida | Tentativa::ComSavepoints => None,
    }
}

async fn gravar_sem_savepoints(db: &DatabaseConnection, lote: &[Pedido]) -> Tentativa {
    let aplicar = async |e: &mut Sea<'_>| aplicar_sem_savepoints(e, lote).await;
    let (txn, resultados) = match antes_do_prazo(db, lote, aplicar).await {
        Ok(feito) => feito,
        Err(fim) => return fim,
    };
    let Some(resultados) = resultados else {
        tracing::debug!(
            writes = lote.len(),
            "a write of the batch failed; writing it again with savepoints"
        );
        desfazer(txn).await;
        return Tentativa::ComSavepoints;
    };
    confirmar(txn, lote, resultados).await
}

async fn gravar_com_savepoints(db: &DatabaseConnection, lote: &[Pedido]) -> Tentativa {
    let aplicar = async |e: &mut Sea<'_>| aplicar_lote(e, lote).await;
    let (txn, resultados) = match antes_do_prazo(db, lote, aplicar).await {
        Ok(feito) => feito,
        Err(fim) => return fim,
    };
    if nada_gravado(&resultados) {
        desfazer(txn).await;
        return Tentativa::Feita(resultados);
    }
    confirmar(txn, lote, resultados).await
}

/// Opens the transaction and runs the batch's statements in it (`aplicar`), unless the
/// batch's earliest deadline comes first (its senders may give up then; the dropped
/// transaction rolls back): the open transaction and what the statements gave, or how this
/// try ended.
async fn antes_do_prazo<T>(
    db: &DatabaseConnection,
    lote: &[Pedido],
    aplicar: impl AsyncFnOnce(&mut Sea<'_>) -> T,
) -> Result<(DatabaseTransaction, T), Tentativa> {
    let passos = async {
        let txn = db.begin().await?;
        let feito = aplicar(&mut Sea { txn: &txn }).await;
        Ok((txn, feito))
    };
    let aberta = match limite(lote) {
        Some(t) => tokio::time::timeout_at(t.into(), passos)
            .await
            .map_err(|_| Tentativa::Vencida)?,
        None => passos.await,
    };
    aberta.map_err(|e| Tentativa::Feita(falharam_todos(lote, e)))
}

/// The commit, once every sender of the batch agreed to wait for it (`confirmavel`); not bounded
/// by the deadline then, since a send told `indisponivel` must not be stored after all.
async fn confirmar(
    txn: DatabaseTransaction,
    lote: &[Pedido],
    resultados: Vec<Result<Feito, ErroEscrita>>,
) -> Tentativa {
    if !confirmavel(lote) {
        desfazer(txn).await;
        return Tentativa::Vencida;
    }
    match txn.commit().await {
        Ok(()) => Tentativa::Feita(resultados),
        Err(e) => Tentativa::Feita(falharam_todos(lote, e)),
    }
}

async fn desfazer(txn: DatabaseTransaction) {
    if let Err(e) = txn.rollback().await {
        tracing::warn!(error = %e, "rolling back a batch");
    }
}

fn falharam_todos(lote: &[Pedido], e: sea_orm::DbErr) -> Vec<Result<Feito, ErroEscrita>> {
    tracing::warn!(error = %e, writes = lote.len(), "a batch of writes failed");
    lote.iter()
        .map(|_| Err(ErroEscrita::from(e.clone())))
        .collect()
}

struct Sea<'a> {
    txn: &'a DatabaseTransaction,
}

impl Executor for Sea<'_> {
    fn backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn executar(&mut self, s: Statement) -> Result<u64, Falha> {
        Ok(self.txn.execute_raw(s).await?.rows_affected())
    }

    async fn inteiro(&mut self, s: Statement) -> Result<Option<i64>, Falha> {
        match self.txn.query_one_raw(s).await? {
            Some(r) => Ok(Some(r.try_get_by_index::<i64>(0)?)),
            None => Ok(None),
        }
    }

    async fn mensagem(&mut self, s: Statement) -> Result<Option<MensagemRow>, Falha> {
        match self.txn.query_one_raw(s).await? {
            Some(r) => Ok(Some(mensagem::Model::from_query_result(&r, "")?.into())),
            None => Ok(None),
        }
    }

    async fn pares(&mut self, s: Statement) -> Result<Vec<(Uuid, i64)>, Falha> {
        let mut pares = Vec::new();
        for r in self.txn.query_all_raw(s).await? {
            pares.push((r.try_get_by_index(0)?, r.try_get_by_index(1)?));
        }
        Ok(pares)
    }

    async fn mensagens(&mut self, s: Statement) -> Result<Vec<MensagemRow>, Falha> {
        let mut linhas = Vec::new();
        for r in self.txn.query_all_raw(s).await? {
            linhas.push(mensagem::Model::from_query_result(&r, "")?.into());
        }
        Ok(linhas)
    }

    async fn bruto(&mut self, sql: &'static str) -> Result<(), Falha> {
        self.txn.execute_unprepared(sql).await?;
        Ok(())
    }
}

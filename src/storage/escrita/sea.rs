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
    descartar_vencidas, limite, nada_gravado, responder,
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
                let gravado = match limite(&lote) {
                    // Dropped at the deadline, the transaction rolls back.
                    Some(t) => tokio::time::timeout_at(t.into(), gravar(&db, &lote))
                        .await
                        .ok(),
                    None => Some(gravar(&db, &lote).await),
                };
                if let Some(resultados) = gravado {
                    metricas.escrita_db(inicio.elapsed(), lote.len());
                    responder(std::mem::take(&mut lote), resultados);
                    break;
                }
            }
        }
    });
}

/// On Postgres each statement costs a round trip to the server, and a savepoint two more: a
/// batch is first written without them, and again with them only if one of its writes
/// failed. (SQLite in memory, which allows only `SELECT` in `WITH`, keeps the savepoints.)
async fn gravar(db: &DatabaseConnection, lote: &[Pedido]) -> Vec<Result<Feito, ErroEscrita>> {
    if db.get_database_backend() == DbBackend::Postgres
        && let Some(resultados) = gravar_sem_savepoints(db, lote).await
    {
        return resultados;
    }
    gravar_com_savepoints(db, lote).await
}

/// `None` when a write failed: the transaction was rolled back, nothing of it is stored.
async fn gravar_sem_savepoints(
    db: &DatabaseConnection,
    lote: &[Pedido],
) -> Option<Vec<Result<Feito, ErroEscrita>>> {
    let txn = match db.begin().await {
        Ok(t) => t,
        Err(e) => return Some(falharam_todos(lote, e)),
    };
    let Some(resultados) = aplicar_sem_savepoints(&mut Sea { txn: &txn }, lote).await else {
        tracing::debug!(
            writes = lote.len(),
            "a write of the batch failed; writing it again with savepoints"
        );
        if let Err(e) = txn.rollback().await {
            tracing::warn!(error = %e, "rolling back a failed batch");
        }
        return None;
    };
    Some(match txn.commit().await {
        Ok(()) => resultados,
        Err(e) => falharam_todos(lote, e),
    })
}

fn falharam_todos(lote: &[Pedido], e: sea_orm::DbErr) -> Vec<Result<Feito, ErroEscrita>> {
    tracing::warn!(error = %e, writes = lote.len(), "a batch of writes failed");
    lote.iter()
        .map(|_| Err(ErroEscrita::from(e.clone())))
        .collect()
}

async fn gravar_com_savepoints(
    db: &DatabaseConnection,
    lote: &[Pedido],
) -> Vec<Result<Feito, ErroEscrita>> {
    let todos = |e: sea_orm::DbErr| falharam_todos(lote, e);
    let txn = match db.begin().await {
        Ok(t) => t,
        Err(e) => return todos(e),
    };
    let resultados = aplicar_lote(&mut Sea { txn: &txn }, lote).await;
    if nada_gravado(&resultados) {
        if let Err(e) = txn.rollback().await {
            tracing::warn!(error = %e, "rolling back a failed batch");
        }
        return resultados;
    }
    match txn.commit().await {
        Ok(()) => resultados,
        Err(e) => todos(e),
    }
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

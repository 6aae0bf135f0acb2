//! A batch in as few statements as its writes allow, for Postgres (see `sea.rs`): every new
//! row of the batch (students' messages, answers' starts) with the new conversations and the
//! conversations the messages mark active, in one statement; then each other write in one.
//! There are no savepoints here: the first failure fails the whole batch, which the caller
//! rolls back and writes again one write at a time.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{conversa, mensagem};
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QueryTrait,
    sea_query::{Alias, CaseStatement, Expr, Func, Query, WithClause},
};
use uuid::Uuid;

use super::{
    Escrita, Executor, Falha, Feito,
    operacoes::{self, conversa_de, cte, linha_resposta, sem_seq},
};
use crate::storage::mensagens::{modelo_aluno, modelo_resposta};

/// What each write gave, in the batch's order; `Err` at the first failure.
pub(super) async fn aplicar<E: Executor>(
    e: &mut E,
    escritas: &[&Escrita],
) -> Result<Vec<Feito>, Falha> {
    let novas = escritas.iter().filter(|w| nova_linha(w)).count();
    let mut inseridas = if novas > 1 {
        inserir(e, escritas).await?
    } else {
        HashMap::new()
    };
    let mut feitos = Vec::with_capacity(escritas.len());
    for (i, escrita) in escritas.iter().enumerate() {
        let feito = match inseridas.remove(&i) {
            Some(f) => f,
            None => operacoes::aplicar(e, escrita).await?,
        };
        feitos.push(feito);
    }
    Ok(feitos)
}

fn nova_linha(w: &Escrita) -> bool {
    matches!(w, Escrita::Aluno { .. } | Escrita::Resposta { .. })
}

/// The batch's new rows in one statement: what each of those writes gave, by its position.
async fn inserir<E: Executor>(
    e: &mut E,
    escritas: &[&Escrita],
) -> Result<HashMap<usize, Feito>, Falha> {
    let mut conversas = Vec::new();
    let mut mensagens = Vec::new();
    // An existing conversation is marked active with its latest message of the batch.
    let mut tocadas: HashMap<Uuid, DateTime<Utc>> = HashMap::new();
    for w in escritas {
        match w {
            Escrita::Aluno { destino, nova } => {
                let (conversa_id, nova_conversa) = conversa_de(destino, nova);
                match nova_conversa {
                    Some((am, _)) => conversas.push(am),
                    None => {
                        let t = tocadas.entry(conversa_id).or_insert(nova.criada_em);
                        *t = (*t).max(nova.criada_em);
                    }
                }
                mensagens.push(modelo_aluno(conversa_id, nova.clone()));
            }
            Escrita::Resposta {
                pergunta,
                id,
                agora,
            } => mensagens.push(modelo_resposta(pergunta, *id, *agora)),
            _ => {}
        }
    }
    let mut w = WithClause::new();
    if !conversas.is_empty() {
        w.cte(cte(
            "novas_conversas",
            conversa::Entity::insert_many(conversas).into_query(),
        ));
    }
    if !tocadas.is_empty() {
        w.cte(cte("conversas_tocadas", tocar(&tocadas)));
    }
    let mut q = mensagem::Entity::insert_many(mensagens).into_query();
    q.returning(Query::returning().columns([mensagem::Column::Id, mensagem::Column::Seq]));
    w.cte(cte("novas_mensagens", q));
    let sel = Query::select()
        .columns([mensagem::Column::Id, mensagem::Column::Seq])
        .from(Alias::new("novas_mensagens"))
        .to_owned();
    let seqs: HashMap<Uuid, i64> = e
        .pares(e.backend().build(&w.query(sel)))
        .await?
        .into_iter()
        .collect();
    let mut feitos = HashMap::new();
    for (i, w) in escritas.iter().enumerate() {
        let feito = match w {
            Escrita::Aluno { destino, nova } => {
                let seq = *seqs.get(&nova.id).ok_or_else(sem_seq)?;
                let (conversa_id, nova_conversa) = conversa_de(destino, nova);
                Feito::Aluno(nova_conversa.map(|(_, c)| c), nova.linha(conversa_id, seq))
            }
            Escrita::Resposta {
                pergunta,
                id,
                agora,
            } => {
                let seq = *seqs.get(id).ok_or_else(sem_seq)?;
                Feito::Resposta(linha_resposta(pergunta, *id, *agora, seq))
            }
            _ => continue,
        };
        feitos.insert(i, feito);
    }
    Ok(feitos)
}

/// Each conversation's `atualizada_em` to its time, never back: other writes of the batch
/// (an answer's end) may have set a later one.
fn tocar(tocadas: &HashMap<Uuid, DateTime<Utc>>) -> sea_orm::sea_query::UpdateStatement {
    let mut caso = CaseStatement::new();
    for (id, t) in tocadas {
        caso = caso.case(conversa::Column::Id.eq(*id), Expr::value(*t));
    }
    let caso = caso.finally(Expr::col(conversa::Column::AtualizadaEm));
    conversa::Entity::update_many()
        .col_expr(
            conversa::Column::AtualizadaEm,
            Func::greatest([Expr::col(conversa::Column::AtualizadaEm), caso.into()]).into(),
        )
        .filter(conversa::Column::Id.is_in(tocadas.keys().copied()))
        .into_query()
}

//! A batch in as few statements as its writes allow, for Postgres (see `sea.rs`): every new
//! row of the batch (students' messages, answers' starts) with the new conversations and the
//! conversations the messages mark active, in one statement; every answer's end, with its
//! conversation and its student's day, in another; then each other write in one.
//! There are no savepoints here: the first failure fails the whole batch, which the caller
//! rolls back and writes again one write at a time.
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::{conversa, mensagem, uso_diario};
use sea_orm::{
    ActiveEnum, ColumnTrait, EntityTrait, Iterable, QueryFilter, QueryTrait,
    sea_query::{
        Alias, Asterisk, CaseStatement, CommonTableExpression, Expr, ExprTrait, Func, Query,
        SubQueryStatement, Values, WithClause,
    },
};
use uuid::Uuid;

use super::{
    Escrita, Executor, Falha, Feito, FimResposta,
    operacoes::{self, conversa_de, linha_resposta, sem_seq, somando_ao_dia},
};
use crate::storage::{
    MensagemRow, Status,
    linhas::bytes,
    mensagens::{modelo_aluno, modelo_resposta},
};

fn cte(nome: &str, q: impl Into<SubQueryStatement>) -> CommonTableExpression {
    CommonTableExpression::new()
        .table_name(Alias::new(nome))
        .query(q)
        .to_owned()
}

/// What each write gave, in the batch's order; `Err` at the first failure.
pub(super) async fn aplicar<E: Executor>(
    e: &mut E,
    escritas: &[&Escrita],
) -> Result<Vec<Feito>, Falha> {
    let novas = escritas.iter().filter(|w| nova_linha(w)).count();
    let mut juntos = if novas > 0 {
        inserir(e, escritas).await?
    } else {
        HashMap::new()
    };
    if fins_distintos(escritas) > 0 {
        juntos.extend(finalizar(e, escritas).await?);
    }
    let mut feitos = Vec::with_capacity(escritas.len());
    for (i, escrita) in escritas.iter().enumerate() {
        let feito = match juntos.remove(&i) {
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
                        *t = Ord::max(*t, nova.criada_em);
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

/// How many answers the batch ends; 0 when it ends one twice (a takeover racing its own
/// end): the second must find it ended, as one statement after the other would.
fn fins_distintos(escritas: &[&Escrita]) -> usize {
    let mut ids = HashSet::new();
    for w in escritas {
        if let Escrita::Final(f) = w
            && !ids.insert(f.id)
        {
            return 0;
        }
    }
    ids.len()
}

/// The batch's answer ends in one statement: each answer still `gerando` gets its text and
/// status, its conversation is marked active, and what it cost goes to its student's day
/// (summed per day: one statement cannot add to the same row twice).
async fn finalizar<E: Executor>(
    e: &mut E,
    escritas: &[&Escrita],
) -> Result<HashMap<usize, Feito>, Falha> {
    let fins: Vec<(usize, &FimResposta)> = escritas
        .iter()
        .enumerate()
        .filter_map(|(i, w)| match w {
            Escrita::Final(f) => Some((i, f)),
            _ => None,
        })
        .collect();
    let nome = |s: &str| Alias::new(s);
    let mut w = WithClause::new();
    let linhas = fins
        .iter()
        .map(|(_, f)| {
            Values(vec![
                f.id.into(),
                bytes(&f.conteudo).into(),
                f.status.to_value().into(),
                f.erro.map(|c| c.to_value()).into(),
                f.agora.into(),
            ])
        })
        .collect();
    w.cte(
        CommonTableExpression::new()
            .table_name(nome("fins"))
            .columns(["id", "conteudo", "status", "erro", "agora"].map(nome))
            .values(linhas)
            .to_owned(),
    );
    let de_fins = |c: &str| Expr::col((nome("fins"), nome(c)));
    let terminar = Query::update()
        .table(mensagem::Entity)
        .values([
            (mensagem::Column::Conteudo, de_fins("conteudo")),
            (mensagem::Column::Status, de_fins("status")),
            (mensagem::Column::Erro, de_fins("erro")),
            (mensagem::Column::AtualizadaEm, de_fins("agora")),
        ])
        .from(nome("fins"))
        .and_where(
            Expr::col((mensagem::Entity, mensagem::Column::Id)).equals((nome("fins"), nome("id"))),
        )
        .and_where(
            Expr::col((mensagem::Entity, mensagem::Column::Status)).eq(Status::Gerando.to_value()),
        )
        .returning(
            Query::returning().columns(mensagem::Column::iter().map(|c| (mensagem::Entity, c))),
        )
        .to_owned();
    w.cte(cte("terminadas", terminar));
    let ultimas = Query::select()
        .column(mensagem::Column::ConversaId)
        .expr_as(
            Func::max(Expr::col(mensagem::Column::AtualizadaEm)),
            nome("ultima"),
        )
        .from(nome("terminadas"))
        .group_by_col(mensagem::Column::ConversaId)
        .to_owned();
    w.cte(cte("ultimas", ultimas));
    let tocar = Query::update()
        .table(conversa::Entity)
        .value(
            conversa::Column::AtualizadaEm,
            Func::greatest([
                Expr::col((conversa::Entity, conversa::Column::AtualizadaEm)),
                Expr::col((nome("ultimas"), nome("ultima"))),
            ]),
        )
        .from(nome("ultimas"))
        .and_where(
            Expr::col((conversa::Entity, conversa::Column::Id))
                .equals((nome("ultimas"), mensagem::Column::ConversaId)),
        )
        .to_owned();
    w.cte(cte("conversas_tocadas", tocar));
    let usos: Vec<Values> = fins
        .iter()
        .filter_map(|(_, f)| {
            let u = f.uso.as_ref()?;
            Some(Values(vec![
                f.id.into(),
                u.usuario_id.clone().into(),
                u.dia.clone().into(),
                u.tokens.into(),
            ]))
        })
        .collect();
    if !usos.is_empty() {
        w.cte(
            CommonTableExpression::new()
                .table_name(nome("usos"))
                .columns(["id", "usuario_id", "dia", "tokens"].map(nome))
                .values(usos)
                .to_owned(),
        );
        let de_usos = |c: &str| Expr::col((nome("usos"), nome(c)));
        let por_dia = Query::select()
            .expr(de_usos("usuario_id"))
            .expr(de_usos("dia"))
            .expr(Func::sum(de_usos("tokens")))
            .from(nome("usos"))
            .inner_join(
                nome("terminadas"),
                Expr::col((nome("terminadas"), mensagem::Column::Id))
                    .equals((nome("usos"), nome("id"))),
            )
            .add_group_by([de_usos("usuario_id"), de_usos("dia")])
            .to_owned();
        let mut somar = Query::insert()
            .into_table(uso_diario::Entity)
            .columns([
                uso_diario::Column::UsuarioId,
                uso_diario::Column::Dia,
                uso_diario::Column::Tokens,
            ])
            .on_conflict(somando_ao_dia())
            .to_owned();
        somar.select_from(por_dia)?;
        w.cte(cte("usos_somados", somar));
    }
    let sel = Query::select()
        .column(Asterisk)
        .from(nome("terminadas"))
        .to_owned();
    let mut terminadas: HashMap<Uuid, MensagemRow> = e
        .mensagens(e.backend().build(&w.query(sel)))
        .await?
        .into_iter()
        .map(|m| (m.id, m))
        .collect();
    Ok(fins
        .into_iter()
        .map(|(i, f)| (i, Feito::Final(terminadas.remove(&f.id))))
        .collect())
}

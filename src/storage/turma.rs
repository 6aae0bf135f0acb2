//! The class view's reads: every student's conversations, a page at a time by keyset on
//! `(atualizada_em, id)` (its own index), each with its message count, whether an answer is
//! streaming, and its student's tokens today. Three small queries per page, whatever the
//! size of the school: the page, then the counts and the use of just the rows in it.
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::{conversa, mensagem, uso_diario};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use super::ConversaRow;

/// Where a page starts: after the conversation with this `atualizada_em` and `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marca {
    pub atualizada_em: DateTime<Utc>,
    pub id: Uuid,
}

/// Which conversations to summarise.
#[derive(Debug, Clone)]
pub enum Selecao {
    /// The `limite` most recently active after `apos` (from the top without it).
    Pagina { apos: Option<Marca>, limite: u64 },
    /// Exactly these (those that exist).
    Ids(Vec<Uuid>),
}

/// One conversation as the class view lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumoRow {
    pub conversa: ConversaRow,
    pub mensagens: i64,
    pub gerando: bool,
    pub tokens_hoje: i64,
}

/// The summaries, most recently active first. `dia` is today in the server's time zone.
pub async fn list_turma(
    db: &DatabaseConnection,
    selecao: &Selecao,
    dia: &str,
) -> Result<Vec<ResumoRow>, DbErr> {
    let mut q = conversa::Entity::find()
        .order_by_desc(conversa::Column::AtualizadaEm)
        .order_by_desc(conversa::Column::Id);
    match selecao {
        Selecao::Pagina { apos, limite } => {
            if let Some(m) = apos {
                q = q.filter(
                    Condition::any()
                        .add(conversa::Column::AtualizadaEm.lt(m.atualizada_em))
                        .add(
                            Condition::all()
                                .add(conversa::Column::AtualizadaEm.eq(m.atualizada_em))
                                .add(conversa::Column::Id.lt(m.id)),
                        ),
                );
            }
            q = q.limit(*limite);
        }
        Selecao::Ids(ids) => q = q.filter(conversa::Column::Id.is_in(ids.iter().copied())),
    }
    let conversas: Vec<ConversaRow> = q.all(db).await?.into_iter().map(Into::into).collect();
    if conversas.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = conversas.iter().map(|c| c.id).collect();
    let contagens: HashMap<Uuid, i64> = mensagem::Entity::find()
        .select_only()
        .column(mensagem::Column::ConversaId)
        .column_as(mensagem::Column::Seq.count(), "mensagens")
        .filter(mensagem::Column::ConversaId.is_in(ids.iter().copied()))
        .group_by(mensagem::Column::ConversaId)
        .into_tuple::<(Uuid, i64)>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let gerando: HashSet<Uuid> = mensagem::Entity::find()
        .select_only()
        .column(mensagem::Column::ConversaId)
        .filter(mensagem::Column::ConversaId.is_in(ids.iter().copied()))
        .filter(super::mensagens::ainda_gerando())
        .into_tuple::<Uuid>()
        .all(db)
        .await?
        .into_iter()
        .collect();
    let usuarios: HashSet<&str> = conversas.iter().map(|c| c.usuario_id.as_str()).collect();
    let uso: HashMap<String, i64> = uso_diario::Entity::find()
        .filter(uso_diario::Column::Dia.eq(dia))
        .filter(uso_diario::Column::UsuarioId.is_in(usuarios))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.usuario_id, u.tokens))
        .collect();
    Ok(conversas
        .into_iter()
        .map(|c| ResumoRow {
            mensagens: contagens.get(&c.id).copied().unwrap_or(0),
            gerando: gerando.contains(&c.id),
            tokens_hoje: uso.get(&c.usuario_id).copied().unwrap_or(0),
            conversa: c,
        })
        .collect())
}

/// The model tokens a student used on `dia`.
pub async fn find_uso(db: &DatabaseConnection, usuario_id: &str, dia: &str) -> Result<i64, DbErr> {
    Ok(
        uso_diario::Entity::find_by_id((usuario_id.to_owned(), dia.to_owned()))
            .one(db)
            .await?
            .map_or(0, |u| u.tokens),
    )
}

//! Message rows: the students' messages and the tutor's answers. `seq`, assigned by the
//! database, is the conversation order; an answer points at the message it answers
//! (`responde_a`, unique), which is how the answer queue knows what is still to answer.
use chrono::{DateTime, Utc};
use entity::{conversa, mensagem};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, ExprTrait, Query},
};
use uuid::Uuid;

use super::{Autor, MensagemRow, NovaMensagem, Status, linhas::bytes};

pub(super) fn modelo_aluno(conversa_id: Uuid, nova: NovaMensagem) -> mensagem::ActiveModel {
    mensagem::ActiveModel {
        id: Set(nova.id),
        conversa_id: Set(conversa_id),
        usuario_id: Set(nova.usuario_id),
        papel: Set(Autor::Aluno),
        conteudo: Set(bytes(&nova.conteudo)),
        status: Set(Status::Completa),
        id_cliente: Set(nova.id_cliente),
        responde_a: Set(None),
        erro: Set(None),
        criada_em: Set(nova.criada_em),
        atualizada_em: Set(nova.criada_em),
        ..Default::default()
    }
}

pub async fn find_mensagem_por_id_cliente(
    db: &DatabaseConnection,
    usuario_id: &str,
    id_cliente: &str,
) -> Result<Option<MensagemRow>, DbErr> {
    Ok(mensagem::Entity::find()
        .filter(mensagem::Column::UsuarioId.eq(usuario_id))
        .filter(mensagem::Column::IdCliente.eq(id_cliente))
        .one(db)
        .await?
        .map(Into::into))
}

/// A conversation's messages in order; with `apos`, only what a tab holding everything up
/// to that message lacks: the later messages, and earlier ones that changed since it was
/// written (an answer that was still streaming then). An unknown `apos` gives everything.
pub async fn list_mensagens(
    db: &DatabaseConnection,
    conversa_id: Uuid,
    apos: Option<Uuid>,
) -> Result<Vec<MensagemRow>, DbErr> {
    let mut q = mensagem::Entity::find().filter(mensagem::Column::ConversaId.eq(conversa_id));
    if let Some(apos) = apos {
        let marca = mensagem::Entity::find()
            .filter(mensagem::Column::Id.eq(apos))
            .filter(mensagem::Column::ConversaId.eq(conversa_id))
            .one(db)
            .await?;
        if let Some(marca) = marca {
            q = q.filter(mensagem::Column::Id.ne(marca.id)).filter(
                Condition::any()
                    .add(mensagem::Column::Seq.gt(marca.seq))
                    .add(mensagem::Column::AtualizadaEm.gt(marca.criada_em)),
            );
        }
    }
    let linhas = q.order_by_asc(mensagem::Column::Seq).all(db).await?;
    Ok(linhas.into_iter().map(Into::into).collect())
}

/// The oldest student message of the conversation that has no answer yet.
pub async fn find_proxima_sem_resposta(
    db: &DatabaseConnection,
    conversa_id: Uuid,
) -> Result<Option<MensagemRow>, DbErr> {
    let respondidas = Query::select()
        .column(mensagem::Column::RespondeA)
        .from(mensagem::Entity)
        .and_where(mensagem::Column::ConversaId.eq(conversa_id))
        .and_where(mensagem::Column::RespondeA.is_not_null())
        .to_owned();
    Ok(mensagem::Entity::find()
        .filter(mensagem::Column::ConversaId.eq(conversa_id))
        .filter(mensagem::Column::Papel.eq(Autor::Aluno))
        .filter(mensagem::Column::Id.not_in_subquery(respondidas))
        .order_by_asc(mensagem::Column::Seq)
        .one(db)
        .await?
        .map(Into::into))
}

/// Conversations with a student message still unanswered (start-up recovery).
pub async fn list_conversas_com_pendentes(db: &DatabaseConnection) -> Result<Vec<Uuid>, DbErr> {
    let respondidas = Query::select()
        .column(mensagem::Column::RespondeA)
        .from(mensagem::Entity)
        .and_where(mensagem::Column::RespondeA.is_not_null())
        .to_owned();
    mensagem::Entity::find()
        .select_only()
        .column(mensagem::Column::ConversaId)
        .distinct()
        .filter(mensagem::Column::Papel.eq(Autor::Aluno))
        .filter(mensagem::Column::Id.not_in_subquery(respondidas))
        .into_tuple()
        .all(db)
        .await
}

/// `status = 'gerando'`, the condition of the partial index `idx_mensagem_gerando` that holds
/// just those rows (migration `m20261204_000001_indices_parciais`). The word is written into
/// the SQL rather than bound: a plan made for any value of a parameter (Postgres' generic
/// plan for a prepared statement) could not use that index. The text is the enum's own.
pub(super) fn ainda_gerando() -> Expr {
    use sea_orm::ActiveEnum;
    let literal = format!("'{}'", Status::Gerando.to_value());
    Expr::col((mensagem::Entity, mensagem::Column::Status)).eq(Expr::cust(literal))
}

/// Answers left `gerando` by a process that died.
pub async fn list_gerando(db: &DatabaseConnection) -> Result<Vec<MensagemRow>, DbErr> {
    let linhas = mensagem::Entity::find()
        .filter(ainda_gerando())
        .all(db)
        .await?;
    Ok(linhas.into_iter().map(Into::into).collect())
}

/// The answers of one conversation still `gerando`: when the caller holds the
/// conversation's lease and answers nothing there, they belong to a process that died.
pub async fn list_gerando_da_conversa(
    db: &DatabaseConnection,
    conversa_id: Uuid,
) -> Result<Vec<MensagemRow>, DbErr> {
    let linhas = mensagem::Entity::find()
        .filter(mensagem::Column::ConversaId.eq(conversa_id))
        .filter(ainda_gerando())
        .all(db)
        .await?;
    Ok(linhas.into_iter().map(Into::into).collect())
}

/// A tutor answer to `pergunta`, empty and `gerando`.
pub(super) fn modelo_resposta(
    pergunta: &MensagemRow,
    id: Uuid,
    agora: DateTime<Utc>,
) -> mensagem::ActiveModel {
    mensagem::ActiveModel {
        id: Set(id),
        conversa_id: Set(pergunta.conversa_id),
        usuario_id: Set(pergunta.usuario_id.clone()),
        papel: Set(Autor::Tutor),
        conteudo: Set(Vec::new()),
        status: Set(Status::Gerando),
        id_cliente: Set(None),
        responde_a: Set(Some(pergunta.id)),
        erro: Set(None),
        criada_em: Set(agora),
        atualizada_em: Set(agora),
        ..Default::default()
    }
}

/// Messages (with their conversation) written or ended since `desde`: what a process that
/// could not hear the others for that long may have missed.
pub async fn list_mensagens_alteradas_desde(
    db: &DatabaseConnection,
    desde: DateTime<Utc>,
) -> Result<Vec<(Uuid, Uuid)>, DbErr> {
    let conversas = Query::select()
        .column(conversa::Column::Id)
        .from(conversa::Entity)
        .and_where(conversa::Column::AtualizadaEm.gte(desde))
        .to_owned();
    mensagem::Entity::find()
        .select_only()
        .column(mensagem::Column::Id)
        .column(mensagem::Column::ConversaId)
        .filter(mensagem::Column::ConversaId.in_subquery(conversas))
        .filter(mensagem::Column::AtualizadaEm.gte(desde))
        .into_tuple()
        .all(db)
        .await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sea_orm::{ConnectionTrait, DbBackend, QueryTrait, Statement};

    use super::*;
    use crate::storage::{conectar, migrar};

    /// The plan SQLite picks for `consulta`, one line per step.
    async fn plano(db: &DatabaseConnection, consulta: Statement) -> String {
        let sql = format!("EXPLAIN QUERY PLAN {}", consulta.sql);
        let linhas = db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                sql,
                consulta.values.map(|v| v.0).unwrap_or_default(),
            ))
            .await
            .expect("explain");
        linhas
            .iter()
            .map(|l| l.try_get_by_index::<String>(3).expect("detail"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Start-up recovery and a takeover find the answers left `gerando` through the partial
    /// index, not by reading the whole table, and they find exactly those answers.
    #[tokio::test]
    async fn answers_left_gerando_are_found_through_their_partial_index() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = conectar(&url, Duration::from_secs(5)).await.expect("open");
        migrar(&db, &url).await.expect("migrate");

        let conversa = Uuid::now_v7();
        let (pergunta, feita, viva) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let inserir = |sql: &str, valores: Vec<sea_orm::Value>| {
            Statement::from_sql_and_values(DbBackend::Sqlite, sql, valores)
        };
        let agora = Utc::now();
        db.execute_raw(inserir(
            "INSERT INTO conversa (id, usuario_id, criada_em, atualizada_em) VALUES (?, ?, ?, ?)",
            vec![conversa.into(), "ana".into(), agora.into(), agora.into()],
        ))
        .await
        .expect("conversa");
        for (id, papel, status, responde_a) in [
            (pergunta, "aluno", "completa", None),
            (feita, "tutor", "completa", Some(pergunta)),
            (viva, "tutor", "gerando", Some(Uuid::now_v7())),
        ] {
            db.execute_raw(inserir(
                "INSERT INTO mensagem (id, conversa_id, usuario_id, papel, status, responde_a, \
                 criada_em, atualizada_em) VALUES (?, ?, 'ana', ?, ?, ?, ?, ?)",
                vec![
                    id.into(),
                    conversa.into(),
                    papel.into(),
                    status.into(),
                    responde_a.into(),
                    agora.into(),
                    agora.into(),
                ],
            ))
            .await
            .expect("mensagem");
        }

        let ids = |v: Vec<MensagemRow>| v.into_iter().map(|m| m.id).collect::<Vec<_>>();
        assert_eq!(ids(list_gerando(&db).await.expect("all")), vec![viva]);
        let da_conversa = list_gerando_da_conversa(&db, conversa).await.expect("one");
        assert_eq!(ids(da_conversa), vec![viva]);

        let todas = mensagem::Entity::find()
            .filter(ainda_gerando())
            .build(DbBackend::Sqlite);
        assert!(
            plano(&db, todas).await.contains("idx_mensagem_gerando"),
            "recovery reads the partial index"
        );
        let uma = mensagem::Entity::find()
            .filter(mensagem::Column::ConversaId.eq(conversa))
            .filter(ainda_gerando())
            .build(DbBackend::Sqlite);
        assert!(plano(&db, uma).await.contains("idx_mensagem_gerando"));
    }
}

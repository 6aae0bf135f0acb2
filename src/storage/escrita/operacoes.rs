//! The statements of each write, built from the sea-orm entities and run by either executor.
//! A write returns the rows as stored without reading them back: what the database assigns
//! (`seq`) comes from `RETURNING`, the rest is what was written.
//!
//! On Postgres a batch's writes go in a few statements for the whole batch (`juntas.rs`);
//! these, one write at a time, are what SQLite runs, and what Postgres falls back to when
//! a write of the batch failed.
use entity::{conversa, mensagem, uso_diario};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, EntityTrait, QueryFilter, QueryTrait,
    sea_query::{Alias, Expr, ExprTrait, OnConflict, UpdateStatement},
};

use super::{Destino, Escrita, Executor, Falha, Feito, FimResposta, Uso};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::storage::{
    Autor, ConversaRow, MensagemRow, NovaMensagem, Status,
    linhas::bytes,
    mensagens::{modelo_aluno, modelo_resposta},
};

pub(super) async fn aplicar<E: Executor>(e: &mut E, escrita: &Escrita) -> Result<Feito, Falha> {
    match escrita {
        Escrita::Aluno { destino, nova } => {
            let (conversa_id, nova_conversa) = conversa_de(destino, nova);
            let (antes, criada) = match nova_conversa {
                Some((am, c)) => (Some(conversa::Entity::insert(am).into_query()), Some(c)),
                None => (None, None),
            };
            // A new conversation is created with the message's time; an existing one is
            // marked active.
            let depois = criada
                .is_none()
                .then(|| tocar_conversa(conversa_id, nova.criada_em));
            if let Some(c) = antes {
                e.executar(e.backend().build(&c)).await?;
            }
            let seq = inserir(e, modelo_aluno(conversa_id, nova.clone())).await?;
            if let Some(t) = depois {
                e.executar(e.backend().build(&t)).await?;
            }
            let m = nova.linha(conversa_id, seq);
            Ok(Feito::Aluno(criada, m))
        }
        Escrita::Resposta {
            pergunta,
            id,
            agora,
        } => {
            let seq = inserir(e, modelo_resposta(pergunta, *id, *agora)).await?;
            Ok(Feito::Resposta(linha_resposta(pergunta, *id, *agora, seq)))
        }
        Escrita::Parcial { id, conteudo } => {
            let q = mensagem::Entity::update_many()
                .col_expr(mensagem::Column::Conteudo, bytes(conteudo).into())
                .filter(mensagem::Column::Id.eq(*id))
                .filter(mensagem::Column::Status.eq(Status::Gerando))
                .into_query();
            let s = e.backend().build(&q);
            e.executar(s).await?;
            Ok(Feito::Parcial)
        }
        Escrita::Final(fim) => finalizar(e, fim).await.map(Feito::Final),
    }
}

/// The conversation a student's message goes to, and for a new one its row, to insert and
/// as stored.
pub(super) fn conversa_de(
    destino: &Destino,
    nova: &NovaMensagem,
) -> (Uuid, Option<(conversa::ActiveModel, ConversaRow)>) {
    match destino {
        Destino::Existente(id) => (*id, None),
        Destino::Nova { id, titulo, nome } => {
            let am = conversa::ActiveModel {
                id: Set(*id),
                usuario_id: Set(nova.usuario_id.clone()),
                titulo: Set(bytes(titulo)),
                criada_em: Set(nova.criada_em),
                atualizada_em: Set(nova.criada_em),
                usuario_nome: Set(nome.clone()),
            };
            let c = ConversaRow {
                id: *id,
                usuario_id: nova.usuario_id.clone(),
                titulo: titulo.clone(),
                criada_em: nova.criada_em,
                atualizada_em: nova.criada_em,
                usuario_nome: nome.clone(),
            };
            (*id, Some((am, c)))
        }
    }
}

/// An answer's row as its start stored it.
pub(super) fn linha_resposta(
    pergunta: &MensagemRow,
    id: Uuid,
    agora: DateTime<Utc>,
    seq: i64,
) -> MensagemRow {
    MensagemRow {
        seq,
        id,
        conversa_id: pergunta.conversa_id,
        usuario_id: pergunta.usuario_id.clone(),
        papel: Autor::Tutor,
        conteudo: String::new(),
        status: Status::Gerando,
        id_cliente: None,
        responde_a: Some(pergunta.id),
        erro: None,
        criada_em: agora,
        atualizada_em: agora,
    }
}

async fn inserir<E: Executor>(e: &mut E, am: mensagem::ActiveModel) -> Result<i64, Falha> {
    let mut q = mensagem::Entity::insert(am).into_query();
    q.returning_col(mensagem::Column::Seq);
    let s = e.backend().build(&q);
    e.inteiro(s).await?.ok_or_else(sem_seq)
}

pub(super) fn sem_seq() -> Falha {
    Falha {
        unica: false,
        texto: "INSERT returned no seq".into(),
    }
}

/// Only an answer still `gerando` is ended; its conversation is marked active, and what it
/// cost is added to its student's day.
async fn finalizar<E: Executor>(
    e: &mut E,
    fim: &FimResposta,
) -> Result<Option<MensagemRow>, Falha> {
    let mut q = mensagem::Entity::update_many()
        .col_expr(mensagem::Column::Conteudo, bytes(&fim.conteudo).into())
        .col_expr(mensagem::Column::Status, fim.status.into())
        .col_expr(mensagem::Column::Erro, fim.erro.into())
        .col_expr(mensagem::Column::AtualizadaEm, fim.agora.into())
        .filter(mensagem::Column::Id.eq(fim.id))
        .filter(mensagem::Column::Status.eq(Status::Gerando))
        .into_query();
    q.returning_all();
    let s = e.backend().build(&q);
    let Some(m) = e.mensagem(s).await? else {
        return Ok(None);
    };
    let t = tocar_conversa(m.conversa_id, fim.agora);
    e.executar(e.backend().build(&t)).await?;
    if let Some(uso) = &fim.uso {
        let s = e.backend().build(&somar_uso(uso).into_query());
        e.executar(s).await?;
    }
    Ok(Some(m))
}

/// Adds to a student's day, creating the day's row on its first answer.
fn somar_uso(uso: &Uso) -> sea_orm::Insert<uso_diario::ActiveModel> {
    let am = uso_diario::ActiveModel {
        usuario_id: Set(uso.usuario_id.clone()),
        dia: Set(uso.dia.clone()),
        tokens: Set(uso.tokens),
    };
    uso_diario::Entity::insert(am).on_conflict(somando_ao_dia())
}

/// A day already counted gets the new tokens added.
pub(super) fn somando_ao_dia() -> OnConflict {
    OnConflict::columns([uso_diario::Column::UsuarioId, uso_diario::Column::Dia])
        .value(
            uso_diario::Column::Tokens,
            Expr::col((uso_diario::Entity, uso_diario::Column::Tokens)).add(Expr::col((
                Alias::new("excluded"),
                uso_diario::Column::Tokens,
            ))),
        )
        .to_owned()
}

fn tocar_conversa(
    conversa_id: uuid::Uuid,
    agora: chrono::DateTime<chrono::Utc>,
) -> UpdateStatement {
    conversa::Entity::update_many()
        .col_expr(conversa::Column::AtualizadaEm, Expr::value(agora))
        .filter(conversa::Column::Id.eq(conversa_id))
        .into_query()
}

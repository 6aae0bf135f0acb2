//! The teacher's side (docs/turma.md): every student's conversations for a professor, a page
//! at a time, and who may follow the class live. Students are refused (`proibido`).
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Servico, entrada::parse_id, modelo::ResumoConversa};
use crate::{
    auth::Usuario,
    error::Erro,
    storage::{self, Marca, Selecao},
};

/// Conversations per page unless the caller asks otherwise, and the most it may ask for.
const LIMITE_PADRAO: u64 = 50;
const LIMITE_MAX: u64 = 100;

/// `listar_turma` as the service takes it.
#[derive(Debug, Default)]
pub struct PedidoTurma {
    pub cursor: Option<String>,
    pub limite: Option<u64>,
    pub conversa_ids: Option<Vec<String>>,
}

/// One page of the class.
#[derive(Debug)]
pub struct Turma {
    pub conversas: Vec<ResumoConversa>,
    /// Where the next page starts; `None` on the last one.
    pub proximo_cursor: Option<String>,
    pub tokens_por_dia: u64,
}

impl Servico {
    /// `listar_turma`.
    pub async fn listar_turma(&self, usuario: &Usuario, p: PedidoTurma) -> Result<Turma, Erro> {
        self.so_professor(usuario)?;
        self.contar_evento(usuario)?;
        let (selecao, limite) = match p.conversa_ids {
            Some(ids) => {
                if ids.len() as u64 > LIMITE_MAX {
                    return Err(Erro::entrada(format!(
                        "conversa_ids: no máximo {LIMITE_MAX} conversas por pedido."
                    )));
                }
                let ids = ids
                    .iter()
                    .map(|s| parse_id("conversa_ids", s))
                    .collect::<Result<Vec<_>, _>>()?;
                (Selecao::Ids(ids), None)
            }
            None => {
                let limite = p.limite.unwrap_or(LIMITE_PADRAO);
                if !(1..=LIMITE_MAX).contains(&limite) {
                    return Err(Erro::entrada(format!(
                        "limite: de 1 a {LIMITE_MAX} conversas por página."
                    )));
                }
                let apos = p.cursor.as_deref().map(ler_cursor).transpose()?;
                // One more than asked tells whether there is a next page.
                let selecao = Selecao::Pagina {
                    apos,
                    limite: limite + 1,
                };
                (selecao, Some(limite as usize))
            }
        };
        let dia = self.cota.dia(Utc::now());
        let mut linhas = storage::list_turma(&self.db, &selecao, &dia).await?;
        let mut proximo_cursor = None;
        if let Some(limite) = limite
            && linhas.len() > limite
        {
            linhas.truncate(limite);
            proximo_cursor = linhas.last().map(|r| {
                escrever_cursor(Marca {
                    atualizada_em: r.conversa.atualizada_em,
                    id: r.conversa.id,
                })
            });
        }
        Ok(Turma {
            conversas: linhas.into_iter().map(ResumoConversa::from).collect(),
            proximo_cursor,
            tokens_por_dia: self.cota.tokens_por_dia,
        })
    }

    /// `acompanhar_turma` and `deixar_turma`: only a professor may; the caller joins or
    /// leaves the professors' room.
    pub fn acompanhar_turma(&self, usuario: &Usuario) -> Result<(), Erro> {
        self.so_professor(usuario)?;
        self.contar_evento(usuario)
    }

    fn so_professor(&self, usuario: &Usuario) -> Result<(), Erro> {
        if usuario.is_professor() {
            Ok(())
        } else {
            Err(Erro::SoProfessor)
        }
    }
}

/// The cursor is opaque to clients: the last row's `atualizada_em` (to the nanosecond, as
/// stored) and id.
fn escrever_cursor(m: Marca) -> String {
    let nanos = m.atualizada_em.timestamp_nanos_opt().unwrap_or(i64::MAX);
    URL_SAFE_NO_PAD.encode(format!("{nanos}:{}", m.id))
}

fn ler_cursor(s: &str) -> Result<Marca, Erro> {
    let invalido = || Erro::entrada("cursor: não é um cursor desta listagem.");
    let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| invalido())?;
    let texto = String::from_utf8(bytes).map_err(|_| invalido())?;
    let (nanos, id) = texto.split_once(':').ok_or_else(invalido)?;
    let nanos: i64 = nanos.parse().map_err(|_| invalido())?;
    Ok(Marca {
        atualizada_em: DateTime::from_timestamp_nanos(nanos),
        id: Uuid::parse_str(id).map_err(|_| invalido())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_to_the_nanosecond_and_garbage_is_refused() {
        let m = Marca {
            atualizada_em: DateTime::from_timestamp_nanos(1_764_650_000_123_456_789),
            id: Uuid::now_v7(),
        };
        assert_eq!(ler_cursor(&escrever_cursor(m)).expect("reads"), m);
        for ruim in ["", "x", "!!!", &URL_SAFE_NO_PAD.encode("12:nao-uuid")] {
            assert!(
                matches!(ler_cursor(ruim), Err(Erro::EntradaInvalida(_))),
                "{ruim}"
            );
        }
    }
}

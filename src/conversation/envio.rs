//! Storing a student's message: validation, the rate limit and the one write through the
//! group-commit writer (with the new conversation when there is none). A retry with a known
//! `id_cliente` is recognised by its unique index, so the first try reads nothing first.
//! While the write's commit flushes, the model may already be asked (`Gerador::antecipar`).
use chrono::Utc;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::{
    Enviada, Servico,
    entrada::{Conteudo, IdCliente, parse_id},
};
use crate::{
    auth::Usuario,
    error::Erro,
    storage::{self, Destino, ErroEscrita, NovaMensagem, Prazo},
};

impl Servico {
    pub(super) async fn armazenar(
        &self,
        usuario: &Usuario,
        conversa_id: Option<String>,
        conteudo: String,
        id_cliente: Option<String>,
        prazo: Prazo,
    ) -> Result<Enviada, Erro> {
        let conteudo = Conteudo::parse(conteudo, self.max_caracteres)?;
        let id_cliente = id_cliente.map(IdCliente::parse).transpose()?;
        let conversa_id = conversa_id
            .map(|s| parse_id("conversa_id", &s))
            .transpose()?;
        let existente = match conversa_id {
            Some(id) => Some(self.para_enviar(usuario, id).await?),
            None => None,
        };
        if let Err(recusa) = self.pode_enviar(usuario).await {
            // A retry of a send that was stored (before a limit or the day's budget was
            // reached) gets its message back.
            if let Some(ic) = &id_cliente
                && let Some(e) = self.ja_enviada(usuario, ic).await?
            {
                return Ok(e);
            }
            return Err(recusa);
        }
        let destino = match &existente {
            Some(c) => Destino::Existente(c.id),
            None => Destino::Nova {
                id: Uuid::now_v7(),
                titulo: conteudo.titulo(),
                nome: usuario.nome.clone(),
            },
        };
        let nova = NovaMensagem {
            id: Uuid::now_v7(),
            usuario_id: usuario.id.clone(),
            id_cliente: id_cliente.as_ref().map(|i| i.as_str().to_owned()),
            criada_em: Utc::now(),
            conteudo: conteudo.into_inner(),
        };
        let nova_conversa = matches!(destino, Destino::Nova { .. });
        let (aviso, aplicada) = oneshot::channel();
        let gravacao = self
            .escritor
            .gravar_aluno(destino, nova, Some(prazo), Some(aviso));
        tokio::pin!(gravacao);
        // Once only the commit is left, the model is asked while it flushes.
        let mut antecipacao = None;
        let cedo = tokio::select! {
            r = &mut gravacao => Some(r),
            Ok(linha) = aplicada => {
                antecipacao = self.gerador.antecipar(&linha, nova_conversa);
                None
            }
        };
        let gravada = match cedo {
            Some(r) => r,
            None => gravacao.await,
        };
        match gravada {
            Ok((criada, m)) => {
                if let Some(a) = antecipacao {
                    a.confirmar();
                }
                self.gerador.anotar(&m);
                let conversa_nova = criada.is_some();
                let mut c = match criada.or(existente) {
                    Some(c) => c,
                    None => return Err(Erro::Interno),
                };
                if conversa_nova {
                    self.conhecer(&c);
                }
                c.atualizada_em = m.criada_em;
                Ok(Enviada {
                    conversa: c.into(),
                    mensagem: m.into(),
                    conversa_nova,
                    repetida: false,
                })
            }
            // An earlier send with this id_cliente was stored (a retry, or two racing).
            Err(ErroEscrita::IdClienteRepetido) => {
                self.envios.devolver(&usuario.id);
                match &id_cliente {
                    Some(ic) => self.ja_enviada(usuario, ic).await?.ok_or(Erro::Interno),
                    None => Err(Erro::Interno),
                }
            }
            Err(ErroEscrita::Expirada) => Err(Erro::Indisponivel),
            Err(ErroEscrita::Banco(e)) => {
                tracing::error!(error = %e, "could not store a message");
                Err(Erro::Indisponivel)
            }
        }
    }

    /// The send rate limit, then the day's budget; a send the budget refuses gives its unit
    /// of the rate limit back.
    async fn pode_enviar(&self, usuario: &Usuario) -> Result<(), Erro> {
        self.envios
            .tomar(&usuario.id)
            .map_err(|tentar_em_ms| Erro::LimiteExcedido { tentar_em_ms })?;
        if let Err(e) = self.conferir_cota(usuario).await {
            self.envios.devolver(&usuario.id);
            return Err(e);
        }
        Ok(())
    }

    /// Refuses the send when the student's day's budget is spent (one indexed read, only
    /// when a budget is set).
    async fn conferir_cota(&self, usuario: &Usuario) -> Result<(), Erro> {
        if self.cota.tokens_por_dia == 0 {
            return Ok(());
        }
        let agora = Utc::now();
        let usado = storage::find_uso(&self.db, &usuario.id, &self.cota.dia(agora)).await?;
        self.cota.conferir(usado, agora)
    }

    async fn ja_enviada(&self, usuario: &Usuario, ic: &IdCliente) -> Result<Option<Enviada>, Erro> {
        let Some(m) =
            storage::find_mensagem_por_id_cliente(&self.db, &usuario.id, ic.as_str()).await?
        else {
            return Ok(None);
        };
        let c = storage::find_conversa(&self.db, m.conversa_id)
            .await?
            .ok_or(Erro::Interno)?;
        Ok(Some(Enviada {
            conversa: c.into(),
            mensagem: m.into(),
            conversa_nova: false,
            repetida: true,
        }))
    }
}

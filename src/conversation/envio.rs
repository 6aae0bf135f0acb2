//! Storing a student's message: validation, the idempotent retry, the rate limit and the one
//! short write (with the new conversation when there is none).
use chrono::Utc;
use uuid::Uuid;

use super::{
    Enviada, Servico,
    entrada::{Conteudo, IdCliente, parse_id},
};
use crate::{
    auth::Usuario,
    error::Erro,
    storage::{self, NovaMensagem},
};

impl Servico {
    pub(super) async fn armazenar(
        &self,
        usuario: &Usuario,
        conversa_id: Option<String>,
        conteudo: String,
        id_cliente: Option<String>,
    ) -> Result<Enviada, Erro> {
        let conteudo = Conteudo::parse(conteudo, self.max_caracteres)?;
        let id_cliente = id_cliente.map(IdCliente::parse).transpose()?;
        let conversa_id = conversa_id
            .map(|s| parse_id("conversa_id", &s))
            .transpose()?;
        if let Some(ic) = &id_cliente
            && let Some(e) = self.ja_enviada(usuario, ic).await?
        {
            return Ok(e);
        }
        let existente = match conversa_id {
            Some(id) => Some(self.para_escrever(usuario, id).await?),
            None => None,
        };
        self.envios
            .tomar(&usuario.id)
            .map_err(|tentar_em_ms| Erro::LimiteExcedido { tentar_em_ms })?;

        let nova = NovaMensagem {
            id: Uuid::now_v7(),
            usuario_id: usuario.id.clone(),
            id_cliente: id_cliente.as_ref().map(|i| i.as_str().to_owned()),
            criada_em: Utc::now(),
            conteudo: String::new(),
        };
        let resultado = match existente {
            Some(c) => {
                let nova = NovaMensagem {
                    conteudo: conteudo.into_inner(),
                    ..nova
                };
                storage::insert_mensagem_aluno(&self.db, c.id, nova)
                    .await
                    .map(|m| (c, m, false))
            }
            None => {
                let titulo = conteudo.titulo();
                let nova = NovaMensagem {
                    conteudo: conteudo.into_inner(),
                    ..nova
                };
                storage::insert_conversa_com_mensagem(&self.db, Uuid::now_v7(), titulo, nova)
                    .await
                    .map(|(c, m)| (c, m, true))
            }
        };
        match resultado {
            Ok((c, m, conversa_nova)) => Ok(Enviada {
                conversa: c.into(),
                mensagem: m.into(),
                conversa_nova,
                repetida: false,
            }),
            // Two sends with one id_cliente raced: the other one stored it.
            Err(e)
                if matches!(
                    e.sql_err(),
                    Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                ) =>
            {
                match &id_cliente {
                    Some(ic) => self.ja_enviada(usuario, ic).await?.ok_or(Erro::Interno),
                    None => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
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

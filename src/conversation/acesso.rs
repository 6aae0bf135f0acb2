//! Who may read and who may write a conversation. Anyone else is told it does not exist.
use std::{collections::HashMap, sync::Mutex};

use uuid::Uuid;

use super::Servico;
use crate::{
    auth::Usuario,
    error::Erro,
    storage::{self, ConversaRow},
};

impl Servico {
    /// The conversation if `usuario` may read it: the owner or a professor. Anyone else is
    /// told it does not exist.
    pub(super) async fn para_ler(&self, usuario: &Usuario, id: Uuid) -> Result<ConversaRow, Erro> {
        match storage::find_conversa(&self.db, id).await? {
            Some(c) if c.usuario_id == usuario.id || usuario.is_professor() => Ok(c),
            _ => Err(Erro::NaoEncontrada),
        }
    }

    /// The conversation if `usuario` may write to it: only the owner.
    pub(super) async fn para_escrever(
        &self,
        usuario: &Usuario,
        id: Uuid,
    ) -> Result<ConversaRow, Erro> {
        let c = self.para_ler(usuario, id).await?;
        if c.usuario_id == usuario.id {
            Ok(c)
        } else {
            Err(Erro::Proibido)
        }
    }
}

/// The conversations this process has lately seen sent to, kept so a send reads nothing
/// before its write: who owns a conversation never changes, nor its title or creation. Only
/// `atualizada_em` moves, and a send sets it from its own message. Bounded: past `MAX` it
/// starts again empty.
#[derive(Default)]
pub(super) struct Conhecidas(Mutex<HashMap<Uuid, ConversaRow>>);

impl Conhecidas {
    const MAX: usize = 100_000;

    fn travar(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, ConversaRow>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Servico {
    /// `para_escrever` for a send, from memory when the conversation is known.
    pub(super) async fn para_enviar(
        &self,
        usuario: &Usuario,
        id: Uuid,
    ) -> Result<ConversaRow, Erro> {
        let conhecida = self.conhecidas.travar().get(&id).cloned();
        let c = match conhecida {
            Some(c) => c,
            None => {
                let c = self.para_ler(usuario, id).await?;
                self.conhecer(&c);
                c
            }
        };
        if c.usuario_id == usuario.id {
            Ok(c)
        } else if usuario.is_professor() {
            Err(Erro::Proibido)
        } else {
            Err(Erro::NaoEncontrada)
        }
    }

    pub(super) fn conhecer(&self, c: &ConversaRow) {
        let mut m = self.conhecidas.travar();
        if m.len() >= Conhecidas::MAX {
            m.clear();
        }
        m.insert(c.id, c.clone());
    }
}

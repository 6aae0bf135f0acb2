//! Who may read and who may write a conversation. Anyone else is told it does not exist.
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

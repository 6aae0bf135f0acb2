//! The broadcaster of a process in a cluster: every event goes to this process's sockets
//! first (with their own protection against a tab that stops reading), then to the channel,
//! from where every other process hands it to its own sockets. Both happen in the caller's
//! step (inside the room's lock, for an answer's events), so the order this process emits in
//! is the order every process emits in.
use std::sync::Arc;

use uuid::Uuid;

use super::{aviso::Aviso, barramento::Barramento, tocadas::Tocadas};
use crate::conversation::{Atualizacao, CodigoResposta, Conversa, Difusor, Mensagem, Origem};

pub struct DifusorCluster {
    pub(super) local: Arc<dyn Difusor>,
    pub(super) barramento: Arc<Barramento>,
    pub(super) tocadas: Arc<Tocadas>,
}

impl Difusor for DifusorCluster {
    fn conversa_criada(&self, usuario: &str, conversa: &Conversa, exceto: &Origem) {
        self.local.conversa_criada(usuario, conversa, exceto);
        self.barramento.enviar(Aviso::ConversaCriada {
            usuario: usuario.to_owned(),
            conversa: conversa.clone(),
            exceto: exceto.clone(),
        });
    }

    fn mensagem_recebida(&self, mensagem: &Mensagem, exceto: &Origem) {
        self.tocadas.tocar(mensagem.id);
        self.local.mensagem_recebida(mensagem, exceto);
        self.barramento.enviar(Aviso::MensagemRecebida {
            mensagem: mensagem.clone(),
            exceto: exceto.clone(),
        });
    }

    fn resposta_iniciada(&self, conversa_id: Uuid, mensagem_id: Uuid) {
        self.tocadas.tocar(mensagem_id);
        self.local.resposta_iniciada(conversa_id, mensagem_id);
        self.barramento.enviar(Aviso::RespostaIniciada {
            conversa_id,
            mensagem_id,
        });
    }

    fn resposta_parcial(&self, conversa_id: Uuid, mensagem_id: Uuid, indice: u64, delta: &str) {
        self.local
            .resposta_parcial(conversa_id, mensagem_id, indice, delta);
        self.barramento.enviar(Aviso::RespostaParcial {
            conversa_id,
            mensagem_id,
            indice,
            delta: delta.to_owned(),
        });
    }

    fn mensagem_respondida(&self, mensagem: &Mensagem) {
        self.tocadas.tocar(mensagem.id);
        self.local.mensagem_respondida(mensagem);
        self.barramento.enviar(Aviso::MensagemRespondida {
            mensagem: mensagem.clone(),
        });
    }

    fn erro_resposta(&self, conversa_id: Uuid, mensagem_id: Uuid, codigo: CodigoResposta) {
        self.tocadas.tocar(mensagem_id);
        self.local.erro_resposta(conversa_id, mensagem_id, codigo);
        self.barramento.enviar(Aviso::ErroResposta {
            conversa_id,
            mensagem_id,
            codigo,
        });
    }

    fn conversa_atualizada(&self, atualizacao: &Atualizacao) {
        self.local.conversa_atualizada(atualizacao);
        self.barramento
            .enviar(Aviso::ConversaAtualizada(atualizacao.clone()));
    }

    fn ressincronizar(&self, conversa_id: Uuid) {
        self.local.ressincronizar(conversa_id);
    }
}

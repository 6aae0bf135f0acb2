//! What a process does with the other processes' avisos: hands room events to its own
//! sockets, keeping its view of each answer streaming elsewhere (so a tab joining here gets a
//! whole snapshot: see `conversation::Sala`), stops the answers it generates when asked, and
//! answers requests for their state. A piece that does not follow what it saw means avisos
//! were lost: its tabs in that room are resynced and the generating process is asked for
//! the whole state.
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock},
};

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{
    aviso::Aviso,
    barramento::{Barramento, Ouvinte},
};
use crate::{
    conversation::{Difusor, EmAndamento, Sala, Salas, status},
    storage::{self, Db},
};

pub struct Retransmissor {
    pub(super) db: Db,
    pub(super) salas: Arc<Salas>,
    pub(super) local: Arc<dyn Difusor>,
    pub(super) barramento: OnceLock<Arc<Barramento>>,
    /// Rooms with an answer streaming in another process: held so their view outlives the
    /// tabs that come and go.
    pub(super) vivas: Mutex<HashMap<Uuid, Arc<Sala>>>,
    /// Conversations a stopping process let go of: the worker here takes them.
    pub(super) a_agendar: mpsc::UnboundedSender<Uuid>,
}

fn travar<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Retransmissor {
    fn viva(&self, conversa_id: Uuid) -> Arc<Sala> {
        travar(&self.vivas)
            .entry(conversa_id)
            .or_insert_with(|| self.salas.sala(conversa_id))
            .clone()
    }

    fn enviar(&self, aviso: Aviso) {
        if let Some(b) = self.barramento.get() {
            b.enviar(aviso);
        }
    }

    fn terminar(&self, conversa_id: Uuid, mensagem_id: Uuid, emitir: impl FnOnce()) {
        let sala = travar(&self.vivas)
            .remove(&conversa_id)
            .or_else(|| self.salas.existente(conversa_id));
        match sala {
            Some(s) => s.terminar(mensagem_id, emitir),
            None => emitir(),
        }
    }
}

#[async_trait::async_trait]
impl Ouvinte for Retransmissor {
    async fn ouvir(&self, aviso: Aviso) {
        let local = &self.local;
        match aviso {
            Aviso::ConversaCriada {
                usuario,
                conversa,
                exceto,
            } => local.conversa_criada(&usuario, &conversa, &exceto),
            Aviso::MensagemRecebida { mensagem, exceto } => {
                local.mensagem_recebida(&mensagem, &exceto)
            }
            Aviso::RespostaIniciada {
                conversa_id,
                mensagem_id,
            } => self.viva(conversa_id).iniciar(mensagem_id, || {
                local.resposta_iniciada(conversa_id, mensagem_id)
            }),
            Aviso::RespostaParcial {
                conversa_id,
                mensagem_id,
                indice,
                delta,
            } => {
                let sala = self.viva(conversa_id);
                let aplicado = sala.acrescentar_remoto(mensagem_id, indice, &delta, || {
                    local.resposta_parcial(conversa_id, mensagem_id, indice, &delta)
                });
                if let Err(lacuna) = aplicado {
                    tracing::warn!(%conversa_id, %mensagem_id, indice, ?lacuna, "pieces of an answer were lost on the way; resyncing");
                    sala.marcar_incompleta(mensagem_id);
                    local.ressincronizar(conversa_id);
                    self.enviar(Aviso::PedirEstado { conversa_id });
                }
            }
            Aviso::MensagemRespondida { mensagem } => {
                self.terminar(mensagem.conversa_id, mensagem.id, || {
                    local.mensagem_respondida(&mensagem)
                })
            }
            Aviso::ErroResposta {
                conversa_id,
                mensagem_id,
                codigo,
            } => self.terminar(conversa_id, mensagem_id, || {
                local.erro_resposta(conversa_id, mensagem_id, &codigo)
            }),
            Aviso::Cancelar {
                conversa_id,
                mensagem_id,
            } => {
                if let Some(s) = self.salas.existente(conversa_id)
                    && s.cancelar(Some(mensagem_id))
                {
                    tracing::info!(%conversa_id, %mensagem_id, "answer cancelled from another process");
                }
            }
            Aviso::PedirEstado { conversa_id } => {
                let Some(sala) = self.salas.existente(conversa_id) else {
                    return;
                };
                let Some(aqui) = sala.gerada_aqui() else {
                    return;
                };
                // Under the room's lock, so the state lands in order with our pieces.
                sala.com_atual(|a| {
                    if a.mensagem_id == aqui {
                        self.enviar(Aviso::Estado {
                            conversa_id,
                            mensagem_id: a.mensagem_id,
                            texto: a.texto.clone(),
                            proximo_indice: a.proximo_indice,
                        });
                    }
                });
            }
            Aviso::Estado {
                conversa_id,
                mensagem_id,
                texto,
                proximo_indice,
            } => self.viva(conversa_id).restaurar(EmAndamento {
                mensagem_id,
                texto,
                proximo_indice,
            }),
            Aviso::Liberada { conversa_id } => {
                let _ = self.a_agendar.send(conversa_id);
            }
        }
    }

    /// Avisos published while the channel was down never arrive: the answers relayed here
    /// are checked against the database (ended ones are dropped, live ones asked for again),
    /// and this process's tabs in every conversation that changed meanwhile are resynced.
    async fn reconectado(&self, perdido_em: DateTime<Utc>) {
        // Publishes fail a little before a listener notices the loss.
        let desde = perdido_em - chrono::Duration::seconds(2);
        let vivas: Vec<(Uuid, Arc<Sala>)> = travar(&self.vivas)
            .iter()
            .map(|(id, s)| (*id, Arc::clone(s)))
            .collect();
        for (conversa_id, sala) in vivas {
            let Some(a) = sala.atual() else { continue };
            let ainda = storage::list_gerando_da_conversa(&self.db, conversa_id)
                .await
                .map(|l| {
                    l.iter()
                        .any(|m| m.id == a.mensagem_id && m.status == status::GERANDO)
                })
                .unwrap_or(true);
            if ainda {
                sala.marcar_incompleta(a.mensagem_id);
                self.enviar(Aviso::PedirEstado { conversa_id });
            } else {
                self.terminar(conversa_id, a.mensagem_id, || {});
            }
        }
        match storage::list_conversas_alteradas_desde(&self.db, desde).await {
            Ok(ids) => {
                for id in ids {
                    self.local.ressincronizar(id);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not tell which conversations changed while Redis was away")
            }
        }
    }
}

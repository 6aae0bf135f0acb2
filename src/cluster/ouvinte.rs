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
    tocadas::{RETENCAO, Tocadas},
};
use crate::{
    conversation::{Difusor, EmAndamento, Sala, Salas, Status},
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
    /// What this process told its own tabs.
    pub(super) tocadas: Arc<Tocadas>,
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
            } => {
                let sala = self.viva(conversa_id);
                if sala.gerada_aqui().is_some() {
                    // Late news of an answer that ended before ours started (the lease
                    // passed to us first): the tabs hear it, our answer's state stays.
                    return local.resposta_iniciada(conversa_id, mensagem_id);
                }
                sala.iniciar(mensagem_id, || {
                    local.resposta_iniciada(conversa_id, mensagem_id)
                })
            }
            Aviso::RespostaParcial {
                conversa_id,
                mensagem_id,
                indice,
                delta,
            } => {
                let sala = self.viva(conversa_id);
                if sala.gerada_aqui().is_some_and(|aqui| aqui != mensagem_id) {
                    return local.resposta_parcial(conversa_id, mensagem_id, indice, &delta);
                }
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
                local.erro_resposta(conversa_id, mensagem_id, codigo)
            }),
            Aviso::ConversaAtualizada(a) => local.conversa_atualizada(&a),
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
            } => {
                let sala = self.viva(conversa_id);
                if sala.gerada_aqui().is_none() {
                    sala.restaurar(EmAndamento {
                        mensagem_id,
                        texto,
                        proximo_indice,
                    });
                }
            }
            Aviso::Liberada { conversa_id } => {
                let _ = self.a_agendar.send(conversa_id);
            }
        }
    }

    /// Avisos published while the channel was down never arrive. Answers relayed here are
    /// checked against the database (ended ones are dropped; live ones are asked for again
    /// and their rooms' tabs resynced, having missed pieces); and the tabs in every
    /// conversation changed meanwhile by another process are resynced. A conversation only
    /// this process changed (its students sent here, its answers were generated here) keeps
    /// its tabs: they missed nothing.
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
                        .any(|m| m.id == a.mensagem_id && m.status == Status::Gerando)
                })
                .unwrap_or(true);
            if ainda {
                sala.marcar_incompleta(a.mensagem_id);
                self.local.ressincronizar(conversa_id);
                self.enviar(Aviso::PedirEstado { conversa_id });
            } else {
                self.terminar(conversa_id, a.mensagem_id, || {});
            }
        }
        let lembra = Utc::now() - desde < chrono::Duration::from_std(RETENCAO).unwrap_or_default();
        let alteradas = match storage::list_mensagens_alteradas_desde(&self.db, desde).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "could not tell which conversations changed while Redis was away");
                return;
            }
        };
        let mut ressincronizar: Vec<Uuid> = alteradas
            .into_iter()
            .filter(|(mensagem_id, _)| !(lembra && self.tocadas.tocada(mensagem_id)))
            .map(|(_, conversa_id)| conversa_id)
            .collect();
        ressincronizar.sort_unstable();
        ressincronizar.dedup();
        for id in ressincronizar {
            self.local.ressincronizar(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::{Atualizacao, Autor, CodigoResposta, Conversa, Mensagem, Origem};

    /// Records what would have been emitted to this process's sockets.
    #[derive(Default)]
    struct Gravador(Mutex<Vec<String>>);

    impl Gravador {
        fn tirar(&self) -> Vec<String> {
            std::mem::take(&mut *travar(&self.0))
        }
        fn gravar(&self, s: String) {
            travar(&self.0).push(s);
        }
    }

    impl Difusor for Gravador {
        fn conversa_criada(&self, u: &str, _: &Conversa, _: &Origem) {
            self.gravar(format!("criada {u}"));
        }
        fn mensagem_recebida(&self, m: &Mensagem, _: &Origem) {
            self.gravar(format!("recebida {}", m.conteudo));
        }
        fn resposta_iniciada(&self, _: Uuid, _: Uuid) {
            self.gravar("iniciada".into());
        }
        fn resposta_parcial(&self, _: Uuid, _: Uuid, indice: u64, delta: &str) {
            self.gravar(format!("parcial {indice} {delta}"));
        }
        fn mensagem_respondida(&self, m: &Mensagem) {
            self.gravar(format!("respondida {}", m.conteudo));
        }
        fn erro_resposta(&self, _: Uuid, _: Uuid, codigo: CodigoResposta) {
            self.gravar(format!("erro {codigo}"));
        }
        fn conversa_atualizada(&self, a: &Atualizacao) {
            self.gravar(format!("atualizada {:?}", a.motivo));
        }
        fn ressincronizar(&self, _: Uuid) {
            self.gravar("ressincronizar".into());
        }
    }

    async fn retransmissor() -> (Arc<Retransmissor>, Arc<Gravador>, Arc<Salas>) {
        let db = sea_orm::Database::connect("sqlite::memory:")
            .await
            .expect("sqlite in memory");
        let gravador = Arc::new(Gravador::default());
        let salas = Arc::new(Salas::default());
        let (a_agendar, _) = mpsc::unbounded_channel();
        let r = Arc::new(Retransmissor {
            db,
            salas: salas.clone(),
            local: gravador.clone(),
            barramento: OnceLock::new(),
            vivas: Mutex::new(HashMap::new()),
            a_agendar,
            tocadas: Arc::new(Tocadas::default()),
        });
        (r, gravador, salas)
    }

    fn parcial(c: Uuid, m: Uuid, indice: u64, delta: &str) -> Aviso {
        Aviso::RespostaParcial {
            conversa_id: c,
            mensagem_id: m,
            indice,
            delta: delta.into(),
        }
    }

    fn texto_ao_entrar(salas: &Salas, c: Uuid) -> Option<Option<String>> {
        let s = salas.sala(c);
        let parada = s.juntar(s.versao(), false).ok()?;
        Some(parada.ao_vivo().map(|a| a.texto.clone()))
    }

    #[tokio::test]
    async fn a_relayed_answer_reaches_local_tabs_and_joins_in_order_and_a_gap_resyncs() {
        let (r, g, salas) = retransmissor().await;
        let (c, m) = (Uuid::now_v7(), Uuid::now_v7());
        r.ouvir(Aviso::RespostaIniciada {
            conversa_id: c,
            mensagem_id: m,
        })
        .await;
        r.ouvir(parcial(c, m, 0, "a")).await;
        r.ouvir(parcial(c, m, 1, "b")).await;
        assert_eq!(g.tirar(), ["iniciada", "parcial 0 a", "parcial 1 b"]);
        assert_eq!(texto_ao_entrar(&salas, c), Some(Some("ab".into())));

        // Piece 2 was lost on the way: the tabs here are resynced, joins wait for the state.
        r.ouvir(parcial(c, m, 3, "d")).await;
        assert_eq!(g.tirar(), ["ressincronizar"]);
        assert_eq!(texto_ao_entrar(&salas, c), None, "a join waits");
        r.ouvir(parcial(c, m, 4, "e")).await;
        r.ouvir(Aviso::Estado {
            conversa_id: c,
            mensagem_id: m,
            texto: "abcde".into(),
            proximo_indice: 5,
        })
        .await;
        assert_eq!(texto_ao_entrar(&salas, c), Some(Some("abcde".into())));
        r.ouvir(parcial(c, m, 4, "e")).await;
        r.ouvir(parcial(c, m, 5, "f")).await;
        assert_eq!(g.tirar(), ["parcial 5 f"], "nothing twice after the state");

        let agora = chrono::Utc::now();
        r.ouvir(Aviso::MensagemRespondida {
            mensagem: Mensagem {
                id: m,
                conversa_id: c,
                papel: Autor::Tutor,
                conteudo: "abcdef".into(),
                status: Status::Completa,
                criada_em: agora,
                id_cliente: None,
                responde_a: None,
            },
        })
        .await;
        assert_eq!(g.tirar(), ["respondida abcdef"]);
        assert_eq!(
            texto_ao_entrar(&salas, c),
            Some(None),
            "no answer streaming"
        );
        assert!(travar(&r.vivas).is_empty(), "the room is let go");
    }

    #[tokio::test]
    async fn late_pieces_of_an_earlier_answer_never_touch_the_answer_generated_here() {
        let (r, g, salas) = retransmissor().await;
        let c = Uuid::now_v7();
        let (antiga, nossa) = (Uuid::now_v7(), Uuid::now_v7());
        let sala = salas.sala(c);
        // The lease passed to us before the other process's last pieces reached us.
        sala.armar_cancelamento(nossa);
        sala.iniciar(nossa, || {});
        sala.acrescentar("x", |_, _| {});
        r.ouvir(Aviso::RespostaIniciada {
            conversa_id: c,
            mensagem_id: antiga,
        })
        .await;
        r.ouvir(parcial(c, antiga, 7, "velho")).await;
        assert_eq!(
            g.tirar(),
            ["iniciada", "parcial 7 velho"],
            "the tabs still hear them"
        );
        let a = sala.atual().expect("ours streams");
        assert_eq!((a.mensagem_id, a.texto.as_str()), (nossa, "x"));
    }

    #[tokio::test]
    async fn a_cancel_from_another_process_stops_only_the_answer_it_names() {
        let (r, _, salas) = retransmissor().await;
        let c = Uuid::now_v7();
        let sala = salas.sala(c);
        let (antiga, atual) = (Uuid::now_v7(), Uuid::now_v7());
        let token = sala.armar_cancelamento(atual);
        r.ouvir(Aviso::Cancelar {
            conversa_id: c,
            mensagem_id: antiga,
        })
        .await;
        assert!(!token.is_cancelled(), "a late cancel of an earlier answer");
        r.ouvir(Aviso::Cancelar {
            conversa_id: c,
            mensagem_id: atual,
        })
        .await;
        assert!(token.is_cancelled());
    }
}

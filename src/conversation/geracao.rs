//! The answer queue and the generation task. Each conversation with unanswered student
//! messages has one worker, owned by the conversation (not by any socket: closing every tab
//! does not stop it), that answers them one at a time in stored order. The queue is the
//! database itself: a student message without an answer row is pending, so a crash loses
//! nothing and start-up simply looks again.
mod transmissao;

use std::{panic::AssertUnwindSafe, sync::Arc, time::Duration};

use chrono::Utc;
use futures::FutureExt;
use tokio::time::{sleep, timeout};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use uuid::Uuid;

use transmissao::Fim;
pub use transmissao::texto_do_erro;

use super::{
    difusor::Difusor,
    modelo::{codigo_resposta, status},
    prompt,
    sala::{EmAndamento, Sala, Salas},
};
use crate::{
    llm::ModeloChat,
    storage::{self, Db, MensagemRow},
};

/// Attempts of a worker's queue read before it gives up until the next kick.
const TENTATIVAS_FILA: u32 = 5;

pub struct Ajustes {
    pub sistema: String,
    pub orcamento_historico: usize,
    /// Longest wait for the first piece of text (the request and its retries included).
    pub timeout_primeiro_token: Duration,
    /// Longest silence between two pieces once the answer has started.
    pub timeout_inativo: Duration,
}

pub struct Gerador {
    db: Db,
    modelo: Arc<dyn ModeloChat>,
    difusor: Arc<dyn Difusor>,
    salas: Arc<Salas>,
    ajustes: Ajustes,
    tarefas: TaskTracker,
    /// Shutdown began: no new answer starts.
    parando: CancellationToken,
    /// The grace period is over: answers in flight end as `interrompida`.
    interrompendo: CancellationToken,
}

impl Gerador {
    pub fn new(
        db: Db,
        modelo: Arc<dyn ModeloChat>,
        difusor: Arc<dyn Difusor>,
        salas: Arc<Salas>,
        ajustes: Ajustes,
    ) -> Self {
        Self {
            db,
            modelo,
            difusor,
            salas,
            ajustes,
            tarefas: TaskTracker::new(),
            parando: CancellationToken::new(),
            interrompendo: CancellationToken::new(),
        }
    }

    /// Makes sure the conversation's queue is being answered. Cheap and idempotent.
    pub fn agendar(self: &Arc<Self>, conversa_id: Uuid) {
        if self.parando.is_cancelled() {
            return;
        }
        let sala = self.salas.sala(conversa_id);
        if sala.pedir_trabalho() {
            let g = Arc::clone(self);
            self.tarefas.spawn(async move { g.trabalhar(sala).await });
        }
    }

    /// Shutdown: lets answers in flight finish within `graca`, then ends the rest as
    /// `interrompida` (their rooms are told) and waits for the final writes.
    pub async fn encerrar(&self, graca: Duration) {
        self.parando.cancel();
        self.tarefas.close();
        if timeout(graca, self.tarefas.wait()).await.is_err() {
            tracing::warn!("grace period over; interrupting answers in flight");
            self.interrompendo.cancel();
            self.tarefas.wait().await;
        }
    }

    /// Start-up after a crash: answers left `gerando` end as `interrompida` with the text
    /// they had, and conversations with unanswered messages are queued again.
    pub async fn recuperar(self: &Arc<Self>) -> Result<(), sea_orm::DbErr> {
        for m in storage::list_gerando(&self.db).await? {
            tracing::warn!(mensagem_id = %m.id, "answer left generating by a previous run; ending it");
            storage::finalizar_resposta(
                &self.db,
                m.id,
                &m.conteudo,
                status::ERRO,
                Some(codigo_resposta::INTERROMPIDA),
                Utc::now(),
            )
            .await?;
        }
        for conversa_id in storage::list_conversas_com_pendentes(&self.db).await? {
            self.agendar(conversa_id);
        }
        Ok(())
    }

    async fn trabalhar(&self, sala: Arc<Sala>) {
        let mut falhas = 0;
        loop {
            if self.parando.is_cancelled() {
                sala.parar();
                return;
            }
            match storage::find_proxima_sem_resposta(&self.db, sala.conversa_id).await {
                Ok(Some(pergunta)) => {
                    let resposta = AssertUnwindSafe(self.responder(&sala, pergunta))
                        .catch_unwind()
                        .await;
                    match resposta {
                        Ok(Ok(())) => falhas = 0,
                        Ok(Err(e)) => {
                            // The answer row could not even be created: wait, then retry.
                            tracing::error!(error = %e, conversa_id = %sala.conversa_id, "could not start an answer");
                            falhas += 1;
                        }
                        Err(_) => {
                            self.depois_de_panico(&sala).await;
                            falhas += 1;
                        }
                    }
                }
                Ok(None) => {
                    if sala.pode_parar() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, conversa_id = %sala.conversa_id, "could not read the answer queue");
                    falhas += 1;
                }
            }
            if falhas >= TENTATIVAS_FILA {
                sala.parar();
                return;
            }
            if falhas > 0 {
                sleep(Duration::from_millis(200) * 2u32.pow(falhas)).await;
            }
        }
    }

    /// A panic in the generation ends that answer only: it is stored as `erro` with its text,
    /// the room is told, and the worker goes on with the queue.
    async fn depois_de_panico(&self, sala: &Sala) {
        tracing::error!(conversa_id = %sala.conversa_id, "answer generation panicked");
        sala.desarmar_cancelamento();
        let mut ao_vivo = sala.ao_vivo.lock().await;
        if let Some(a) = ao_vivo.take() {
            let fim = Fim::Erro {
                codigo: codigo_resposta::INTERROMPIDA,
                causa: "panic".into(),
            };
            self.finalizar(sala.conversa_id, a, fim).await;
        }
    }

    /// Generates and stores the answer to `pergunta`, streaming it to the room.
    async fn responder(&self, sala: &Sala, pergunta: MensagemRow) -> Result<(), sea_orm::DbErr> {
        let cancelar = {
            // Row, live state and `resposta_iniciada` in one step with respect to joins: a
            // joining tab sees either no answer yet or an answer it gets every piece of.
            let mut ao_vivo = sala.ao_vivo.lock().await;
            let resposta =
                storage::insert_resposta(&self.db, &pergunta, Uuid::now_v7(), Utc::now()).await?;
            let cancelar = sala.armar_cancelamento();
            *ao_vivo = Some(EmAndamento {
                mensagem_id: resposta.id,
                texto: String::new(),
                proximo_indice: 0,
            });
            self.difusor
                .resposta_iniciada(sala.conversa_id, resposta.id)
                .await;
            cancelar
        };
        let fim = match storage::list_mensagens(&self.db, sala.conversa_id, None).await {
            Ok(historico) => {
                let linhas = prompt::montar(
                    &self.ajustes.sistema,
                    &historico,
                    &pergunta,
                    self.ajustes.orcamento_historico,
                );
                self.transmitir(sala, linhas, &cancelar).await
            }
            Err(e) => Fim::Erro {
                codigo: codigo_resposta::INDISPONIVEL,
                causa: e.to_string(),
            },
        };
        sala.desarmar_cancelamento();
        let mut ao_vivo = sala.ao_vivo.lock().await;
        if let Some(a) = ao_vivo.take() {
            self.finalizar(sala.conversa_id, a, fim).await;
        }
        Ok(())
    }
}

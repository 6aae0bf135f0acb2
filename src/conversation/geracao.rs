//! The answer queue and the generation task. Each conversation with unanswered student
//! messages has one worker, owned by the conversation (not by any socket: closing every tab
//! does not stop it), that answers them one at a time in stored order. The queue is the
//! database itself: a student message without an answer row is pending, so a crash loses
//! nothing and start-up simply looks again.
use std::{panic::AssertUnwindSafe, sync::Arc, time::Duration};

use chrono::Utc;
use futures::{FutureExt, StreamExt};
use tokio::time::{Instant, sleep, sleep_until, timeout, timeout_at};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use uuid::Uuid;

use super::{
    difusor::Difusor,
    modelo::{Mensagem, codigo_resposta, status},
    prompt,
    sala::{EmAndamento, Sala, Salas},
};
use crate::{
    llm::{ErroModelo, ModeloChat},
    storage::{self, Db, MensagemRow},
};

/// At most one `resposta_parcial` per room this often: pieces from a fast upstream are
/// coalesced so a socket's outgoing buffer (128 packets) cannot fill from one answer.
const INTERVALO_PARCIAL: Duration = Duration::from_millis(30);
/// How often the text of an answer still streaming is saved (crash recovery keeps it).
const INTERVALO_CHECKPOINT: Duration = Duration::from_secs(2);
/// Attempts of the final write before the answer is reported as not stored.
const TENTATIVAS_ESCRITA: u32 = 3;
/// Attempts of a worker's queue read before it gives up until the next kick.
const TENTATIVAS_FILA: u32 = 5;

/// How an answer ended.
enum Fim {
    Completa,
    Cancelada,
    Erro { codigo: &'static str, causa: String },
}

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

    /// Streams the model's answer to the room until it ends, fails, stalls or is stopped.
    async fn transmitir(
        &self,
        sala: &Sala,
        linhas: Vec<crate::llm::LinhaPrompt>,
        cancelar: &CancellationToken,
    ) -> Fim {
        let inicio = Instant::now();
        let primeiro = self.ajustes.timeout_primeiro_token;
        let inativo = self.ajustes.timeout_inativo;
        let mut fluxo = tokio::select! {
            _ = cancelar.cancelled() => return Fim::Cancelada,
            _ = self.interrompendo.cancelled() => return interrompida(),
            r = timeout_at(inicio + primeiro, self.modelo.gerar(linhas)) => match r {
                Ok(Ok(f)) => f,
                Ok(Err(e)) => return erro_do_modelo(e),
                Err(_) => return sem_resposta(primeiro),
            },
        };
        let mut recebeu = false;
        let mut pendente = String::new();
        let mut ultimo_envio = Instant::now() - INTERVALO_PARCIAL;
        let mut ultimo_checkpoint = Instant::now();
        let fim = loop {
            let prazo = ultimo_envio + INTERVALO_PARCIAL;
            let (limite, espera) = if recebeu {
                (Instant::now() + inativo, inativo)
            } else {
                (inicio + primeiro, primeiro)
            };
            tokio::select! {
                biased;
                _ = cancelar.cancelled() => break Fim::Cancelada,
                _ = self.interrompendo.cancelled() => break interrompida(),
                _ = sleep_until(prazo), if !pendente.is_empty() => {
                    self.publicar(sala, std::mem::take(&mut pendente)).await;
                    ultimo_envio = Instant::now();
                }
                item = timeout_at(limite, fluxo.next()) => match item {
                    Ok(Some(Ok(texto))) => {
                        recebeu = true;
                        pendente.push_str(&texto);
                        if Instant::now() >= prazo {
                            self.publicar(sala, std::mem::take(&mut pendente)).await;
                            ultimo_envio = Instant::now();
                        }
                    }
                    Ok(Some(Err(e))) => break erro_do_modelo(e),
                    Ok(None) => break Fim::Completa,
                    Err(_) => break sem_resposta(espera),
                },
            }
            if ultimo_checkpoint.elapsed() >= INTERVALO_CHECKPOINT {
                self.checkpoint(sala).await;
                ultimo_checkpoint = Instant::now();
            }
        };
        // Dropping the stream closes the upstream request; what was received is kept.
        drop(fluxo);
        if !pendente.is_empty() {
            self.publicar(sala, pendente).await;
        }
        fim
    }

    /// Saves the text so far; a failure only costs crash recovery some text, so it is logged.
    async fn checkpoint(&self, sala: &Sala) {
        let atual = {
            let ao_vivo = sala.ao_vivo.lock().await;
            ao_vivo.as_ref().map(|a| (a.mensagem_id, a.texto.clone()))
        };
        if let Some((id, texto)) = atual
            && let Err(e) = storage::salvar_parcial(&self.db, id, &texto).await
        {
            tracing::warn!(error = %e, mensagem_id = %id, "could not checkpoint an answer");
        }
    }

    /// Appends a piece to the answer and emits it, atomically with respect to joins.
    async fn publicar(&self, sala: &Sala, delta: String) {
        let mut ao_vivo = sala.ao_vivo.lock().await;
        if let Some(a) = ao_vivo.as_mut() {
            let indice = a.proximo_indice;
            a.proximo_indice += 1;
            a.texto.push_str(&delta);
            self.difusor
                .resposta_parcial(sala.conversa_id, a.mensagem_id, indice, &delta)
                .await;
        }
    }

    /// The one final write and the one terminal event. Called with the room's `ao_vivo`
    /// lock held, so a tab joining now sees either the streaming answer or the stored one.
    async fn finalizar(&self, conversa_id: Uuid, a: EmAndamento, fim: Fim) {
        let (st, codigo) = match &fim {
            Fim::Completa => (status::COMPLETA, None),
            Fim::Cancelada => (status::CANCELADA, None),
            Fim::Erro { codigo, causa } => {
                tracing::warn!(mensagem_id = %a.mensagem_id, codigo, causa, "answer ended with an error");
                (status::ERRO, Some(*codigo))
            }
        };
        let mut gravada = None;
        for tentativa in 1..=TENTATIVAS_ESCRITA {
            match storage::finalizar_resposta(
                &self.db,
                a.mensagem_id,
                &a.texto,
                st,
                codigo,
                Utc::now(),
            )
            .await
            {
                Ok(m) => {
                    gravada = Some(m);
                    break;
                }
                Err(e) => {
                    tracing::error!(error = %e, mensagem_id = %a.mensagem_id, tentativa, "could not store the answer");
                    sleep(Duration::from_millis(100) * tentativa).await;
                }
            }
        }
        match (gravada, codigo) {
            (Some(m), None) => self.difusor.mensagem_respondida(&Mensagem::from(m)).await,
            (Some(_), Some(codigo)) => {
                self.difusor
                    .erro_resposta(conversa_id, a.mensagem_id, codigo, texto_do_erro(codigo))
                    .await
            }
            (None, _) => {
                // Not silently lost: the text is in the log with its id.
                tracing::error!(mensagem_id = %a.mensagem_id, texto = %a.texto, "answer NOT stored");
                let codigo = codigo_resposta::INDISPONIVEL;
                self.difusor
                    .erro_resposta(conversa_id, a.mensagem_id, codigo, texto_do_erro(codigo))
                    .await
            }
        }
    }
}

fn interrompida() -> Fim {
    Fim::Erro {
        codigo: codigo_resposta::INTERROMPIDA,
        causa: "server shutting down".into(),
    }
}

fn sem_resposta(inativo: Duration) -> Fim {
    Fim::Erro {
        codigo: codigo_resposta::MODELO_INDISPONIVEL,
        causa: format!("no data from the model for {inativo:?}"),
    }
}

fn erro_do_modelo(e: ErroModelo) -> Fim {
    let codigo = match e {
        ErroModelo::Indisponivel(_) => codigo_resposta::MODELO_INDISPONIVEL,
        ErroModelo::LimiteExcedido(_) => codigo_resposta::LIMITE_EXCEDIDO,
    };
    Fim::Erro {
        codigo,
        causa: e.to_string(),
    }
}

/// The sentence shown with each `erro_resposta` code.
pub fn texto_do_erro(codigo: &str) -> &'static str {
    match codigo {
        codigo_resposta::LIMITE_EXCEDIDO => {
            "O modelo está recebendo pedidos demais agora. Tente de novo em instantes."
        }
        codigo_resposta::INTERROMPIDA => "A resposta foi interrompida porque o servidor parou.",
        codigo_resposta::INDISPONIVEL => "Não foi possível guardar a resposta.",
        _ => "O modelo não conseguiu responder agora. Tente de novo.",
    }
}

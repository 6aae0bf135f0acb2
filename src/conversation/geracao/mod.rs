//! The answer queue and the generation task. Each conversation with unanswered student
//! messages has one worker, owned by the conversation (not by any socket: closing every tab
//! does not stop it), that answers them one at a time in stored order. The queue is the
//! database itself: a student message without an answer row is pending, so a crash loses
//! nothing and start-up simply looks again. With several processes the worker first takes
//! the conversation's lease (`Coordenacao`), so one process answers a conversation at a time;
//! `vigiar` renews leases and takes over those of a process that died.
mod antecipacao;
mod transmissao;

use std::{
    collections::{HashMap, HashSet},
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::Utc;
use futures::FutureExt;
use tokio::time::{sleep, timeout};
use tokio_util::{
    sync::CancellationToken,
    task::{AbortOnDropHandle, TaskTracker},
};
use uuid::Uuid;

pub use antecipacao::Antecipacao;
use antecipacao::{Antecipada, Antecipadas, PedidoModelo};
use transmissao::Fim;
pub use transmissao::texto_do_erro;

use super::{
    coordenacao::Coordenacao,
    cota::Cota,
    difusor::Difusor,
    historicos::{Carga, Historicos, proxima_sem_resposta},
    modelo::{Atualizacao, CodigoResposta, Motivo, Status},
    prompt,
    sala::{Sala, Salas},
};
use crate::{
    llm::{LinhaPrompt, ModeloChat},
    metricas::Metricas,
    storage::{self, Db, ErroEscrita, Escritor, FimResposta, MensagemRow},
};

/// Attempts of a worker's queue read before it gives up (`vigiar` retries it a little later).
const TENTATIVAS_FILA: u32 = 5;
/// Every this many supervisor rounds (about 5 minutes with the default lease), conversations
/// with work and no lease at all are looked for: a process that died between storing a
/// message and taking the lease. It reads every unanswered message, so it stays rare.
const RODADAS_POR_VARREDURA: u32 = 100;
/// How often a single process retries the queues its workers gave up on.
const INTERVALO_SOZINHO: Duration = Duration::from_secs(3);
/// Memory for the histories of the conversations answered lately (one process only).
const MEMORIA_HISTORICOS: usize = 64 << 20;
/// Loads of a history that raced a write before the rows read are used uninstalled.
const TENTATIVAS_HISTORICO: u32 = 3;

pub struct Ajustes {
    pub sistema: String,
    pub orcamento_historico: usize,
    /// Longest wait for the first piece of text (the request and its retries included).
    pub timeout_primeiro_token: Duration,
    /// Longest silence between two pieces once the answer has started.
    pub timeout_inativo: Duration,
    /// After the first piece (sent at once), at most one `resposta_parcial` per room this
    /// often: the model's pieces that arrive meanwhile go together.
    pub intervalo_parcial: Duration,
    /// What each answer costs is added to its student's day (the budget is checked at send).
    pub cota: Cota,
}

pub struct Gerador {
    db: Db,
    escritor: Escritor,
    metricas: Arc<Metricas>,
    /// Only used when this process is alone (`compartilhada` is false).
    historicos: Historicos,
    /// Model requests that left while their question was being flushed (`antecipar`).
    antecipadas: Arc<Antecipadas>,
    modelo: Arc<dyn ModeloChat>,
    difusor: Arc<dyn Difusor>,
    salas: Arc<Salas>,
    coordenacao: Arc<dyn Coordenacao>,
    ajustes: Ajustes,
    tarefas: TaskTracker,
    /// The conversations whose lease this process holds, with their rooms.
    trabalhando: Mutex<HashMap<Uuid, Arc<Sala>>>,
    /// Queues whose worker gave up (the database kept failing): retried by `vigiar`.
    adiadas: Mutex<HashSet<Uuid>>,
    /// Shutdown began: no new answer starts.
    parando: CancellationToken,
    /// The grace period is over: answers in flight end as `interrompida`.
    interrompendo: CancellationToken,
}

impl Gerador {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: Db,
        escritor: Escritor,
        metricas: Arc<Metricas>,
        modelo: Arc<dyn ModeloChat>,
        difusor: Arc<dyn Difusor>,
        salas: Arc<Salas>,
        coordenacao: Arc<dyn Coordenacao>,
        ajustes: Ajustes,
    ) -> Self {
        Self {
            db,
            escritor,
            antecipadas: Arc::new(Antecipadas::new(Arc::clone(&metricas))),
            metricas,
            historicos: Historicos::new(MEMORIA_HISTORICOS, ajustes.orcamento_historico),
            modelo,
            difusor,
            salas,
            coordenacao,
            ajustes,
            tarefas: TaskTracker::new(),
            trabalhando: Mutex::new(HashMap::new()),
            adiadas: Mutex::new(HashSet::new()),
            parando: CancellationToken::new(),
            interrompendo: CancellationToken::new(),
        }
    }

    /// Makes sure the conversation's queue is being answered, here or by the process that
    /// holds its lease. Cheap and idempotent.
    pub fn agendar(self: &Arc<Self>, conversa_id: Uuid) {
        if self.parando.is_cancelled() {
            self.coordenacao.ceder(conversa_id);
            return;
        }
        let sala = self.salas.sala(conversa_id);
        if sala.pedir_trabalho() {
            let g = Arc::clone(self);
            self.metricas.fila(1);
            self.tarefas.spawn(async move {
                g.trabalhar(sala).await;
                g.metricas.fila(-1);
            });
        }
    }

    /// Another (stopping) process let go of the conversation: answer it here, unless this
    /// process is stopping too (the conversation then waits for a process that is not).
    pub fn assumir(self: &Arc<Self>, conversa_id: Uuid) {
        if !self.parando.is_cancelled() {
            self.agendar(conversa_id);
        }
    }

    /// Shutdown has begun (`/ready` reports it): no new answer starts here.
    pub fn parando(&self) -> bool {
        self.parando.is_cancelled()
    }

    /// Shutdown: no new answer starts, and queues with work left are handed to the other
    /// processes at once; answers in flight finish within `graca`, then the rest end as
    /// `interrompida` (their rooms are told) and the final writes are waited for.
    pub async fn encerrar(&self, graca: Duration) {
        self.parando.cancel();
        self.tarefas.close();
        if timeout(graca, self.tarefas.wait()).await.is_err() {
            tracing::warn!("grace period over; interrupting answers in flight");
            self.interrompendo.cancel();
            self.tarefas.wait().await;
        }
        self.coordenacao.encerrar().await;
    }

    /// Start-up of a single process after a crash: answers left `gerando` end as
    /// `interrompida` with the text they had, and conversations with unanswered messages are
    /// queued again. With shared leases only conversations nobody holds are taken: another
    /// process's live answers are left alone (`vigiar` takes over what expires later).
    pub async fn recuperar(self: &Arc<Self>) -> Result<(), sea_orm::DbErr> {
        if !self.compartilhada() {
            for m in storage::list_gerando(&self.db).await? {
                tracing::warn!(mensagem_id = %m.id, "answer left generating by a previous run; ending it");
                self.encerrar_orfa(&self.salas.sala(m.conversa_id), m)
                    .await
                    .map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?;
            }
        }
        self.varrer().await
    }

    /// Queues again every conversation with work (unanswered messages, answers `gerando`)
    /// that no process holds a lease on.
    async fn varrer(self: &Arc<Self>) -> Result<(), sea_orm::DbErr> {
        let mut com_trabalho: HashSet<Uuid> = storage::list_conversas_com_pendentes(&self.db)
            .await?
            .into_iter()
            .collect();
        let mut arrendadas = HashSet::new();
        if self.compartilhada() {
            // One process ended every answer left `gerando` before this; here they may be
            // another process's, live under its lease, or a dead one's.
            com_trabalho.extend(
                storage::list_gerando(&self.db)
                    .await?
                    .into_iter()
                    .map(|m| m.conversa_id),
            );
            arrendadas.extend(storage::list_arrendadas(&self.db).await?);
        }
        for conversa_id in com_trabalho.difference(&arrendadas) {
            self.agendar(*conversa_id);
        }
        Ok(())
    }

    /// Leases are shared with other processes (`REDIS_URL`).
    fn compartilhada(&self) -> bool {
        self.coordenacao.intervalo().is_some()
    }

    /// Retries the queues whose worker gave up; with shared leases also renews this
    /// process's leases, stops answers whose lease was lost, and takes over conversations
    /// whose process died. Runs until shutdown.
    pub async fn vigiar(self: Arc<Self>) {
        let compartilhada = self.compartilhada();
        let intervalo = self.coordenacao.intervalo().unwrap_or(INTERVALO_SOZINHO);
        let mut rodada = 0u32;
        loop {
            tokio::select! {
                _ = self.parando.cancelled() => return,
                _ = sleep(intervalo) => {}
            }
            let adiadas: Vec<Uuid> = travar(&self.adiadas).drain().collect();
            for id in adiadas {
                self.agendar(id);
            }
            if !compartilhada {
                continue;
            }
            if let Some(mantidas) = self.coordenacao.renovar().await {
                let mantidas: HashSet<Uuid> = mantidas.into_iter().collect();
                let perdidas: Vec<Arc<Sala>> = travar(&self.trabalhando)
                    .iter()
                    .filter(|(id, _)| !mantidas.contains(id))
                    .map(|(_, s)| Arc::clone(s))
                    .collect();
                for sala in perdidas {
                    // Another process took the conversation over after our lease expired
                    // (we could not reach the database for that long) and told the room.
                    if sala.cancelar(None) {
                        tracing::warn!(conversa_id = %sala.conversa_id, "lease lost; stopping the answer");
                    }
                }
            }
            match self.coordenacao.abandonadas().await {
                Ok(ids) => {
                    for id in ids {
                        tracing::warn!(conversa_id = %id, "lease expired; taking the conversation over");
                        self.agendar(id);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not look for expired leases"),
            }
            rodada += 1;
            if rodada.is_multiple_of(RODADAS_POR_VARREDURA)
                && let Err(e) = self.varrer().await
            {
                tracing::warn!(error = %e, "could not look for conversations nobody answers");
            }
        }
    }

    async fn trabalhar(&self, sala: Arc<Sala>) {
        let id = sala.conversa_id;
        let mut falhas = 0;
        loop {
            if self.parando.is_cancelled() {
                sala.parar();
                return;
            }
            match self.coordenacao.tomar(id).await {
                Ok(true) => {}
                Ok(false) => {
                    // Another process answers it, and looks again before it lets go.
                    sala.parar();
                    return;
                }
                Err(e) => {
                    tracing::error!(error = %e, conversa_id = %id, "could not take the conversation's lease");
                    falhas += 1;
                    if falhas >= TENTATIVAS_FILA {
                        self.adiar(&sala);
                        return;
                    }
                    sleep(Duration::from_millis(200) * 2u32.pow(falhas)).await;
                    continue;
                }
            }
            travar(&self.trabalhando).insert(id, Arc::clone(&sala));
            let resultado = self.responder_fila(&sala).await;
            travar(&self.trabalhando).remove(&id);
            let deixada = self.parando.is_cancelled();
            self.coordenacao.soltar(id, deixada).await;
            if deixada {
                sala.parar();
                return;
            }
            if resultado.is_err() {
                self.adiar(&sala);
                return;
            }
            // With shared leases, a message stored by another process while we held the
            // lease relies on us: look once more now that the lease is free. (In one process
            // the `pendente` flag below covers it without a query.)
            if self.compartilhada() {
                match storage::find_proxima_sem_resposta(&self.db, id).await {
                    Ok(Some(_)) => continue,
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, conversa_id = %id, "could not look at the answer queue")
                    }
                }
            }
            if sala.pode_parar() {
                return;
            }
        }
    }

    /// The database kept failing: the worker stops, and `vigiar` tries the queue again.
    fn adiar(&self, sala: &Sala) {
        sala.parar();
        travar(&self.adiadas).insert(sala.conversa_id);
    }

    /// Answers the queue while holding the lease: first ends answers a dead process left
    /// `gerando` here, then answers every unanswered message in stored order. `Err` when the
    /// database kept failing (the lease is let go; the supervisor or the next kick retries).
    async fn responder_fila(&self, sala: &Arc<Sala>) -> Result<(), ()> {
        let mut falhas = 0;
        loop {
            if self.parando.is_cancelled() {
                return Ok(());
            }
            match self.historico(sala.conversa_id).await {
                Err(e) => {
                    tracing::error!(error = %e, conversa_id = %sala.conversa_id, "could not read the answer queue");
                    falhas += 1;
                }
                Ok(historico) => {
                    // Holding the lease and answering nothing here, an answer still `gerando`
                    // belongs to a process that is gone (or its final write failed).
                    if historico.iter().any(|m| m.status == Status::Gerando) {
                        if let Err(e) = self.encerrar_orfas(sala).await {
                            tracing::error!(error = %e, conversa_id = %sala.conversa_id, "could not end answers left generating");
                            falhas += 1;
                        }
                    } else {
                        let Some(pergunta) = proxima_sem_resposta(&historico).cloned() else {
                            return Ok(());
                        };
                        let resposta = AssertUnwindSafe(self.responder(sala, pergunta, &historico))
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
                                self.depois_de_panico(sala).await;
                                falhas += 1;
                            }
                        }
                    }
                }
            }
            if falhas >= TENTATIVAS_FILA {
                return Err(());
            }
            if falhas > 0 {
                sleep(Duration::from_millis(200) * 2u32.pow(falhas)).await;
            }
        }
    }

    /// The conversation's rows in order: from memory when this process is alone and has
    /// them, else from the database.
    async fn historico(&self, conversa_id: Uuid) -> Result<Arc<Vec<MensagemRow>>, sea_orm::DbErr> {
        if self.compartilhada() {
            return Ok(Arc::new(
                storage::list_mensagens(&self.db, conversa_id, None).await?,
            ));
        }
        let mut tentativa = 0;
        loop {
            if let Some(h) = self.historicos.ler(conversa_id) {
                return Ok(h);
            }
            let marca = self.historicos.marcar(conversa_id);
            let linhas = storage::list_mensagens(&self.db, conversa_id, None).await?;
            tentativa += 1;
            match self.historicos.instalar(conversa_id, marca, linhas) {
                Carga::Guardada(h) | Carga::Grande(h) => return Ok(h),
                // Writes keep racing the read: use it as it is; a message it missed has
                // kicked the worker, which looks again.
                Carga::Corrida(h) if tentativa >= TENTATIVAS_HISTORICO => return Ok(h),
                Carga::Corrida(_) => {}
            }
        }
    }

    /// `pergunta`'s statements ran and only its commit is left: asks the model now, when the
    /// prompt can only be the one its worker will build (see `antecipacao`). `nova`: the
    /// conversation is created by the same write. The send holds the guard until its commit
    /// is known.
    pub fn antecipar(&self, pergunta: &MensagemRow, nova: bool) -> Option<Antecipacao> {
        if self.compartilhada() || self.parando.is_cancelled() {
            return None;
        }
        let id = pergunta.conversa_id;
        if self.salas.existente(id).is_some_and(|s| s.ocupada()) {
            return None;
        }
        let historico = match self.historicos.ler(id) {
            Some(h) => h,
            None if nova => Arc::default(),
            None => return None,
        };
        let em_dia = !historico.iter().any(|m| m.status == Status::Gerando)
            && proxima_sem_resposta(&historico).is_none();
        if !em_dia {
            return None;
        }
        let linhas = self.prompt(&historico, pergunta);
        let a = Antecipada {
            mensagem_id: pergunta.id,
            pedido: self.pedir_ao_modelo(linhas.clone()),
            linhas,
            inicio: tokio::time::Instant::now(),
        };
        Some(self.antecipadas.guardar(id, a))
    }

    fn prompt(&self, historico: &[MensagemRow], pergunta: &MensagemRow) -> Vec<LinhaPrompt> {
        prompt::montar(
            &self.ajustes.sistema,
            historico,
            pergunta,
            self.ajustes.orcamento_historico,
        )
    }

    /// Sends the request on a task of its own, so it goes on while the caller writes.
    fn pedir_ao_modelo(&self, linhas: Vec<LinhaPrompt>) -> PedidoModelo {
        let modelo = Arc::clone(&self.modelo);
        AbortOnDropHandle::new(tokio::spawn(async move { modelo.gerar(linhas).await }))
    }

    /// A row this process committed: the in-memory history follows it.
    pub fn anotar(&self, linha: &MensagemRow) {
        self.historicos.anotar(linha);
    }

    /// Ends the answers left `gerando` in the conversation, read from the database for the
    /// whole text of their last checkpoint.
    async fn encerrar_orfas(&self, sala: &Sala) -> Result<(), ErroEscrita> {
        let orfas = storage::list_gerando_da_conversa(&self.db, sala.conversa_id).await?;
        if orfas.is_empty() {
            // Ended meanwhile, or only the memory thought so: read it again.
            self.historicos.esquecer(sala.conversa_id);
        }
        for m in orfas {
            tracing::warn!(mensagem_id = %m.id, "answer left generating by a process that is gone; ending it");
            self.encerrar_orfa(sala, m).await?;
        }
        Ok(())
    }

    /// Ends one orphaned answer with the most text known of it: what this process relayed to
    /// its tabs, or the last checkpoint.
    async fn encerrar_orfa(&self, sala: &Sala, m: MensagemRow) -> Result<(), ErroEscrita> {
        let texto = match sala.atual() {
            Some(a) if a.mensagem_id == m.id && a.texto.len() > m.conteudo.len() => a.texto,
            _ => m.conteudo,
        };
        let codigo = CodigoResposta::Interrompida;
        let fim = FimResposta {
            id: m.id,
            conteudo: texto,
            status: Status::Erro,
            erro: Some(codigo),
            agora: Utc::now(),
            // What it cost is unknown (the process that asked the model is gone).
            uso: None,
        };
        let gravada = self.escritor.finalizar_resposta(fim).await?;
        if let Some(linha) = &gravada {
            self.anotar(linha);
        }
        if let Some(linha) = &gravada {
            sala.terminar(m.id, || {
                self.difusor.erro_resposta(m.conversa_id, m.id, codigo)
            });
            self.anunciar(linha, Motivo::RespostaTerminada);
        }
        Ok(())
    }

    /// A panic in the generation ends that answer only: it is stored as `erro` with its text,
    /// the room is told, and the worker goes on with the queue.
    async fn depois_de_panico(&self, sala: &Sala) {
        tracing::error!(conversa_id = %sala.conversa_id, "answer generation panicked");
        let gerada = sala.gerada_aqui();
        sala.desarmar_cancelamento();
        if let Some(a) = sala.atual().filter(|a| Some(a.mensagem_id) == gerada) {
            let fim = Fim::Erro {
                codigo: CodigoResposta::Interrompida,
                causa: "panic".into(),
            };
            self.finalizar(sala, a, fim, None).await;
        }
    }

    /// Tells the professors' room that an answer of the conversation started or ended.
    fn anunciar(&self, resposta: &MensagemRow, motivo: Motivo) {
        self.difusor
            .conversa_atualizada(&atualizacao(resposta, motivo));
    }

    /// Generates and stores the answer to `pergunta`, streaming it to the room. The model
    /// is asked while the answer's row is being written (or was asked while the question's
    /// was, `antecipar`): the first piece waits for neither one after the other, and is only
    /// emitted once the row is stored.
    async fn responder(
        &self,
        sala: &Sala,
        pergunta: MensagemRow,
        historico: &[MensagemRow],
    ) -> Result<(), ErroEscrita> {
        let linhas = self.prompt(historico, &pergunta);
        let caracteres_prompt: usize = linhas.iter().map(|l| l.conteudo.chars().count()).sum();
        let (pedido, inicio) = match self
            .antecipadas
            .tomar(sala.conversa_id, pergunta.id, &linhas)
        {
            Some(a) => (a.pedido, a.inicio),
            None => (self.pedir_ao_modelo(linhas), tokio::time::Instant::now()),
        };
        let resposta = self
            .escritor
            .iniciar_resposta(&pergunta, Uuid::now_v7(), Utc::now())
            .await?;
        self.anotar(&resposta);
        let cancelar = sala.armar_cancelamento(resposta.id);
        // Live state and `resposta_iniciada` in one step with respect to joins: a joining tab
        // sees either no answer yet or an answer it gets every piece of.
        sala.iniciar(resposta.id, || {
            self.difusor
                .resposta_iniciada(sala.conversa_id, resposta.id)
        });
        self.anunciar(&resposta, Motivo::RespostaIniciada);
        let (fim, tokens) = self.transmitir(sala, pedido, inicio, &cancelar).await;
        sala.desarmar_cancelamento();
        if let Some(a) = sala.atual().filter(|a| a.mensagem_id == resposta.id) {
            let caracteres = caracteres_prompt + a.texto.chars().count();
            let uso =
                self.ajustes
                    .cota
                    .uso(&pergunta.usuario_id, Utc::now(), tokens, caracteres as u64);
            self.finalizar(sala, a, fim, Some(uso)).await;
        }
        Ok(())
    }
}

/// What the professors' room hears of an answer's start or end.
fn atualizacao(resposta: &MensagemRow, motivo: Motivo) -> Atualizacao {
    Atualizacao {
        conversa_id: resposta.conversa_id,
        usuario: resposta.usuario_id.clone(),
        motivo,
        gerando: motivo == Motivo::RespostaIniciada,
        atualizada_em: resposta.atualizada_em,
    }
}

fn travar<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

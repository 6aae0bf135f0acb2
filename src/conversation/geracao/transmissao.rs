//! The streaming half of an answer: from the model's pieces to the room (coalesced, atomic
//! with joins), checkpoints, and the one final write with its one terminal event.
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::sync::CancellationToken;

use tokio_util::task::AbortOnDropHandle;

use super::{Gerador, atualizacao};
use crate::{
    conversation::{
        modelo::{CodigoResposta, Mensagem, Motivo, Status},
        sala::{EmAndamento, Sala},
    },
    llm::{ErroModelo, Fluxo, Parte},
    metricas::FimDaResposta,
    storage::{FimResposta, Uso},
};

/// How often the text of an answer still streaming is saved (crash recovery keeps it).
const INTERVALO_CHECKPOINT: Duration = Duration::from_secs(2);
/// Attempts of the final write before the answer is reported as not stored.
const TENTATIVAS_ESCRITA: u32 = 3;
/// How an answer ended.
pub(super) enum Fim {
    Completa,
    Cancelada,
    Erro {
        codigo: CodigoResposta,
        causa: String,
    },
}

impl Gerador {
    /// Streams the model's answer to the room until it ends, fails, stalls or is stopped,
    /// with the tokens it cost when the model said. `pedido` is the model's request, already
    /// sent at `inicio`.
    pub(super) async fn transmitir(
        &self,
        sala: &Sala,
        pedido: AbortOnDropHandle<Result<Fluxo, ErroModelo>>,
        inicio: Instant,
        cancelar: &CancellationToken,
    ) -> (Fim, Option<u64>) {
        let primeiro = self.ajustes.timeout_primeiro_token;
        let inativo = self.ajustes.timeout_inativo;
        // Made once and polled again each round, not made anew for every piece: these
        // register with the timer wheel and the tokens' waiter lists.
        let cancelado = cancelar.cancelled();
        let interrompido = self.interrompendo.cancelled();
        let silencio = sleep_until(inicio + primeiro);
        let envio = sleep_until(inicio);
        tokio::pin!(cancelado, interrompido, silencio, envio);
        let mut fluxo = tokio::select! {
            _ = &mut cancelado => return (Fim::Cancelada, None),
            _ = &mut interrompido => return (interrompida(), None),
            _ = &mut silencio => return (sem_resposta(primeiro), None),
            r = pedido => match r {
                Ok(Ok(f)) => f,
                Ok(Err(e)) => return (erro_do_modelo(e), None),
                Err(e) => return (Fim::Erro {
                    codigo: CodigoResposta::ModeloIndisponivel,
                    causa: format!("the model request failed: {e}"),
                }, None),
            },
        };
        let mut tokens = None;
        let mut recebeu = false;
        let mut espera = primeiro;
        let mut ultimo_pedaco = inicio;
        let mut pendente = String::new();
        // The first piece goes at once; later ones at most once per interval.
        let mut ultimo_envio: Option<Instant> = None;
        let mut ultimo_checkpoint = Instant::now();
        let fim = loop {
            tokio::select! {
                biased;
                _ = &mut cancelado => break Fim::Cancelada,
                _ = &mut interrompido => break interrompida(),
                _ = &mut envio, if !pendente.is_empty() => {
                    self.publicar(sala, std::mem::take(&mut pendente));
                    ultimo_envio = Some(Instant::now());
                }
                _ = &mut silencio => {
                    // Moved only when it fires, not at every piece.
                    let limite = ultimo_pedaco + espera;
                    if Instant::now() >= limite {
                        break sem_resposta(espera);
                    }
                    silencio.as_mut().reset(limite);
                }
                item = fluxo.next() => match item {
                    Some(Ok(Parte::Tokens(t))) => tokens = Some(t),
                    Some(Ok(Parte::Texto(texto))) => {
                        let agora = Instant::now();
                        if !recebeu {
                            self.metricas.primeiro_pedaco(agora - inicio);
                            recebeu = true;
                            espera = inativo;
                            silencio.as_mut().reset(agora + inativo);
                        }
                        ultimo_pedaco = agora;
                        self.metricas.pedaco_recebido();
                        let vazio = pendente.is_empty();
                        pendente.push_str(&texto);
                        match ultimo_envio.map(|t| t + self.ajustes.intervalo_parcial) {
                            Some(prazo) if agora < prazo => {
                                if vazio {
                                    envio.as_mut().reset(prazo);
                                }
                            }
                            _ => {
                                self.publicar(sala, std::mem::take(&mut pendente));
                                ultimo_envio = Some(agora);
                            }
                        }
                    }
                    Some(Err(e)) => break erro_do_modelo(e),
                    None => break Fim::Completa,
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
            self.publicar(sala, pendente);
        }
        (fim, tokens)
    }

    /// Saves the text so far; a failure only costs crash recovery some text, so it is logged.
    async fn checkpoint(&self, sala: &Sala) {
        if let Some(a) = sala.atual()
            && let Err(e) = self.escritor.salvar_parcial(a.mensagem_id, &a.texto).await
        {
            tracing::warn!(error = %e, mensagem_id = %a.mensagem_id, "could not checkpoint an answer");
        }
    }

    /// Appends a piece to the answer and emits it, in one step with respect to joins.
    fn publicar(&self, sala: &Sala, delta: String) {
        self.metricas.parcial_emitido();
        sala.acrescentar(&delta, |mensagem_id, indice| {
            self.difusor
                .resposta_parcial(sala.conversa_id, mensagem_id, indice, &delta)
        });
    }

    /// The one final write, then the one terminal event, emitted in the same step as the
    /// room's live answer is cleared: a tab joining before that step sees the streaming
    /// answer (and then its end), after it the stored one.
    /// `uso` is what the answer cost, added to its student's day in the same write.
    pub(super) async fn finalizar(&self, sala: &Sala, a: EmAndamento, fim: Fim, uso: Option<Uso>) {
        let (st, codigo, metrica) = match &fim {
            Fim::Completa => (Status::Completa, None, FimDaResposta::Completa),
            Fim::Cancelada => (Status::Cancelada, None, FimDaResposta::Cancelada),
            Fim::Erro { codigo, causa } => {
                tracing::warn!(mensagem_id = %a.mensagem_id, %codigo, causa, "answer ended with an error");
                (Status::Erro, Some(*codigo), FimDaResposta::Erro)
            }
        };
        self.metricas.resposta_terminada(metrica);
        let mut gravada = None;
        for tentativa in 1..=TENTATIVAS_ESCRITA {
            let escrita = FimResposta {
                id: a.mensagem_id,
                conteudo: a.texto.clone(),
                status: st,
                erro: codigo,
                agora: Utc::now(),
                uso: uso.clone(),
            };
            match self.escritor.finalizar_resposta(escrita).await {
                Ok(m) => {
                    if let Some(linha) = &m {
                        self.anotar(linha);
                    }
                    gravada = Some(m);
                    break;
                }
                Err(e) => {
                    tracing::error!(error = %e, mensagem_id = %a.mensagem_id, tentativa, "could not store the answer");
                    sleep(Duration::from_millis(100) * tentativa).await;
                }
            }
        }
        let conversa_id = sala.conversa_id;
        let id = a.mensagem_id;
        match (gravada, codigo) {
            (Some(Some(linha)), None) => {
                let aviso = atualizacao(&linha, Motivo::RespostaTerminada);
                let m = Mensagem::from(linha);
                sala.terminar(id, || self.difusor.mensagem_respondida(&m));
                self.difusor.conversa_atualizada(&aviso);
            }
            (Some(Some(linha)), Some(codigo)) => {
                sala.terminar(id, || self.difusor.erro_resposta(conversa_id, id, codigo));
                self.anunciar(&linha, Motivo::RespostaTerminada);
            }
            (Some(None), _) => {
                // Another process ended it (it took over a lease we lost) and told the room.
                tracing::warn!(mensagem_id = %id, "answer already ended elsewhere; not stored again");
                sala.terminar(id, || {});
            }
            (None, _) => {
                // Not silently lost: the text is in the log with its id.
                tracing::error!(mensagem_id = %id, texto = %a.texto, "answer NOT stored");
                let codigo = CodigoResposta::Indisponivel;
                sala.terminar(id, || self.difusor.erro_resposta(conversa_id, id, codigo));
            }
        }
    }
}

pub(super) fn interrompida() -> Fim {
    Fim::Erro {
        codigo: CodigoResposta::Interrompida,
        causa: "server shutting down".into(),
    }
}

fn sem_resposta(inativo: Duration) -> Fim {
    Fim::Erro {
        codigo: CodigoResposta::ModeloIndisponivel,
        causa: format!("no data from the model for {inativo:?}"),
    }
}

fn erro_do_modelo(e: ErroModelo) -> Fim {
    let codigo = match e {
        ErroModelo::Indisponivel(_) => CodigoResposta::ModeloIndisponivel,
        ErroModelo::LimiteExcedido(_) => CodigoResposta::LimiteExcedido,
    };
    Fim::Erro {
        codigo,
        causa: e.to_string(),
    }
}

/// The sentence shown with each `erro_resposta` code.
pub fn texto_do_erro(codigo: CodigoResposta) -> &'static str {
    match codigo {
        CodigoResposta::LimiteExcedido => {
            "O modelo está recebendo pedidos demais agora. Tente de novo em instantes."
        }
        CodigoResposta::Interrompida => "A resposta foi interrompida porque o servidor parou.",
        CodigoResposta::Indisponivel => "Não foi possível guardar a resposta.",
        CodigoResposta::ModeloIndisponivel => {
            "O modelo não conseguiu responder agora. Tente de novo."
        }
    }
}

//! Asking the model while a student's message is being flushed to disk. The ack waits for
//! the commit (the message is durable before it), but the model needs no durable row to
//! start thinking: on SQLite the writer says when a message's statements ran and only the
//! commit's fsync is left, and the request leaves then instead of after the ack. The fsync
//! (a fraction of a millisecond here, milliseconds on a cloud disk) stops adding to the wait
//! for the first piece.
//!
//! Only when nothing can make the request wrong: this process alone answers the
//! conversation, no worker is answering it, and its history is in memory with nothing left
//! unanswered, so the message just written is the next one answered and the prompt is
//! known. The worker that answers it builds its prompt as always and takes the early
//! request only for that very message and prompt; anything else drops it. A send whose
//! commit fails drops its guard, which aborts the request: no answer is ever streamed for
//! a message not stored. A send refused before its statements ran (a locked database, a
//! deadline, a retried `id_cliente`) never asks the model at all.
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use tokio::time::Instant;
use tokio_util::task::AbortOnDropHandle;
use uuid::Uuid;

use crate::{
    llm::{ErroModelo, Fluxo, LinhaPrompt},
    metricas::Metricas,
};

/// A model request in flight (aborted when dropped).
pub(super) type PedidoModelo = AbortOnDropHandle<Result<Fluxo, ErroModelo>>;

/// A request that left before its question was durable.
pub(super) struct Antecipada {
    pub mensagem_id: Uuid,
    pub linhas: Vec<LinhaPrompt>,
    pub pedido: PedidoModelo,
    /// When it left: the wait for its first piece counts from here.
    pub inicio: Instant,
}

/// At most one early request per conversation, until its worker takes or drops it.
pub(super) struct Antecipadas {
    mapa: Mutex<HashMap<Uuid, Antecipada>>,
    metricas: Arc<Metricas>,
}

impl Antecipadas {
    pub fn new(metricas: Arc<Metricas>) -> Self {
        Self {
            mapa: Mutex::new(HashMap::new()),
            metricas,
        }
    }

    /// Keeps `a` for the conversation's worker; returns the guard the send holds until its
    /// commit is known.
    pub fn guardar(self: &Arc<Self>, conversa_id: Uuid, a: Antecipada) -> Antecipacao {
        let mensagem_id = a.mensagem_id;
        if self.travar().insert(conversa_id, a).is_some() {
            self.metricas.pedido_antecipado(false);
        }
        Antecipacao {
            antecipadas: Arc::clone(self),
            conversa_id,
            mensagem_id,
            confirmada: false,
        }
    }

    /// The worker about to ask the model for `mensagem_id` with `linhas`: the request that
    /// left early for exactly that, if any. Whatever else was kept for the conversation is
    /// dropped (and its request aborted).
    pub fn tomar(
        &self,
        conversa_id: Uuid,
        mensagem_id: Uuid,
        linhas: &[LinhaPrompt],
    ) -> Option<Antecipada> {
        let a = self.travar().remove(&conversa_id)?;
        let serve = a.mensagem_id == mensagem_id && a.linhas == linhas;
        self.metricas.pedido_antecipado(serve);
        serve.then_some(a)
    }

    fn descartar(&self, conversa_id: Uuid, mensagem_id: Uuid) {
        let mut mapa = self.travar();
        if mapa
            .get(&conversa_id)
            .is_some_and(|a| a.mensagem_id == mensagem_id)
        {
            mapa.remove(&conversa_id);
            drop(mapa);
            self.metricas.pedido_antecipado(false);
        }
    }

    fn travar(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Antecipada>> {
        self.mapa.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Held by a send from its early request until its message is known durable: dropped
/// before `confirmar` (the commit failed, or the send gave up), it aborts the request.
#[must_use]
pub struct Antecipacao {
    antecipadas: Arc<Antecipadas>,
    conversa_id: Uuid,
    mensagem_id: Uuid,
    confirmada: bool,
}

impl Antecipacao {
    /// The message is durable: the request is the worker's now.
    pub fn confirmar(mut self) {
        self.confirmada = true;
    }
}

impl Drop for Antecipacao {
    fn drop(&mut self) {
        if !self.confirmada {
            self.antecipadas
                .descartar(self.conversa_id, self.mensagem_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::llm::Papel;

    fn linhas(texto: &str) -> Vec<LinhaPrompt> {
        vec![LinhaPrompt {
            papel: Papel::Usuario,
            conteudo: texto.into(),
        }]
    }

    /// A request that never finishes, and a flag that says whether it was aborted.
    fn pedido() -> (PedidoModelo, Arc<AtomicBool>) {
        struct Marca(Arc<AtomicBool>);
        impl Drop for Marca {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let abortado = Arc::new(AtomicBool::new(false));
        let marca = Marca(Arc::clone(&abortado));
        let tarefa = tokio::spawn(async move {
            let _marca = marca;
            std::future::pending::<Result<Fluxo, ErroModelo>>().await
        });
        (AbortOnDropHandle::new(tarefa), abortado)
    }

    fn antecipada(mensagem_id: Uuid, texto: &str) -> (Antecipada, Arc<AtomicBool>) {
        let (pedido, abortado) = pedido();
        let a = Antecipada {
            mensagem_id,
            linhas: linhas(texto),
            pedido,
            inicio: Instant::now(),
        };
        (a, abortado)
    }

    async fn abortado_logo(flag: &AtomicBool) -> bool {
        for _ in 0..100 {
            if flag.load(Ordering::SeqCst) {
                return true;
            }
            tokio::task::yield_now().await;
        }
        false
    }

    #[tokio::test]
    async fn the_worker_gets_the_early_request_only_for_the_same_message_and_prompt() {
        let antecipadas = Arc::new(Antecipadas::new(Arc::new(Metricas::new())));
        let (conversa, mensagem) = (Uuid::now_v7(), Uuid::now_v7());

        let (a, abortado) = antecipada(mensagem, "oi");
        antecipadas.guardar(conversa, a).confirmar();
        let tomada = antecipadas.tomar(conversa, mensagem, &linhas("oi"));
        assert!(tomada.is_some(), "same message, same prompt");
        assert!(!abortado.load(Ordering::SeqCst));
        assert!(
            antecipadas
                .tomar(conversa, mensagem, &linhas("oi"))
                .is_none(),
            "taken once"
        );

        let (a, abortado) = antecipada(mensagem, "oi");
        antecipadas.guardar(conversa, a).confirmar();
        let outro_prompt = antecipadas.tomar(conversa, mensagem, &linhas("oi, com o que mudou"));
        assert!(outro_prompt.is_none());
        assert!(
            abortado_logo(&abortado).await,
            "a request for another prompt is aborted"
        );

        let (a, abortado) = antecipada(mensagem, "oi");
        antecipadas.guardar(conversa, a).confirmar();
        assert!(
            antecipadas
                .tomar(conversa, Uuid::now_v7(), &linhas("oi"))
                .is_none()
        );
        assert!(
            abortado_logo(&abortado).await,
            "a request for another message is aborted"
        );
    }

    #[tokio::test]
    async fn a_send_that_drops_its_guard_before_the_commit_aborts_its_request() {
        let antecipadas = Arc::new(Antecipadas::new(Arc::new(Metricas::new())));
        let (conversa, mensagem) = (Uuid::now_v7(), Uuid::now_v7());
        let (a, abortado) = antecipada(mensagem, "oi");
        drop(antecipadas.guardar(conversa, a));
        assert!(abortado_logo(&abortado).await);
        assert!(
            antecipadas
                .tomar(conversa, mensagem, &linhas("oi"))
                .is_none()
        );

        // An older guard of the same conversation leaves a newer send's request alone.
        let (velha, _) = antecipada(Uuid::now_v7(), "velha");
        let guarda_velha = antecipadas.guardar(conversa, velha);
        let (nova, abortada_nova) = antecipada(mensagem, "nova");
        antecipadas.guardar(conversa, nova).confirmar();
        drop(guarda_velha);
        assert!(!abortado_logo(&abortada_nova).await);
        assert!(
            antecipadas
                .tomar(conversa, mensagem, &linhas("nova"))
                .is_some()
        );
    }
}

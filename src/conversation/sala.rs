//! The live state of one conversation in this process: the answer streaming now (its text so
//! far, next `indice`, cancel token) and whether a worker is answering its queue.
//!
//! Everything that must be atomic with respect to the answer's broadcasts (a delta and its
//! emit; a tab's join and its snapshot; the final write and the terminal event) happens while
//! holding `ao_vivo`. The multi-process step replaces this registry with one shared through
//! Redis; the service and the generation task only see `Salas`.
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, Weak},
};

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The answer being streamed.
#[derive(Debug)]
pub struct EmAndamento {
    pub mensagem_id: Uuid,
    pub texto: String,
    pub proximo_indice: u64,
}

#[derive(Default)]
struct Trabalho {
    /// A worker task is answering this conversation's queue.
    rodando: bool,
    /// Something was stored since the worker last looked: it must look again before exiting.
    pendente: bool,
}

pub struct Sala {
    pub conversa_id: Uuid,
    pub ao_vivo: tokio::sync::Mutex<Option<EmAndamento>>,
    cancelar: Mutex<Option<CancellationToken>>,
    trabalho: Mutex<Trabalho>,
}

fn travar<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded sections below never panic midway; a poisoned lock still holds valid data.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Sala {
    /// Arms a fresh cancel token for the answer that starts now.
    pub fn armar_cancelamento(&self) -> CancellationToken {
        let t = CancellationToken::new();
        *travar(&self.cancelar) = Some(t.clone());
        t
    }

    pub fn desarmar_cancelamento(&self) {
        *travar(&self.cancelar) = None;
    }

    /// Cancels the answer streaming now, if any. A late cancel finds nothing armed and never
    /// reaches the next answer, which gets its own token.
    pub fn cancelar(&self) -> bool {
        match travar(&self.cancelar).take() {
            Some(t) => {
                t.cancel();
                true
            }
            None => false,
        }
    }

    /// Asks for the queue to be worked; true when the caller must start the worker.
    pub fn pedir_trabalho(&self) -> bool {
        let mut t = travar(&self.trabalho);
        if t.rodando {
            t.pendente = true;
            false
        } else {
            t.rodando = true;
            t.pendente = false;
            true
        }
    }

    /// The worker found nothing to do: it exits unless something arrived meanwhile.
    pub fn pode_parar(&self) -> bool {
        let mut t = travar(&self.trabalho);
        if t.pendente {
            t.pendente = false;
            false
        } else {
            t.rodando = false;
            true
        }
    }

    /// The worker stops early (shutdown): the next start-up answers what is left.
    pub fn parar(&self) {
        travar(&self.trabalho).rodando = false;
    }
}

/// One `Sala` per conversation that someone is using; dropped when unused.
#[derive(Default)]
pub struct Salas {
    salas: Mutex<HashMap<Uuid, Weak<Sala>>>,
}

impl Salas {
    pub fn sala(&self, conversa_id: Uuid) -> Arc<Sala> {
        let mut salas = travar(&self.salas);
        if let Some(s) = salas.get(&conversa_id).and_then(Weak::upgrade) {
            return s;
        }
        let s = Arc::new(Sala {
            conversa_id,
            ao_vivo: tokio::sync::Mutex::new(None),
            cancelar: Mutex::new(None),
            trabalho: Mutex::new(Trabalho::default()),
        });
        // Forget rooms nobody holds any more, so the map stays the size of what is in use.
        if salas.len() >= 1024 && salas.len().is_power_of_two() {
            salas.retain(|_, w| w.strong_count() > 0);
        }
        salas.insert(conversa_id, Arc::downgrade(&s));
        s
    }

    /// The room if it is in use now, without creating one.
    pub fn existente(&self, conversa_id: Uuid) -> Option<Arc<Sala>> {
        travar(&self.salas)
            .get(&conversa_id)
            .and_then(Weak::upgrade)
    }
}

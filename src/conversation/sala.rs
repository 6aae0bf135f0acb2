//! What this process knows of one conversation live: the answer streaming now (its text so
//! far and next `indice`, whether this process generates it or only relays it from another),
//! the cancel token of an answer generated here, and whether a local worker is answering the
//! queue.
//!
//! Every change of the live answer and the emit that tells the room about it happen in one
//! step under a short lock (never held across an `.await`), and so does a tab's join with
//! its snapshot, which holds the lock (`Parada`) until the tab is in the room and acked: a
//! joining tab gets either no answer or an answer whose every later piece it receives, never
//! a piece twice. Database and network I/O happen
//! outside the lock; `versao` tells a join whether the room changed while it read the
//! database, so it can read again.
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard, Weak},
    time::Duration,
};

use parking_lot::{ArcMutexGuard, RawMutex};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The answer being streamed.
#[derive(Debug, Clone)]
pub struct EmAndamento {
    pub mensagem_id: Uuid,
    pub texto: String,
    pub proximo_indice: u64,
}

#[derive(Default)]
struct Estado {
    ao_vivo: Option<EmAndamento>,
    /// An answer streams elsewhere, but this process missed some of it: it asked the
    /// generating process for the whole state and waits for it.
    incompleta: Option<Uuid>,
    /// Counts starts, ends and restored states: a join compares it before and after its read.
    versao: u64,
}

#[derive(Default)]
struct Trabalho {
    /// A worker task is answering this conversation's queue.
    rodando: bool,
    /// Something was stored since the worker last looked: it must look again before exiting.
    pendente: bool,
}

/// Why a piece from another process could not be applied.
#[derive(Debug, PartialEq, Eq)]
pub enum Lacuna {
    /// A piece of an answer this process never saw start.
    Desconhecida,
    /// A piece out of order: some were lost on the way.
    ForaDeOrdem,
}

/// A room held still for a joining tab (`Sala::juntar`). Keep it only for what must happen
/// in that step (join the room, send the ack): every piece of the conversation waits for it.
#[must_use = "the room is held still only while this lives"]
pub struct Parada(ArcMutexGuard<RawMutex, Estado>);

impl Parada {
    /// The answer streaming now, as far as this process knows it.
    pub fn ao_vivo(&self) -> Option<&EmAndamento> {
        self.0.ao_vivo.as_ref()
    }
}

/// The room changed (or its state is incomplete) between a join's read and its lock.
#[derive(Debug)]
pub struct Mudou;

pub struct Sala {
    pub conversa_id: Uuid,
    /// In an `Arc` of its own so that a join can hold it past this function (`Parada`).
    estado: Arc<parking_lot::Mutex<Estado>>,
    mudou: Notify,
    /// The answer generated here and its token.
    cancelar: Mutex<Option<(Uuid, CancellationToken)>>,
    trabalho: Mutex<Trabalho>,
}

fn travar<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded sections below never panic midway; a poisoned lock still holds valid data.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Sala {
    fn new(conversa_id: Uuid) -> Self {
        Self {
            conversa_id,
            estado: Arc::new(parking_lot::Mutex::new(Estado::default())),
            mudou: Notify::new(),
            cancelar: Mutex::new(None),
            trabalho: Mutex::new(Trabalho::default()),
        }
    }

    fn mudar<R>(&self, f: impl FnOnce(&mut Estado) -> R) -> R {
        let r = {
            let mut e = self.estado.lock();
            e.versao += 1;
            f(&mut e)
        };
        self.mudou.notify_waiters();
        r
    }

    /// An answer starts (here or elsewhere); `emitir` tells the room in the same step.
    pub fn iniciar(&self, mensagem_id: Uuid, emitir: impl FnOnce()) {
        self.mudar(|e| {
            e.ao_vivo = Some(EmAndamento {
                mensagem_id,
                texto: String::new(),
                proximo_indice: 0,
            });
            e.incompleta = None;
            emitir();
        });
    }

    /// A piece of the answer generated here: `emitir` gets its id and `indice`.
    pub fn acrescentar(&self, delta: &str, emitir: impl FnOnce(Uuid, u64)) {
        let mut e = self.estado.lock();
        if let Some(a) = e.ao_vivo.as_mut() {
            let indice = a.proximo_indice;
            a.proximo_indice += 1;
            a.texto.push_str(delta);
            emitir(a.mensagem_id, indice);
        }
    }

    /// A piece relayed from the process that generates the answer.
    pub fn acrescentar_remoto(
        &self,
        mensagem_id: Uuid,
        indice: u64,
        delta: &str,
        emitir: impl FnOnce(),
    ) -> Result<(), Lacuna> {
        let mut e = self.estado.lock();
        if e.incompleta == Some(mensagem_id) {
            // Waiting for the whole state; it will hold this piece.
            return Ok(());
        }
        match e.ao_vivo.as_mut() {
            Some(a) if a.mensagem_id == mensagem_id => {
                if indice < a.proximo_indice {
                    return Ok(()); // already in a restored state
                }
                if indice > a.proximo_indice {
                    return Err(Lacuna::ForaDeOrdem);
                }
                a.proximo_indice += 1;
                a.texto.push_str(delta);
                emitir();
                Ok(())
            }
            _ => Err(Lacuna::Desconhecida),
        }
    }

    /// This process missed part of `mensagem_id`: until `restaurar`, joins wait.
    pub fn marcar_incompleta(&self, mensagem_id: Uuid) {
        self.mudar(|e| {
            e.ao_vivo = None;
            e.incompleta = Some(mensagem_id);
        });
    }

    /// The whole state of an answer, from the process that generates it.
    pub fn restaurar(&self, a: EmAndamento) {
        self.mudar(|e| {
            let atras = match &e.ao_vivo {
                Some(v) if v.mensagem_id == a.mensagem_id => v.proximo_indice < a.proximo_indice,
                Some(_) => false,
                None => e.incompleta == Some(a.mensagem_id),
            };
            if atras {
                e.incompleta = None;
                e.ao_vivo = Some(a);
            }
        });
    }

    /// The answer `mensagem_id` ended; `emitir` tells the room in the same step.
    pub fn terminar(&self, mensagem_id: Uuid, emitir: impl FnOnce()) {
        self.mudar(|e| {
            if e.ao_vivo
                .as_ref()
                .is_some_and(|a| a.mensagem_id == mensagem_id)
            {
                e.ao_vivo = None;
            }
            if e.incompleta == Some(mensagem_id) {
                e.incompleta = None;
            }
            emitir();
        });
    }

    /// The answer streaming now, as far as this process knows it.
    pub fn atual(&self) -> Option<EmAndamento> {
        self.estado.lock().ao_vivo.clone()
    }

    /// Runs `f` with the live answer, if any, while nothing can change it.
    pub fn com_atual<R>(&self, f: impl FnOnce(&EmAndamento) -> R) -> Option<R> {
        self.estado.lock().ao_vivo.as_ref().map(f)
    }

    pub fn versao(&self) -> u64 {
        self.estado.lock().versao
    }

    /// Holds the room still, if it is still at `versao` and its state is whole (or whatever
    /// it is, when `de_todo_modo`): until the `Parada` is dropped no piece, start or end of an
    /// answer is applied here, nor emitted.
    pub fn juntar(&self, versao: u64, de_todo_modo: bool) -> Result<Parada, Mudou> {
        let e = self.estado.lock_arc();
        if !de_todo_modo && (e.versao != versao || e.incompleta.is_some()) {
            return Err(Mudou);
        }
        Ok(Parada(e))
    }

    /// Waits until the live state changes, at most `prazo`.
    pub async fn esperar_mudanca(&self, prazo: Duration) {
        let _ = tokio::time::timeout(prazo, self.mudou.notified()).await;
    }

    /// Arms a fresh cancel token for the answer that starts now here.
    pub fn armar_cancelamento(&self, mensagem_id: Uuid) -> CancellationToken {
        let t = CancellationToken::new();
        *travar(&self.cancelar) = Some((mensagem_id, t.clone()));
        t
    }

    pub fn desarmar_cancelamento(&self) {
        *travar(&self.cancelar) = None;
    }

    /// The answer generated here, if any.
    pub fn gerada_aqui(&self) -> Option<Uuid> {
        travar(&self.cancelar).as_ref().map(|(id, _)| *id)
    }

    /// Cancels the answer generated here, if any (and if it is `mensagem_id`, when given). A
    /// late cancel finds nothing armed and never reaches the next answer, which has its own
    /// token and id.
    pub fn cancelar(&self, mensagem_id: Option<Uuid>) -> bool {
        let mut c = travar(&self.cancelar);
        match c.as_ref() {
            Some((id, _)) if mensagem_id.is_none_or(|m| m == *id) => {
                if let Some((_, t)) = c.take() {
                    t.cancel();
                }
                true
            }
            _ => false,
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

    /// A worker is answering the conversation's queue.
    pub fn ocupada(&self) -> bool {
        travar(&self.trabalho).rodando
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

    /// The worker stops early (shutdown, or another process answers the queue).
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
        let s = Arc::new(Sala::new(conversa_id));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relayed_answer_applies_in_order_and_reports_gaps() {
        let s = Sala::new(Uuid::nil());
        let id = Uuid::now_v7();
        assert_eq!(
            s.acrescentar_remoto(id, 0, "a", || {}),
            Err(Lacuna::Desconhecida)
        );
        s.iniciar(id, || {});
        s.acrescentar_remoto(id, 0, "a", || {}).expect("in order");
        assert_eq!(
            s.acrescentar_remoto(id, 2, "c", || {}),
            Err(Lacuna::ForaDeOrdem)
        );
        s.marcar_incompleta(id);
        assert!(s.juntar(s.versao(), false).is_err(), "joins wait");
        s.restaurar(EmAndamento {
            mensagem_id: id,
            texto: "abc".into(),
            proximo_indice: 3,
        });
        s.acrescentar_remoto(id, 2, "c", || panic!("already in the state"))
            .expect("already in the state");
        s.acrescentar_remoto(id, 3, "d", || {})
            .expect("follows the state");
        assert_eq!(s.atual().expect("live").texto, "abcd");
    }

    /// A joining tab's `Parada` holds every piece back until it is dropped: the tab is in
    /// the room and acked before the next piece is applied and emitted.
    #[test]
    fn a_piece_waits_for_the_join_that_holds_the_room() {
        let s = Arc::new(Sala::new(Uuid::nil()));
        let id = Uuid::now_v7();
        s.iniciar(id, || {});
        s.acrescentar("a", |_, _| {});
        let parada = s.juntar(s.versao(), false).expect("whole state");
        let (pronto, esperar) = std::sync::mpsc::channel();
        let outra = Arc::clone(&s);
        let peca = std::thread::spawn(move || {
            pronto.send(()).expect("main waits");
            outra.acrescentar("b", |_, indice| assert_eq!(indice, 1));
        });
        esperar.recv().expect("the piece's thread started");
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(parada.ao_vivo().expect("live").texto, "a", "held back");
        drop(parada);
        peca.join().expect("the piece");
        assert_eq!(s.atual().expect("live").texto, "ab");
    }

    #[test]
    fn a_late_cancel_never_reaches_the_next_answer() {
        let s = Sala::new(Uuid::nil());
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let ta = s.armar_cancelamento(a);
        s.desarmar_cancelamento();
        let tb = s.armar_cancelamento(b);
        assert!(!s.cancelar(Some(a)));
        assert!(!ta.is_cancelled() && !tb.is_cancelled());
        assert!(s.cancelar(Some(b)));
        assert!(tb.is_cancelled());
    }
}

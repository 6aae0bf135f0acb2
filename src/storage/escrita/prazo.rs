//! The deadline of a student's send, shared by the sender and the writer so that the ack
//! tells the truth. At the deadline the sender gives up only if the writer has not begun the
//! commit; the writer commits a batch only once every sender in it has agreed to wait. Either
//! the send is never stored and its sender says `indisponivel`, or it is stored and its
//! sender waits for that commit, however late: a send told `indisponivel` is never stored
//! after all.
use std::sync::{
    Arc,
    atomic::{AtomicU8, Ordering},
};
use std::time::Instant;

const ABERTO: u8 = 0;
/// The writer is committing it: the sender waits for the verdict.
const FIRMADO: u8 = 1;
/// The sender gave up: the writer must not commit it.
const DESISTIDO: u8 = 2;

#[derive(Debug, Clone)]
pub struct Prazo {
    ate: Instant,
    estado: Arc<AtomicU8>,
}

impl Prazo {
    pub fn new(ate: Instant) -> Self {
        Self {
            ate,
            estado: Arc::new(AtomicU8::new(ABERTO)),
        }
    }

    /// When the sender stops waiting, unless the commit has begun.
    pub fn ate(&self) -> Instant {
        self.ate
    }

    /// The sender, at the deadline: true when it gave up and the write will not be stored;
    /// false when the writer's commit has begun, and its verdict is to be awaited.
    pub fn desistir(&self) -> bool {
        self.decidir(DESISTIDO)
    }

    /// The sender gave up: nothing of the write may be stored.
    pub(super) fn desistiu(&self) -> bool {
        self.estado.load(Ordering::Acquire) == DESISTIDO
    }

    /// The writer, just before a commit: true when the sender will wait for it (also when it
    /// already agreed, in a commit that was then given up and is now tried again).
    pub(super) fn firmar(&self) -> bool {
        self.decidir(FIRMADO)
    }

    /// Moves an open deadline to `estado`: true when it is there now (moved, or already
    /// there), false when the other side decided first.
    fn decidir(&self, estado: u8) -> bool {
        match self
            .estado
            .compare_exchange(ABERTO, estado, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(agora) => agora == estado,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sender_that_gave_up_is_never_committed() {
        let p = Prazo::new(Instant::now());
        assert!(p.desistir());
        assert!(!p.firmar(), "the writer must leave it out");
        assert!(p.desistir(), "giving up twice is still giving up");
    }

    #[test]
    fn once_the_commit_began_the_sender_waits_for_it() {
        let p = Prazo::new(Instant::now());
        assert!(p.firmar());
        assert!(!p.desistir(), "the sender must wait for the verdict");
        assert!(p.firmar(), "a commit tried again keeps the agreement");
    }
}

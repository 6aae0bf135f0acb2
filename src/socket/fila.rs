//! What one socket has queued, in bytes: the bound on what a tab that stopped reading costs.
//!
//! socketioxide bounds a socket's queue in packets, but one packet (a coalesced piece, a
//! `mensagem_respondida`) can carry megabytes. Each socket keeps here the sizes of the
//! packets the broadcaster gave it, newest last; the queue's length in packets
//! (`Socket::buffered`, from our patched socketioxide: see `vendor/README.md`) tells how
//! many of them are still waiting, since the transport takes packets in order. The sizes of
//! the newest that many are what the socket holds. Packets we did not count (acks, pings)
//! sit in the same queue, so the sum errs on the high side, never the low one.
use std::{
    collections::VecDeque,
    sync::{
        Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

/// The sizes of the packets still (possibly) queued for one socket; in its extensions.
#[derive(Default)]
pub struct Fila(Mutex<Tamanhos>, AtomicBool);

#[derive(Default)]
struct Tamanhos {
    pacotes: VecDeque<usize>,
    bytes: usize,
}

impl Fila {
    /// Records a packet of `tamanho` bytes just queued, when the socket's queue now holds
    /// `na_fila` packets; returns the backlog: the bytes queued before that packet that the
    /// socket may still have to read. The new packet itself does not count, so one packet
    /// larger than the bound (a long answer's `mensagem_respondida`) reaches a tab that
    /// keeps up; what a stuck tab costs is the bound plus one packet.
    pub fn registrar(&self, tamanho: usize, na_fila: usize) -> usize {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        t.pacotes.push_back(tamanho);
        t.bytes += tamanho;
        while t.pacotes.len() > na_fila.max(1) {
            if let Some(saiu) = t.pacotes.pop_front() {
                t.bytes -= saiu;
            }
        }
        t.bytes - tamanho
    }

    /// Marks the socket as dropped for not reading; `true` only the first time. A socket
    /// whose queue is full cannot even take the DISCONNECT packet, so socketioxide keeps it
    /// and every later emit finds it full again: it must count once, not once per emit.
    pub fn marcar_lenta(&self) -> bool {
        !self.1.swap(true, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_the_transport_took_stop_counting() {
        let f = Fila::default();
        assert_eq!(f.registrar(100, 1), 0, "nothing queued before it");
        assert_eq!(f.registrar(50, 2), 100, "the first is still queued");
        assert_eq!(f.registrar(10, 1), 0, "the transport took the first two");
        assert_eq!(
            f.registrar(1_000, 5),
            10,
            "other packets in the queue: err high"
        );
    }

    #[test]
    fn a_slow_socket_is_marked_once() {
        let f = Fila::default();
        assert!(f.marcar_lenta());
        assert!(!f.marcar_lenta());
    }

    #[test]
    fn a_reader_that_keeps_up_holds_nothing_however_much_passed() {
        let f = Fila::default();
        for _ in 0..10_000 {
            assert_eq!(f.registrar(1 << 20, 1), 0);
        }
    }
}

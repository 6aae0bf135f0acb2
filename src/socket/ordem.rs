//! Per-socket ordering of sends. socketioxide runs each incoming event in its own task, so
//! two sends from one socket could be stored in either order. Extractors, though, run
//! synchronously in arrival order before the task is spawned: `Vez` takes a numbered ticket
//! there, and the handler waits for its number before storing.
use std::{
    collections::BTreeSet,
    convert::Infallible,
    sync::{Arc, Mutex},
    time::Instant,
};

use socketioxide::{adapter::Adapter, handler::FromMessageParts, socket::Socket};
use tokio::sync::watch;

/// The ticket dispenser of one socket, kept in its extensions.
#[derive(Clone)]
pub struct Sequenciador(Arc<Estado>);

struct Estado {
    /// Next ticket to hand out, and tickets finished out of turn.
    dados: Mutex<(u64, BTreeSet<u64>)>,
    /// The ticket whose turn it is.
    atual: watch::Sender<u64>,
}

impl Default for Sequenciador {
    fn default() -> Self {
        Self(Arc::new(Estado {
            dados: Mutex::new((0, BTreeSet::new())),
            atual: watch::Sender::new(0),
        }))
    }
}

/// A handler's place in its socket's line; its turn passes on when it is dropped (also if
/// the handler never runs or panics, so one failure cannot stall the socket).
pub struct Vez {
    seq: Option<Sequenciador>,
    numero: u64,
    chegada: Instant,
}

impl Vez {
    /// When the event arrived: its deadline counts from here, not from when its turn came.
    pub fn chegada(&self) -> Instant {
        self.chegada
    }

    /// Waits until every earlier event of the socket has finished its turn.
    pub async fn esperar(&self) {
        if let Some(seq) = &self.seq {
            let mut rx = seq.0.atual.subscribe();
            // The sender lives in `seq`, so the channel cannot close while we wait.
            let _ = rx.wait_for(|atual| *atual >= self.numero).await;
        }
    }
}

impl Drop for Vez {
    fn drop(&mut self) {
        let Some(seq) = &self.seq else { return };
        let mut dados = seq.0.dados.lock().unwrap_or_else(|e| e.into_inner());
        dados.1.insert(self.numero);
        let mut atual = *seq.0.atual.borrow();
        while dados.1.remove(&atual) {
            atual += 1;
        }
        seq.0.atual.send_replace(atual);
    }
}

impl<A: Adapter> FromMessageParts<A> for Vez {
    type Error = Infallible;

    fn from_message_parts(
        s: &Arc<Socket<A>>,
        _: &mut socketioxide::handler::Value,
        _: &Option<i64>,
    ) -> Result<Self, Infallible> {
        let seq = s.extensions.get::<Sequenciador>();
        let numero = seq.as_ref().map_or(0, |seq| {
            let mut dados = seq.0.dados.lock().unwrap_or_else(|e| e.into_inner());
            let n = dados.0;
            dados.0 += 1;
            n
        });
        Ok(Vez {
            seq,
            numero,
            chegada: Instant::now(),
        })
    }
}

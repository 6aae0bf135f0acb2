//! The messages this process told its own tabs about, and when. After a Redis outage, a
//! conversation whose every change meanwhile was one of these (a student sending through
//! this process, an answer generated here) held nothing its tabs missed; any other changed
//! conversation had events from another process that never arrived, and its tabs here are
//! resynced.
use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use uuid::Uuid;

/// How long a message is remembered: an outage longer than this resyncs every conversation
/// that changed, as if nothing were remembered.
pub const RETENCAO: Duration = Duration::from_secs(15 * 60);

#[derive(Default)]
pub struct Tocadas(Mutex<Estado>);

#[derive(Default)]
struct Estado {
    quando: HashMap<Uuid, Instant>,
    desde_a_limpeza: usize,
}

impl Tocadas {
    pub fn tocar(&self, mensagem_id: Uuid) {
        let mut e = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let agora = Instant::now();
        e.quando.insert(mensagem_id, agora);
        e.desde_a_limpeza += 1;
        if e.desde_a_limpeza >= 4096 {
            e.desde_a_limpeza = 0;
            e.quando.retain(|_, t| agora.duration_since(*t) < RETENCAO);
        }
    }

    pub fn tocada(&self, mensagem_id: &Uuid) -> bool {
        let e = self.0.lock().unwrap_or_else(|e| e.into_inner());
        e.quando
            .get(mensagem_id)
            .is_some_and(|t| t.elapsed() < RETENCAO)
    }
}

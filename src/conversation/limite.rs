//! Per-user token buckets: how many sends a user may make per minute, with a small burst.
use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Most sends allowed back to back before the per-minute rate applies.
const RAJADA_MAX: f64 = 5.0;
/// Users tracked before idle buckets are forgotten.
const MAX_USUARIOS: usize = 10_000;

pub struct Limitador {
    por_segundo: f64,
    rajada: f64,
    baldes: Mutex<HashMap<String, Balde>>,
}

struct Balde {
    fichas: f64,
    visto: Instant,
}

impl Limitador {
    /// `por_minuto == 0` means no limit.
    pub fn new(por_minuto: u32) -> Self {
        Self {
            por_segundo: f64::from(por_minuto) / 60.0,
            rajada: f64::from(por_minuto).clamp(1.0, RAJADA_MAX),
            baldes: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `usuario`; `Err(ms)` says how long until one is free.
    pub fn tomar(&self, usuario: &str) -> Result<(), u64> {
        if self.por_segundo == 0.0 {
            return Ok(());
        }
        let agora = Instant::now();
        let mut baldes = self.baldes.lock().unwrap_or_else(|e| e.into_inner());
        if baldes.len() >= MAX_USUARIOS && !baldes.contains_key(usuario) {
            let cheio = Duration::from_secs_f64(self.rajada / self.por_segundo);
            baldes.retain(|_, b| agora.duration_since(b.visto) < cheio);
        }
        let b = baldes.entry(usuario.to_owned()).or_insert(Balde {
            fichas: self.rajada,
            visto: agora,
        });
        let passou = agora.duration_since(b.visto).as_secs_f64();
        b.fichas = (b.fichas + passou * self.por_segundo).min(self.rajada);
        b.visto = agora;
        if b.fichas >= 1.0 {
            b.fichas -= 1.0;
            Ok(())
        } else {
            let falta = (1.0 - b.fichas) / self.por_segundo;
            Err((falta * 1000.0).ceil() as u64)
        }
    }
}

//! Token buckets by key (a user, an address): how many requests per minute, with a burst.
//! Refusals say how long until the next one would pass.
use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Keys tracked before idle buckets are forgotten.
const MAX_CHAVES: usize = 10_000;

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
    /// `por_minuto == 0` means no limit; `rajada` requests may come back to back.
    pub fn new(por_minuto: u32, rajada: u32) -> Self {
        Self {
            por_segundo: f64::from(por_minuto) / 60.0,
            rajada: f64::from(rajada.max(1)),
            baldes: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `chave`; `Err(ms)` says how long until one is free.
    pub fn tomar(&self, chave: &str) -> Result<(), u64> {
        if self.por_segundo == 0.0 {
            return Ok(());
        }
        let agora = Instant::now();
        let mut baldes = self.baldes.lock().unwrap_or_else(|e| e.into_inner());
        if baldes.len() >= MAX_CHAVES && !baldes.contains_key(chave) {
            let cheio = Duration::from_secs_f64(self.rajada / self.por_segundo);
            baldes.retain(|_, b| agora.duration_since(b.visto) < cheio);
        }
        let b = baldes.entry(chave.to_owned()).or_insert(Balde {
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

    /// Gives back one token taken for `chave` (up to the burst): for a cost that turned out
    /// not to be owed, such as a handshake that went on to authenticate.
    pub fn devolver(&self, chave: &str) {
        let mut baldes = self.baldes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(b) = baldes.get_mut(chave) {
            b.fichas = (b.fichas + 1.0).min(self.rajada);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_holds_and_says_when_to_retry() {
        let l = Limitador::new(60, 3);
        assert!(l.tomar("a").is_ok());
        assert!(l.tomar("a").is_ok());
        assert!(l.tomar("a").is_ok());
        let espera = l
            .tomar("a")
            .expect_err("the fourth back-to-back request is over the burst");
        assert!(
            espera > 0 && espera <= 1000,
            "one per second: retry within a second, got {espera}"
        );
        assert!(l.tomar("b").is_ok(), "another key has its own bucket");
    }

    #[test]
    fn a_token_given_back_can_be_taken_again_but_never_past_the_burst() {
        let l = Limitador::new(1, 2);
        assert!(l.tomar("a").is_ok());
        assert!(l.tomar("a").is_ok());
        assert!(l.tomar("a").is_err());
        l.devolver("a");
        assert!(l.tomar("a").is_ok(), "the token given back is there");
        l.devolver("a");
        l.devolver("a");
        l.devolver("a");
        assert!(l.tomar("a").is_ok());
        assert!(l.tomar("a").is_ok());
        assert!(
            l.tomar("a").is_err(),
            "giving back never fills past the burst"
        );
    }

    #[test]
    fn zero_means_no_limit() {
        let l = Limitador::new(0, 1);
        assert!((0..1000).all(|_| l.tomar("a").is_ok()));
    }
}

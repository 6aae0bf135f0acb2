//! What a run counts and measures, in a form that child processes can send to the parent
//! and the parent can add up: counters are summed and HdrHistograms (microseconds) are
//! merged, travelling as base64 of the V2 serialization inside the JSON.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A latency histogram in microseconds, 3 significant digits, growing as needed.
#[derive(Debug, Clone)]
pub struct Hist(pub Histogram<u64>);

impl Default for Hist {
    fn default() -> Self {
        let mut h = Histogram::new(3).expect("3 significant digits is a valid precision");
        h.auto(true);
        Hist(h)
    }
}

impl Hist {
    pub fn registrar(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
        // Auto-resizing histograms accept any value: saturate rather than fail.
        let _ = self.0.record(us);
    }

    pub fn juntar(&mut self, outro: &Hist) {
        let _ = self.0.add(&outro.0);
    }

    /// Percentiles in milliseconds, or null when nothing was recorded.
    pub fn resumo(&self) -> Value {
        let h = &self.0;
        if h.is_empty() {
            return Value::Null;
        }
        let ms = |us: u64| (us as f64 / 100.0).round() / 10.0;
        json!({
            "n": h.len(),
            "p50": ms(h.value_at_quantile(0.50)),
            "p90": ms(h.value_at_quantile(0.90)),
            "p99": ms(h.value_at_quantile(0.99)),
            "max": ms(h.max()),
            "mean": (h.mean() / 100.0).round() / 10.0,
        })
    }

    pub fn para_base64(&self) -> Result<String> {
        let mut bytes = Vec::new();
        V2Serializer::new()
            .serialize(&self.0, &mut bytes)
            .map_err(|e| anyhow::anyhow!("serializing histogram: {e:?}"))?;
        Ok(STANDARD.encode(bytes))
    }

    pub fn de_base64(s: &str) -> Result<Hist> {
        let bytes = STANDARD.decode(s).context("histogram base64")?;
        let mut h: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| anyhow::anyhow!("deserializing histogram: {e:?}"))?;
        h.auto(true);
        Ok(Hist(h))
    }
}

impl Serialize for Hist {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.para_base64().map_err(serde::ser::Error::custom)?)
    }
}

impl<'de> Deserialize<'de> for Hist {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Hist::de_base64(&s).map_err(serde::de::Error::custom)
    }
}

/// Everything one process measured. Summed across processes by [`Resultado::juntar`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Resultado {
    pub conectados: u64,
    /// Connection failures by reason (`connect_error:…`, `http_429`, `timeout`…).
    pub falhas_conexao: BTreeMap<String, u64>,
    pub enviadas: u64,
    /// Answers that arrived and passed the check.
    pub respondidas: u64,
    /// Answers whose pieces did not add up (gaps, repeats, text).
    pub divergentes: u64,
    /// Failed acks and `erro_resposta`, by code (`ack:limite_excedido`, `resposta:interrompida`).
    pub erros: BTreeMap<String, u64>,
    /// Sends with no final answer within the timeout.
    pub timeouts: u64,
    /// Sockets closed by the server (or the network) during the run.
    pub quedas: u64,
    /// Fan-out: answers the extra tabs should have seen, did see and verified.
    pub abas_esperadas: u64,
    pub abas_recebidas: u64,
    pub abas_divergentes: u64,
    /// Seconds of the measured phase (the longest, across processes).
    pub duracao_s: f64,
    pub conexao: Hist,
    pub ack: Hist,
    pub primeiro: Hist,
    pub resposta: Hist,
    /// A few examples of what went wrong, for the human reading the report.
    pub amostras: Vec<String>,
}

impl Resultado {
    pub fn erro(&mut self, codigo: impl Into<String>) {
        *self.erros.entry(codigo.into()).or_default() += 1;
    }

    pub fn amostra(&mut self, s: impl Into<String>) {
        if self.amostras.len() < 5 {
            self.amostras.push(s.into());
        }
    }

    pub fn falha_conexao(&mut self, rotulo: String) {
        *self.falhas_conexao.entry(rotulo).or_default() += 1;
    }

    pub fn juntar(&mut self, o: &Resultado) {
        self.conectados += o.conectados;
        for (k, v) in &o.falhas_conexao {
            *self.falhas_conexao.entry(k.clone()).or_default() += v;
        }
        self.enviadas += o.enviadas;
        self.respondidas += o.respondidas;
        self.divergentes += o.divergentes;
        for (k, v) in &o.erros {
            *self.erros.entry(k.clone()).or_default() += v;
        }
        self.timeouts += o.timeouts;
        self.quedas += o.quedas;
        self.abas_esperadas += o.abas_esperadas;
        self.abas_recebidas += o.abas_recebidas;
        self.abas_divergentes += o.abas_divergentes;
        self.duracao_s = self.duracao_s.max(o.duracao_s);
        self.conexao.juntar(&o.conexao);
        self.ack.juntar(&o.ack);
        self.primeiro.juntar(&o.primeiro);
        self.resposta.juntar(&o.resposta);
        for a in &o.amostras {
            self.amostra(a.clone());
        }
    }

    /// Answers missing or wrong: sends without a verified answer, tab answers not seen or
    /// not matching. Any of these makes the exit code non-zero.
    pub fn perdas(&self) -> u64 {
        self.enviadas.saturating_sub(self.respondidas)
            + self.divergentes
            + self.abas_esperadas.saturating_sub(self.abas_recebidas)
            + self.abas_divergentes
    }

    pub fn falhas_conexao_total(&self) -> u64 {
        self.falhas_conexao.values().sum()
    }

    pub fn por_segundo(&self) -> f64 {
        if self.duracao_s > 0.0 {
            self.respondidas as f64 / self.duracao_s
        } else {
            0.0
        }
    }

    /// The summary a person (or `plot`) reads: counters and percentiles in ms.
    pub fn resumo(&self) -> Value {
        json!({
            "connected": self.conectados,
            "connect_failures": self.falhas_conexao,
            "sent": self.enviadas,
            "answered": self.respondidas,
            "mismatches": self.divergentes,
            "errors": self.erros,
            "timeouts": self.timeouts,
            "disconnects": self.quedas,
            "missing_or_wrong": self.perdas(),
            "tabs": if self.abas_esperadas > 0 { json!({
                "expected": self.abas_esperadas,
                "received": self.abas_recebidas,
                "mismatches": self.abas_divergentes,
            }) } else { Value::Null },
            "duration_s": (self.duracao_s * 100.0).round() / 100.0,
            "answers_per_s": (self.por_segundo() * 100.0).round() / 100.0,
            "connect_ms": self.conexao.resumo(),
            "ack_ms": self.ack.resumo(),
            "first_piece_ms": self.primeiro.resumo(),
            "answer_ms": self.resposta.resumo(),
            "samples": self.amostras,
        })
    }
}

/// Live counters for the once-a-second progress line.
#[derive(Debug, Default)]
pub struct Progresso {
    pub conectados: AtomicU64,
    pub enviadas: AtomicU64,
    pub respondidas: AtomicU64,
    pub erros: AtomicU64,
}

/// A snapshot of [`Progresso`], also what child processes report to the parent.
#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Foto {
    pub conectados: u64,
    pub enviadas: u64,
    pub respondidas: u64,
    pub erros: u64,
}

impl Progresso {
    pub fn mais(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn foto(&self) -> Foto {
        Foto {
            conectados: self.conectados.load(Ordering::Relaxed),
            enviadas: self.enviadas.load(Ordering::Relaxed),
            respondidas: self.respondidas.load(Ordering::Relaxed),
            erros: self.erros.load(Ordering::Relaxed),
        }
    }
}

impl Foto {
    pub fn somar(&mut self, o: &Foto) {
        self.conectados += o.conectados;
        self.enviadas += o.enviadas;
        self.respondidas += o.respondidas;
        self.erros += o.erros;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograma_vai_e_volta_em_base64_e_soma() {
        let mut a = Hist::default();
        for ms in 1..=100u64 {
            a.registrar(Duration::from_millis(ms));
        }
        let b = Hist::de_base64(&a.para_base64().expect("serializes")).expect("deserializes");
        assert_eq!(b.0.len(), 100);
        assert_eq!(b.0.max(), a.0.max());
        let mut c = Hist::default();
        c.registrar(Duration::from_secs(5));
        c.juntar(&b);
        assert_eq!(c.0.len(), 101);
        let r = c.resumo();
        assert!((r["max"].as_f64().expect("max") - 5000.0).abs() < 5.0);
        assert!((r["p50"].as_f64().expect("p50") - 51.0).abs() < 1.0);
        assert!(Hist::de_base64("não é base64").is_err());
        assert_eq!(Hist::default().resumo(), Value::Null);
    }

    #[test]
    fn resultados_somam_e_perdas_contam_o_que_falta() {
        let mut a = Resultado {
            enviadas: 10,
            respondidas: 10,
            duracao_s: 2.0,
            ..Default::default()
        };
        a.ack.registrar(Duration::from_millis(3));
        let mut b = Resultado {
            enviadas: 5,
            respondidas: 4,
            divergentes: 1,
            abas_esperadas: 3,
            abas_recebidas: 2,
            duracao_s: 3.0,
            ..Default::default()
        };
        b.erro("resposta:modelo_indisponivel");
        b.ack.registrar(Duration::from_millis(9));
        let texto = serde_json::to_string(&b).expect("serializes");
        let b: Resultado = serde_json::from_str(&texto).expect("deserializes");
        assert_eq!(a.perdas(), 0);
        a.juntar(&b);
        assert_eq!(a.enviadas, 15);
        assert_eq!(a.ack.0.len(), 2);
        assert_eq!(a.duracao_s, 3.0);
        assert_eq!(a.erros["resposta:modelo_indisponivel"], 1);
        // one unanswered + one mismatch + one tab answer missing
        assert_eq!(a.perdas(), 3);
    }
}

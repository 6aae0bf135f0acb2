//! The server's metrics: typed families in a `prometheus-client` [`Registry`] owned by one
//! running server, rendered for `GET /metrics` in the Prometheus text format (0.0.4).
//!
//! Why no global recorder (the `metrics` crate's, or a `lazy_static` registry): several
//! servers run in one test process (and a test asks two of them for their counts), so each
//! [`Application`](crate::startup::Application) builds its own `Metricas` and hands it, as an
//! `Arc`, to the code that counts. Every method is a few atomic operations: cheap enough for
//! the hot paths (every piece of every answer).
//!
//! What the labels may hold: only `&'static str` values chosen by the server (a transport,
//! an error code, a final status), so a label can never carry a user id, a conversation id
//! or a student's text, and the number of series stays fixed.
mod processo;

use std::time::Duration;

use prometheus_client::{
    encoding::{EncodeLabelSet, prometheus_text},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};
use sea_orm::ActiveEnum;

use crate::{error::Erro, storage::Status};

/// The `Content-Type` of what [`Metricas::render`] returns.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PorTransporte {
    transporte: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PorResultado {
    resultado: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PorOrigem {
    origem: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PorStatus {
    status: String,
}

/// How an answer ended: one of the final statuses (an answer never ends `gerando`), labelled
/// with the status's wire text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FimDaResposta {
    Completa,
    Cancelada,
    Erro,
}

impl FimDaResposta {
    fn rotulo(self) -> String {
        match self {
            FimDaResposta::Completa => Status::Completa,
            FimDaResposta::Cancelada => Status::Cancelada,
            FimDaResposta::Erro => Status::Erro,
        }
        .to_value()
    }
}

/// A socket's transport, as the `transporte` label of `tutor_sockets` writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transporte {
    Polling,
    Websocket,
}

impl Transporte {
    fn rotulo(self) -> &'static str {
        match self {
            Transporte::Polling => "polling",
            Transporte::Websocket => "websocket",
        }
    }
}

/// One server's metrics. `Send + Sync`; share it as `Arc<Metricas>`.
#[derive(Debug)]
pub struct Metricas {
    registro: Registry,
    sockets: Family<PorTransporte, Gauge>,
    salas: Gauge,
    sockets_lentos: Counter,
    handshakes_recusados: Counter,
    envios: Family<PorResultado, Counter>,
    respostas: Family<PorStatus, Counter>,
    upstream_primeiro: Histogram,
    pedacos_recebidos: Counter,
    parciais_emitidos: Counter,
    db_escrita: Histogram,
    db_lote: Histogram,
    fila_conversas: Gauge,
    tokens: Family<PorOrigem, Counter>,
    antecipados: Family<PorResultado, Counter>,
}

impl Default for Metricas {
    fn default() -> Self {
        Self::new()
    }
}

impl Metricas {
    pub fn new() -> Self {
        let mut m = Self {
            registro: Registry::with_prefix("tutor"),
            sockets: Family::default(),
            salas: Gauge::default(),
            sockets_lentos: Counter::default(),
            handshakes_recusados: Counter::default(),
            envios: Family::default(),
            respostas: Family::default(),
            // From a fast local model (tens of ms) to the 30 s default timeout.
            upstream_primeiro: Histogram::new([
                0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0,
            ]),
            pedacos_recebidos: Counter::default(),
            parciais_emitidos: Counter::default(),
            // 0.5 ms (SQLite, page cache) to ~8 s (past the default 5 s wait).
            db_escrita: Histogram::new(exponential_buckets(0.0005, 2.0, 15)),
            db_lote: Histogram::new(exponential_buckets(1.0, 2.0, 10)),
            fila_conversas: Gauge::default(),
            tokens: Family::default(),
            antecipados: Family::default(),
        };
        // The series every scrape should show exist from the start, at 0, so a dashboard
        // (and `rate()`) sees a zero rather than nothing.
        for t in [Transporte::Polling, Transporte::Websocket] {
            m.sockets(t, 0);
        }
        m.envios
            .get_or_create(&PorResultado { resultado: "ok" })
            .inc_by(0);
        for fim in [
            FimDaResposta::Completa,
            FimDaResposta::Cancelada,
            FimDaResposta::Erro,
        ] {
            let status = fim.rotulo();
            m.respostas.get_or_create(&PorStatus { status }).inc_by(0);
        }
        for origem in ["informado", "estimado"] {
            m.tokens.get_or_create(&PorOrigem { origem }).inc_by(0);
        }
        for resultado in ["usado", "descartado"] {
            m.antecipados
                .get_or_create(&PorResultado { resultado })
                .inc_by(0);
        }
        m.registrar();
        m
    }

    fn registrar(&mut self) {
        let r = &mut self.registro;
        // Counters are registered without `_total`: the encoder appends it.
        r.register(
            "sockets",
            "Connected sockets, by transport",
            self.sockets.clone(),
        );
        r.register(
            "salas",
            "Conversation rooms with at least one socket connected to this process",
            self.salas.clone(),
        );
        r.register(
            "sockets_lentos",
            "Sockets disconnected because their outgoing backlog passed the bound",
            self.sockets_lentos.clone(),
        );
        r.register(
            "handshakes_recusados",
            "New sessions refused with HTTP 429 (handshake budget or process-wide cap)",
            self.handshakes_recusados.clone(),
        );
        r.register(
            "envios",
            "mensagem_enviada acks, by result: ok or the error code",
            self.envios.clone(),
        );
        r.register(
            "respostas",
            "Tutor answers ended, by final status",
            self.respostas.clone(),
        );
        r.register(
            "upstream_primeiro_segundos",
            "Seconds from asking the model to its first piece of text, retries included",
            self.upstream_primeiro.clone(),
        );
        r.register(
            "pedacos_recebidos",
            "Pieces of text received from the model",
            self.pedacos_recebidos.clone(),
        );
        r.register(
            "parciais_emitidos",
            "resposta_parcial events emitted (fewer than the pieces received: coalescing)",
            self.parciais_emitidos.clone(),
        );
        r.register(
            "db_escrita_segundos",
            "Seconds one database write (one batch) took",
            self.db_escrita.clone(),
        );
        r.register(
            "db_lote_tamanho",
            "Writes carried by one database batch",
            self.db_lote.clone(),
        );
        r.register(
            "fila_conversas",
            "Conversations with an answer queued or streaming in this process",
            self.fila_conversas.clone(),
        );
        r.register(
            "tokens_modelo",
            "Model tokens the answers cost (the students' budgets count them), by origin: as the upstream reported them, or estimated from the text",
            self.tokens.clone(),
        );
        r.register(
            "pedidos_antecipados",
            "Model requests sent while their question's commit was flushing, by result: usado (its answer streamed from it) or descartado (aborted: the commit failed, or the prompt changed)",
            self.antecipados.clone(),
        );
        r.register_collector(Box::new(processo::Processo));
    }

    /// The whole registry in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut texto = String::new();
        if let Err(e) = prometheus_text::encode(&mut texto, &self.registro) {
            // Writing into a String cannot fail; a collector could, and then the scrape
            // gets what was written before it.
            tracing::error!(error = %e, "encoding metrics");
        }
        texto
    }

    // ---- wired in socket/ and http/ ----

    /// Sets the connected sockets of `transporte` (sampled at each scrape).
    pub fn sockets(&self, transporte: Transporte, n: usize) {
        let rotulo = PorTransporte {
            transporte: transporte.rotulo(),
        };
        self.sockets.get_or_create(&rotulo).set(a_i64(n));
    }

    /// Sets the conversation rooms with members (sampled at each scrape).
    pub fn salas(&self, n: usize) {
        self.salas.set(a_i64(n));
    }

    /// A socket was disconnected for not reading.
    pub fn socket_lento(&self) {
        self.sockets_lentos.inc();
    }

    /// A new session got HTTP 429.
    pub fn handshake_recusado(&self) {
        self.handshakes_recusados.inc();
    }

    /// A `mensagem_enviada` ack went out with this result.
    pub fn envio(&self, resultado: Result<(), &Erro>) {
        let resultado = match resultado {
            Ok(()) => "ok",
            Err(e) => e.codigo(),
        };
        self.envios.get_or_create(&PorResultado { resultado }).inc();
    }

    // ---- for conversation/ and storage/ to call ----

    /// An answer ended (one call per answer, with its final status).
    pub fn resposta_terminada(&self, fim: FimDaResposta) {
        let status = fim.rotulo();
        self.respostas.get_or_create(&PorStatus { status }).inc();
    }

    /// The model's first piece came `espera` after the answer asked for it.
    pub fn primeiro_pedaco(&self, espera: Duration) {
        self.upstream_primeiro.observe(espera.as_secs_f64());
    }

    /// One piece of text came from the model.
    pub fn pedaco_recebido(&self) {
        self.pedacos_recebidos.inc();
    }

    /// One `resposta_parcial` went out (once per event, not per socket).
    pub fn parcial_emitido(&self) {
        self.parciais_emitidos.inc();
    }

    /// One database write (a batch of `lote` writes) took `duracao`.
    pub fn escrita_db(&self, duracao: Duration, lote: usize) {
        self.db_escrita.observe(duracao.as_secs_f64());
        self.db_lote.observe(lote as f64);
    }

    /// What one answer cost; `informado` when the upstream reported it.
    pub fn tokens_modelo(&self, tokens: u64, informado: bool) {
        let origem = if informado { "informado" } else { "estimado" };
        self.tokens
            .get_or_create(&PorOrigem { origem })
            .inc_by(tokens);
    }

    /// An early model request was used by its answer (`usado`) or dropped.
    pub fn pedido_antecipado(&self, usado: bool) {
        let resultado = if usado { "usado" } else { "descartado" };
        self.antecipados
            .get_or_create(&PorResultado { resultado })
            .inc();
    }

    /// A conversation's answer queue became busy (`+1`) or idle (`-1`).
    pub fn fila(&self, delta: i64) {
        self.fila_conversas.inc_by(delta);
    }
}

fn a_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valor(texto: &str, serie: &str) -> Option<f64> {
        texto
            .lines()
            .filter(|l| !l.starts_with('#'))
            .find_map(|l| l.strip_prefix(serie)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn every_metric_renders_with_its_prefix_and_help() {
        let m = Metricas::new();
        m.envio(Ok(()));
        m.envio(Err(&Erro::Indisponivel));
        m.envio(Err(&Erro::Indisponivel));
        m.resposta_terminada(FimDaResposta::Cancelada);
        m.primeiro_pedaco(Duration::from_millis(300));
        m.pedaco_recebido();
        m.pedaco_recebido();
        m.parcial_emitido();
        m.escrita_db(Duration::from_millis(2), 3);
        m.fila(1);
        m.fila(1);
        m.fila(-1);
        m.sockets(Transporte::Websocket, 2);
        m.salas(1);
        m.socket_lento();
        m.handshake_recusado();
        let t = m.render();
        for (serie, esperado) in [
            ("tutor_sockets{transporte=\"websocket\"}", 2.0),
            ("tutor_sockets{transporte=\"polling\"}", 0.0),
            ("tutor_salas", 1.0),
            ("tutor_sockets_lentos_total", 1.0),
            ("tutor_handshakes_recusados_total", 1.0),
            ("tutor_envios_total{resultado=\"ok\"}", 1.0),
            ("tutor_envios_total{resultado=\"indisponivel\"}", 2.0),
            ("tutor_respostas_total{status=\"cancelada\"}", 1.0),
            ("tutor_upstream_primeiro_segundos_count", 1.0),
            ("tutor_upstream_primeiro_segundos_bucket{le=\"0.5\"}", 1.0),
            ("tutor_pedacos_recebidos_total", 2.0),
            ("tutor_parciais_emitidos_total", 1.0),
            ("tutor_db_escrita_segundos_count", 1.0),
            ("tutor_db_lote_tamanho_sum", 3.0),
            ("tutor_fila_conversas", 1.0),
        ] {
            assert_eq!(valor(&t, serie), Some(esperado), "{serie} in\n{t}");
        }
        assert!(t.contains("# HELP tutor_envios_total "), "{t}");
        assert!(t.contains("# TYPE tutor_upstream_primeiro_segundos histogram"));
    }

    #[test]
    fn two_servers_count_apart() {
        let (a, b) = (Metricas::new(), Metricas::new());
        a.socket_lento();
        let ta = a.render();
        let tb = b.render();
        assert_eq!(valor(&ta, "tutor_sockets_lentos_total"), Some(1.0));
        assert_eq!(valor(&tb, "tutor_sockets_lentos_total"), Some(0.0));
    }
}

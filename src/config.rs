//! Every setting of the server, each a command-line flag and an environment variable.
//! The variable names are fixed by PROTOCOL.md so that deployments and outside test rigs can
//! start any build the same way; the extra settings below them are ours.
use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Args, Parser, Subcommand};
use secrecy::SecretString;

/// The tutor server: students talk with an AI tutor over Socket.IO.
#[derive(Debug, Clone, Parser)]
#[command(name = "tutor", version, about)]
pub struct Config {
    /// Address to listen on (`127.0.0.1:0` picks a free port and logs it).
    #[arg(long, env = "TUTOR_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// `sqlite://…` or `postgres://…`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://tutor.db?mode=rwc"
    )]
    pub database_url: String,

    /// HS256 secret for handshake tokens; without it a random one is made per run (demo mode).
    #[arg(long, env = "TUTOR_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<SecretString>,

    /// Key for the OpenAI-compatible API.
    #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true)]
    pub openai_api_key: Option<SecretString>,

    /// Base URL of the OpenAI-compatible API, e.g. `http://127.0.0.1:11434/v1`.
    #[arg(long, env = "OPENAI_BASE_URL")]
    pub openai_base_url: Option<String>,

    /// Model name sent upstream.
    #[arg(long = "model", env = "TUTOR_MODEL", default_value = "gpt-4o-mini")]
    pub model: String,

    /// When set, rooms are shared across nodes through Redis.
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// No byte from the model for this long ends the answer as `erro`.
    #[arg(long, env = "TUTOR_UPSTREAM_TIMEOUT_MS", default_value_t = 30_000)]
    pub upstream_timeout_ms: u64,

    /// Sends allowed per user per minute (`0`: no limit).
    #[arg(long, env = "TUTOR_MENSAGENS_POR_MINUTO", default_value_t = 30)]
    pub mensagens_por_minuto: u32,

    /// Comma-separated origins allowed by CORS and by the handshake's `Origin` check.
    #[arg(
        long,
        env = "TUTOR_CORS_ORIGINS",
        value_delimiter = ',',
        default_value = "http://localhost:5173,http://127.0.0.1:5173,http://localhost:3000,http://127.0.0.1:3000"
    )]
    pub cors_origins: Vec<String>,

    /// A built front-end to serve at `/`.
    #[arg(long, env = "TUTOR_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,

    /// Longest message a student may send, in Unicode code points.
    #[arg(long, env = "TUTOR_MAX_CARACTERES", default_value_t = 8_000)]
    pub max_caracteres: usize,

    /// A file whose text replaces the built-in system prompt.
    #[arg(long, env = "TUTOR_PROMPT_FILE")]
    pub prompt_file: Option<PathBuf>,

    /// How much history (in characters) goes to the model; older messages are left out.
    #[arg(long, env = "TUTOR_HISTORICO_MAX_CARACTERES", default_value_t = 24_000)]
    pub historico_max_caracteres: usize,

    /// On SIGTERM, how long answers in flight may take to finish before they are ended.
    #[arg(long, env = "TUTOR_SHUTDOWN_GRACE_MS", default_value_t = 10_000)]
    pub shutdown_grace_ms: u64,

    /// Connecting to the model (TCP and TLS) may take this long.
    #[arg(
        long,
        env = "TUTOR_UPSTREAM_CONNECT_TIMEOUT_MS",
        default_value_t = 5_000
    )]
    pub upstream_connect_timeout_ms: u64,

    /// The model's first piece of text may take this long (retries included); by default
    /// the same as `TUTOR_UPSTREAM_TIMEOUT_MS`.
    #[arg(long, env = "TUTOR_UPSTREAM_PRIMEIRO_TOKEN_MS")]
    pub upstream_primeiro_token_ms: Option<u64>,

    /// Attempts to start an answer when the model fails before its first token (connect
    /// errors, 5xx, 429); never after it.
    #[arg(long, env = "TUTOR_UPSTREAM_TENTATIVAS", default_value_t = 3)]
    pub upstream_tentativas: u32,

    /// Longest wait between attempts, also the cap on a 429's `Retry-After`.
    #[arg(long, env = "TUTOR_UPSTREAM_ESPERA_MAX_MS", default_value_t = 5_000)]
    pub upstream_espera_max_ms: u64,

    /// Largest inbound Socket.IO message in bytes, on every transport (polling body,
    /// WebSocket message and frame, binary attachments). Sized for an 8,000-character message
    /// in the most expensive JSON (12 bytes per code point as escaped surrogate pairs), so a
    /// text merely too long is read and answered `entrada_invalida` instead of cut off.
    #[arg(long, env = "TUTOR_MAX_PAYLOAD_BYTES", default_value_t = 128 * 1024)]
    pub max_payload_bytes: usize,

    /// Other events (joins, lists, cancels) allowed per user per minute (`0`: no limit).
    #[arg(long, env = "TUTOR_EVENTOS_POR_MINUTO", default_value_t = 240)]
    pub eventos_por_minuto: u32,
    /// The same for a `professor`, who follows whole classes: joining the 40 conversations of
    /// each of several classes at once must pass (burst: 400 or this, whichever is smaller).
    #[arg(
        long,
        env = "TUTOR_EVENTOS_POR_MINUTO_PROFESSOR",
        default_value_t = 2_400
    )]
    pub eventos_por_minuto_professor: u32,

    /// Sockets one user may have open at once.
    #[arg(long, env = "TUTOR_MAX_SOCKETS_POR_USUARIO", default_value_t = 20)]
    pub max_sockets_por_usuario: usize,

    /// Per address, the budget for sessions that have not authenticated (a bad, expired or
    /// forged token; a session opened and never connected) refills at this many per second
    /// (`0`: no per-address limit). A session that authenticates gives its unit back, so a
    /// whole school behind one NAT address connects at once.
    #[arg(long, env = "TUTOR_HANDSHAKES_POR_SEGUNDO", default_value_t = 10)]
    pub handshakes_por_segundo: u32,
    /// Per address, how many unauthenticated sessions may come back to back (the budget's
    /// size): room for a school's handshakes in flight before their tokens are checked.
    #[arg(long, env = "TUTOR_HANDSHAKES_RAJADA", default_value_t = 500)]
    pub handshakes_rajada: u32,
    /// New sessions the whole process accepts per second, whatever their address (burst
    /// twice that; `0`: no limit): keeps a reconnect storm from starving the sockets already
    /// open.
    #[arg(long, env = "TUTOR_SESSOES_POR_SEGUNDO", default_value_t = 500)]
    pub sessoes_por_segundo: u32,

    /// How long a send may wait to be stored, counted from its arrival, before it is refused
    /// as `indisponivel`; also each write's wait on a locked database (SQLite's busy
    /// timeout, Postgres' `lock_timeout`).
    #[arg(long, env = "TUTOR_DB_ESPERA_MS", default_value_t = 5_000)]
    pub db_espera_ms: u64,

    /// How often the server pings each socket (ms), Engine.IO's `pingInterval`: a proxy that
    /// closes idle connections sooner needs it lower.
    #[arg(long, env = "TUTOR_PING_INTERVALO_MS", default_value_t = 25_000,
          value_parser = clap::value_parser!(u64).range(100..))]
    pub ping_intervalo_ms: u64,

    /// How long a socket may take to answer a ping before its session is closed (ms),
    /// Engine.IO's `pingTimeout`: what a tab that stopped reading costs is held at most this
    /// long past the ping interval.
    #[arg(long, env = "TUTOR_PING_TIMEOUT_MS", default_value_t = 20_000,
          value_parser = clap::value_parser!(u64).range(100..))]
    pub ping_timeout_ms: u64,

    /// Packets queued for one socket before it counts as not keeping up and is disconnected.
    #[arg(long, env = "TUTOR_SOCKET_BUFFER", default_value_t = 4_096)]
    pub socket_buffer: usize,
    /// Bytes queued for one socket before it counts as not keeping up and is disconnected:
    /// the bound on what a tab that stopped reading costs the server (it catches up with
    /// `entrar_conversa` + `apos` when it reads again).
    #[arg(long, env = "TUTOR_SOCKET_BUFFER_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub socket_buffer_bytes: usize,

    /// After an answer's first piece, which goes at once, at most one `resposta_parcial` per
    /// conversation this often (ms): the model's pieces that arrive meanwhile go in one. Fewer,
    /// larger events cost every tab and the server less; 0 sends each piece as it comes.
    #[arg(long, env = "TUTOR_PARCIAL_MS", default_value_t = 30)]
    pub parcial_ms: u64,

    /// Model tokens each student may use per day (0: no budget). Counted from the usage the
    /// upstream reports, estimated from the text where it reports none; over it a send is
    /// refused (`limite_excedido`) until the day renews.
    #[arg(long, env = "TUTOR_TOKENS_POR_DIA", default_value_t = 0)]
    pub tokens_por_dia: u64,

    /// The time zone whose calendar day the budget renews with: `±HH:MM` (e.g. `-03:00`).
    #[arg(long, env = "TUTOR_FUSO_HORARIO", default_value = "+00:00", value_parser = crate::conversation::ler_fuso)]
    pub fuso_horario: chrono::FixedOffset,

    /// Threads that run the server's tasks; 0 means one per core. One thread (the default)
    /// costs the least CPU per message: no task hops between threads and no thread is woken
    /// to steal work. More threads serve more on one machine when one core is saturated
    /// (several processes behind a balancer do too; see docs/deploy.md).
    #[arg(long, env = "TUTOR_THREADS", default_value_t = 1)]
    pub threads: usize,

    /// This process's name in every log line (several processes share a deployment's logs);
    /// by default the host's name and the process id.
    #[arg(long, env = "TUTOR_NO")]
    pub no: Option<String>,
    /// Comma-separated addresses of the balancers in front (e.g. nginx): for a request from
    /// one of them, the handshake budget is charged to the client its `X-Forwarded-For`
    /// names. Empty: the header is ignored (anyone could write it).
    #[arg(long, env = "TUTOR_PROXIES_CONFIAVEIS", value_delimiter = ',')]
    pub proxies_confiaveis: Vec<std::net::IpAddr>,

    /// With `REDIS_URL`: how long a process's lease on answering a conversation lasts
    /// without renewal (it renews every third of it). When a process dies, another takes
    /// its conversations over within this and a third more.
    #[arg(long, env = "TUTOR_ARRENDAMENTO_MS", default_value_t = 9_000)]
    pub arrendamento_ms: u64,
    /// Lift the caps that keep the libraries under us (Socket.IO, HTTP, SQL) from logging
    /// packets, headers and statements, which carry tokens and students' text. For
    /// debugging on a developer's machine only.
    #[arg(long, env = "TUTOR_LOG_INSEGURO", default_value_t = false)]
    pub log_inseguro: bool,

    /// When set, `GET /metrics` requires `Authorization: Bearer <this>` (401 otherwise);
    /// unset, it is served to anyone who can reach the port (counts only: no label holds a
    /// user, a conversation or a text).
    #[arg(long, env = "TUTOR_METRICAS_TOKEN", hide_env_values = true)]
    pub metricas_token: Option<SecretString>,

    /// Pause between the pieces the demo tutor streams.
    #[arg(long, env = "TUTOR_DEMO_ATRASO_MS", default_value_t = 40)]
    pub demo_atraso_ms: u64,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Print a token signed with the configured secret (`TUTOR_JWT_SECRET`).
    Token(TokenArgs),
}

#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// User id (`sub` claim).
    #[arg(long)]
    pub sub: String,
    /// `aluno` (default) or `professor`.
    #[arg(long, default_value = "aluno")]
    pub papel: String,
    /// Display name (`name` claim).
    #[arg(long)]
    pub nome: Option<String>,
    /// Hours until the token expires.
    #[arg(long, default_value_t = 24)]
    pub horas: u64,
}

impl Config {
    pub fn upstream_timeout(&self) -> Duration {
        Duration::from_millis(self.upstream_timeout_ms)
    }

    pub fn upstream_connect_timeout(&self) -> Duration {
        Duration::from_millis(self.upstream_connect_timeout_ms)
    }

    pub fn upstream_primeiro_token(&self) -> Duration {
        Duration::from_millis(
            self.upstream_primeiro_token_ms
                .unwrap_or(self.upstream_timeout_ms),
        )
    }

    pub fn arrendamento(&self) -> Duration {
        Duration::from_millis(self.arrendamento_ms.max(300))
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_millis(self.shutdown_grace_ms)
    }

    /// The name that opens every log line: `TUTOR_NO`, or `host-pid`.
    pub fn nome_do_no(&self) -> String {
        self.no.clone().unwrap_or_else(|| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|h| h.trim().to_owned())
                .unwrap_or_else(|_| "tutor".into());
            format!("{host}-{}", std::process::id())
        })
    }

    /// With neither a key nor a base URL the built-in demo tutor answers.
    pub fn modo_demo_llm(&self) -> bool {
        self.openai_api_key.is_none() && self.openai_base_url.is_none()
    }
}

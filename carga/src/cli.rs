//! Command line: one subcommand per scenario, with the options every scenario shares.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::sio::Transporte;

#[derive(Parser, Debug)]
#[command(
    name = "tutor-carga",
    version,
    about = "Load tool for tutor deployments: Socket.IO clients that verify every answer",
    long_about = "Load tool for tutor deployments. Simulated students connect over Socket.IO \
(WebSocket, long-polling or the upgrade), send messages, and check every streamed answer \
(gapless indice from 0, deltas equal to the final text). Exits non-zero when any answer is \
missing or wrong."
)]
pub struct Cli {
    #[command(subcommand)]
    pub comando: Comando,
}

#[derive(Subcommand, Debug)]
pub enum Comando {
    /// N clients send M messages each: closed loop, or open loop with --taxa.
    Chat(ChatArgs),
    /// Like chat, and each conversation is followed by --abas extra tabs of the same user.
    Fanout(ChatArgs),
    /// Every message of every client sent at once.
    Burst(ChatArgs),
    /// Ramp idle WebSocket connections; server RSS per socket (needs --pid for memory).
    Idle(IdleArgs),
    /// Hundreds of students from one address connect at once and send one message each.
    Classroom(ClassroomArgs),
    /// One tab stops reading while others stream: are they unaffected, what happens to it?
    Stuck(StuckArgs),
    /// Draw JSON result files as an SVG line chart.
    Plot(PlotArgs),
    /// A fake OpenAI-compatible upstream (streamed chat completions) for trying the server.
    Fake(FakeArgs),
}

/// Options every load scenario takes.
#[derive(Args, Debug, Clone)]
pub struct Comum {
    /// Base URL of the deployment.
    #[arg(long, env = "TUTOR_URL", default_value = "http://127.0.0.1:3000")]
    pub url: String,
    /// HS256 secret: mint one token per simulated user.
    #[arg(long, env = "TUTOR_JWT_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// Use this token for every socket instead (a single user).
    #[arg(long, conflicts_with = "secret")]
    pub token: Option<String>,
    /// How sockets connect.
    #[arg(long, value_enum)]
    pub transporte: Option<Transporte>,
    /// Local source addresses to bind, round-robin (e.g. 127.0.0.1,127.0.0.2).
    #[arg(long, value_delimiter = ',')]
    pub origens: Vec<IpAddr>,
    /// Split the clients over this many child processes.
    #[arg(long, default_value_t = 1)]
    pub processos: usize,
    /// PID of the server on this machine: CPU time and RSS before and after.
    #[arg(long)]
    pub pid: Option<u32>,
    /// The server's Prometheus endpoint (e.g. http://127.0.0.1:3000/metrics).
    #[arg(long)]
    pub metrics: Option<String>,
    /// Also write the final JSON line to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// A name for this run in the JSON (and in plot legends).
    #[arg(long)]
    pub rotulo: Option<String>,
    /// Connections opened at once during the connect phase (per process).
    #[arg(long, default_value_t = 200)]
    pub concorrencia: usize,
    /// Seconds a send may wait for its final answer.
    #[arg(long, default_value_t = 120)]
    pub timeout_s: u64,
    /// Seconds a handshake may take.
    #[arg(long, default_value_t = 30)]
    pub prazo_conexao_s: u64,
    /// Fake upstream: pieces per answer ([[tokens:N]]).
    #[arg(long, default_value_t = 20)]
    pub tokens: u32,
    /// Fake upstream: ms between pieces ([[atraso:MS]]).
    #[arg(long, default_value_t = 20)]
    pub atraso: u64,
    /// Fake upstream: ms before the first piece ([[primeiro:MS]]).
    #[arg(long)]
    pub primeiro: Option<u64>,
    /// Fake upstream: pad every piece to this many characters ([[tamanho:C]]).
    #[arg(long)]
    pub tamanho: Option<usize>,
    /// Send plain text, no [[…]] directives (a real model).
    #[arg(long)]
    pub sem_diretivas: bool,
    /// Also check every answer equals the fake upstream's deterministic text.
    #[arg(long)]
    pub conferir_fake: bool,
    /// The message text (directives are appended).
    #[arg(long, default_value = "O que é uma fração?")]
    pub texto: String,
    /// Hours of validity of minted tokens.
    #[arg(long, default_value_t = 24)]
    pub horas: u64,
    /// No progress line on stderr.
    #[arg(long)]
    pub silencioso: bool,
    /// Internal: this process is child I of P (`I/P`).
    #[arg(long, hide = true)]
    pub filho: Option<String>,
    /// Internal: run id shared by the children (user names).
    #[arg(long, hide = true)]
    pub execucao: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct ChatArgs {
    #[command(flatten)]
    pub comum: Comum,
    /// Simulated students (one user and one conversation each).
    #[arg(long, short = 'n', default_value_t = 200)]
    pub clientes: usize,
    /// Messages each student sends.
    #[arg(long, short = 'm', default_value_t = 5)]
    pub mensagens: usize,
    /// Open loop: this many messages per second in total, whatever the answers do.
    #[arg(long)]
    pub taxa: Option<f64>,
    /// Arrival spacing with --taxa.
    #[arg(long, value_enum, default_value_t = Chegadas::Poisson)]
    pub chegadas: Chegadas,
    /// Extra tabs per conversation (fanout; defaults to 3 there, 0 elsewhere).
    #[arg(long)]
    pub abas: Option<usize>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chegadas {
    Poisson,
    Fixa,
}

#[derive(Args, Debug, Clone)]
pub struct IdleArgs {
    #[command(flatten)]
    pub comum: Comum,
    /// Sockets to reach in total.
    #[arg(long, short = 'n', default_value_t = 1000)]
    pub clientes: usize,
    /// Steps of the ramp (RSS is read after each).
    #[arg(long, default_value_t = 5)]
    pub passos: usize,
    /// Seconds to wait after each step before reading RSS.
    #[arg(long, default_value_t = 2.0)]
    pub pausa_s: f64,
    /// Seconds to hold all sockets at the end (are they still up?).
    #[arg(long, default_value_t = 5.0)]
    pub segurar_s: f64,
}

#[derive(Args, Debug, Clone)]
pub struct ClassroomArgs {
    #[command(flatten)]
    pub comum: Comum,
    /// Students (distinct users).
    #[arg(long, short = 'n', default_value_t = 300)]
    pub alunos: usize,
    /// Students open the page spread over this window.
    #[arg(long, default_value_t = 1000)]
    pub janela_ms: u64,
    /// Stop retrying connects after this many seconds.
    #[arg(long, default_value_t = 30)]
    pub limite_s: u64,
}

#[derive(Args, Debug, Clone)]
pub struct StuckArgs {
    #[command(flatten)]
    pub comum: Comum,
    /// Other students streaming normally meanwhile.
    #[arg(long, short = 'n', default_value_t = 50)]
    pub clientes: usize,
    /// Messages each of them sends.
    #[arg(long, short = 'm', default_value_t = 5)]
    pub mensagens: usize,
    /// Messages sent into the stuck tab's conversation (big answers, see --grande-tamanho).
    #[arg(long, default_value_t = 40)]
    pub grandes: usize,
    /// Pieces per big answer.
    #[arg(long, default_value_t = 200)]
    pub grande_tokens: u32,
    /// Characters per piece of the big answers.
    #[arg(long, default_value_t = 2000)]
    pub grande_tamanho: usize,
    /// Give up watching the stuck tab after this many seconds.
    #[arg(long, default_value_t = 90)]
    pub limite_s: u64,
}

#[derive(Args, Debug, Clone)]
pub struct PlotArgs {
    /// JSON result files (one JSON line each, or several lines).
    #[arg(required = true)]
    pub arquivos: Vec<PathBuf>,
    /// Dotted path of the x value in each result (e.g. config.rate, server.sockets).
    #[arg(long, default_value = "config.rate")]
    pub x: String,
    /// Dotted paths of the y series, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "result.answer_ms.p50,result.answer_ms.p99"
    )]
    pub y: Vec<String>,
    #[arg(long, default_value = "tutor-carga")]
    pub titulo: String,
    #[arg(long)]
    pub rotulo_x: Option<String>,
    #[arg(long)]
    pub rotulo_y: Option<String>,
    /// The SVG file to write.
    #[arg(long, short = 'o', default_value = "carga.svg")]
    pub saida: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct FakeArgs {
    #[arg(long, default_value = "127.0.0.1:0")]
    pub addr: String,
    /// Content chunks per answer (a [[tokens:N]] directive in the message wins).
    #[arg(long, default_value_t = 8)]
    pub pedacos: u32,
    /// ms between chunks (a [[atraso:MS]] directive wins).
    #[arg(long, default_value_t = 0)]
    pub atraso_ms: u64,
}

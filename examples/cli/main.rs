//! A terminal client for the tutor, on a Rust socket.io client (rust_socketio).
//!
//! ```sh
//! cargo run --example cli -- --url http://127.0.0.1:3000 --token …   # or TUTOR_TOKEN=…
//! ```
//! Type a line to send it; answers stream as they arrive. `/nova` starts a new conversation,
//! `/conversas` lists yours, `/entrar ID` opens one, `/sair` leaves it. Ctrl-C while an
//! answer streams stops it; Ctrl-C at the prompt exits. After a dropped connection it
//! reconnects and catches up (`entrar_conversa` with `apos`). With stdin not a terminal it
//! reads lines until EOF, waits for the answers in flight (60 s at most), and exits 0.
//!
//! # Layout
//! - `main.rs`: arguments, the input loop, waiting for an answer (and Ctrl-C meanwhile).
//! - `conexao.rs`: the handshake, event routing, the catch-up after a reconnect.
//! - `acoes.rs`: what a typed line does: the commands and sending a message.
//! - `servidor.rs`: one request with its ack and deadline; failures as sentences.
//! - `tela.rs`: the screen state and how every event and ack changes it.
//! - `markdown.rs`: tutor answers from Markdown to terminal text, line by line as they stream.
mod acoes;
mod conexao;
mod markdown;
mod servidor;
mod tela;

use std::{io::IsTerminal, time::Duration};

use clap::Parser;
use rust_socketio::asynchronous::Client;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

use servidor::pedir;
use tela::{Estado, escrever};

/// How long a piped session waits for an answer before going on.
const ESPERA_SEM_TERMINAL: Duration = Duration::from_secs(60);

/// A terminal client for the tutor server.
#[derive(Parser)]
struct Args {
    /// The server's address.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    url: String,
    /// A handshake token (see `tutor token --sub …`, or the demo token in the server's log).
    #[arg(long, env = "TUTOR_TOKEN", hide_env_values = true)]
    token: String,
}

/// Waits until the answers still expected have ended. Ctrl-C meanwhile stops the answer
/// streaming; a Ctrl-C with nothing (more) to stop gives up waiting.
async fn esperar_respostas(c: &Client, e: &Estado) {
    let mut cancelada: Option<String> = None;
    loop {
        let mudou = e.mudou.notified();
        // What a Ctrl-C would stop: the answer streaming, unless already asked to.
        let (parar, streaming) = {
            let t = e.tela();
            if t.aguardando == 0 || t.fim.is_some() {
                return;
            }
            let streaming = t.em_andamento.as_ref().map(|r| r.id.clone());
            let parar = t
                .conversa
                .clone()
                .filter(|_| streaming.is_some() && streaming != cancelada);
            (parar, streaming)
        };
        tokio::select! {
            _ = mudou => {}
            _ = tokio::signal::ctrl_c() => match parar {
                Some(id) => {
                    cancelada = streaming;
                    if let Err(m) = pedir(c, "cancelar_resposta", json!({ "conversa_id": id })).await {
                        println!("\n[Não foi possível cancelar: {m}]");
                    }
                }
                None => {
                    e.mudar(|t| t.aguardando = 0);
                    println!("\n[parei de esperar a resposta]");
                    return;
                }
            },
        }
    }
}

/// `esperar_respostas`, bounded when nobody is at the keyboard to press Ctrl-C.
async fn esperar(c: &Client, e: &Estado, interativo: bool) {
    if interativo {
        return esperar_respostas(c, e).await;
    }
    if tokio::time::timeout(ESPERA_SEM_TERMINAL, esperar_respostas(c, e))
        .await
        .is_err()
    {
        println!("\n[a resposta está demorando demais; seguindo]");
    }
}

/// Reads and runs lines until EOF, Ctrl-C at the prompt, or a refused token; the exit code.
async fn sessao(c: &Client, e: &Estado) -> i32 {
    let interativo = std::io::stdin().is_terminal();
    let mut linhas = BufReader::new(tokio::io::stdin()).lines();
    let mut prompt = true;
    loop {
        if interativo && prompt {
            escrever("> ");
        }
        prompt = true;
        let mudou = e.mudou.notified();
        if let Some(m) = e.tela().fim.clone() {
            eprintln!("\n{m}");
            return 2;
        }
        tokio::select! {
            linha = linhas.next_line() => match linha {
                Ok(Some(l)) if l.trim().is_empty() => {}
                Ok(Some(l)) => {
                    if let Err(m) = acoes::comando(c, e, l.trim_end()).await {
                        println!("[{m}]");
                    }
                    // The prompt comes back when the answer has ended (or was stopped).
                    esperar(c, e, interativo).await;
                }
                // End of input: let the answers in flight finish, then leave.
                _ => {
                    esperar(c, e, false).await;
                    return 0;
                }
            },
            _ = tokio::signal::ctrl_c() => {
                println!();
                return 0;
            }
            // Only to notice a refused token; the prompt is not shown again.
            _ = mudou => prompt = false,
        }
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let e = Estado::default();
    let c = match conexao::conectar(&args.url, &args.token, &e).await {
        Ok(c) => c,
        Err(m) => {
            eprintln!("{m}");
            std::process::exit(2);
        }
    };
    println!(
        "[conectado a {}; /nova, /conversas, /entrar ID, /sair; Ctrl-C sai]",
        args.url
    );
    let codigo = sessao(&c, &e).await;
    // A connection in the middle of reconnecting may never finish closing: do not wait long.
    let _ = tokio::time::timeout(Duration::from_secs(2), c.disconnect()).await;
    // Not a return from main: the runtime would wait for the blocking read of a terminal's
    // stdin, which only ends when the user presses Enter.
    std::process::exit(codigo);
}

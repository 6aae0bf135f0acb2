//! A terminal client for the tutor, on a Rust socket.io client (rust_socketio).
//!
//! ```sh
//! cargo run --example cli -- --url http://127.0.0.1:3000 --token …   # or TUTOR_TOKEN=…
//! ```
//! Type a line to send it; answers stream as they arrive. `/nova` starts a new conversation,
//! `/conversas` lists yours, `/entrar ID` opens one, `/sair` leaves it. Ctrl-C while an
//! answer streams stops it; Ctrl-C at the prompt exits. After a dropped connection it
//! reconnects and catches up (`entrar_conversa` with `apos`). With stdin not a terminal it
//! reads lines until EOF, waits for the answers in flight, and exits.
mod servidor;
mod tela;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use clap::Parser;
use futures::FutureExt;
use rust_socketio::{
    Event,
    asynchronous::{Client, ClientBuilder},
};
use serde_json::json;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    sync::{Notify, oneshot},
};

use servidor::{pedir, primeiro};
use tela::{Estado, Tela, ao_evento, escrever, tela};

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

/// Prints a conversation's messages (all, or those after `apos`) and picks up an answer in
/// progress where the screen left it.
async fn entrar(
    c: &Client,
    e: &Estado,
    conversa: &str,
    apos: Option<String>,
) -> Result<(), String> {
    let ack = pedir(
        c,
        "entrar_conversa",
        json!({ "conversa_id": conversa, "apos": apos }),
    )
    .await?;
    let mut t = tela(e);
    t.conversa = Some(conversa.to_owned());
    for m in ack["mensagens"].as_array().into_iter().flatten() {
        if m["status"] == "gerando" {
            continue;
        }
        let quem = if m["papel"] == "aluno" {
            "você"
        } else {
            "tutor"
        };
        println!("{quem}: {}", m["conteudo"].as_str().unwrap_or(""));
        t.ultimo_final = m["id"].as_str().map(str::to_owned);
    }
    if let Some(r) = ack.get("resposta_em_andamento").filter(|r| r.is_object()) {
        let texto = r["conteudo"].as_str().unwrap_or("");
        escrever(&format!("tutor: {texto}"));
        t.em_andamento = r["mensagem_id"]
            .as_str()
            .map(|id| (id.to_owned(), texto.len()));
    }
    Ok(())
}

async fn comando(c: &Client, e: &Estado, linha: &str) -> Result<(), String> {
    let (cmd, resto) = linha.split_once(' ').unwrap_or((linha, ""));
    match cmd {
        "/nova" => {
            tela(e).conversa = None;
            println!("[a próxima mensagem começa uma conversa nova]");
        }
        "/conversas" => {
            let ack = pedir(c, "listar_conversas", json!({})).await?;
            let lista = ack["conversas"].as_array().cloned().unwrap_or_default();
            if lista.is_empty() {
                println!("[nenhuma conversa ainda]");
            }
            for (i, conv) in lista.iter().enumerate() {
                println!(
                    "{:>3}. {}  {}",
                    i + 1,
                    conv["id"].as_str().unwrap_or(""),
                    conv["titulo"].as_str().unwrap_or("")
                );
            }
        }
        "/entrar" if !resto.trim().is_empty() => entrar(c, e, resto.trim(), None).await?,
        "/sair" => {
            let atual = {
                let mut t = tela(e);
                // Answers of a conversation we leave will not be shown.
                t.aguardando = 0;
                t.conversa.take()
            };
            if let Some(id) = atual {
                pedir(c, "sair_conversa", json!({ "conversa_id": id })).await?;
                println!("[você saiu da conversa]");
            }
        }
        _ if cmd.starts_with('/') => println!("[comandos: /nova, /conversas, /entrar ID, /sair]"),
        _ => {
            let conversa = tela(e).conversa.clone();
            let ack = pedir(
                c,
                "mensagem_enviada",
                json!({ "conversa_id": conversa, "conteudo": linha, "id_cliente": uuid::Uuid::new_v4().to_string() }),
            )
            .await?;
            let mut t = tela(e);
            t.conversa = ack["conversa_id"].as_str().map(str::to_owned);
            t.ultimo_final = ack["mensagem"]["id"].as_str().map(str::to_owned);
            t.aguardando += 1;
        }
    }
    Ok(())
}

async fn conectar(args: &Args, e: &Estado) -> Result<Client, String> {
    let (tx, rx) = oneshot::channel::<Result<(), String>>();
    let sinal = Arc::new(Mutex::new(Some(tx)));
    let (s1, s2) = (sinal.clone(), sinal);
    let (ev, rec) = (e.clone(), e.clone());
    let cliente = ClientBuilder::new(args.url.clone())
        .auth(json!({ "token": args.token }))
        .reconnect(true)
        .reconnect_on_disconnect(true)
        .on(Event::Connect, move |_, c| {
            let primeira = s1.lock().ok().and_then(|mut s| s.take());
            let rec = rec.clone();
            async move {
                match primeira {
                    Some(tx) => {
                        let _ = tx.send(Ok(()));
                    }
                    None => {
                        // Reconnected: catch up on what was missed. In a task of its own:
                        // awaiting an ack inside a callback would stall the client's packet
                        // loop, and with it the ack.
                        tokio::spawn(async move {
                            let (conversa, apos) = {
                                let t = tela(&rec);
                                (t.conversa.clone(), t.ultimo_final.clone())
                            };
                            println!("\n[reconectado]");
                            if let Some(conversa) = conversa
                                && let Err(m) = entrar(&c, &rec, &conversa, apos).await
                            {
                                println!("[{m}]");
                            }
                        });
                    }
                }
            }
            .boxed()
        })
        .on(Event::Error, move |p, _| {
            let texto = format!("{:?}", primeiro(p));
            match s2.lock().ok().and_then(|mut s| s.take()) {
                Some(tx) => {
                    let _ = tx.send(Err(texto));
                }
                None => println!("\n[conexão com problemas; tentando de novo]"),
            }
            async {}.boxed()
        })
        .on_any(move |nome, p, _| {
            if let Event::Custom(nome) = nome {
                ao_evento(&ev, &nome, &primeiro(p));
            }
            async {}.boxed()
        })
        .connect()
        .await
        .map_err(|e| format!("Não foi possível conectar a {}: {e}", args.url))?;
    match tokio::time::timeout(Duration::from_secs(10), rx).await {
        Ok(Ok(Ok(()))) => Ok(cliente),
        Ok(Ok(Err(m))) if m.contains("nao_autorizado") => {
            Err("Token recusado pelo servidor (inválido ou expirado).".into())
        }
        Ok(Ok(Err(m))) => Err(format!("O servidor recusou a conexão: {m}")),
        _ => Err("O servidor não respondeu à conexão.".into()),
    }
}

/// Waits (60 s at most) for the answers still expected.
async fn esperar_respostas(e: &Estado) {
    let _ = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let novo = e.1.notified();
            if tela(e).aguardando == 0 {
                return;
            }
            novo.await;
        }
    })
    .await;
}

/// Waits for the answers still expected; Ctrl-C meanwhile stops the one streaming. False
/// when the user asked to leave (a second Ctrl-C with nothing streaming).
async fn esperar_ou_cancelar(c: &Client, e: &Estado) -> bool {
    loop {
        let novo = e.1.notified();
        let (conversa, streaming, aguardando) = {
            let t = tela(e);
            (t.conversa.clone(), t.em_andamento.is_some(), t.aguardando)
        };
        if aguardando == 0 {
            return true;
        }
        tokio::select! {
            _ = novo => {}
            _ = tokio::signal::ctrl_c() => match conversa.filter(|_| streaming) {
                Some(id) => {
                    if let Err(m) = pedir(c, "cancelar_resposta", json!({ "conversa_id": id })).await {
                        println!("[{m}]");
                    }
                }
                None => return false,
            },
        }
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let e: Estado = Arc::new((Mutex::new(Tela::default()), Notify::new()));
    let c = match conectar(&args, &e).await {
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
    let mut linhas = BufReader::new(tokio::io::stdin()).lines();
    loop {
        tokio::select! {
            linha = linhas.next_line() => match linha {
                Ok(Some(l)) if l.trim().is_empty() => {}
                Ok(Some(l)) => {
                    if let Err(m) = comando(&c, &e, l.trim_end()).await {
                        println!("[{m}]");
                    }
                    // The prompt comes back when the answer has ended (or was stopped).
                    if !esperar_ou_cancelar(&c, &e).await {
                        break;
                    }
                }
                // End of input: let the answers in flight finish, then leave.
                _ => {
                    esperar_respostas(&e).await;
                    break;
                }
            },
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    // A connection in the middle of reconnecting may never finish closing: do not wait long.
    let _ = tokio::time::timeout(Duration::from_secs(2), c.disconnect()).await;
}

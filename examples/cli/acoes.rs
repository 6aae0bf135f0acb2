//! What a typed line does: a command (`/nova`, `/conversas`, `/entrar ID`, `/sair`) or a
//! message sent into the conversation on screen.
use std::time::{Duration, Instant};

use rust_socketio::asynchronous::Client;
use serde_json::json;

use crate::{
    servidor::{Falha, pedir, pedir_e},
    tela::Estado,
};

/// How long a send is retried while the connection is down.
const INSISTIR_POR: Duration = Duration::from_secs(30);

pub async fn comando(c: &Client, e: &Estado, linha: &str) -> Result<(), Falha> {
    let (cmd, resto) = linha.split_once(' ').unwrap_or((linha, ""));
    match cmd {
        "/nova" => {
            e.mudar(|t| t.conversa = None);
            println!("[a próxima mensagem começa uma conversa nova]");
        }
        "/conversas" => listar(c).await?,
        "/entrar" if !resto.trim().is_empty() => entrar(c, e, resto.trim(), None).await?,
        "/sair" => sair(c, e).await?,
        _ if cmd.starts_with('/') => println!("[comandos: /nova, /conversas, /entrar ID, /sair]"),
        _ => enviar(c, e, linha).await?,
    }
    Ok(())
}

/// Joins a conversation and shows its messages (all, or those after `apos`, when catching
/// up after a reconnect), then the answer in progress, which the next deltas continue.
pub async fn entrar(
    c: &Client,
    e: &Estado,
    conversa: &str,
    apos: Option<String>,
) -> Result<(), Falha> {
    let (e2, id) = (e.clone(), conversa.to_owned());
    pedir_e(
        c,
        "entrar_conversa",
        json!({ "conversa_id": conversa, "apos": apos }),
        move |ack| e2.mudar(|t| t.entrou(&id, ack)),
    )
    .await
    .map(drop)
}

async fn listar(c: &Client) -> Result<(), Falha> {
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
    Ok(())
}

async fn sair(c: &Client, e: &Estado) -> Result<(), Falha> {
    // Answers of a conversation we leave are not shown, so not awaited either.
    let atual = e.mudar(|t| {
        t.aguardando = 0;
        t.em_andamento = None;
        t.conversa.take()
    });
    match atual {
        Some(id) => {
            pedir(c, "sair_conversa", json!({ "conversa_id": id })).await?;
            println!("[você saiu da conversa]");
        }
        None => println!("[nenhuma conversa aberta]"),
    }
    Ok(())
}

/// Sends a line into the conversation on screen (a new one if none). The `id_cliente` makes
/// a retry safe: while the connection is down the same send is tried again, and the server
/// stores it (and answers it) once.
async fn enviar(c: &Client, e: &Estado, conteudo: &str) -> Result<(), Falha> {
    let id_cliente = uuid::Uuid::new_v4().to_string();
    let inicio = Instant::now();
    loop {
        let conversa = e.tela().conversa.clone();
        let e2 = e.clone();
        let pedido =
            json!({ "conversa_id": conversa, "conteudo": conteudo, "id_cliente": id_cliente });
        match pedir_e(c, "mensagem_enviada", pedido, move |ack| {
            e2.mudar(|t| t.enviada(ack))
        })
        .await
        {
            Err(Falha::SemResposta(m)) if inicio.elapsed() < INSISTIR_POR => {
                println!("[{m} Tentando enviar de novo…]");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            r => return r.map(drop),
        }
    }
}

//! The connection: the handshake with the token, every server event routed to the screen,
//! and the catch-up after rust_socketio reconnects on its own.
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::FutureExt;
use rust_socketio::{
    Event,
    asynchronous::{Client, ClientBuilder},
};
use serde_json::json;
use tokio::sync::oneshot;

use crate::{
    acoes::entrar,
    servidor::primeiro,
    tela::{Estado, ao_evento},
};

const TOKEN_RECUSADO: &str = "O servidor recusou o token (inválido ou expirado). \
     Gere um novo com `tutor token --sub …` e tente de novo.";

const TOKEN_EXPIROU: &str = "Seu token expirou e o servidor encerrou a conexão. \
     Gere um novo com `tutor token --sub …` e rode o cliente de novo.";
const ENCERRADA: &str = "O servidor encerrou a conexão. Rode o cliente de novo para continuar.";

type Primeira = Arc<Mutex<Option<oneshot::Sender<Result<(), String>>>>>;

/// Connects and waits for the server to accept (or refuse) the handshake.
pub async fn conectar(url: &str, token: &str, e: &Estado) -> Result<Client, String> {
    let (tx, rx) = oneshot::channel();
    let primeira: Primeira = Arc::new(Mutex::new(Some(tx)));
    let (p1, p2) = (primeira.clone(), primeira);
    let (e1, e2, e3, e4) = (e.clone(), e.clone(), e.clone(), e.clone());
    let token_ = token.to_owned();
    let cliente = ClientBuilder::new(url)
        .auth(json!({ "token": token }))
        .reconnect(true)
        .reconnect_on_disconnect(true)
        .on(Event::Connect, move |_, c| {
            ao_conectar(&p1, &e1, c);
            async {}.boxed()
        })
        .on(Event::Close, move |_, _| {
            ao_encerrar(&e4, expira_em(&token_));
            async {}.boxed()
        })
        .on(Event::Error, move |p, _| {
            ao_erro(&p2, &e2, format!("{:?}", primeiro(p)));
            async {}.boxed()
        })
        .on_any(move |nome, p, _| {
            if let Event::Custom(nome) = nome {
                ao_evento(&e3, &nome, &primeiro(p));
            }
            async {}.boxed()
        })
        .connect()
        .await
        .map_err(|_| format!("Não foi possível conectar a {url}. O servidor está no ar?"))?;
    match tokio::time::timeout(Duration::from_secs(10), rx).await {
        Ok(Ok(Ok(()))) => Ok(cliente),
        Ok(Ok(Err(m))) if m.contains("nao_autorizado") => Err(TOKEN_RECUSADO.into()),
        Ok(Ok(Err(_))) => Err(format!("O servidor em {url} recusou a conexão.")),
        _ => Err(format!("O servidor em {url} não respondeu à conexão.")),
    }
}

fn ao_conectar(primeira: &Primeira, e: &Estado, c: Client) {
    if let Some(tx) = primeira.lock().ok().and_then(|mut p| p.take()) {
        let _ = tx.send(Ok(()));
        return;
    }
    // Reconnected: catch up on what was missed. In a task of its own: awaiting an ack inside
    // a callback would stall the client's packet loop, and with it the ack.
    let e = e.clone();
    tokio::spawn(async move {
        let (conversa, apos) = {
            let t = e.tela();
            (t.conversa.clone(), t.ultimo_final.clone())
        };
        println!("\n[reconectado]");
        if let Some(conversa) = conversa
            && let Err(m) = entrar(&c, &e, &conversa, apos).await
        {
            println!("[Não deu para recuperar a conversa: {m}]");
        }
    });
}

fn ao_erro(primeira: &Primeira, e: &Estado, erro: String) {
    if let Some(tx) = primeira.lock().ok().and_then(|mut p| p.take()) {
        let _ = tx.send(Err(erro));
    } else if erro.contains("nao_autorizado") {
        // The token expired while connected: reconnecting with it again is pointless.
        e.mudar(|t| t.fim = Some(TOKEN_RECUSADO.into()));
    } else {
        println!("\n[conexão com problemas; tentando de novo]");
    }
}

/// The server closed our namespace (an expired token, or a socket that could not keep up).
/// rust_socketio then keeps the transport open and never connects again, so the client
/// stops with a sentence instead of waiting forever.
fn ao_encerrar(e: &Estado, expira_em: Option<u64>) {
    let agora = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let motivo = match expira_em {
        Some(exp) if exp <= agora => TOKEN_EXPIROU,
        _ => ENCERRADA,
    };
    e.mudar(|t| t.fim = Some(motivo.into()));
}

/// The token's `exp` claim, read without checking the signature (only the server can).
fn expira_em(token: &str) -> Option<u64> {
    use base64::Engine;
    let carga = token.split('.').nth(1)?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(carga.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice::<serde_json::Value>(&json).ok()?["exp"].as_u64()
}

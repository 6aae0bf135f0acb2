//! What the terminal shows: the conversation on screen, the answer streaming into it, and
//! how each server event changes both.
use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use serde_json::Value;
use tokio::sync::Notify;

/// What the client knows of the conversation on screen.
#[derive(Default)]
pub struct Tela {
    pub conversa: Option<String>,
    /// The last message of the conversation held in a final status (for `apos`).
    pub ultimo_final: Option<String>,
    /// The answer streaming now, and how much of it is on screen.
    pub em_andamento: Option<(String, usize)>,
    /// Sends whose answer has not ended yet.
    pub aguardando: usize,
}

pub type Estado = Arc<(Mutex<Tela>, Notify)>;

pub fn tela(e: &Estado) -> std::sync::MutexGuard<'_, Tela> {
    e.0.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn escrever(s: &str) {
    print!("{s}");
    let _ = std::io::stdout().flush();
}

/// Shows a server event, if it is about the conversation on screen.
pub fn ao_evento(e: &Estado, nome: &str, v: &Value) {
    let mut t = tela(e);
    if nome == "conversa_criada" {
        println!(
            "\n[nova conversa em outra aba: {}]",
            v["conversa"]["titulo"].as_str().unwrap_or("")
        );
        return;
    }
    if v["conversa_id"].as_str() != t.conversa.as_deref() {
        return;
    }
    match nome {
        "mensagem_recebida" => {
            println!(
                "\n(outra aba) você: {}",
                v["mensagem"]["conteudo"].as_str().unwrap_or("")
            );
            t.ultimo_final = v["mensagem"]["id"].as_str().map(str::to_owned);
            t.aguardando += 1;
        }
        "resposta_iniciada" => {
            t.em_andamento = v["mensagem_id"].as_str().map(|id| (id.to_owned(), 0));
            escrever("tutor: ");
        }
        "resposta_parcial" => {
            if let Some((id, mostrado)) = t.em_andamento.as_mut()
                && v["mensagem_id"].as_str() == Some(id.as_str())
            {
                let delta = v["delta"].as_str().unwrap_or("");
                *mostrado += delta.len();
                escrever(delta);
            }
        }
        "mensagem_respondida" => {
            let m = &v["mensagem"];
            let texto = m["conteudo"].as_str().unwrap_or("");
            match t.em_andamento.take() {
                // Whatever the deltas did not show (a tab that joined late) is shown now.
                Some((id, mostrado)) if m["id"].as_str() == Some(id.as_str()) => {
                    escrever(texto.get(mostrado..).unwrap_or(""))
                }
                _ => escrever(&format!("tutor: {texto}")),
            }
            if m["status"] == "cancelada" {
                escrever(" [resposta interrompida]");
            }
            println!();
            t.ultimo_final = m["id"].as_str().map(str::to_owned);
            t.aguardando = t.aguardando.saturating_sub(1);
        }
        "erro_resposta" => {
            t.em_andamento = None;
            println!(
                "\n[erro: {}]",
                v["erro"]["mensagem"]
                    .as_str()
                    .unwrap_or("a resposta falhou")
            );
            t.aguardando = t.aguardando.saturating_sub(1);
        }
        _ => {}
    }
    e.1.notify_waiters();
}

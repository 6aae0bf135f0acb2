//! What the terminal shows: the conversation on screen, the answer streaming into it, and
//! how each server event and each ack changes both.
//!
//! Everything here runs inside the socket client's callbacks, which rust_socketio calls one
//! at a time in the order the packets arrived. An ack's effect (the conversation a send
//! created, a history snapshot) is therefore applied before the next event is looked at: the
//! first delta of an answer never meets a screen that does not know its conversation yet.
use std::{
    collections::BTreeMap,
    io::Write,
    sync::{Arc, Mutex, MutexGuard, OnceLock},
};

use serde_json::Value;
use tokio::sync::Notify;

use crate::markdown::{self, Estilo, Fluxo};

/// The state shared by the callbacks and the input loop; `mudou` wakes whoever waits on it.
#[derive(Default)]
pub struct Compartilhado {
    tela: Mutex<Tela>,
    pub mudou: Notify,
}

pub type Estado = Arc<Compartilhado>;

impl Compartilhado {
    pub fn tela(&self) -> MutexGuard<'_, Tela> {
        self.tela.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes the screen state and wakes whoever waits for a change.
    pub fn mudar<T>(&self, f: impl FnOnce(&mut Tela) -> T) -> T {
        let r = f(&mut self.tela());
        self.mudou.notify_waiters();
        r
    }
}

/// What the client knows of the conversation on screen.
#[derive(Default)]
pub struct Tela {
    pub conversa: Option<String>,
    /// The last message held in a final status, with nothing still streaming before it:
    /// the `apos` of a catch-up after a reconnect.
    pub ultimo_final: Option<String>,
    /// The answer streaming now.
    pub em_andamento: Option<Resposta>,
    /// Sends whose answer has not ended yet.
    pub aguardando: usize,
    /// Why the client must stop (a token refused on a reconnect, a connection the server
    /// closed): rust_socketio will not connect again by itself.
    pub fim: Option<String>,
}

/// An answer being streamed: what is on screen, and deltas that came ahead of their turn.
pub struct Resposta {
    pub id: String,
    /// Bytes of the answer taken in order: on screen, or in `fluxo` until their line ends.
    recebido: usize,
    /// The `indice` to show next; unknown after a snapshot until the first delta.
    proximo: Option<u64>,
    adiantados: BTreeMap<u64, String>,
    /// The answer's Markdown, rendered a line at a time.
    fluxo: Fluxo,
}

impl Resposta {
    /// An answer whose text so far is `ate_aqui`; also what of it can be shown now.
    fn nova(id: &str, ate_aqui: &str) -> (Self, String) {
        let mut fluxo = Fluxo::new(estilo());
        let pronto = fluxo.receber(ate_aqui);
        let r = Self {
            id: id.to_owned(),
            recebido: ate_aqui.len(),
            proximo: None,
            adiantados: BTreeMap::new(),
            fluxo,
        };
        (r, pronto)
    }

    /// Takes one delta; returns the lines that can be shown now, in `indice` order.
    fn receber(&mut self, indice: u64, delta: &str) -> String {
        if self.proximo.is_some_and(|p| indice < p) {
            return String::new(); // already shown
        }
        self.adiantados.insert(indice, delta.to_owned());
        let mut pronto = String::new();
        let mut proximo = self.proximo.unwrap_or(indice);
        while let Some(d) = self.adiantados.remove(&proximo) {
            pronto.push_str(&d);
            proximo += 1;
        }
        self.proximo = Some(proximo);
        self.recebido += pronto.len();
        self.fluxo.receber(&pronto)
    }

    /// The answer ended as `final_`: whatever the deltas did not bring, and the last line.
    fn terminar(&mut self, final_: &str) -> String {
        let mut resto = self
            .fluxo
            .receber(final_.get(self.recebido..).unwrap_or(""));
        resto.push_str(&self.fluxo.terminar());
        resto
    }
}

/// Tutor messages are Markdown, styled on a terminal (see `markdown`), decided once.
fn estilo() -> Estilo {
    static ESTILO: OnceLock<Estilo> = OnceLock::new();
    *ESTILO.get_or_init(Estilo::do_terminal)
}

pub fn escrever(s: &str) {
    print!("{s}");
    let _ = std::io::stdout().flush();
}

fn texto<'a>(v: &'a Value, campo: &str) -> &'a str {
    v[campo].as_str().unwrap_or("")
}

/// What follows a tutor message that did not end normally.
fn marca(status: &Value) -> &'static str {
    match status.as_str() {
        Some("cancelada") => " [resposta interrompida]",
        Some("erro") => " [a resposta falhou]",
        _ => "",
    }
}

/// A stored message: the student's as typed, the tutor's rendered from Markdown.
fn mostrar_mensagem(m: &Value) {
    let conteudo = texto(m, "conteudo");
    if m["papel"] == "aluno" {
        println!("você: {conteudo}{}", marca(&m["status"]));
    } else {
        let tutor = markdown::renderizar(conteudo, estilo());
        println!("tutor: {tutor}{}", marca(&m["status"]));
    }
}

impl Tela {
    /// A message reached a final status. `apos` must not jump over an answer still
    /// streaming, or a catch-up would miss how that answer ended.
    fn marcar_final(&mut self, id: &str) {
        if self.em_andamento.is_none() {
            self.ultimo_final = Some(id.to_owned());
        }
    }

    fn terminou_uma(&mut self, id: &str) {
        self.em_andamento = None;
        self.marcar_final(id);
        self.aguardando = self.aguardando.saturating_sub(1);
    }

    /// The ack of `mensagem_enviada`: its conversation is on screen and an answer is due.
    pub fn enviada(&mut self, ack: &Value) {
        self.conversa = ack["conversa_id"].as_str().map(str::to_owned);
        self.marcar_final(texto(&ack["mensagem"], "id"));
        self.aguardando += 1;
    }

    /// The ack of `entrar_conversa`: shows the messages (all, or those after `apos`) and
    /// picks up the answer in progress. Each tutor message in a final status is an answer
    /// that ended while we were not looking (after a reconnect), so no longer awaited.
    pub fn entrou(&mut self, conversa: &str, ack: &Value) {
        self.conversa = Some(conversa.to_owned());
        self.em_andamento = None;
        let mut gerando_antes = false;
        for m in ack["mensagens"].as_array().into_iter().flatten() {
            if m["status"] == "gerando" {
                gerando_antes = true;
                continue;
            }
            mostrar_mensagem(m);
            if m["papel"] == "tutor" {
                self.aguardando = self.aguardando.saturating_sub(1);
            }
            if !gerando_antes {
                self.ultimo_final = m["id"].as_str().map(str::to_owned);
            }
        }
        if let Some(r) = ack.get("resposta_em_andamento").filter(|r| r.is_object()) {
            let (resposta, pronto) = Resposta::nova(texto(r, "mensagem_id"), texto(r, "conteudo"));
            escrever(&format!("tutor: {pronto}"));
            self.em_andamento = Some(resposta);
        }
    }

    fn ao_evento(&mut self, nome: &str, v: &Value) {
        if nome == "conversa_criada" {
            println!(
                "\n[nova conversa em outra aba: {}]",
                texto(&v["conversa"], "titulo")
            );
            return;
        }
        if v["conversa_id"].as_str() != self.conversa.as_deref() {
            return;
        }
        match nome {
            "mensagem_recebida" => {
                println!("\n(outra aba) você: {}", texto(&v["mensagem"], "conteudo"));
                self.marcar_final(texto(&v["mensagem"], "id"));
                self.aguardando += 1;
            }
            "resposta_iniciada" => {
                self.em_andamento = Some(Resposta::nova(texto(v, "mensagem_id"), "").0);
                escrever("tutor: ");
            }
            "resposta_parcial" => self.parcial(v),
            "mensagem_respondida" => self.respondida(&v["mensagem"]),
            "erro_resposta" => {
                match self.em_andamento.as_mut() {
                    // The line the answer had begun is shown before the error.
                    Some(r) if v["mensagem_id"].as_str() == Some(r.id.as_str()) => {
                        escrever(&r.fluxo.terminar())
                    }
                    _ => escrever("tutor:"),
                }
                println!(" [erro: {}]", texto(&v["erro"], "mensagem"));
                self.terminou_uma(texto(v, "mensagem_id"));
            }
            _ => {}
        }
    }

    fn parcial(&mut self, v: &Value) {
        if let Some(r) = self.em_andamento.as_mut()
            && v["mensagem_id"].as_str() == Some(r.id.as_str())
            && let Some(indice) = v["indice"].as_u64()
        {
            escrever(&r.receber(indice, texto(v, "delta")));
        }
    }

    fn respondida(&mut self, m: &Value) {
        let final_ = texto(m, "conteudo");
        match self.em_andamento.take() {
            // Whatever the deltas did not show is shown now.
            Some(mut r) if m["id"].as_str() == Some(r.id.as_str()) => escrever(&r.terminar(final_)),
            _ => escrever(&format!(
                "tutor: {}",
                markdown::renderizar(final_, estilo())
            )),
        }
        println!("{}", marca(&m["status"]));
        self.terminou_uma(texto(m, "id"));
    }
}

/// Shows a server event, if it is about the conversation on screen.
pub fn ao_evento(e: &Estado, nome: &str, v: &Value) {
    e.mudar(|t| t.ao_evento(nome, v));
}

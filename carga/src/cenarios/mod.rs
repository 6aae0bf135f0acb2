//! The scenarios and what they share: who the users are, how sockets are opened (token,
//! transport, source address), the message text, and the start signal that lets a parent
//! process measure the server right before the measured phase.

pub mod chat;
pub mod classroom;
pub mod idle;
pub mod stuck;

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::medidas::{Progresso, Resultado};
use crate::sio::{self, Opcoes, Socket, Transporte};
use crate::token::Fonte;

/// What the fake upstream is asked for in every message (`[[tokens:N]]` and friends).
#[derive(Debug, Clone)]
pub struct Diretivas {
    /// None: send plain text (a real model), no directives and no text check.
    pub tokens: Option<u32>,
    pub atraso_ms: u64,
    pub primeiro_ms: Option<u64>,
    pub tamanho: Option<usize>,
    /// Also check each answer equals the fake's deterministic text.
    pub conferir_fake: bool,
    pub texto: String,
}

impl Diretivas {
    /// The text of a message, `rotulo` making it unique.
    pub fn conteudo(&self, rotulo: &str, tokens: Option<u32>) -> String {
        match tokens.or(self.tokens) {
            None => format!("{} ({rotulo})", self.texto),
            Some(n) => {
                let mut s = format!(
                    "{} ({rotulo}) [[tokens:{n}]] [[atraso:{}]]",
                    self.texto, self.atraso_ms
                );
                if let Some(p) = self.primeiro_ms {
                    s.push_str(&format!(" [[primeiro:{p}]]"));
                }
                if let Some(t) = self.tamanho {
                    s.push_str(&format!(" [[tamanho:{t}]]"));
                }
                s
            }
        }
    }

    /// The text the fake will answer, when the check is on.
    pub fn esperado(&self) -> Option<String> {
        match (self.conferir_fake, self.tokens) {
            (true, Some(n)) => Some(crate::verificacao::texto_do_fake(
                n,
                self.tamanho.unwrap_or(0),
            )),
            _ => None,
        }
    }
}

/// Called once every client is connected, before the measured phase starts.
pub type Largada = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send>;

/// Everything a scenario needs, shared by all its clients.
#[derive(Clone)]
pub struct Contexto {
    pub url: String,
    pub fonte: Fonte,
    pub transporte: Transporte,
    pub origens: Vec<IpAddr>,
    /// One HTTP client per origin (index-aligned with `origens`; one if none given).
    pub http: Vec<reqwest::Client>,
    pub prazo_conexao: Duration,
    pub timeout: Duration,
    pub concorrencia: usize,
    pub diretivas: Diretivas,
    /// Run id: users are `carga-{execucao}-{k}`, distinct across runs and processes.
    pub execucao: String,
    /// This process's clients are the global indices `inicio..inicio + quantos`.
    pub inicio: usize,
    pub resultado: Arc<Mutex<Resultado>>,
    pub progresso: Arc<Progresso>,
}

impl Contexto {
    pub fn usuario(&self, k: usize) -> String {
        format!("carga-{}-{k}", self.execucao)
    }

    /// Connection options for global client `k`, as user `sub`.
    pub fn opcoes(&self, k: usize, sub: &str, transporte: Transporte) -> Result<Opcoes> {
        let i = if self.origens.is_empty() {
            0
        } else {
            k % self.origens.len()
        };
        Ok(Opcoes {
            url: self.url.clone(),
            token: self.fonte.token(sub, "aluno").context("token")?,
            transporte,
            origem: self.origens.get(i).copied(),
            http: self.http[i.min(self.http.len() - 1)].clone(),
            prazo: self.prazo_conexao,
        })
    }

    /// Connects, recording the time taken or the failure.
    pub async fn conectar(&self, op: &Opcoes) -> Option<Socket> {
        let t0 = Instant::now();
        match sio::conectar(op).await {
            Ok(s) => {
                let mut r = self.res();
                r.conectados += 1;
                r.conexao.registrar(t0.elapsed());
                Progresso::mais(&self.progresso.conectados);
                Some(s)
            }
            Err(e) => {
                let mut r = self.res();
                r.falha_conexao(e.rotulo());
                r.amostra(format!("connect: {e}"));
                Progresso::mais(&self.progresso.erros);
                None
            }
        }
    }

    pub fn res(&self) -> std::sync::MutexGuard<'_, Resultado> {
        // A poisoned lock means a client task panicked; the counts are still usable.
        self.resultado
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// HTTP clients for polling and `/metrics`, one per source address.
pub fn clientes_http(origens: &[IpAddr]) -> Result<Vec<reqwest::Client>> {
    let base = || {
        reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
    };
    if origens.is_empty() {
        return Ok(vec![base().build().context("HTTP client")?]);
    }
    origens
        .iter()
        .map(|ip| {
            base()
                .local_address(*ip)
                .build()
                .context("HTTP client bound to an origin")
        })
        .collect()
}

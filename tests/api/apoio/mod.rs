//! What every story needs: `spawn_app()` starts the real server on port 0 with its own
//! database (a SQLite file, or a fresh Postgres database: see `banco`), the real migrations
//! and a fake upstream of its own; tokens; a socket.io client.
pub mod banco;
pub mod cliente;
pub mod upstream;

use std::{sync::Arc, time::Duration};

use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tutor::{
    auth::{Papel, emitir_token},
    config::Config,
    llm::ModeloChat,
    startup::Application,
};

pub use cliente::Cliente;
pub use upstream::{FakeUpstream, PADRAO, Roteiro};

pub struct TestApp {
    pub url: String,
    pub segredo: String,
    pub db_url: String,
    pub dir: Arc<TempDir>,
    pub upstream: FakeUpstream,
    args: Vec<String>,
    servidor: Servidor,
}

/// The running server; dropping it (a test that ended early) aborts it.
struct Servidor {
    parar: Option<oneshot::Sender<()>>,
    tarefa: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Drop for Servidor {
    fn drop(&mut self) {
        if let Some(t) = self.tarefa.take() {
            t.abort();
        }
    }
}

/// The server as tests run it: fast timeouts, no rate limits unless a test sets them.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// `ajustar` changes the flags, with `definir`.
pub async fn spawn_app_with(ajustar: impl FnOnce(&mut Vec<String>)) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let db_url = banco::novo(dir.path()).await;
    iniciar(plano(dir, db_url, ajustar).await, None).await
}

/// The server on a database the test prepared (`banco::novo`, then whatever it wrote).
pub async fn spawn_app_no_banco(dir: Arc<TempDir>, db_url: String) -> TestApp {
    iniciar(plano(dir, db_url, |_| {}).await, None).await
}

/// `n` servers started all at once on one new database, as a deployment's processes start
/// together: each its own address and upstream, one database and secret.
pub async fn spawn_apps_juntos(n: usize) -> Vec<TestApp> {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    let db_url = banco::novo(dir.path()).await;
    let mut planos = Vec::new();
    for _ in 0..n {
        planos.push(plano(dir.clone(), db_url.clone(), |_| {}).await);
    }
    let segredo = planos[0].segredo.clone();
    for p in &mut planos {
        p.segredo.clone_from(&segredo);
        definir(&mut p.args, "--jwt-secret", &segredo);
    }
    futures::future::join_all(planos.into_iter().map(|p| iniciar(p, None))).await
}

async fn plano(dir: Arc<TempDir>, db_url: String, ajustar: impl FnOnce(&mut Vec<String>)) -> Plano {
    let upstream = FakeUpstream::start().await;
    let segredo = format!("segredo-de-teste-{}", uuid::Uuid::new_v4());
    let mut args: Vec<String> = [
        "tutor",
        "--addr",
        "127.0.0.1:0",
        "--database-url",
        &db_url,
        "--jwt-secret",
        &segredo,
        "--openai-base-url",
        &upstream.base_url(),
        "--openai-api-key",
        "chave-de-teste",
        "--model",
        "modelo-teste",
        "--upstream-timeout-ms",
        "1500",
        "--upstream-primeiro-token-ms",
        "1500",
        "--upstream-espera-max-ms",
        "50",
        "--mensagens-por-minuto",
        "0",
        "--eventos-por-minuto",
        "0",
        "--handshakes-por-segundo",
        "0",
        "--shutdown-grace-ms",
        "2000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    ajustar(&mut args);
    Plano {
        args,
        dir,
        upstream,
        db_url,
        segredo,
    }
}

/// The conversation a send's ack names.
/// The students' messages of an `entrar_conversa` ack, in order.
pub fn textos_do_aluno(h: &Value) -> Vec<&str> {
    h["mensagens"]
        .as_array()
        .expect("mensagens")
        .iter()
        .filter(|m| m["papel"] == "aluno")
        .map(|m| m["conteudo"].as_str().expect("conteudo"))
        .collect()
}

pub fn id_conversa(ack: &Value) -> String {
    ack["conversa_id"].as_str().expect("conversa_id").to_owned()
}

/// The limits as a deployment has them by default: drops the harness's "no limit" flags.
pub fn limites_padrao(args: &mut Vec<String>) {
    for flag in [
        "--mensagens-por-minuto",
        "--eventos-por-minuto",
        "--handshakes-por-segundo",
    ] {
        if let Some(i) = args.iter().position(|a| a == flag) {
            args.drain(i..i + 2);
        }
    }
}

/// Sets `--flag valor`, replacing the value the flag had.
pub fn definir(args: &mut Vec<String>, flag: &str, valor: &str) {
    match args.iter().position(|a| a == flag) {
        Some(i) => args[i + 1] = valor.to_owned(),
        None => args.extend([flag.to_owned(), valor.to_owned()]),
    }
}

/// The server with `modelo` in place of the OpenAI-compatible one.
pub async fn spawn_app_com_modelo(modelo: Arc<dyn ModeloChat>) -> TestApp {
    let plano = spawn_app().await.desmontar().await;
    iniciar(plano, Some(modelo)).await
}

/// What a stopped server leaves to start the next one with: same flags, files and upstream.
struct Plano {
    args: Vec<String>,
    dir: Arc<TempDir>,
    upstream: FakeUpstream,
    db_url: String,
    segredo: String,
}

async fn iniciar(plano: Plano, modelo: Option<Arc<dyn ModeloChat>>) -> TestApp {
    let Plano {
        args,
        dir,
        upstream,
        db_url,
        segredo,
    } = plano;
    let config = Config::try_parse_from(&args).expect("test configuration");
    let app = match modelo {
        Some(m) => Application::build_com_modelo(config, m).await,
        None => Application::build(config).await,
    }
    .expect("the server builds");
    let addr = app.addr();
    let (tx, rx) = oneshot::channel::<()>();
    let tarefa = tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    TestApp {
        url: format!("http://{addr}"),
        segredo,
        db_url,
        dir,
        upstream,
        args,
        servidor: Servidor {
            parar: Some(tx),
            tarefa: Some(tarefa),
        },
    }
}

use clap::Parser;

impl TestApp {
    pub fn token(&self, sub: &str) -> String {
        emitir_token(&self.segredo, sub, Papel::Aluno, Duration::from_secs(3600))
    }

    pub fn token_professor(&self, sub: &str) -> String {
        emitir_token(
            &self.segredo,
            sub,
            Papel::Professor,
            Duration::from_secs(3600),
        )
    }

    /// What `GET /metrics` shows now (no metrics token in the test servers).
    pub async fn metricas(&self) -> String {
        reqwest::get(format!("{}/metrics", self.url))
            .await
            .expect("get /metrics")
            .text()
            .await
            .expect("the metrics")
    }

    pub async fn cliente(&self, sub: &str) -> Cliente {
        Cliente::conectar(&self.url, &self.token(sub))
            .await
            .expect("the client connects")
    }

    /// Stops the server (as SIGTERM would) and waits for it to finish.
    pub async fn parar(&mut self) {
        if let Some(tx) = self.servidor.parar.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.servidor.tarefa.take() {
            tokio::time::timeout(Duration::from_secs(15), t)
                .await
                .expect("the server stops in time")
                .expect("server task")
                .expect("the server stops cleanly");
        }
    }

    async fn desmontar(mut self) -> Plano {
        self.parar().await;
        Plano {
            args: self.args,
            dir: self.dir,
            upstream: self.upstream,
            db_url: self.db_url,
            segredo: self.segredo,
        }
    }

    /// Stops the server and starts a new one on the same database and upstream.
    pub async fn reiniciar(self) -> TestApp {
        iniciar(self.desmontar().await, None).await
    }

    /// Stops the server and starts a new one on the same database, upstream and address, as
    /// a deployment restarts: clients reconnect to where they were.
    pub async fn reiniciar_no_mesmo_endereco(self) -> TestApp {
        let endereco = self.url.trim_start_matches("http://").to_owned();
        let mut plano = self.desmontar().await;
        definir(&mut plano.args, "--addr", &endereco);
        iniciar(plano, None).await
    }

    /// Sends a message and returns its ack (asserting success).
    pub async fn enviar(c: &Cliente, payload: Value) -> Value {
        let ack = c.pedir("mensagem_enviada", payload).await;
        assert_eq!(ack["ok"], true, "send failed: {ack}");
        ack
    }
}

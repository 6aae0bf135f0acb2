//! The terminal client (`examples/cli.rs`) driven through stdin and stdout against a real
//! server.
use std::{
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    process::{Child, ChildStdin, Command},
};

use crate::apoio::{PADRAO, TestApp, spawn_app};

/// `cargo test` builds the examples next to the test binary.
fn binario_cli() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let debug = exe.parent().and_then(|d| d.parent()).expect("target/debug");
    let cli = debug.join("examples").join("cli");
    assert!(
        cli.exists(),
        "build the example first: cargo build --example cli ({})",
        cli.display()
    );
    cli
}

struct Cli {
    filho: Child,
    entrada: Option<ChildStdin>,
    saida: Arc<Mutex<String>>,
}

impl Cli {
    fn iniciar(url: &str, token: &str) -> Self {
        let mut filho = Command::new(binario_cli())
            .args(["--url", url])
            .env("TUTOR_TOKEN", token)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the cli");
        let saida = Arc::new(Mutex::new(String::new()));
        for mut fluxo in [
            Box::new(filho.stdout.take().expect("stdout"))
                as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
            Box::new(filho.stderr.take().expect("stderr")),
        ] {
            let saida = saida.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = fluxo.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    saida
                        .lock()
                        .expect("lock")
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        let entrada = filho.stdin.take();
        Self {
            filho,
            entrada,
            saida,
        }
    }

    async fn digitar(&mut self, linha: &str) {
        let e = self.entrada.as_mut().expect("stdin open");
        e.write_all(format!("{linha}\n").as_bytes())
            .await
            .expect("write");
        e.flush().await.expect("flush");
    }

    fn tela(&self) -> String {
        self.saida.lock().expect("lock").clone()
    }

    /// Waits until `texto` shows up `vezes` times on screen.
    async fn esperar(&self, texto: &str, vezes: usize) {
        let ok = tokio::time::timeout(Duration::from_secs(15), async {
            while self.tela().matches(texto).count() < vezes {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(
            ok.is_ok(),
            "{texto:?} did not show {vezes}x; screen:\n{}",
            self.tela()
        );
    }

    async fn fechar(mut self) -> (std::process::ExitStatus, String) {
        drop(self.entrada.take());
        let st = match tokio::time::timeout(Duration::from_secs(20), self.filho.wait()).await {
            Ok(st) => st.expect("wait"),
            Err(_) => panic!("the cli did not exit; screen:\n{}", self.tela()),
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        (st, self.tela())
    }
}

#[tokio::test]
async fn a_piped_session_streams_answers_lists_conversations_and_exits_0() {
    let app = spawn_app().await;
    let mut cli = Cli::iniciar(&app.url, &app.token("ana"));
    cli.esperar("[conectado", 1).await;
    cli.digitar("Olá, tutor").await;
    cli.digitar("/conversas").await;
    cli.digitar("Segunda pergunta").await;
    cli.digitar("/nova").await;
    cli.digitar("Outro assunto").await;
    let (st, tela) = cli.fechar().await;
    assert!(st.success(), "{tela}");
    assert_eq!(
        tela.matches(&PADRAO.concat()).count(),
        3,
        "three streamed answers:\n{tela}"
    );
    assert!(
        tela.contains("1. ") && tela.contains("Olá, tutor"),
        "the list shows the conversation:\n{tela}"
    );

    let a = app.cliente("ana").await;
    let l = a.emit_ack("listar_conversas", None).await;
    assert_eq!(
        l["conversas"].as_array().expect("c").len(),
        2,
        "/nova started a second conversation"
    );
}

#[tokio::test]
async fn a_bad_token_is_a_plain_sentence_and_a_non_zero_exit() {
    let app = spawn_app().await;
    let cli = Cli::iniciar(&app.url, "isto-nao-e-token");
    let (st, tela) = cli.fechar().await;
    assert!(!st.success());
    assert!(tela.contains("Token recusado"), "{tela}");
    assert!(!tela.contains("panicked"), "{tela}");
}

#[tokio::test]
async fn the_cli_reconnects_after_a_server_restart_and_carries_on() {
    let app = spawn_app().await;
    let mut cli = Cli::iniciar(&app.url, &app.token("ana"));
    cli.esperar("[conectado", 1).await;
    cli.digitar("antes do reinício").await;
    cli.esperar(&PADRAO.concat(), 1).await;

    let app: TestApp = app.reiniciar_no_mesmo_endereco().await;
    cli.esperar("[reconectado]", 1).await;
    cli.digitar("depois do reinício").await;
    cli.esperar(&PADRAO.concat(), 2).await;
    let (st, tela) = cli.fechar().await;
    assert!(st.success(), "{tela}");
    let a = app.cliente("ana").await;
    let l = a.emit_ack("listar_conversas", None).await;
    assert_eq!(
        l["conversas"].as_array().expect("c").len(),
        1,
        "the same conversation went on"
    );
}

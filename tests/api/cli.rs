//! The terminal client (`examples/cli.rs`) driven through stdin and stdout against a real
//! server.
use std::{
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt},
    process::{Child, ChildStdin, Command},
};

use crate::apoio::{PADRAO, Roteiro, TestApp, spawn_app};

/// The example's binary, built first: `cargo test` builds examples, but `cargo test --test
/// api` does not, and a stale binary would test old code. A no-op when it is up to date.
async fn binario_cli() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let perfil_dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    let perfil = match perfil_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev",
        Some(outro) => outro,
    };
    let build = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--example", "cli", "--profile", perfil])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .kill_on_drop(true)
        .status();
    let st = tokio::time::timeout(Duration::from_secs(300), build)
        .await
        .expect("cargo build --example cli took over 300 s")
        .expect("run cargo");
    assert!(st.success(), "cargo build --example cli failed");
    perfil_dir.join("examples").join("cli")
}

struct Cli {
    filho: Child,
    entrada: Option<ChildStdin>,
    saida: Arc<Mutex<String>>,
}

impl Cli {
    async fn iniciar(url: &str, token: &str) -> Self {
        let mut filho = Command::new(binario_cli().await)
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
    let mut cli = Cli::iniciar(&app.url, &app.token("ana")).await;
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

/// An answer in Markdown, cut in pieces in the middle of its markers and lines.
const RESPOSTA_MARKDOWN: [&str; 4] = [
    "## Exem",
    "plo\nUma **negr",
    "ito** e $a*b$:\n```rust\nlet x = 1;",
    "\n```\n- fim",
];

/// The same answer as a pipe shows it: no ANSI, the markers gone, the math as written.
const RESPOSTA_NA_TELA: &str = "tutor: Exemplo\nUma negrito e $a*b$:\n\n    let x = 1;\n• fim\n";

#[tokio::test]
async fn tutor_markdown_shows_without_its_markers_live_and_in_the_history() {
    let app = spawn_app().await;
    app.upstream.roteiro(Roteiro::texto(&RESPOSTA_MARKDOWN));
    let mut cli = Cli::iniciar(&app.url, &app.token("ana")).await;
    cli.esperar("[conectado", 1).await;
    cli.digitar("Quanto é **2*3**?").await;
    let (st, tela) = cli.fechar().await;
    assert!(st.success(), "{tela}");
    assert!(tela.contains(RESPOSTA_NA_TELA), "streamed:\n{tela}");
    assert!(
        !tela.contains("**") && !tela.contains("```") && !tela.contains('\x1b'),
        "no markers and no escapes on a pipe:\n{tela}"
    );

    let a = app.cliente("ana").await;
    let l = a.emit_ack("listar_conversas", None).await;
    let id = l["conversas"][0]["id"].as_str().expect("a conversation");
    let mut cli = Cli::iniciar(&app.url, &app.token("ana")).await;
    cli.esperar("[conectado", 1).await;
    cli.digitar(&format!("/entrar {id}")).await;
    cli.esperar("• fim", 1).await;
    let (st, tela) = cli.fechar().await;
    assert!(st.success(), "{tela}");
    assert!(
        tela.contains("você: Quanto é **2*3**?\n"),
        "the student's text stays as typed:\n{tela}"
    );
    assert!(tela.contains(RESPOSTA_NA_TELA), "history:\n{tela}");
}

#[tokio::test]
async fn a_bad_token_is_a_plain_sentence_and_a_non_zero_exit() {
    let app = spawn_app().await;
    let cli = Cli::iniciar(&app.url, "isto-nao-e-token").await;
    let (st, tela) = cli.fechar().await;
    assert!(!st.success());
    assert!(tela.contains("recusou o token"), "{tela}");
    assert!(!tela.contains("panicked"), "{tela}");
}

#[tokio::test]
async fn the_cli_reconnects_after_a_server_restart_and_carries_on() {
    let app = spawn_app().await;
    let mut cli = Cli::iniciar(&app.url, &app.token("ana")).await;
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

/// The real `tutor` binary with no model configured (the demo tutor), a token from
/// `tutor token`, and the cli: what a newcomer runs first.
/// The server process (killed on drop) and its URL.
async fn servidor_demo(dir: &std::path::Path, segredo: &str) -> (Child, String) {
    let mut filho = Command::new(env!("CARGO_BIN_EXE_tutor"))
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env("TUTOR_ADDR", "127.0.0.1:0")
        .env("DATABASE_URL", crate::apoio::banco::novo(dir).await)
        .env("TUTOR_JWT_SECRET", segredo)
        .env("TUTOR_DEMO_ATRASO_MS", "5")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start tutor");
    let mut log = Vec::new();
    for fluxo in [
        Box::new(filho.stdout.take().expect("stdout"))
            as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
        Box::new(filho.stderr.take().expect("stderr")),
    ] {
        let (tx, rx) = tokio::sync::oneshot::channel();
        log.push(rx);
        tokio::spawn(async move {
            let mut linhas = tokio::io::BufReader::new(fluxo).lines();
            let mut tx = Some(tx);
            while let Ok(Some(l)) = linhas.next_line().await {
                if let Some(addr) = l.split("listening on ").nth(1)
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(addr.trim().to_owned());
                }
            }
        });
    }
    let url = tokio::time::timeout(Duration::from_secs(20), futures::future::select_ok(log))
        .await
        .expect("the server logged its address")
        .expect("address")
        .0;
    (filho, url)
}

#[tokio::test]
async fn against_the_real_binary_and_the_demo_tutor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let segredo = format!("segredo-{}", uuid::Uuid::new_v4());
    let (_servidor, url) = servidor_demo(dir.path(), &segredo).await;
    let token = Command::new(env!("CARGO_BIN_EXE_tutor"))
        .args(["token", "--sub", "davi"])
        .env("TUTOR_JWT_SECRET", &segredo)
        .output();
    let token = tokio::time::timeout(Duration::from_secs(20), token)
        .await
        .expect("tutor token finished")
        .expect("run tutor token");
    let token = String::from_utf8(token.stdout).expect("utf-8");

    let mut cli = Cli::iniciar(&url, token.trim()).await;
    cli.esperar("[conectado", 1).await;
    for linha in ["Olá", "/conversas", "Segunda pergunta"] {
        cli.digitar(linha).await;
    }
    let (st, tela) = cli.fechar().await;
    assert!(st.success(), "{tela}");
    assert_eq!(tela.matches("tutor: ").count(), 2, "two answers:\n{tela}");
    assert_eq!(tela.matches("demonstração").count(), 2, "{tela}");
    assert!(tela.contains("  1. ") && tela.contains("  Olá\n"), "{tela}");
}

//! The real binary as a process: SIGTERM, SIGKILL and a restart on the same database, and
//! what it writes to its log.
use std::{
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::json;
use tempfile::TempDir;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};
use tutor::auth::{Papel, emitir_token};

use crate::apoio::{Cliente, FakeUpstream, Roteiro, TestApp, banco, id_conversa};

const SEGREDO: &str = "segredo-do-processo-de-teste";
const CHAVE: &str = "sk-chave-que-nunca-aparece";

struct Processo {
    filho: Child,
    url: String,
    log: Arc<Mutex<String>>,
}

/// A database for the processes of one test (a restart reuses it), and the directory it
/// may live in.
struct Banco {
    _dir: TempDir,
    url: String,
}

impl Banco {
    async fn novo() -> Self {
        let dir = tempfile::tempdir().expect("dir");
        let url = banco::novo(dir.path()).await;
        Self { _dir: dir, url }
    }
}

impl Processo {
    async fn iniciar(banco: &Banco, upstream: &FakeUpstream, extra: &[(&str, &str)]) -> Self {
        let log = Arc::new(Mutex::new(String::new()));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tutor"));
        cmd.env_clear()
            .env("TUTOR_ADDR", "127.0.0.1:0")
            .env("DATABASE_URL", &banco.url)
            .env("TUTOR_JWT_SECRET", SEGREDO)
            .env("OPENAI_BASE_URL", upstream.base_url())
            .env("OPENAI_API_KEY", CHAVE)
            .env("TUTOR_MENSAGENS_POR_MINUTO", "0")
            .env("TUTOR_UPSTREAM_TIMEOUT_MS", "20000")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let mut filho = cmd.spawn().expect("start the server binary");
        let (tx, rx) = tokio::sync::oneshot::channel();
        let mut tx = Some(tx);
        let saida = filho.stdout.take().expect("stdout");
        let erros = filho.stderr.take().expect("stderr");
        let (l1, l2) = (log.clone(), log.clone());
        tokio::spawn(async move {
            let mut linhas = BufReader::new(saida).lines();
            while let Ok(Some(l)) = linhas.next_line().await {
                if let Some(addr) = l.split("listening on http://").nth(1)
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(addr.trim().to_owned());
                }
                l1.lock().expect("lock").push_str(&format!("{l}\n"));
            }
        });
        tokio::spawn(async move {
            let mut linhas = BufReader::new(erros).lines();
            while let Ok(Some(l)) = linhas.next_line().await {
                l2.lock().expect("lock").push_str(&format!("{l}\n"));
            }
        });
        let addr = tokio::time::timeout(Duration::from_secs(20), rx)
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "no `listening on` line; log:\n{}",
                    log.lock().expect("lock")
                )
            })
            .unwrap_or_else(|_| {
                panic!(
                    "exited before listening; log:\n{}",
                    log.lock().expect("lock")
                )
            });
        Self {
            filho,
            url: format!("http://{addr}"),
            log,
        }
    }

    async fn cliente(&self, sub: &str) -> Cliente {
        let token = emitir_token(SEGREDO, sub, Papel::Aluno, Duration::from_secs(3600));
        Cliente::conectar(&self.url, &token)
            .await
            .expect("connects")
    }

    fn sinal(&self, sinal: &str) {
        let pid = self.filho.id().expect("running").to_string();
        let ok = std::process::Command::new("kill")
            .args([sinal, &pid])
            .status()
            .expect("kill");
        assert!(ok.success());
    }

    async fn esperar_saida(mut self) -> (std::process::ExitStatus, String) {
        let status = tokio::time::timeout(Duration::from_secs(20), self.filho.wait())
            .await
            .expect("the process exits in time")
            .expect("wait");
        // Let the readers drain what is left.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let log = self.log.lock().expect("lock").clone();
        (status, log)
    }
}

#[tokio::test]
async fn sigterm_lets_the_answer_in_flight_finish_then_exits_0() {
    let db = Banco::novo().await;
    let upstream = FakeUpstream::start().await;
    upstream.roteiro(Roteiro::lento(&["ainda ", "dá ", "tempo"], 150));
    let p = Processo::iniciar(&db, &upstream, &[("TUTOR_SHUTDOWN_GRACE_MS", "10000")]).await;
    let a = p.cliente("ana").await;
    let ack = TestApp::enviar(&a, json!({ "conteudo": "pergunta" })).await;
    let conversa = id_conversa(&ack);
    a.esperar("resposta_iniciada", |_| true).await;
    p.sinal("-TERM");
    let (ev, fim) = a.esperar_fim(&conversa).await;
    assert_eq!(ev, "mensagem_respondida");
    assert_eq!(fim["mensagem"]["conteudo"], "ainda dá tempo");
    let (status, log) = p.esperar_saida().await;
    assert!(status.success(), "exit 0; log:\n{log}");
}

#[tokio::test]
async fn sigterm_past_the_grace_period_ends_the_answer_as_interrompida_and_loses_nothing() {
    let db = Banco::novo().await;
    let upstream = FakeUpstream::start().await;
    upstream.roteiro(Roteiro::Pendurar {
        pedacos: vec!["começo ".into()],
    });
    let p = Processo::iniciar(&db, &upstream, &[("TUTOR_SHUTDOWN_GRACE_MS", "300")]).await;
    let a = p.cliente("ana").await;
    let ack = TestApp::enviar(&a, json!({ "conteudo": "pergunta longa" })).await;
    let conversa = id_conversa(&ack);
    a.esperar("resposta_parcial", |_| true).await;
    p.sinal("-TERM");
    let (ev, fim) = a.esperar_fim(&conversa).await;
    assert_eq!(ev, "erro_resposta");
    assert_eq!(fim["erro"]["codigo"], "interrompida");
    let (status, log) = p.esperar_saida().await;
    assert!(status.success(), "exit 0; log:\n{log}");

    let p = Processo::iniciar(&db, &upstream, &[]).await;
    let a = p.cliente("ana").await;
    let h = a
        .pedir("entrar_conversa", json!({ "conversa_id": conversa }))
        .await;
    let ms = h["mensagens"].as_array().expect("m");
    assert_eq!(
        ms[0]["conteudo"], "pergunta longa",
        "the acked message is there"
    );
    assert_eq!(ms[1]["status"], "erro");
    assert_eq!(ms[1]["conteudo"], "começo ");
}

#[tokio::test]
async fn sigkill_mid_answer_then_start_again_ends_it_and_answers_what_was_queued() {
    let db = Banco::novo().await;
    let upstream = FakeUpstream::start().await;
    let pedacos: Vec<String> = (0..200).map(|i| format!("{i} ")).collect();
    let refs: Vec<&str> = pedacos.iter().map(String::as_str).collect();
    upstream.roteiro(Roteiro::lento(&refs, 50));
    let p = Processo::iniciar(&db, &upstream, &[]).await;
    let a = p.cliente("ana").await;
    let ack = TestApp::enviar(&a, json!({ "conteudo": "primeira" })).await;
    let conversa = id_conversa(&ack);
    // Queued behind the streaming answer, acked, not yet answered.
    TestApp::enviar(
        &a,
        json!({ "conversa_id": conversa, "conteudo": "segunda" }),
    )
    .await;
    // Past the first checkpoint (every 2 s).
    a.esperar("resposta_parcial", |v| {
        v["delta"].as_str().is_some_and(|d| d.contains("60 "))
    })
    .await;
    p.sinal("-KILL");
    let (status, _) = p.esperar_saida().await;
    assert!(!status.success());

    let p = Processo::iniciar(&db, &upstream, &[]).await;
    let a = p.cliente("ana").await;
    let h = a
        .pedir("entrar_conversa", json!({ "conversa_id": conversa }))
        .await;
    let ms = h["mensagens"].as_array().expect("m").clone();
    let interrompida = ms
        .iter()
        .find(|m| m["papel"] == "tutor")
        .expect("the cut answer");
    assert_eq!(interrompida["status"], "erro", "{ms:?}");
    let texto = interrompida["conteudo"].as_str().expect("text");
    assert!(
        texto.starts_with("0 1 2 "),
        "the checkpointed text is kept: {texto:?}"
    );
    // The queued message is answered after the restart, without anyone asking again.
    let fim = loop {
        let h = a
            .pedir("entrar_conversa", json!({ "conversa_id": conversa }))
            .await;
        let ms = h["mensagens"].as_array().expect("m").clone();
        if let Some(r) = ms.iter().filter(|m| m["papel"] == "tutor").nth(1)
            && r["status"] != "gerando"
        {
            break r.clone();
        }
        a.esperar_fim(&conversa).await;
    };
    assert_eq!(fim["status"], "completa");
}

/// Runs a conversation with a distinctive text at `RUST_LOG=trace` and returns the log.
async fn log_de_uma_conversa(extra: &[(&str, &str)], texto: &str) -> (String, String) {
    let db = Banco::novo().await;
    let upstream = FakeUpstream::start().await;
    let mut env = vec![("RUST_LOG", "trace")];
    env.extend_from_slice(extra);
    let p = Processo::iniciar(&db, &upstream, &env).await;
    let token = emitir_token(SEGREDO, "ana", Papel::Aluno, Duration::from_secs(3600));
    let a = Cliente::conectar(&p.url, &token).await.expect("connects");
    let ack = TestApp::enviar(&a, json!({ "conteudo": texto })).await;
    a.esperar_fim(ack["conversa_id"].as_str().expect("id"))
        .await;
    assert!(
        Cliente::conectar(&p.url, "token-invalido-XYZ")
            .await
            .is_err()
    );
    p.sinal("-TERM");
    let (status, log) = p.esperar_saida().await;
    assert!(status.success());
    (log, token)
}

#[tokio::test]
async fn the_log_never_holds_tokens_secrets_or_students_text() {
    let texto = "MINHA-DUVIDA-PARTICULAR-42";
    let (log, token) = log_de_uma_conversa(&[("TUTOR_NO", "no-7")], texto).await;
    assert!(log.contains("listening on"), "the log was captured");
    // Several processes write to one deployment's logs: each line says whose it is.
    for linha in log.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            linha.starts_with("[no-7] "),
            "a line without its process: {linha}"
        );
    }
    for segredo in [
        texto,
        token.as_str(),
        SEGREDO,
        CHAVE,
        "token-invalido-XYZ",
        "Uma fração",
    ] {
        assert!(!log.contains(segredo), "the log holds {segredo:?}:\n{log}");
    }
    // The same run with the caps lifted on purpose does show the text: the check above
    // would catch a leak.
    let (inseguro, _) = log_de_uma_conversa(&[("TUTOR_LOG_INSEGURO", "true")], texto).await;
    assert!(
        inseguro.contains(texto),
        "with TUTOR_LOG_INSEGURO the packets are logged"
    );
}

#[tokio::test]
async fn a_final_write_that_keeps_failing_is_reported_and_the_text_is_in_the_log() {
    let db = Banco::novo().await;
    let upstream = FakeUpstream::start().await;
    let portao = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    upstream.roteiro(Roteiro::Portao {
        pedacos: vec!["texto que ".into(), "não pode sumir".into()],
        portao: portao.clone(),
    });
    let p = Processo::iniciar(&db, &upstream, &[("TUTOR_DB_ESPERA_MS", "100")]).await;
    let a = p.cliente("ana").await;
    let ack = TestApp::enviar(&a, json!({ "conteudo": "pergunta" })).await;
    let conversa = id_conversa(&ack);
    let iniciada = a.esperar("resposta_iniciada", |_| true).await;
    let id = iniciada["mensagem_id"].as_str().expect("id").to_owned();

    // Another process holds the write lock while the answer ends.
    let trava = banco::travar_escritas(&db.url).await;
    portao.add_permits(2);
    let (ev, fim) = a.esperar_fim(&conversa).await;
    assert_eq!(ev, "erro_resposta");
    assert_eq!(fim["erro"]["codigo"], "indisponivel");
    trava.soltar().await;

    p.sinal("-TERM");
    let (_, log) = p.esperar_saida().await;
    let linha = log
        .lines()
        .find(|l| l.contains("answer NOT stored"))
        .unwrap_or_else(|| panic!("no error line for the lost answer:\n{log}"));
    assert!(
        linha.contains("ERROR")
            && linha.contains(&id)
            && linha.contains("texto que não pode sumir"),
        "{linha}"
    );
}

#[tokio::test]
async fn a_queue_given_up_while_the_database_failed_is_answered_once_it_is_back() {
    let db = Banco::novo().await;
    let upstream = FakeUpstream::start().await;
    let portao = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    upstream.roteiro(Roteiro::Portao {
        pedacos: vec!["primeira resposta".into()],
        portao: portao.clone(),
    });
    upstream.roteiro(Roteiro::texto(&["segunda ", "resposta"]));
    let p = Processo::iniciar(&db, &upstream, &[("TUTOR_DB_ESPERA_MS", "100")]).await;
    let a = p.cliente("ana").await;
    let ack = TestApp::enviar(&a, json!({ "conteudo": "primeira" })).await;
    let conversa = id_conversa(&ack);
    a.esperar("resposta_iniciada", |_| true).await;
    // Stored and acked, queued behind the streaming answer.
    TestApp::enviar(
        &a,
        json!({ "conversa_id": conversa, "conteudo": "segunda" }),
    )
    .await;

    // The database refuses writes from the moment the first answer ends until the worker
    // has given the queue up.
    let trava = banco::travar_escritas(&db.url).await;
    portao.add_permits(1);
    let desistiu = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let log = p.log.lock().expect("lock").clone();
            let falhas = log.matches("could not start an answer").count()
                + log.matches("could not read the answer queue").count()
                + log.matches("could not end answers left generating").count();
            if falhas >= 5 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        desistiu.is_ok(),
        "the worker kept failing: {}",
        p.log.lock().expect("lock")
    );
    trava.soltar().await;

    // Nobody sends again: the process retries the queue by itself. The first answer, left
    // `gerando` when its final write failed, is ended first.
    let fim = a
        .esperar("mensagem_respondida", |v| v["conversa_id"] == conversa)
        .await;
    assert_eq!(fim["mensagem"]["conteudo"], "segunda resposta");
    let h = a
        .pedir("entrar_conversa", json!({ "conversa_id": conversa }))
        .await;
    let estados: Vec<&str> = h["mensagens"]
        .as_array()
        .expect("m")
        .iter()
        .map(|m| m["status"].as_str().expect("status"))
        .collect();
    assert_eq!(estados, ["completa", "erro", "completa", "completa"], "{h}");
}

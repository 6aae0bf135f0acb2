//! The model failing in every way an HTTP API can: each answer ends as `erro` with what was
//! received, the student's message stays, and the next message is answered normally.
use serde_json::{Value, json};

use crate::apoio::{PADRAO, Roteiro, TestApp, definir, id_conversa, spawn_app, spawn_app_with};

/// Sends, expects `erro_resposta` with `codigo`, checks what was kept, then checks that the
/// next message in the conversation is answered.
async fn falha_e_recupera(app: &TestApp, codigo: &str, texto_guardado: &str) {
    let a = app.cliente("ana").await;
    let ack = TestApp::enviar(&a, json!({ "conteudo": "pergunta" })).await;
    let conversa = id_conversa(&ack);
    let (ev, fim) = a.esperar_fim(&conversa).await;
    assert_eq!(ev, "erro_resposta", "{fim}");
    assert_eq!(fim["erro"]["codigo"], codigo);
    assert!(
        !fim["erro"]["mensagem"]
            .as_str()
            .expect("mensagem")
            .is_empty()
    );
    assert!(
        !fim["erro"]["mensagem"]
            .as_str()
            .unwrap_or("")
            .contains("falha simulada"),
        "no upstream text to clients"
    );

    let h = a
        .pedir("entrar_conversa", json!({ "conversa_id": conversa }))
        .await;
    let ms = h["mensagens"].as_array().expect("m");
    assert_eq!(
        ms[0]["conteudo"], "pergunta",
        "the student's message is kept"
    );
    assert_eq!(ms[1]["status"], "erro");
    assert_eq!(ms[1]["conteudo"], texto_guardado);
    assert_eq!(ms[1]["id"], fim["mensagem_id"]);

    TestApp::enviar(
        &a,
        json!({ "conversa_id": conversa, "conteudo": "de novo" }),
    )
    .await;
    let fins = a.esperar_fins(2).await;
    assert_eq!(fins[1].0, "mensagem_respondida");
    assert_eq!(fins[1].1["mensagem"]["conteudo"], PADRAO.concat());
}

#[tokio::test]
async fn http_500_every_time() {
    let app = spawn_app().await;
    for _ in 0..3 {
        app.upstream.roteiro(Roteiro::Erro {
            status: 500,
            codigo: "server_error",
            retry_after: None,
        });
    }
    falha_e_recupera(&app, "modelo_indisponivel", "").await;
    assert_eq!(
        app.upstream.pedidos().len(),
        4,
        "three attempts, then the next message"
    );
}

#[tokio::test]
async fn a_500_before_the_first_token_is_retried() {
    let app = spawn_app().await;
    app.upstream.roteiro(Roteiro::Erro {
        status: 503,
        codigo: "server_error",
        retry_after: None,
    });
    let a = app.cliente("ana").await;
    let ack = TestApp::enviar(&a, json!({ "conteudo": "oi" })).await;
    let (ev, fim) = a
        .esperar_fim(ack["conversa_id"].as_str().expect("id"))
        .await;
    assert_eq!(ev, "mensagem_respondida", "{fim}");
    assert_eq!(fim["mensagem"]["conteudo"], PADRAO.concat());
    assert_eq!(app.upstream.pedidos().len(), 2);
}

#[tokio::test]
async fn rate_limited_429_honours_retry_after_then_gives_up_as_limite_excedido() {
    let app = spawn_app().await;
    for _ in 0..3 {
        app.upstream.roteiro(Roteiro::Erro {
            status: 429,
            codigo: "rate_limit_exceeded",
            retry_after: Some(0),
        });
    }
    falha_e_recupera(&app, "limite_excedido", "").await;
    assert_eq!(app.upstream.pedidos().len(), 4);
}

#[tokio::test]
async fn insufficient_quota_is_not_retried() {
    let app = spawn_app().await;
    app.upstream.roteiro(Roteiro::Erro {
        status: 429,
        codigo: "insufficient_quota",
        retry_after: Some(0),
    });
    falha_e_recupera(&app, "limite_excedido", "").await;
    assert_eq!(
        app.upstream.pedidos().len(),
        2,
        "one attempt, then the next message"
    );
}

#[tokio::test]
async fn a_stream_cut_without_finish_reason() {
    let app = spawn_app().await;
    app.upstream.roteiro(Roteiro::Cortar {
        pedacos: vec!["meio ".into(), "texto".into()],
    });
    falha_e_recupera(&app, "modelo_indisponivel", "meio texto").await;
}

#[tokio::test]
async fn a_connection_torn_down_mid_stream() {
    let app = spawn_app().await;
    app.upstream.roteiro(Roteiro::Resetar {
        pedacos: vec!["até ".into(), "aqui".into()],
    });
    falha_e_recupera(&app, "modelo_indisponivel", "até aqui").await;
}

#[tokio::test]
async fn a_chunk_that_does_not_parse() {
    let app = spawn_app().await;
    app.upstream.roteiro(Roteiro::Lixo {
        antes: vec!["bom ".into()],
        depois: vec!["nunca".into()],
    });
    falha_e_recupera(&app, "modelo_indisponivel", "bom ").await;
}

#[tokio::test]
async fn a_model_that_goes_silent_past_the_timeout() {
    let app = spawn_app_with(|a| definir(a, "--upstream-timeout-ms", "300")).await;
    app.upstream.roteiro(Roteiro::Pendurar {
        pedacos: vec!["começou ".into()],
    });
    falha_e_recupera(&app, "modelo_indisponivel", "começou ").await;
}

#[tokio::test]
async fn a_model_that_never_sends_a_first_token() {
    let app = spawn_app_with(|a| definir(a, "--upstream-primeiro-token-ms", "300")).await;
    app.upstream.roteiro(Roteiro::Pendurar { pedacos: vec![] });
    falha_e_recupera(&app, "modelo_indisponivel", "").await;
}

#[tokio::test]
async fn a_huge_line_without_newline_ends_the_answer_with_memory_bounded() {
    let app = spawn_app().await;
    app.upstream.roteiro(Roteiro::LinhaEnorme {
        antes: vec!["ok ".into()],
        bytes: 10 * 1024 * 1024,
    });
    falha_e_recupera(&app, "modelo_indisponivel", "ok ").await;
}

#[tokio::test]
async fn non_standard_finish_reason_still_completes() {
    let app = spawn_app().await;
    app.upstream.roteiro(Roteiro::Responder {
        pedacos: vec!["llama ".into(), "diz oi".into()],
        atraso: std::time::Duration::from_millis(5),
        finish: "eos",
    });
    let a = app.cliente("ana").await;
    let ack = TestApp::enviar(&a, json!({ "conteudo": "oi" })).await;
    let (ev, fim) = a
        .esperar_fim(ack["conversa_id"].as_str().expect("id"))
        .await;
    assert_eq!(ev, "mensagem_respondida");
    assert_eq!(fim["mensagem"]["conteudo"], "llama diz oi");
}

#[tokio::test]
async fn the_model_down_then_back() {
    let mut app = spawn_app().await;
    let endereco = app.upstream.addr;
    // Stop the model: nothing listens where it should be.
    app.upstream = crate::apoio::FakeUpstream::start().await;
    let a = app.cliente("ana").await;
    let ack = TestApp::enviar(&a, json!({ "conteudo": "alguém aí?" })).await;
    let conversa = id_conversa(&ack);
    let (ev, fim) = a.esperar_fim(&conversa).await;
    assert_eq!(ev, "erro_resposta");
    assert_eq!(fim["erro"]["codigo"], "modelo_indisponivel");

    // Start it again where the server expects it.
    app.upstream = crate::apoio::FakeUpstream::start_on(endereco).await;
    TestApp::enviar(
        &a,
        json!({ "conversa_id": conversa, "conteudo": "e agora?" }),
    )
    .await;
    let fins = a.esperar_fins(2).await;
    assert_eq!(fins[1].0, "mensagem_respondida");
    let _: &Value = &fins[1].1;
}

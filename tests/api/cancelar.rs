//! Stopping an answer.
use std::sync::Arc;

use serde_json::json;
use tokio::sync::Semaphore;

use crate::apoio::{PADRAO, Roteiro, TestApp, id_conversa, spawn_app};

#[tokio::test]
async fn cancel_stops_the_stream_keeps_the_text_and_the_next_message_is_answered() {
    let app = spawn_app().await;
    let portao = Arc::new(Semaphore::new(2));
    app.upstream.roteiro(Roteiro::Portao {
        pedacos: vec!["antes ".into(), "do ".into(), "nunca".into()],
        portao: portao.clone(),
    });
    let a = app.cliente("ana").await;
    let ack = TestApp::enviar(&a, json!({ "conteudo": "pergunta" })).await;
    let conversa = id_conversa(&ack);
    a.esperar("resposta_parcial", |v| {
        v["delta"].as_str().is_some_and(|d| d.contains("do"))
    })
    .await;

    let c = a
        .pedir("cancelar_resposta", json!({ "conversa_id": conversa }))
        .await;
    assert_eq!(c, json!({ "ok": true, "cancelada": true }));
    let (ev, fim) = a.esperar_fim(&conversa).await;
    assert_eq!(ev, "mensagem_respondida");
    assert_eq!(fim["mensagem"]["status"], "cancelada");
    assert_eq!(fim["mensagem"]["conteudo"], "antes do ");
    // The gate never lets the last piece through: only the server letting go of the
    // upstream request ends it. A cancel must not leave the model generating.
    app.upstream.esperar_fechados(1).await;

    // Nothing streaming now: a cancel finds nothing, and does not reach the next answer.
    let c = a
        .pedir("cancelar_resposta", json!({ "conversa_id": conversa }))
        .await;
    assert_eq!(c, json!({ "ok": true, "cancelada": false }));
    TestApp::enviar(
        &a,
        json!({ "conversa_id": conversa, "conteudo": "e agora?" }),
    )
    .await;
    let fins = a.esperar_fins(2).await;
    assert_eq!(fins[1].1["mensagem"]["status"], "completa");
    assert_eq!(fins[1].1["mensagem"]["conteudo"], PADRAO.concat());

    let h = a
        .pedir("entrar_conversa", json!({ "conversa_id": conversa }))
        .await;
    assert_eq!(h["mensagens"][1]["status"], "cancelada", "stays cancelled");
    assert_eq!(h["mensagens"][1]["conteudo"], "antes do ");
}

#[tokio::test]
async fn cancel_ends_only_the_current_answer_and_the_queue_goes_on() {
    let app = spawn_app().await;
    let portao = Arc::new(Semaphore::new(1));
    app.upstream.roteiro(Roteiro::Portao {
        pedacos: vec!["primeira ".into(), "resto".into()],
        portao: portao.clone(),
    });
    let a = app.cliente("ana").await;
    let ack = TestApp::enviar(&a, json!({ "conteudo": "um" })).await;
    let conversa = id_conversa(&ack);
    a.esperar("resposta_parcial", |_| true).await;
    // Queued behind the streaming answer.
    TestApp::enviar(&a, json!({ "conversa_id": conversa, "conteudo": "dois" })).await;
    let c = a
        .pedir("cancelar_resposta", json!({ "conversa_id": conversa }))
        .await;
    assert_eq!(c["cancelada"], true);
    let fins = a.esperar_fins(2).await;
    assert_eq!(fins[0].1["mensagem"]["status"], "cancelada");
    assert_eq!(
        fins[1].1["mensagem"]["status"], "completa",
        "the queued message is still answered"
    );
}

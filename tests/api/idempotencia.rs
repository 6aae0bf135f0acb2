//! A client retrying a send whose ack it never got.
use serde_json::json;

use crate::apoio::{TestApp, spawn_app};

#[tokio::test]
async fn the_same_id_cliente_returns_the_stored_message_and_starts_no_second_answer() {
    let app = spawn_app().await;
    let a = app.cliente("ana").await;
    let envio = json!({ "conteudo": "só uma vez", "id_cliente": "envio-1" });
    let primeiro = TestApp::enviar(&a, envio.clone()).await;
    a.esperar_fins(1).await;

    // Another tab retries the very first send, which had created the conversation.
    let b = app.cliente("ana").await;
    let segundo = TestApp::enviar(&b, envio).await;
    assert_eq!(segundo["conversa_id"], primeiro["conversa_id"]);
    assert_eq!(segundo["mensagem"]["id"], primeiro["mensagem"]["id"]);
    assert_eq!(segundo["mensagem"]["id_cliente"], "envio-1");

    // The retrying socket is in the room: a new message reaches it.
    let conversa = primeiro["conversa_id"].as_str().expect("id");
    TestApp::enviar(&a, json!({ "conversa_id": conversa, "conteudo": "outra" })).await;
    b.esperar("mensagem_recebida", |v| {
        v["mensagem"]["conteudo"] == "outra"
    })
    .await;
    a.esperar_fins(2).await;

    assert_eq!(
        app.upstream.pedidos().len(),
        2,
        "one answer per stored message"
    );
    let h = a
        .pedir("entrar_conversa", json!({ "conversa_id": conversa }))
        .await;
    assert_eq!(h["mensagens"].as_array().expect("m").len(), 4);
    let l = a.emit_ack("listar_conversas", None).await;
    assert_eq!(
        l["conversas"].as_array().expect("c").len(),
        1,
        "no second conversation"
    );
}

#[tokio::test]
async fn the_same_id_cliente_from_another_user_is_a_different_message() {
    let app = spawn_app().await;
    let a = app.cliente("ana").await;
    let b = app.cliente("bia").await;
    let m1 = TestApp::enviar(&a, json!({ "conteudo": "da ana", "id_cliente": "x" })).await;
    let m2 = TestApp::enviar(&b, json!({ "conteudo": "da bia", "id_cliente": "x" })).await;
    assert_ne!(m1["mensagem"]["id"], m2["mensagem"]["id"]);
    assert_eq!(m2["mensagem"]["conteudo"], "da bia");
}

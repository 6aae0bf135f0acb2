//! Reading a conversation back: history, `apos`, the list, and surviving a restart.
use serde_json::json;

use crate::apoio::{TestApp, id_conversa, spawn_app};

#[tokio::test]
async fn history_in_order_then_only_what_comes_after_apos() {
    let app = spawn_app().await;
    let a = app.cliente("ana").await;
    let ack = TestApp::enviar(&a, json!({ "conteudo": "um" })).await;
    let conversa = id_conversa(&ack);
    a.esperar_fins(1).await;
    TestApp::enviar(&a, json!({ "conversa_id": conversa, "conteudo": "dois" })).await;
    a.esperar_fins(2).await;

    let h = a
        .pedir("entrar_conversa", json!({ "conversa_id": conversa }))
        .await;
    let ms = h["mensagens"].as_array().expect("mensagens").clone();
    let papeis: Vec<&str> = ms
        .iter()
        .map(|m| m["papel"].as_str().expect("papel"))
        .collect();
    assert_eq!(papeis, ["aluno", "tutor", "aluno", "tutor"]);
    assert_eq!(ms[2]["conteudo"], "dois");
    assert_eq!(h["conversa"]["id"], conversa.as_str());

    let depois = a
        .pedir(
            "entrar_conversa",
            json!({ "conversa_id": conversa, "apos": ms[1]["id"] }),
        )
        .await;
    let ids: Vec<_> = depois["mensagens"]
        .as_array()
        .expect("m")
        .iter()
        .map(|m| m["id"].clone())
        .collect();
    assert_eq!(ids, vec![ms[2]["id"].clone(), ms[3]["id"].clone()]);

    let estranho = a
        .pedir(
            "entrar_conversa",
            json!({ "conversa_id": conversa, "apos": uuid::Uuid::new_v4().to_string() }),
        )
        .await;
    assert_eq!(
        estranho["mensagens"].as_array().expect("m").len(),
        4,
        "unknown apos: everything"
    );
}

#[tokio::test]
async fn the_list_is_most_recently_active_first_and_only_mine() {
    let app = spawn_app().await;
    let a = app.cliente("ana").await;
    let b = app.cliente("bia").await;
    let c1 = TestApp::enviar(&a, json!({ "conteudo": "primeira conversa" })).await["conversa_id"]
        .clone();
    a.esperar_fins(1).await;
    let c2 =
        TestApp::enviar(&a, json!({ "conteudo": "segunda conversa" })).await["conversa_id"].clone();
    a.esperar_fins(2).await;
    TestApp::enviar(&b, json!({ "conteudo": "da bia" })).await;

    let l = a.emit_ack("listar_conversas", None).await;
    let ids: Vec<_> = l["conversas"]
        .as_array()
        .expect("c")
        .iter()
        .map(|c| c["id"].clone())
        .collect();
    assert_eq!(ids, vec![c2.clone(), c1.clone()]);

    // Writing to the older one makes it the most recent.
    TestApp::enviar(&a, json!({ "conversa_id": c1, "conteudo": "de volta" })).await;
    a.esperar_fins(3).await;
    let l = a.pedir("listar_conversas", json!({})).await;
    let ids: Vec<_> = l["conversas"]
        .as_array()
        .expect("c")
        .iter()
        .map(|c| c["id"].clone())
        .collect();
    assert_eq!(ids, vec![c1, c2]);
}

#[tokio::test]
async fn a_restart_on_the_same_database_keeps_everything() {
    let app = spawn_app().await;
    let a = app.cliente("ana").await;
    let ack = TestApp::enviar(&a, json!({ "conteudo": "lembre disto" })).await;
    let conversa = id_conversa(&ack);
    a.esperar_fins(1).await;
    a.desconectar().await;

    let app = app.reiniciar().await;
    let a = app.cliente("ana").await;
    let h = a
        .pedir("entrar_conversa", json!({ "conversa_id": conversa }))
        .await;
    let ms = h["mensagens"].as_array().expect("m");
    assert_eq!(ms.len(), 2);
    assert_eq!(ms[0]["conteudo"], "lembre disto");
    assert_eq!(ms[1]["status"], "completa");
    let l = a.emit_ack("listar_conversas", None).await;
    assert_eq!(l["conversas"][0]["id"], conversa.as_str());
}

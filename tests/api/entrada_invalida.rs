//! Bad input gets a clear error ack and nothing else: no dropped socket, no stored row.
use serde_json::{Value, json};

use crate::apoio::{TestApp, spawn_app};

fn invalida(r: &Value, caso: &str) {
    assert_eq!(r["ok"], false, "{caso}: {r}");
    assert_eq!(r["erro"]["codigo"], "entrada_invalida", "{caso}: {r}");
    assert!(
        !r["erro"]["mensagem"].as_str().unwrap_or("").is_empty(),
        "{caso}: a sentence"
    );
}

#[tokio::test]
async fn every_bad_send_is_entrada_invalida_and_the_socket_stays_usable() {
    let app = spawn_app().await;
    let a = app.cliente("ana").await;
    let casos: Vec<(&str, Option<Value>)> = vec![
        ("missing payload", None),
        ("null", Some(Value::Null)),
        ("string", Some(json!("oi"))),
        ("number", Some(json!(42))),
        ("array", Some(json!([{ "conteudo": "oi" }]))),
        ("no conteudo", Some(json!({}))),
        ("conteudo null", Some(json!({ "conteudo": null }))),
        ("conteudo number", Some(json!({ "conteudo": 5 }))),
        (
            "conteudo object",
            Some(json!({ "conteudo": { "texto": "oi" } })),
        ),
        ("blank", Some(json!({ "conteudo": "  \n\t " }))),
        ("too long", Some(json!({ "conteudo": "a".repeat(8001) }))),
        (
            "too many emoji",
            Some(json!({ "conteudo": "😀".repeat(8001) })),
        ),
        (
            "conversa_id not a uuid",
            Some(json!({ "conteudo": "oi", "conversa_id": "abc" })),
        ),
        (
            "conversa_id number",
            Some(json!({ "conteudo": "oi", "conversa_id": 7 })),
        ),
        (
            "id_cliente too long",
            Some(json!({ "conteudo": "oi", "id_cliente": "x".repeat(65) })),
        ),
        (
            "id_cliente number",
            Some(json!({ "conteudo": "oi", "id_cliente": 1 })),
        ),
        // Postgres cannot store U+0000 in a key column: refused the same on every database,
        // rather than `indisponivel` there (which a client would retry forever).
        (
            "id_cliente with NUL",
            Some(json!({ "conteudo": "oi", "id_cliente": "a\u{0}b" })),
        ),
    ];
    for (caso, payload) in casos {
        let r = a.emit_ack("mensagem_enviada", payload).await;
        invalida(&r, caso);
    }
    let r = a
        .pedir(
            "mensagem_enviada",
            json!({ "conteudo": "oi", "conversa_id": uuid::Uuid::new_v4().to_string() }),
        )
        .await;
    assert_eq!(r["erro"]["codigo"], "nao_encontrada");

    // Nothing was stored, nothing was asked of the model, and the socket still works.
    let l = a.emit_ack("listar_conversas", None).await;
    assert_eq!(l["conversas"], json!([]));
    assert!(app.upstream.pedidos().is_empty());
    let ok = TestApp::enviar(
        &a,
        json!({ "conteudo": "😀".repeat(8000), "id_cliente": "y".repeat(64) }),
    )
    .await;
    assert_eq!(
        ok["mensagem"]["conteudo"]
            .as_str()
            .expect("c")
            .chars()
            .count(),
        8000
    );
    a.esperar_fins(1).await;
}

#[tokio::test]
async fn every_other_event_rejects_bad_payloads_too() {
    let app = spawn_app().await;
    let a = app.cliente("ana").await;
    for evento in ["entrar_conversa", "sair_conversa", "cancelar_resposta"] {
        for (caso, payload) in [
            ("missing", None),
            ("null", Some(Value::Null)),
            ("string", Some(json!("x"))),
            ("array", Some(json!([]))),
            ("no id", Some(json!({}))),
            ("id number", Some(json!({ "conversa_id": 1 }))),
            ("bad uuid", Some(json!({ "conversa_id": "nao-e-uuid" }))),
        ] {
            let r = a.emit_ack(evento, payload).await;
            invalida(&r, &format!("{evento} {caso}"));
        }
    }
    for (caso, payload) in [
        ("string", json!("x")),
        ("usuario number", json!({ "usuario": 3 })),
    ] {
        let r = a.pedir("listar_conversas", payload).await;
        invalida(&r, &format!("listar_conversas {caso}"));
    }
    let ok = a
        .pedir("listar_conversas", json!({ "usuario": null }))
        .await;
    assert_eq!(ok["ok"], true, "null counts as absent");
}

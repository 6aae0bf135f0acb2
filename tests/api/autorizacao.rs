//! Who may connect, and who may see or touch which conversation.
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rust_socketio::TransportType;
use serde_json::{Value, json};

use crate::apoio::{Cliente, TestApp, id_conversa, spawn_app};

fn assinar(alg: Algorithm, segredo: &str, claims: Value) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        &claims,
        &EncodingKey::from_secret(segredo.as_bytes()),
    )
    .expect("sign")
}

fn agora() -> u64 {
    tutor::auth::agora_unix()
}

#[tokio::test]
async fn bad_tokens_are_refused_with_nao_autorizado_on_both_transports() {
    let app = spawn_app().await;
    let s = app.segredo.clone();
    let futuro = agora() + 3600;
    let sem_assinatura = {
        // alg "none": header and claims, empty signature.
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let h = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let c = b64.encode(json!({ "sub": "ana", "exp": futuro }).to_string());
        format!("{h}.{c}.")
    };
    let casos: Vec<(&str, Value)> = vec![
        ("no auth", json!({})),
        ("garbage", json!({ "token": "isto-nao-e-um-jwt" })),
        (
            "wrong secret",
            json!({ "token": assinar(Algorithm::HS256, "outro", json!({ "sub": "ana", "exp": futuro })) }),
        ),
        (
            "expired",
            json!({ "token": assinar(Algorithm::HS256, &s, json!({ "sub": "ana", "exp": agora() - 60 })) }),
        ),
        (
            "no exp",
            json!({ "token": assinar(Algorithm::HS256, &s, json!({ "sub": "ana" })) }),
        ),
        (
            "no sub",
            json!({ "token": assinar(Algorithm::HS256, &s, json!({ "exp": futuro })) }),
        ),
        (
            "HS512",
            json!({ "token": assinar(Algorithm::HS512, &s, json!({ "sub": "ana", "exp": futuro })) }),
        ),
        ("alg none", json!({ "token": sem_assinatura })),
        (
            "papel admin",
            json!({ "token": assinar(Algorithm::HS256, &s, json!({ "sub": "ana", "exp": futuro, "papel": "admin" })) }),
        ),
        ("token not a string", json!({ "token": 42 })),
        // A user id is a key column, where Postgres cannot store U+0000.
        (
            "sub with NUL",
            json!({ "token": assinar(Algorithm::HS256, &s, json!({ "sub": "a\u{0}na", "exp": futuro })) }),
        ),
    ];
    for t in [TransportType::Polling, TransportType::Websocket] {
        for (caso, auth) in &casos {
            let r = Cliente::conectar_com(&app.url, auth.clone(), t.clone()).await;
            let erro = r.err().unwrap_or_else(|| panic!("{caso}: connected"));
            assert!(erro.contains("nao_autorizado"), "{caso}: {erro}");
        }
    }
    // And a good one passes.
    Cliente::conectar_via(&app.url, &app.token("ana"), TransportType::Websocket)
        .await
        .expect("a valid token connects");
}

#[tokio::test]
async fn a_socket_is_disconnected_when_its_token_expires() {
    let app = spawn_app().await;
    let token = tutor::auth::emitir_token(
        &app.segredo,
        "ana",
        tutor::auth::Papel::Aluno,
        Duration::from_secs(1),
    );
    let c = Cliente::conectar(&app.url, &token).await.expect("connects");
    // The leeway is 5 s past `exp`; then the server closes the socket.
    c.esperar("close", |_| true).await;
    // From the moment it was closed, the same token is refused: a reconnect in the same
    // second must not be let in only to be kicked again.
    let de_novo = Cliente::conectar(&app.url, &token).await;
    assert!(
        de_novo.is_err(),
        "the token that just expired was accepted again"
    );
}

#[tokio::test]
async fn another_students_conversation_does_not_exist_for_me() {
    let app = spawn_app().await;
    let ana = app.cliente("ana").await;
    let bia = app.cliente("bia").await;
    let ack = TestApp::enviar(&ana, json!({ "conteudo": "segredo da ana" })).await;
    let conversa = id_conversa(&ack);
    ana.esperar_fins(1).await;

    for (evento, payload) in [
        ("entrar_conversa", json!({ "conversa_id": conversa })),
        (
            "mensagem_enviada",
            json!({ "conversa_id": conversa, "conteudo": "invasão" }),
        ),
        ("cancelar_resposta", json!({ "conversa_id": conversa })),
        ("sair_conversa", json!({ "conversa_id": conversa })),
    ] {
        let r = bia.pedir(evento, payload).await;
        assert_eq!(r["ok"], false, "{evento}");
        assert_eq!(r["erro"]["codigo"], "nao_encontrada", "{evento}: {r}");
        // Indistinguishable from a conversation that does not exist.
        let inexistente = bia
            .pedir(
                evento,
                json!({ "conversa_id": uuid::Uuid::new_v4().to_string(), "conteudo": "x" }),
            )
            .await;
        assert_eq!(inexistente["erro"], r["erro"], "{evento}");
    }
    let l = bia
        .pedir("listar_conversas", json!({ "usuario": "ana" }))
        .await;
    assert_eq!(
        l["erro"]["codigo"], "proibido",
        "a student cannot list another's"
    );
    assert!(bia.eventos_de("mensagem_recebida").is_empty());
    let h = ana
        .pedir("entrar_conversa", json!({ "conversa_id": conversa }))
        .await;
    assert_eq!(
        h["mensagens"].as_array().expect("m").len(),
        2,
        "nothing was written by bia"
    );
}

#[tokio::test]
async fn a_professor_reads_and_lists_but_cannot_write_or_cancel() {
    let app = spawn_app().await;
    let ana = app.cliente("ana").await;
    let prof = Cliente::conectar(&app.url, &app.token_professor("prof"))
        .await
        .expect("connects");
    let ack = TestApp::enviar(&ana, json!({ "conteudo": "dúvida da ana" })).await;
    let conversa = id_conversa(&ack);
    ana.esperar_fins(1).await;

    let l = prof
        .pedir("listar_conversas", json!({ "usuario": "ana" }))
        .await;
    assert_eq!(l["conversas"][0]["id"], conversa.as_str());
    // A name no token can carry is refused as input, on Postgres too (no text there holds NUL).
    for impossivel in ["a\u{0}na".to_owned(), "a".repeat(256)] {
        let r = prof
            .pedir("listar_conversas", json!({ "usuario": impossivel }))
            .await;
        assert_eq!(r["erro"]["codigo"], "entrada_invalida", "{r}");
    }
    let h = prof
        .pedir("entrar_conversa", json!({ "conversa_id": conversa }))
        .await;
    assert_eq!(h["ok"], true);
    assert_eq!(h["mensagens"][0]["conteudo"], "dúvida da ana");

    let envio = prof
        .pedir(
            "mensagem_enviada",
            json!({ "conversa_id": conversa, "conteudo": "oi" }),
        )
        .await;
    assert_eq!(envio["erro"]["codigo"], "proibido");
    let cancel = prof
        .pedir("cancelar_resposta", json!({ "conversa_id": conversa }))
        .await;
    assert_eq!(cancel["erro"]["codigo"], "proibido");

    // Having joined, the professor sees the conversation live.
    TestApp::enviar(
        &ana,
        json!({ "conversa_id": conversa, "conteudo": "mais uma" }),
    )
    .await;
    prof.esperar("mensagem_recebida", |v| {
        v["mensagem"]["conteudo"] == "mais uma"
    })
    .await;
    prof.esperar_fins(1).await;
    let h = ana
        .pedir("entrar_conversa", json!({ "conversa_id": conversa }))
        .await;
    assert_eq!(
        h["mensagens"].as_array().expect("m").len(),
        4,
        "the professor wrote nothing"
    );
}

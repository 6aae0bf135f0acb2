//! The daily budget per student (`TUTOR_TOKENS_POR_DIA`, docs/turma.md): counted from the
//! usage the upstream reports (estimated without it), kept in the database, and over it a
//! send is refused before anything is stored or reaches the model.
use serde_json::{Value, json};

use crate::apoio::{Cliente, Roteiro, TestApp, definir, id_conversa, spawn_app_with};

async fn com_cota(tokens: u64) -> TestApp {
    spawn_app_with(|a| definir(a, "--tokens-por-dia", &tokens.to_string())).await
}

fn com_uso(total_tokens: u64) -> Roteiro {
    Roteiro::ComUso {
        pedacos: vec!["Metade ".into(), "de um.".into()],
        total_tokens,
    }
}

fn recusa_de_cota(ack: &Value) {
    assert_eq!(ack["ok"], false, "{ack}");
    assert_eq!(ack["erro"]["codigo"], "limite_excedido", "{ack}");
    assert_eq!(ack["erro"]["limite"], "tokens_por_dia", "{ack}");
    let ms = ack["erro"]["tentar_em_ms"].as_u64().expect("tentar_em_ms");
    assert!(
        ms > 0 && ms <= 24 * 3600 * 1000,
        "until the next midnight: {ms}"
    );
    let frase = ack["erro"]["mensagem"].as_str().expect("mensagem");
    assert!(
        frase.contains("limite diário") && frase.contains("renova"),
        "{frase}"
    );
}

async fn tokens_hoje(app: &TestApp, usuario: &str) -> i64 {
    let prof = Cliente::conectar(&app.url, &app.token_professor("prof"))
        .await
        .expect("connects");
    let ack = prof.pedir("listar_turma", json!({})).await;
    ack["conversas"]
        .as_array()
        .expect("conversas")
        .iter()
        .find(|c| c["usuario"] == usuario)
        .map_or(0, |c| c["tokens_hoje"].as_i64().expect("tokens_hoje"))
}

#[tokio::test]
async fn reported_usage_is_counted_and_a_send_over_the_budget_never_reaches_the_model() {
    let app = com_cota(100).await;
    app.upstream.roteiro(com_uso(120));
    let ana = app.cliente("ana").await;
    let id = id_conversa(&TestApp::enviar(&ana, json!({ "conteudo": "primeira" })).await);
    ana.esperar_fim(&id).await;
    let pedidos = app.upstream.pedidos();
    assert_eq!(pedidos[0]["stream_options"]["include_usage"], true);
    assert_eq!(
        tokens_hoje(&app, "ana").await,
        120,
        "what the upstream reported"
    );

    for payload in [
        json!({ "conversa_id": id, "conteudo": "segunda" }),
        json!({ "conteudo": "numa conversa nova" }),
    ] {
        recusa_de_cota(&ana.pedir("mensagem_enviada", payload).await);
    }
    assert_eq!(app.upstream.pedidos().len(), 1, "nothing reached the model");
    let lista = ana.pedir("listar_conversas", json!({})).await;
    assert_eq!(
        lista["conversas"].as_array().map(Vec::len),
        Some(1),
        "nothing stored"
    );
    let h = ana
        .pedir("entrar_conversa", json!({ "conversa_id": id }))
        .await;
    assert_eq!(h["mensagens"].as_array().map(Vec::len), Some(2));

    // Another student's budget is their own.
    let bia = app.cliente("bia").await;
    let b = TestApp::enviar(&bia, json!({ "conteudo": "oi" })).await;
    bia.esperar_fim(&id_conversa(&b)).await;
}

#[tokio::test]
async fn a_retry_of_a_send_stored_before_the_budget_ran_out_gets_its_message_back() {
    let app = com_cota(50).await;
    app.upstream.roteiro(com_uso(60));
    let ana = app.cliente("ana").await;
    let ack = TestApp::enviar(&ana, json!({ "conteudo": "pergunta", "id_cliente": "c-1" })).await;
    ana.esperar_fim(&id_conversa(&ack)).await;
    let de_novo = ana
        .pedir(
            "mensagem_enviada",
            json!({ "conteudo": "pergunta", "id_cliente": "c-1" }),
        )
        .await;
    assert_eq!(de_novo["ok"], true, "{de_novo}");
    assert_eq!(de_novo["mensagem"]["id"], ack["mensagem"]["id"]);
    recusa_de_cota(
        &ana.pedir(
            "mensagem_enviada",
            json!({ "conteudo": "nova", "id_cliente": "c-2" }),
        )
        .await,
    );
}

#[tokio::test]
async fn without_reported_usage_the_cost_is_estimated_from_the_text() {
    let app = com_cota(1).await;
    let ana = app.cliente("ana").await;
    let ack = TestApp::enviar(&ana, json!({ "conteudo": "quanto custa?" })).await;
    let (_, fim) = ana.esperar_fim(&id_conversa(&ack)).await;
    let resposta = fim["mensagem"]["conteudo"].as_str().expect("text");
    let usado = tokens_hoje(&app, "ana").await;
    // At least the answer and the question, at four characters a token.
    let minimo = (resposta.chars().count() + "quanto custa?".len()).div_ceil(4) as i64;
    assert!(usado >= minimo, "{usado} < {minimo}");
    recusa_de_cota(
        &ana.pedir("mensagem_enviada", json!({ "conteudo": "e agora?" }))
            .await,
    );
}

#[tokio::test]
async fn the_budget_holds_across_a_restart() {
    let app = com_cota(100).await;
    app.upstream.roteiro(com_uso(150));
    let ana = app.cliente("ana").await;
    let ack = TestApp::enviar(&ana, json!({ "conteudo": "antes" })).await;
    ana.esperar_fim(&id_conversa(&ack)).await;
    ana.desconectar().await;
    let app = app.reiniciar().await;
    let ana = app.cliente("ana").await;
    recusa_de_cota(
        &ana.pedir("mensagem_enviada", json!({ "conteudo": "depois" }))
            .await,
    );
    assert_eq!(tokens_hoje(&app, "ana").await, 150);
}

#[tokio::test]
async fn with_no_budget_use_is_still_counted_and_nothing_is_refused() {
    let app = com_cota(0).await;
    app.upstream.roteiro(com_uso(10_000));
    let ana = app.cliente("ana").await;
    for i in 0..2 {
        let ack = TestApp::enviar(&ana, json!({ "conteudo": format!("p{i}") })).await;
        ana.esperar_fim(&id_conversa(&ack)).await;
    }
    assert!(tokens_hoje(&app, "ana").await >= 10_000);
}

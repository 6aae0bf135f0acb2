//! The teacher's side (docs/turma.md): the cross-student listing, its pages, and the
//! professors' room that hears every change without any text.
use std::time::Duration;

use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

use crate::apoio::{Cliente, Roteiro, TestApp, id_conversa, spawn_app};

/// A student's token with a `name` claim, as a school's login would issue it.
fn token_com_nome(app: &TestApp, sub: &str, nome: &str) -> String {
    let claims = json!({ "sub": sub, "name": nome, "exp": tutor::auth::agora_unix() + 3600 });
    jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(app.segredo.as_bytes()),
    )
    .expect("sign")
}

async fn professor(app: &TestApp, sub: &str) -> Cliente {
    Cliente::conectar(&app.url, &app.token_professor(sub))
        .await
        .expect("the professor connects")
}

/// Sends a message in a new conversation and waits for its answer to end.
async fn conversa_respondida(c: &Cliente, texto: &str) -> String {
    let id = id_conversa(&TestApp::enviar(c, json!({ "conteudo": texto })).await);
    c.esperar_fim(&id).await;
    id
}

fn ids(ack: &Value) -> Vec<String> {
    ack["conversas"]
        .as_array()
        .expect("conversas")
        .iter()
        .map(|c| c["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn a_student_is_refused_every_class_event_and_hears_nothing_of_the_class() {
    let app = spawn_app().await;
    let ana = app.cliente("ana").await;
    let bia = app.cliente("bia").await;
    for (evento, payload) in [
        ("listar_turma", json!({})),
        ("listar_turma", json!({ "conversa_ids": [] })),
        ("acompanhar_turma", json!({})),
        ("deixar_turma", json!({})),
    ] {
        let ack = ana.pedir(evento, payload).await;
        assert_eq!(ack["ok"], false, "{evento}: {ack}");
        assert_eq!(ack["erro"]["codigo"], "proibido", "{evento}: {ack}");
    }
    conversa_respondida(&bia, "uma pergunta da bia").await;
    assert!(
        ana.eventos_de("conversa_atualizada").is_empty(),
        "a student never joins the professors' room"
    );
}

#[tokio::test]
async fn a_professor_lists_every_students_conversations_with_counts_names_and_use() {
    let app = spawn_app().await;
    let ana = Cliente::conectar(&app.url, &token_com_nome(&app, "ana", "Ana Souza"))
        .await
        .expect("connects");
    let bia = app.cliente("bia").await;
    let da_ana = conversa_respondida(&ana, "O que é uma fração?").await;
    TestApp::enviar(
        &ana,
        json!({ "conversa_id": da_ana, "conteudo": "E um decimal?" }),
    )
    .await;
    ana.esperar_fins(2).await;
    let da_bia = conversa_respondida(&bia, "Quanto é 2 + 2?").await;

    let prof = professor(&app, "prof").await;
    let ack = prof.pedir("listar_turma", json!({})).await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(
        ids(&ack),
        vec![da_bia.clone(), da_ana.clone()],
        "most recent first"
    );
    assert_eq!(ack["tokens_por_dia"], 0);
    assert!(
        ack.get("proximo_cursor").is_none(),
        "one page holds both: {ack}"
    );
    let [bia_row, ana_row] = [&ack["conversas"][0], &ack["conversas"][1]];
    assert_eq!(ana_row["usuario"], "ana");
    assert_eq!(ana_row["nome_usuario"], "Ana Souza");
    assert_eq!(ana_row["titulo"], "O que é uma fração?");
    assert_eq!(ana_row["mensagens"], 4, "two questions and two answers");
    assert_eq!(ana_row["gerando"], false);
    assert!(
        bia_row.get("nome_usuario").is_none(),
        "bia's token had no name"
    );
    assert_eq!(bia_row["mensagens"], 2);
    // No usage reported by this upstream: estimated from the prompt and the answer text.
    let (t_ana, t_bia) = (
        ana_row["tokens_hoje"].as_i64().expect("tokens"),
        bia_row["tokens_hoje"].as_i64().expect("tokens"),
    );
    assert!(
        t_bia > 0 && t_ana > t_bia,
        "ana asked twice: {t_ana} vs {t_bia}"
    );

    // A professor reads any of them, read-only, as PROTOCOL.md says.
    let entrou = prof
        .pedir("entrar_conversa", json!({ "conversa_id": da_ana }))
        .await;
    assert_eq!(entrou["mensagens"].as_array().map(Vec::len), Some(4));
}

#[tokio::test]
async fn pages_walk_every_conversation_once_in_order_and_bad_requests_are_refused() {
    let app = spawn_app().await;
    let ana = app.cliente("ana").await;
    let mut criadas = Vec::new();
    for i in 0..7 {
        let ack = TestApp::enviar(&ana, json!({ "conteudo": format!("pergunta {i}") })).await;
        criadas.push(id_conversa(&ack));
    }
    ana.esperar_fins(7).await;
    let prof = professor(&app, "prof").await;
    // The newest first: take their order from a single listing.
    let todas = ids(&prof.pedir("listar_turma", json!({ "limite": 100 })).await);
    assert_eq!(todas.len(), 7);
    let mut vistas = Vec::new();
    let mut cursor: Option<String> = None;
    let mut paginas = Vec::new();
    loop {
        let mut pedido = json!({ "limite": 3 });
        if let Some(c) = &cursor {
            pedido["cursor"] = json!(c);
        }
        let ack = prof.pedir("listar_turma", pedido).await;
        assert_eq!(ack["ok"], true, "{ack}");
        let pagina = ids(&ack);
        paginas.push(pagina.len());
        vistas.extend(pagina);
        match ack["proximo_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(paginas, vec![3, 3, 1]);
    assert_eq!(vistas, todas, "every conversation once, in order");

    let alvo = vec![criadas[1].clone(), criadas[5].clone()];
    let refresco = prof
        .pedir("listar_turma", json!({ "conversa_ids": alvo }))
        .await;
    let mut vindos = ids(&refresco);
    vindos.sort();
    let mut esperados = alvo.clone();
    esperados.sort();
    assert_eq!(vindos, esperados, "exactly the ones named: {refresco}");

    for ruim in [
        json!({ "cursor": "nao-e-um-cursor" }),
        json!({ "limite": 0 }),
        json!({ "limite": 101 }),
        json!({ "limite": "dez" }),
        json!({ "conversa_ids": ["nao-uuid"] }),
        json!({ "conversa_ids": vec![criadas[0].clone(); 101] }),
    ] {
        let ack = prof.pedir("listar_turma", ruim.clone()).await;
        assert_eq!(ack["erro"]["codigo"], "entrada_invalida", "{ruim}: {ack}");
    }
    assert!(
        prof.pedir("listar_turma", json!({})).await["ok"] == true,
        "still connected"
    );
}

#[tokio::test]
async fn the_professors_room_hears_each_change_in_order_without_any_text() {
    let app = spawn_app().await;
    let prof = professor(&app, "prof").await;
    let outro_prof = professor(&app, "prof2").await;
    assert_eq!(prof.pedir("acompanhar_turma", json!({})).await["ok"], true);
    let ana = app.cliente("ana").await;
    app.upstream
        .roteiro(Roteiro::lento(&["segredo ", "da ", "resposta"], 150));
    let texto = "minha pergunta secreta";
    let id = id_conversa(&TestApp::enviar(&ana, json!({ "conteudo": texto })).await);
    let iniciada = prof
        .esperar("conversa_atualizada", |v| {
            v["motivo"] == "resposta_iniciada"
        })
        .await;
    assert_eq!(iniciada["gerando"], true);
    // What the event announced is already stored: a refresh by id sees it streaming.
    let agora = prof
        .pedir("listar_turma", json!({ "conversa_ids": [id] }))
        .await;
    assert_eq!(agora["conversas"][0]["gerando"], true, "{agora}");
    assert_eq!(agora["conversas"][0]["mensagens"], 2);
    ana.esperar_fim(&id).await;
    prof.esperar("conversa_atualizada", |v| {
        v["motivo"] == "resposta_terminada"
    })
    .await;

    let eventos = prof.eventos_de("conversa_atualizada");
    let motivos: Vec<&str> = eventos
        .iter()
        .map(|e| e["motivo"].as_str().expect("motivo"))
        .collect();
    assert_eq!(
        motivos,
        vec!["criada", "resposta_iniciada", "resposta_terminada"]
    );
    for e in &eventos {
        assert_eq!(e["conversa_id"], id.as_str());
        assert_eq!(e["usuario"], "ana");
        let bruto = e.to_string();
        assert!(
            !bruto.contains("secreta") && !bruto.contains("segredo"),
            "no text in the event: {bruto}"
        );
        let campos: Vec<&String> = e.as_object().expect("object").keys().collect();
        assert_eq!(
            campos,
            vec![
                "atualizada_em",
                "conversa_id",
                "gerando",
                "motivo",
                "usuario"
            ]
        );
    }
    assert_eq!(eventos.last().expect("events")["gerando"], false);
    assert!(
        outro_prof.eventos_de("conversa_atualizada").is_empty(),
        "only professors who follow the class hear it"
    );

    // A second message in the same conversation is a `mensagem`; after leaving, nothing.
    TestApp::enviar(&ana, json!({ "conversa_id": id, "conteudo": "outra" })).await;
    prof.esperar("conversa_atualizada", |v| v["motivo"] == "mensagem")
        .await;
    ana.esperar_fins(2).await;
    prof.esperar("conversa_atualizada", |v| {
        v["motivo"] == "resposta_terminada"
    })
    .await;
    assert_eq!(prof.pedir("deixar_turma", json!({})).await["ok"], true);
    let antes = prof.eventos_de("conversa_atualizada").len();
    conversa_respondida(&ana, "depois de sair").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(prof.eventos_de("conversa_atualizada").len(), antes);
}

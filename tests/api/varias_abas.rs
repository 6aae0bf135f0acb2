//! One student, several tabs: everything a tab does shows in the others.
use std::sync::Arc;

use serde_json::json;
use tokio::sync::Semaphore;

use crate::apoio::{Roteiro, TestApp, id_conversa, spawn_app};

#[tokio::test]
async fn another_tab_sees_the_new_conversation_the_message_and_the_same_answer() {
    let app = spawn_app().await;
    let a = app.cliente("ana").await;
    let b = app.cliente("ana").await;

    let ack = TestApp::enviar(&a, json!({ "conteudo": "primeira pergunta" })).await;
    let conversa = id_conversa(&ack);
    let criada = b
        .esperar("conversa_criada", |v| {
            v["conversa"]["id"] == conversa.as_str()
        })
        .await;
    assert_eq!(criada["conversa"]["titulo"], "primeira pergunta");
    assert!(
        a.eventos_de("conversa_criada").is_empty(),
        "not to the tab that created it"
    );
    a.esperar_fim(&conversa).await;

    let h = b
        .pedir("entrar_conversa", json!({ "conversa_id": conversa }))
        .await;
    assert_eq!(h["ok"], true);
    let ack2 = TestApp::enviar(
        &a,
        json!({ "conversa_id": conversa, "conteudo": "segunda" }),
    )
    .await;
    let recebida = b
        .esperar("mensagem_recebida", |v| {
            v["mensagem"]["id"] == ack2["mensagem"]["id"]
        })
        .await;
    assert_eq!(recebida["mensagem"]["conteudo"], "segunda");
    let fim_a = a.esperar_fins(2).await;
    let fim_b = b.esperar_fins(1).await;
    assert_eq!(
        fim_a[1].1["mensagem"], fim_b[0].1["mensagem"],
        "both tabs end with the same answer"
    );
    let id = fim_b[0].1["mensagem"]["id"].as_str().expect("id");
    assert_eq!(b.texto_transmitido(id), a.texto_transmitido(id));
    assert!(
        a.eventos_de("mensagem_recebida").is_empty(),
        "the sender never gets its own message"
    );
}

#[tokio::test]
async fn a_tab_joining_mid_answer_gets_the_text_so_far_then_exactly_the_rest() {
    let app = spawn_app().await;
    let portao = Arc::new(Semaphore::new(0));
    let pedacos: Vec<String> = (0..6).map(|i| format!("parte{i} ")).collect();
    app.upstream.roteiro(Roteiro::Portao {
        pedacos: pedacos.clone(),
        portao: portao.clone(),
    });
    let a = app.cliente("ana").await;
    let ack = TestApp::enviar(&a, json!({ "conteudo": "explique" })).await;
    let conversa = id_conversa(&ack);

    // Three pieces out, as tab A sees.
    portao.add_permits(3);
    a.esperar("resposta_parcial", |v| {
        v["delta"].as_str().is_some_and(|d| d.contains("parte2"))
    })
    .await;

    let b = app.cliente("ana").await;
    let h = b
        .pedir("entrar_conversa", json!({ "conversa_id": conversa }))
        .await;
    let andamento = &h["resposta_em_andamento"];
    let id = andamento["mensagem_id"]
        .as_str()
        .expect("an answer is streaming")
        .to_owned();
    let ja = andamento["conteudo"]
        .as_str()
        .expect("text so far")
        .to_owned();
    assert_eq!(ja, pedacos[..3].concat());
    let listada = h["mensagens"]
        .as_array()
        .expect("mensagens")
        .last()
        .expect("last")
        .clone();
    assert_eq!(listada["status"], "gerando");
    assert_eq!(listada["conteudo"], ja.as_str());

    portao.add_permits(3);
    let (_, fim) = b.esperar_fim(&conversa).await;
    let depois: String = b
        .eventos_de("resposta_parcial")
        .iter()
        .map(|v| v["delta"].as_str().expect("delta").to_owned())
        .collect();
    assert_eq!(
        format!("{ja}{depois}"),
        pedacos.concat(),
        "nothing twice, nothing missing"
    );
    assert_eq!(fim["mensagem"]["conteudo"], pedacos.concat());
    assert_eq!(fim["mensagem"]["id"], id.as_str());
}

#[tokio::test]
async fn closing_every_tab_does_not_stop_the_answer() {
    let app = spawn_app().await;
    app.upstream
        .roteiro(Roteiro::lento(&["devagar ", "mas ", "chega."], 100));
    let a = app.cliente("ana").await;
    let ack = TestApp::enviar(&a, json!({ "conteudo": "pergunta" })).await;
    let conversa = id_conversa(&ack);
    a.esperar("resposta_iniciada", |_| true).await;
    a.desconectar().await;

    let b = app.cliente("ana").await;
    let fim = loop {
        let h = b
            .pedir("entrar_conversa", json!({ "conversa_id": conversa }))
            .await;
        let ultima = h["mensagens"][1].clone();
        if ultima["status"] == "completa" {
            break ultima;
        }
        b.esperar_fim(&conversa).await;
    };
    assert_eq!(fim["conteudo"], "devagar mas chega.");
}

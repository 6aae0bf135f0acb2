//! Messages sent back to back: stored in the order sent, answered one at a time in that order,
//! each answer built on the earlier ones.
use serde_json::json;

use crate::apoio::{Roteiro, TestApp, id_conversa, spawn_app};

#[tokio::test]
async fn three_quick_sends_are_stored_and_answered_in_order_each_prompt_holding_the_earlier_answers()
 {
    let app = spawn_app().await;
    let a = app.cliente("ana").await;
    let ack = TestApp::enviar(&a, json!({ "conteudo": "pergunta 0" })).await;
    let conversa = id_conversa(&ack);
    a.esperar_fins(1).await;
    for i in 1..=3 {
        app.upstream
            .roteiro(Roteiro::lento(&[&format!("resposta {i}")], 30));
    }

    // Three sends without waiting for their acks.
    let mut acks = Vec::new();
    for i in 1..=3 {
        acks.push(
            a.emitir_sem_esperar(
                "mensagem_enviada",
                json!({ "conversa_id": conversa, "conteudo": format!("pergunta {i}") }),
            )
            .await,
        );
    }
    for rx in acks {
        let ack = tokio::time::timeout(std::time::Duration::from_secs(10), rx)
            .await
            .expect("ack")
            .expect("ack");
        assert_eq!(ack["ok"], true);
    }
    let fins = a.esperar_fins(4).await;
    let textos: Vec<_> = fins[1..]
        .iter()
        .map(|(_, v)| v["mensagem"]["conteudo"].clone())
        .collect();
    assert_eq!(
        textos,
        vec![
            json!("resposta 1"),
            json!("resposta 2"),
            json!("resposta 3")
        ]
    );

    let h = a
        .pedir("entrar_conversa", json!({ "conversa_id": conversa }))
        .await;
    let alunos: Vec<_> = h["mensagens"]
        .as_array()
        .expect("m")
        .iter()
        .filter(|m| m["papel"] == "aluno")
        .map(|m| m["conteudo"].clone())
        .collect();
    assert_eq!(
        alunos,
        vec![
            json!("pergunta 0"),
            json!("pergunta 1"),
            json!("pergunta 2"),
            json!("pergunta 3")
        ]
    );

    let pedidos = app.upstream.esperar_pedidos(4).await;
    let ultimo: Vec<(String, String)> = pedidos[3]["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .skip(1)
        .map(|m| {
            (
                m["role"].as_str().expect("role").into(),
                m["content"].as_str().expect("c").into(),
            )
        })
        .collect();
    let esperado: Vec<(String, String)> = [
        ("user", "pergunta 0"),
        ("assistant", "Uma fração representa partes de um todo."),
        ("user", "pergunta 1"),
        ("assistant", "resposta 1"),
        ("user", "pergunta 2"),
        ("assistant", "resposta 2"),
        ("user", "pergunta 3"),
    ]
    .iter()
    .map(|(r, c)| (r.to_string(), c.to_string()))
    .collect();
    assert_eq!(ultimo, esperado);
}

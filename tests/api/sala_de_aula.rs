//! A school as it meets the server: a whole school behind one NAT address, a professor
//! following several classes. Default limits, as a deployment has them.
use std::time::Instant;

use futures::future::join_all;
use serde_json::json;

use crate::apoio::{Cliente, TestApp, id_conversa, limites_padrao, spawn_app_with};

/// Students in a school that opens the app together.
const ESCOLA: usize = 300;

#[tokio::test]
async fn a_whole_school_behind_one_address_connects_at_once_and_everyone_is_answered() {
    let app = spawn_app_with(limites_padrao).await;
    let inicio = Instant::now();
    // Every socket comes from 127.0.0.1, as a school's do from its NAT address; the client
    // does not reconnect, so a refused handshake fails here instead of being retried.
    let alunos: Vec<Cliente> = join_all((0..ESCOLA).map(|i| {
        let (url, token) = (app.url.clone(), app.token(&format!("aluno{i}")));
        async move { Cliente::conectar(&url, &token).await }
    }))
    .await
    .into_iter()
    .enumerate()
    .map(|(i, c)| c.unwrap_or_else(|e| panic!("student {i} was refused: {e}")))
    .collect();
    println!("{ESCOLA} students connected in {:?}", inicio.elapsed());

    let acks = join_all(alunos.iter().enumerate().map(|(i, c)| async move {
        let ack = c
            .pedir(
                "mensagem_enviada",
                json!({ "conteudo": format!("pergunta do aluno {i}") }),
            )
            .await;
        assert_eq!(ack["ok"], true, "student {i}: {ack}");
        id_conversa(&ack)
    }))
    .await;
    for (c, conversa) in alunos.iter().zip(&acks) {
        let (evento, fim) = c.esperar_fim(conversa).await;
        assert_eq!(evento, "mensagem_respondida", "{fim}");
        assert_eq!(fim["mensagem"]["status"], "completa");
        assert!(
            c.eventos_de("resposta_parcial")
                .iter()
                .all(|p| p["conversa_id"] == *conversa),
            "a student saw pieces of someone else's answer"
        );
    }
}

#[tokio::test]
async fn a_professor_follows_three_classes_at_once_but_a_runaway_client_is_bounded() {
    let app = spawn_app_with(limites_padrao).await;
    // Three classes of 40: 40 students with a conversation in each subject.
    let mut conversas = Vec::new();
    for i in 0..40 {
        let aluno = app.cliente(&format!("aluno{i}")).await;
        for materia in ["frações", "verbos", "células"] {
            let ack = TestApp::enviar(&aluno, json!({ "conteudo": materia })).await;
            conversas.push(id_conversa(&ack));
        }
    }
    let professora = Cliente::conectar(&app.url, &app.token_professor("prof"))
        .await
        .expect("connects");
    // One join each, back to back, as the class view opens (one at a time: rust_socketio
    // draws ack ids from a small random range and mixes up acks whose ids collide).
    for c in &conversas {
        let ack = professora
            .pedir("entrar_conversa", json!({ "conversa_id": c }))
            .await;
        assert_eq!(ack["ok"], true, "joining {c}: {ack}");
    }
    // A client stuck in a loop of joins is still stopped.
    let mut recusado = None;
    for i in 0..2_000 {
        let r = professora
            .pedir(
                "entrar_conversa",
                json!({ "conversa_id": conversas[i % 120] }),
            )
            .await;
        if r["ok"] == false {
            recusado = Some(r);
            break;
        }
    }
    let r = recusado.expect("a runaway loop of joins is refused at some point");
    assert_eq!(r["erro"]["codigo"], "limite_excedido", "{r}");
}

//! A student's conversation, end to end.
use serde_json::json;

use crate::apoio::{PADRAO, TestApp, spawn_app};

#[tokio::test]
async fn a_message_is_stored_acked_then_answered_piece_by_piece() {
    let app = spawn_app().await;
    let aluno = app.cliente("ana").await;
    let texto = "Olá\u{0} tutor 😀, o que é uma fração?";

    let ack = TestApp::enviar(&aluno, json!({ "conteudo": texto })).await;
    let conversa = ack["conversa_id"].as_str().expect("conversa_id").to_owned();
    assert_eq!(
        ack["mensagem"]["conteudo"], texto,
        "text comes back byte-exact"
    );
    assert_eq!(ack["mensagem"]["papel"], "aluno");
    assert_eq!(ack["mensagem"]["status"], "completa");
    assert_eq!(ack["mensagem"]["conversa_id"], conversa.as_str());

    let (ev, fim) = aluno.esperar_fim(&conversa).await;
    assert_eq!(ev, "mensagem_respondida", "{fim}");
    let resposta = &fim["mensagem"];
    assert_eq!(resposta["status"], "completa");
    assert_eq!(resposta["papel"], "tutor");
    let id = resposta["id"].as_str().expect("id");
    assert_eq!(resposta["conteudo"], PADRAO.concat());
    assert_eq!(
        aluno.texto_transmitido(id),
        PADRAO.concat(),
        "deltas add up to the answer"
    );
    let nomes = aluno.nomes();
    let inicio = nomes
        .iter()
        .position(|n| n == "resposta_iniciada")
        .expect("started");
    assert!(
        nomes[inicio..]
            .iter()
            .filter(|n| *n == "mensagem_respondida")
            .count()
            == 1,
        "{nomes:?}"
    );
    assert!(
        aluno.eventos_de("mensagem_recebida").is_empty(),
        "the sender does not get its own message back"
    );

    // The prompt: the system prompt first, the student's text as the user, nothing else.
    let pedidos = app.upstream.esperar_pedidos(1).await;
    let msgs = pedidos[0]["messages"].as_array().expect("messages");
    assert_eq!(msgs[0]["role"], "system");
    assert_eq!(msgs.last().expect("last")["role"], "user");
    assert_eq!(msgs.last().expect("last")["content"], texto);
    assert_eq!(pedidos[0]["model"], "modelo-teste");
    assert_eq!(pedidos[0]["stream"], true);

    // And it is all in the history.
    let h = aluno
        .pedir("entrar_conversa", json!({ "conversa_id": conversa }))
        .await;
    assert_eq!(h["ok"], true);
    let ms = h["mensagens"].as_array().expect("mensagens");
    assert_eq!(ms.len(), 2);
    assert_eq!(ms[0]["conteudo"], texto);
    assert_eq!(ms[1]["conteudo"], PADRAO.concat());
}

#[tokio::test]
async fn an_event_sent_the_moment_the_socket_connects_is_answered() {
    let app = spawn_app().await;
    // Many clients, each emitting as soon as its connect is acknowledged, all at once.
    let pedidos = (0..40).map(|i| {
        let (url, token) = (app.url.clone(), app.token(&format!("pressa-{i}")));
        tokio::spawn(async move {
            let c = crate::apoio::Cliente::conectar(&url, &token)
                .await
                .expect("connects");
            c.emit_ack("listar_conversas", None).await
        })
    });
    for p in futures::future::join_all(pedidos).await {
        assert_eq!(p.expect("task")["ok"], true);
    }
}

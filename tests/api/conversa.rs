//! A student's conversation, end to end.
use std::sync::Arc;

use serde_json::json;
use tokio::sync::Semaphore;

use crate::apoio::{PADRAO, TestApp, spawn_app, spawn_app_with};

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

#[tokio::test]
async fn the_ack_reaches_the_sender_before_any_event_about_its_message() {
    let app = spawn_app().await;
    let aluno = app.cliente("ana").await;
    // Answers as fast as the model can: their events race the ack if anything can.
    for i in 0..5 {
        app.upstream.roteiro(crate::apoio::Roteiro::Responder {
            pedacos: vec![format!("resposta {i}")],
            atraso: std::time::Duration::ZERO,
            finish: "stop",
        });
    }
    let (ack, antes) = aluno
        .pedir_marcando("mensagem_enviada", json!({ "conteudo": "pergunta 0" }))
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(antes, 0, "events came before the ack: {:?}", aluno.nomes());
    let conversa = crate::apoio::id_conversa(&ack);
    aluno.esperar_fins(1).await;
    for i in 1..5 {
        let (ack, antes) = aluno
            .pedir_marcando(
                "mensagem_enviada",
                json!({ "conversa_id": conversa, "conteudo": format!("pergunta {i}") }),
            )
            .await;
        assert_eq!(ack["ok"], true, "{ack}");
        let fins = aluno.esperar_fins(i + 1).await;
        assert_eq!(fins[i].1["mensagem"]["conteudo"], format!("resposta {i}"));
        let eventos = aluno.eventos();
        let inicio = eventos
            .iter()
            .rposition(|(n, _)| n == "resposta_iniciada")
            .expect("started");
        assert!(
            inicio >= antes,
            "send {i}: resposta_iniciada (event {inicio}) came before the ack (after {antes} events)"
        );
    }
}

/// RFC 3339, UTC, with at least millisecond precision.
fn instante(v: &serde_json::Value, campo: &str) -> chrono::DateTime<chrono::FixedOffset> {
    let s = v[campo]
        .as_str()
        .unwrap_or_else(|| panic!("{campo} is a string: {v}"));
    let t = chrono::DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{campo} = {s:?} is not RFC 3339: {e}"));
    assert_eq!(
        t.offset().local_minus_utc(),
        0,
        "{campo} = {s:?} is not UTC"
    );
    let fracao = s
        .split_once('.')
        .map(|(_, f)| f.chars().take_while(char::is_ascii_digit).count())
        .unwrap_or(0);
    assert!(fracao >= 3, "{campo} = {s:?} has no milliseconds");
    t
}

fn uuid(v: &serde_json::Value, campo: &str) -> uuid::Uuid {
    uuid::Uuid::parse_str(v[campo].as_str().unwrap_or_else(|| panic!("{campo}: {v}")))
        .unwrap_or_else(|e| panic!("{campo} is not a UUID: {e}"))
}

#[tokio::test]
async fn every_object_has_the_shape_the_protocol_promises() {
    let app = spawn_app().await;
    let a = app.cliente("ana").await;
    let b = app.cliente("ana").await;
    let ack = TestApp::enviar(
        &a,
        json!({ "conteudo": "Quanto é dois mais dois?", "id_cliente": "c-1" }),
    )
    .await;
    let conversa = uuid(&ack, "conversa_id");
    let m = &ack["mensagem"];
    assert_eq!(uuid(m, "conversa_id"), conversa);
    uuid(m, "id");
    assert_eq!(m["id_cliente"], "c-1");
    let enviada_em = instante(m, "criada_em");

    let criada = b.esperar("conversa_criada", |_| true).await;
    let c = &criada["conversa"];
    assert_eq!(uuid(c, "id"), conversa);
    assert_eq!(c["titulo"], "Quanto é dois mais dois?");
    instante(c, "criada_em");
    instante(c, "atualizada_em");

    let iniciada = a.esperar("resposta_iniciada", |_| true).await;
    assert_eq!(uuid(&iniciada, "conversa_id"), conversa);
    let resposta_id = uuid(&iniciada, "mensagem_id");
    let parcial = a.esperar("resposta_parcial", |_| true).await;
    assert_eq!(uuid(&parcial, "conversa_id"), conversa);
    assert_eq!(uuid(&parcial, "mensagem_id"), resposta_id);
    assert_eq!(parcial["indice"], 0);
    assert!(parcial["delta"].is_string());

    let (_, fim) = a.esperar_fim(&conversa.to_string()).await;
    assert_eq!(uuid(&fim, "conversa_id"), conversa);
    let r = &fim["mensagem"];
    assert_eq!(
        uuid(r, "id"),
        resposta_id,
        "the answer started is the one stored"
    );
    assert_eq!(uuid(r, "conversa_id"), conversa);
    assert_eq!(r["papel"], "tutor");
    assert!(
        instante(r, "criada_em") >= enviada_em,
        "the answer comes after the question"
    );

    let h = b
        .pedir(
            "entrar_conversa",
            json!({ "conversa_id": conversa.to_string() }),
        )
        .await;
    assert_eq!(h["ok"], true);
    assert_eq!(uuid(&h["conversa"], "id"), conversa);
    assert!(
        h.get("resposta_em_andamento").is_none_or(|v| v.is_null()),
        "nothing streams now: {h}"
    );
    assert_eq!(
        h["mensagens"][0], ack["mensagem"],
        "the ack's message is the stored one"
    );
    assert_eq!(
        h["mensagens"][1], fim["mensagem"],
        "the event's answer is the stored one"
    );
    let l = b.emit_ack("listar_conversas", None).await;
    let listada = &l["conversas"][0];
    assert_eq!(uuid(listada, "id"), conversa);
    assert!(instante(listada, "atualizada_em") >= instante(listada, "criada_em"));
}

#[tokio::test]
async fn answers_in_two_conversations_stream_side_by_side() {
    let app = spawn_app().await;
    let portao = Arc::new(Semaphore::new(1));
    app.upstream.roteiro(crate::apoio::Roteiro::Portao {
        pedacos: vec!["lenta ".into(), "termina".into()],
        portao: portao.clone(),
    });
    let a = app.cliente("ana").await;
    let lenta = crate::apoio::id_conversa(
        &TestApp::enviar(&a, json!({ "conteudo": "uma pergunta difícil" })).await,
    );
    a.esperar("resposta_parcial", |v| v["conversa_id"] == lenta.as_str())
        .await;

    // The first answer is held mid-stream; another conversation is answered meanwhile.
    let rapida = crate::apoio::id_conversa(
        &TestApp::enviar(&a, json!({ "conteudo": "uma pergunta fácil" })).await,
    );
    let (ev, fim) = a.esperar_fim(&rapida).await;
    assert_eq!(ev, "mensagem_respondida", "{fim}");
    assert_eq!(fim["mensagem"]["conteudo"], PADRAO.concat());

    portao.add_permits(1);
    let (ev, fim) = a.esperar_fim(&lenta).await;
    assert_eq!(ev, "mensagem_respondida", "{fim}");
    assert_eq!(fim["mensagem"]["conteudo"], "lenta termina");
}

#[tokio::test]
async fn a_message_sent_while_an_answer_streams_is_acked_at_once_and_answered_next() {
    let app = spawn_app().await;
    let portao = Arc::new(Semaphore::new(1));
    app.upstream.roteiro(crate::apoio::Roteiro::Portao {
        pedacos: vec!["primeira ".into(), "resposta".into()],
        portao: portao.clone(),
    });
    app.upstream
        .roteiro(crate::apoio::Roteiro::texto(&["segunda resposta"]));
    let a = app.cliente("ana").await;
    let b = app.cliente("ana").await;
    let conversa =
        crate::apoio::id_conversa(&TestApp::enviar(&a, json!({ "conteudo": "um" })).await);
    a.esperar("resposta_parcial", |_| true).await;
    b.pedir("entrar_conversa", json!({ "conversa_id": conversa }))
        .await;

    // The first answer cannot move: this ack must not wait for it.
    let ack = TestApp::enviar(&a, json!({ "conversa_id": conversa, "conteudo": "dois" })).await;
    b.esperar("mensagem_recebida", |v| {
        v["mensagem"]["id"] == ack["mensagem"]["id"]
    })
    .await;
    let h = b
        .pedir("entrar_conversa", json!({ "conversa_id": conversa }))
        .await;
    let ms = h["mensagens"].as_array().expect("mensagens");
    assert_eq!(ms.len(), 3, "stored at once, answered later: {h}");
    assert_eq!(ms[1]["status"], "gerando");
    assert_eq!(ms[2]["conteudo"], "dois");
    assert_eq!(app.upstream.pedidos().len(), 1, "one answer at a time");

    portao.add_permits(1);
    let fins = a.esperar_fins(2).await;
    assert_eq!(fins[0].1["mensagem"]["conteudo"], "primeira resposta");
    assert_eq!(fins[1].1["mensagem"]["conteudo"], "segunda resposta");
    let segundo = &app.upstream.esperar_pedidos(2).await[1]["messages"];
    let ultimo = segundo.as_array().expect("messages");
    assert_eq!(ultimo[ultimo.len() - 2]["content"], "primeira resposta");
    assert_eq!(ultimo[ultimo.len() - 1]["content"], "dois");
}

#[tokio::test]
async fn a_whole_conversation_over_long_polling() {
    let app = spawn_app().await;
    let a = crate::apoio::Cliente::conectar_via(
        &app.url,
        &app.token("ana"),
        rust_socketio::TransportType::Polling,
    )
    .await
    .expect("connects over polling");
    let ack = TestApp::enviar(&a, json!({ "conteudo": "por polling" })).await;
    let conversa = crate::apoio::id_conversa(&ack);
    let (ev, fim) = a.esperar_fim(&conversa).await;
    assert_eq!(ev, "mensagem_respondida");
    let id = fim["mensagem"]["id"].as_str().expect("id");
    assert_eq!(a.texto_transmitido(id), PADRAO.concat());
    let h = a
        .pedir("entrar_conversa", json!({ "conversa_id": conversa }))
        .await;
    assert_eq!(h["mensagens"].as_array().expect("m").len(), 2);
}

#[tokio::test]
async fn a_long_history_is_trimmed_from_the_oldest_end_but_the_question_always_goes() {
    let app =
        spawn_app_with(|a| crate::apoio::definir(a, "--historico-max-caracteres", "120")).await;
    let a = app.cliente("ana").await;
    let conversa = crate::apoio::id_conversa(
        &TestApp::enviar(
            &a,
            json!({ "conteudo": format!("antiga {}", "a".repeat(60)) }),
        )
        .await,
    );
    a.esperar_fins(1).await;
    TestApp::enviar(
        &a,
        json!({ "conversa_id": conversa, "conteudo": "recente" }),
    )
    .await;
    a.esperar_fins(2).await;
    let longa = "z".repeat(500);
    TestApp::enviar(&a, json!({ "conversa_id": conversa, "conteudo": longa })).await;
    a.esperar_fins(3).await;

    let pedidos = app.upstream.esperar_pedidos(3).await;
    let linhas = |i: usize| -> Vec<(String, String)> {
        pedidos[i]["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .map(|m| {
                (
                    m["role"].as_str().expect("role").to_owned(),
                    m["content"].as_str().expect("content").to_owned(),
                )
            })
            .collect()
    };
    // Second prompt: "recente" (7) + the first pair (67 + 40) fits 120.
    let segundo = linhas(1);
    assert_eq!(segundo[0].0, "system");
    assert_eq!(segundo.len(), 4, "{segundo:?}");
    assert_eq!(segundo[3], ("user".into(), "recente".into()));
    // Third: the 500-character question alone is over budget; it goes, and nothing older.
    let terceiro = linhas(2);
    assert_eq!(terceiro.len(), 2, "{terceiro:?}");
    assert_eq!(terceiro[0].0, "system");
    assert_eq!(terceiro[1], ("user".into(), longa));
}

#[tokio::test]
async fn whitespace_on_both_sides_is_kept_exactly() {
    let app = spawn_app().await;
    let pedacos = [
        "\n",
        "  # Título\r\n\r\n",
        "- item\t",
        " ",
        "",
        "\u{0}fim  \n",
    ];
    app.upstream.roteiro(crate::apoio::Roteiro::texto(&pedacos));
    let a = app.cliente("ana").await;
    let texto = "  \r\n  olhe os espaços\t \n\n";
    let ack = TestApp::enviar(&a, json!({ "conteudo": texto })).await;
    assert_eq!(ack["mensagem"]["conteudo"], texto);
    let conversa = crate::apoio::id_conversa(&ack);
    let (_, fim) = a.esperar_fim(&conversa).await;
    let id = fim["mensagem"]["id"].as_str().expect("id");
    assert_eq!(fim["mensagem"]["conteudo"], pedacos.concat());
    assert_eq!(a.texto_transmitido(id), pedacos.concat());
    let pedidos = app.upstream.esperar_pedidos(1).await;
    let msgs = pedidos[0]["messages"].as_array().expect("messages");
    assert_eq!(
        msgs.last().expect("last")["content"],
        texto,
        "sent upstream as typed"
    );
    let h = a
        .pedir("entrar_conversa", json!({ "conversa_id": conversa }))
        .await;
    assert_eq!(h["mensagens"][0]["conteudo"], texto);
    assert_eq!(h["mensagens"][1]["conteudo"], pedacos.concat());
}

#[tokio::test]
async fn a_local_model_needs_only_its_base_url() {
    let app = spawn_app_with(|a| {
        let i = a
            .iter()
            .position(|x| x == "--openai-api-key")
            .expect("the key flag");
        a.drain(i..i + 2);
    })
    .await;
    let a = app.cliente("ana").await;
    let ack = TestApp::enviar(&a, json!({ "conteudo": "oi, ollama" })).await;
    let (ev, fim) = a.esperar_fim(&crate::apoio::id_conversa(&ack)).await;
    assert_eq!(ev, "mensagem_respondida", "{fim}");
    assert_eq!(
        fim["mensagem"]["conteudo"],
        PADRAO.concat(),
        "the model answered, not the demo"
    );
    assert_eq!(app.upstream.pedidos().len(), 1);
}

#[tokio::test]
async fn many_students_at_once_each_get_their_own_answer_and_nothing_else() {
    let app = spawn_app().await;
    let n = 8;
    for _ in 0..n {
        app.upstream.roteiro(crate::apoio::Roteiro::Eco {
            atraso: std::time::Duration::from_millis(2),
        });
    }
    let alunos = futures::future::join_all((0..n).map(|i| {
        let (url, token) = (app.url.clone(), app.token(&format!("aluno-{i}")));
        async move {
            crate::apoio::Cliente::conectar(&url, &token)
                .await
                .expect("connects")
        }
    }))
    .await;
    let envios = alunos.iter().enumerate().map(|(i, c)| async move {
        let texto = format!("pergunta exclusiva do aluno {i}");
        let ack = TestApp::enviar(c, json!({ "conteudo": texto })).await;
        let conversa = crate::apoio::id_conversa(&ack);
        let (ev, fim) = c.esperar_fim(&conversa).await;
        (texto, conversa, ev, fim)
    });
    for (i, (texto, conversa, ev, fim)) in futures::future::join_all(envios)
        .await
        .into_iter()
        .enumerate()
    {
        let c = &alunos[i];
        assert_eq!(ev, "mensagem_respondida", "{fim}");
        assert_eq!(fim["mensagem"]["conteudo"], format!("eco: {texto}"));
        let id = fim["mensagem"]["id"].as_str().expect("id");
        assert_eq!(c.texto_transmitido(id), format!("eco: {texto}"));
        let alheios: Vec<_> = c
            .eventos()
            .into_iter()
            .filter(|(_, v)| v.get("conversa_id").is_some_and(|x| x != conversa.as_str()))
            .collect();
        assert!(
            alheios.is_empty(),
            "aluno {i} got others' events: {alheios:?}"
        );
    }
}

//! Group commit: sends that arrive together are written in one transaction, each acked
//! only once it is durable, and a retry in the batch (its `id_cliente` already stored, or
//! stored by another send of the same batch) fails neither itself nor the others.
use std::{collections::HashMap, sync::Arc, time::Duration};

use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::{
    apoio::{
        Cliente, Roteiro, TestApp, banco, definir, id_conversa, spawn_app, spawn_app_with,
        textos_do_aluno,
    },
    metricas::{raspar, soma},
};

#[tokio::test]
async fn sends_held_behind_a_lock_commit_together_and_a_retry_among_them_fails_nobody() {
    let app = spawn_app().await;
    let ana = app.cliente("ana-lote").await;
    let original = TestApp::enviar(
        &ana,
        json!({ "conteudo": "a primeira", "id_cliente": "lote-original" }),
    )
    .await;
    let conversa = id_conversa(&original);
    ana.esperar_fins(1).await;
    let (_, antes) = raspar(&app).await;

    // Another tab of Ana's and two other students, each on its own socket, so that nothing
    // orders their sends: they wait behind the lock together.
    let aba = app.cliente("ana-lote").await;
    let bia = app.cliente("bia-lote").await;
    let caio = app.cliente("caio-lote").await;
    let trava = banco::travar_escritas(&app.db_url).await;
    let envios = vec![
        ana.emitir_sem_esperar(
            "mensagem_enviada",
            json!({ "conversa_id": conversa, "conteudo": "segunda", "id_cliente": "lote-dupla" }),
        )
        .await,
        aba.emitir_sem_esperar(
            "mensagem_enviada",
            json!({ "conversa_id": conversa, "conteudo": "segunda", "id_cliente": "lote-dupla" }),
        )
        .await,
        bia.emitir_sem_esperar("mensagem_enviada", json!({ "conteudo": "da bia" }))
            .await,
        caio.emitir_sem_esperar(
            "mensagem_enviada",
            json!({ "conteudo": "a primeira", "id_cliente": "lote-original" }),
        )
        .await,
        // A retry of what was stored before the lock, in the same batch.
        aba.emitir_sem_esperar(
            "mensagem_enviada",
            json!({ "conteudo": "a primeira", "id_cliente": "lote-original" }),
        )
        .await,
    ];
    tokio::time::sleep(Duration::from_millis(400)).await;
    trava.soltar().await;
    let acks = acks_ok(envios).await;
    let id = |a: &Value| a["mensagem"]["id"].as_str().expect("id").to_owned();
    // Two tabs racing one id_cliente: one message, both acked with it.
    assert_eq!(id(&acks[0]), id(&acks[1]));
    // Caio's id_cliente is his own: a new message, not Ana's.
    assert_ne!(id(&acks[3]), id(&original));
    // Ana's retry gets what was stored the first time.
    assert_eq!(id(&acks[4]), id(&original));

    let h = ana
        .pedir("entrar_conversa", json!({ "conversa_id": conversa }))
        .await;
    assert_eq!(textos_do_aluno(&h), ["a primeira", "segunda"], "{h}");

    // Four sends, each needing a write, went to the database in fewer transactions.
    let (corpo, depois) = raspar(&app).await;
    let escritas =
        soma(&depois, "tutor_db_lote_tamanho_sum") - soma(&antes, "tutor_db_lote_tamanho_sum");
    let lotes =
        soma(&depois, "tutor_db_lote_tamanho_count") - soma(&antes, "tutor_db_lote_tamanho_count");
    assert!(escritas >= 4.0, "{corpo}");
    assert!(
        lotes < escritas,
        "no batch held more than one write: {corpo}"
    );
}

#[tokio::test]
async fn new_rows_written_together_are_each_numbered_and_mark_their_conversation_active() {
    let app = spawn_app().await;
    let ana = app.cliente("ana-juntas").await;
    let a = TestApp::enviar(&ana, json!({ "conteudo": "conversa a" })).await;
    let conversa_a = id_conversa(&a);
    ana.esperar_fins(1).await;
    let b = TestApp::enviar(&ana, json!({ "conteudo": "conversa b" })).await;
    let conversa_b = id_conversa(&b);
    ana.esperar_fins(2).await;
    let ids = |l: &Value| -> Vec<String> {
        l["conversas"]
            .as_array()
            .expect("conversas")
            .iter()
            .map(|c| c["id"].as_str().expect("id").to_owned())
            .collect()
    };
    let l = ana.emit_ack("listar_conversas", None).await;
    assert_eq!(ids(&l), [conversa_b.clone(), conversa_a.clone()], "{l}");

    // The answers to what is sent next hold their pieces: no answer's end touches a
    // conversation while the test looks.
    let portao = Arc::new(Semaphore::new(0));
    for _ in 0..4 {
        app.upstream.roteiro(Roteiro::Portao {
            pedacos: vec!["espera".into()],
            portao: portao.clone(),
        });
    }
    let bia = app.cliente("bia-juntas").await;
    let caio = app.cliente("caio-juntas").await;
    let dan = app.cliente("dan-juntas").await;
    // The writer waits behind the lock with Dan's message, and takes the next three together.
    let (trava, primeiro, antes) = prender_o_escritor(&app, &dan).await;
    let envios = vec![
        ana.emitir_sem_esperar(
            "mensagem_enviada",
            json!({ "conversa_id": conversa_a, "conteudo": "de volta à a" }),
        )
        .await,
        bia.emitir_sem_esperar("mensagem_enviada", json!({ "conteudo": "nova da bia" }))
            .await,
        caio.emitir_sem_esperar("mensagem_enviada", json!({ "conteudo": "nova do caio" }))
            .await,
    ];
    tokio::time::sleep(Duration::from_millis(400)).await;
    trava.soltar().await;
    let acks = acks_ok(std::iter::once(primeiro).chain(envios).collect())
        .await
        .split_off(1);
    let (corpo, depois) = raspar(&app).await;
    assert!(
        lotes_de_mais_de_dois(&depois) > lotes_de_mais_de_dois(&antes),
        "the three sends behind Dan's were not written together: {corpo}"
    );

    // Ana's older conversation is her most recent now, dated by the message.
    let l = ana.emit_ack("listar_conversas", None).await;
    assert_eq!(ids(&l), [conversa_a.clone(), conversa_b], "{l}");
    assert_eq!(
        l["conversas"][0]["atualizada_em"], acks[0]["mensagem"]["criada_em"],
        "{l}"
    );
    let h = ana
        .pedir("entrar_conversa", json!({ "conversa_id": conversa_a }))
        .await;
    assert_eq!(textos_do_aluno(&h), ["conversa a", "de volta à a"], "{h}");
    // Each new conversation holds its own student's message, acked with its stored id.
    for (aluno, ack, texto) in [
        (&bia, &acks[1], "nova da bia"),
        (&caio, &acks[2], "nova do caio"),
    ] {
        let h = aluno
            .pedir(
                "entrar_conversa",
                json!({ "conversa_id": id_conversa(ack) }),
            )
            .await;
        assert_eq!(textos_do_aluno(&h), [texto], "{h}");
        let guardada = h["mensagens"]
            .as_array()
            .expect("mensagens")
            .iter()
            .find(|m| m["conteudo"] == texto)
            .expect("the message");
        assert_eq!(guardada["id"], ack["mensagem"]["id"], "{h}");
    }
    portao.add_permits(4);
    dan.esperar_fins(1).await;
    ana.esperar_fins(3).await;
    bia.esperar_fins(1).await;
    caio.esperar_fins(1).await;
}

#[tokio::test]
async fn answers_that_end_together_are_each_stored_dated_and_counted() {
    let app = spawn_app_with(|a| definir(a, "--tokens-por-dia", "100000")).await;
    let portao = Arc::new(Semaphore::new(0));
    for _ in 0..4 {
        app.upstream.roteiro(Roteiro::PortaoComUso {
            pedacos: vec!["uma ".into(), "resposta".into()],
            portao: portao.clone(),
            total_tokens: 30,
        });
    }
    let ana = app.cliente("ana-fins").await;
    let bia = app.cliente("bia-fins").await;
    let dan = app.cliente("dan-fins").await;
    let mut conversas = Vec::new();
    for (aluno, texto) in [(&ana, "a de ana"), (&ana, "b de ana"), (&bia, "a de bia")] {
        let id = id_conversa(&TestApp::enviar(aluno, json!({ "conteudo": texto })).await);
        aluno
            .esperar("resposta_iniciada", |e| e["conversa_id"] == id.as_str())
            .await;
        conversas.push((aluno, id));
    }

    // The three answers end while the writer waits behind the lock with Dan's message: their
    // final writes go to the database together.
    let (trava, de_dan, antes) = prender_o_escritor(&app, &dan).await;
    portao.add_permits(6);
    tokio::time::sleep(Duration::from_millis(300)).await;
    trava.soltar().await;
    ana.esperar_fins(2).await;
    bia.esperar_fins(1).await;
    let (corpo, depois) = raspar(&app).await;
    assert!(
        lotes_de_mais_de_dois(&depois) > lotes_de_mais_de_dois(&antes),
        "the three ends were not written together: {corpo}"
    );

    for (aluno, id) in &conversas {
        let h = aluno
            .pedir("entrar_conversa", json!({ "conversa_id": id }))
            .await;
        let ms = h["mensagens"].as_array().expect("mensagens");
        let resposta = ms.last().expect("the answer");
        assert_eq!(resposta["conteudo"], "uma resposta", "{h}");
        assert_eq!(resposta["status"], "completa", "{h}");
        // The conversation is dated by its answer's end, which came well after the answer's
        // start (the pieces waited for the gate, the write for the lock).
        let data = |v: &Value| v.as_str().expect("an instant").to_owned();
        assert!(
            data(&h["conversa"]["atualizada_em"]) > data(&resposta["criada_em"]),
            "{h}"
        );
    }
    // Each answer's usage counted once, two of them on Ana's day.
    let prof = Cliente::conectar(&app.url, &app.token_professor("prof-fins"))
        .await
        .expect("connects");
    let turma = prof.pedir("listar_turma", json!({})).await;
    let hoje = |usuario: &str| -> Vec<i64> {
        turma["conversas"]
            .as_array()
            .expect("conversas")
            .iter()
            .filter(|c| c["usuario"] == usuario)
            .map(|c| c["tokens_hoje"].as_i64().expect("tokens_hoje"))
            .collect()
    };
    assert_eq!(hoje("ana-fins"), [60, 60], "{turma}");
    assert_eq!(hoje("bia-fins"), [30], "{turma}");

    portao.add_permits(2);
    acks_ok(vec![de_dan]).await;
    dan.esperar_fins(1).await;
}

/// Takes the write lock and sends `bloqueador`'s message, which the writer then waits with:
/// whatever is written next queues behind it, and goes to the database together. Also the
/// metrics before.
async fn prender_o_escritor(
    app: &TestApp,
    bloqueador: &Cliente,
) -> (
    banco::Trava,
    tokio::sync::oneshot::Receiver<Value>,
    HashMap<String, f64>,
) {
    let trava = banco::travar_escritas(&app.db_url).await;
    let ack = bloqueador
        .emitir_sem_esperar("mensagem_enviada", json!({ "conteudo": "bloqueia" }))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, antes) = raspar(app).await;
    (trava, ack, antes)
}

/// Database batches that carried more than two writes.
fn lotes_de_mais_de_dois(m: &HashMap<String, f64>) -> f64 {
    soma(m, "tutor_db_lote_tamanho_count") - soma(m, "tutor_db_lote_tamanho_bucket{le=\"2\"}")
}

/// Each send's ack, within 10 s, and each one `ok`.
async fn acks_ok(envios: Vec<tokio::sync::oneshot::Receiver<Value>>) -> Vec<Value> {
    let mut acks = Vec::new();
    for rx in envios {
        let ack = tokio::time::timeout(Duration::from_secs(10), rx)
            .await
            .expect("an ack within 10 s")
            .expect("ack channel");
        assert_eq!(ack["ok"], true, "{ack}");
        acks.push(ack);
    }
    acks
}

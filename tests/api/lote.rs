//! Group commit: sends that arrive together are written in one transaction, each acked
//! only once it is durable, and a retry in the batch (its `id_cliente` already stored, or
//! stored by another send of the same batch) fails neither itself nor the others.
use std::{collections::HashMap, sync::Arc, time::Duration};

use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::{
    apoio::{Roteiro, TestApp, banco, id_conversa, spawn_app, textos_do_aluno},
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
    let mut acks: Vec<Value> = Vec::new();
    for rx in envios {
        let ack = tokio::time::timeout(Duration::from_secs(10), rx)
            .await
            .expect("an ack within 10 s")
            .expect("ack channel");
        assert_eq!(ack["ok"], true, "{ack}");
        acks.push(ack);
    }
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
    let trava = banco::travar_escritas(&app.db_url).await;
    // The writer waits behind the lock with Dan's message, and takes the next three together.
    let primeiro = dan
        .emitir_sem_esperar("mensagem_enviada", json!({ "conteudo": "do dan" }))
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (_, antes) = raspar(&app).await;
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
    let mut acks: Vec<Value> = Vec::new();
    for rx in std::iter::once(primeiro).chain(envios) {
        let ack = tokio::time::timeout(Duration::from_secs(10), rx)
            .await
            .expect("an ack within 10 s")
            .expect("ack channel");
        assert_eq!(ack["ok"], true, "{ack}");
        acks.push(ack);
    }
    let acks = acks.split_off(1);
    let (corpo, depois) = raspar(&app).await;
    let grandes = |m: &HashMap<String, f64>| {
        soma(m, "tutor_db_lote_tamanho_count") - soma(m, "tutor_db_lote_tamanho_bucket{le=\"2\"}")
    };
    assert!(
        grandes(&depois) > grandes(&antes),
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

//! Group commit: sends that arrive together are written in one transaction, each acked
//! only once it is durable, and a retry in the batch (its `id_cliente` already stored, or
//! stored by another send of the same batch) fails neither itself nor the others.
use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    apoio::{TestApp, banco, id_conversa, spawn_app, textos_do_aluno},
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

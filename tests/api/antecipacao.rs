//! On SQLite the model is asked while a student's message is still being flushed: the
//! request leaves early, but it is the one request of that message, with the prompt its
//! answer would have had anyway. When the prompt cannot be known yet (an answer still
//! streaming), nothing leaves early. On Postgres nothing ever does.
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::{
    apoio::{Roteiro, TestApp, banco, id_conversa, spawn_app},
    metricas::raspar,
};

const USADO: &str = "tutor_pedidos_antecipados_total{resultado=\"usado\"}";
const DESCARTADO: &str = "tutor_pedidos_antecipados_total{resultado=\"descartado\"}";

fn conteudos(pedido: &Value) -> Vec<(String, String)> {
    pedido["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| {
            let papel = m["role"].as_str().expect("role").to_owned();
            let texto = m["content"].as_str().expect("content").to_owned();
            (papel, texto)
        })
        .collect()
}

/// Until no conversation has an answer queued or streaming here (`tutor_fila_conversas`).
async fn esperar_ociosa(app: &TestApp) {
    for _ in 0..500 {
        let (_, a) = raspar(app).await;
        if a.get("tutor_fila_conversas") == Some(&0.0) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("a worker still holds a conversation 10 s after its answer ended");
}

#[tokio::test]
async fn an_idle_conversation_asks_the_model_once_per_message_with_the_usual_prompt() {
    let app = spawn_app().await;
    let sqlite = !banco::e_postgres(&app.db_url);
    app.upstream
        .roteiro(Roteiro::texto(&["sete ", "vezes oito"]));
    app.upstream
        .roteiro(Roteiro::texto(&["cinquenta ", "e seis"]));
    let ana = app.cliente("ana-antecipa").await;

    let ack = TestApp::enviar(&ana, json!({ "conteudo": "quanto é 7×8?" })).await;
    let conversa = id_conversa(&ack);
    ana.esperar_fins(1).await;
    // The end reaches the tab a moment before the worker lets go of the conversation; a
    // message sent in that moment rightly waits for it (nothing leaves early).
    esperar_ociosa(&app).await;
    TestApp::enviar(
        &ana,
        json!({ "conversa_id": conversa, "conteudo": "e por extenso?" }),
    )
    .await;
    let fins = ana.esperar_fins(2).await;
    assert_eq!(fins[0].1["mensagem"]["conteudo"], "sete vezes oito");
    assert_eq!(fins[1].1["mensagem"]["conteudo"], "cinquenta e seis");
    for (_, fim) in &fins {
        let id = fim["mensagem"]["id"].as_str().expect("id");
        assert_eq!(
            ana.texto_transmitido(id),
            fim["mensagem"]["conteudo"].as_str().expect("conteudo")
        );
    }

    let pedidos = app.upstream.pedidos();
    assert_eq!(
        pedidos.len(),
        2,
        "one model request per message: {pedidos:?}"
    );
    let segundo = conteudos(&pedidos[1]);
    let fim_do_segundo: Vec<_> = segundo[segundo.len() - 3..]
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    assert_eq!(
        fim_do_segundo,
        [
            ("user", "quanto é 7×8?"),
            ("assistant", "sete vezes oito"),
            ("user", "e por extenso?"),
        ],
        "the early request carries the history, answer included"
    );

    let (corpo, a) = raspar(&app).await;
    let esperado = if sqlite { 2.0 } else { 0.0 };
    assert_eq!(a.get(USADO), Some(&esperado), "{corpo}");
    assert_eq!(a.get(DESCARTADO), Some(&0.0), "{corpo}");
}

#[tokio::test]
async fn a_message_sent_while_an_answer_streams_waits_for_it_and_leaves_nothing_early() {
    let app = spawn_app().await;
    let portao = Arc::new(Semaphore::new(0));
    app.upstream.roteiro(Roteiro::Portao {
        pedacos: vec!["primeira ".into(), "resposta".into()],
        portao: portao.clone(),
    });
    app.upstream.roteiro(Roteiro::texto(&["segunda"]));
    let ana = app.cliente("ana-espera").await;
    let ack = TestApp::enviar(&ana, json!({ "conteudo": "um" })).await;
    let conversa = id_conversa(&ack);
    portao.add_permits(1);
    ana.esperar("resposta_parcial", |_| true).await;

    TestApp::enviar(&ana, json!({ "conversa_id": conversa, "conteudo": "dois" })).await;
    let (_, durante) = raspar(&app).await;
    assert_eq!(
        app.upstream.pedidos().len(),
        1,
        "the second prompt needs the first answer, which is not over"
    );
    portao.add_permits(1);
    let fins = ana.esperar_fins(2).await;
    assert_eq!(fins[0].1["mensagem"]["conteudo"], "primeira resposta");
    assert_eq!(fins[1].1["mensagem"]["conteudo"], "segunda");

    let pedidos = app.upstream.pedidos();
    assert_eq!(pedidos.len(), 2, "{pedidos:?}");
    let segundo = conteudos(&pedidos[1]);
    assert_eq!(segundo[segundo.len() - 2].1, "primeira resposta");
    assert_eq!(segundo[segundo.len() - 1].1, "dois");
    let (corpo, depois) = raspar(&app).await;
    assert_eq!(
        depois.get(USADO),
        durante.get(USADO),
        "nothing left early for the second message: {corpo}"
    );
    assert_eq!(depois.get(DESCARTADO), Some(&0.0), "{corpo}");
}

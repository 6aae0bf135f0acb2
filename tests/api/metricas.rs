//! An operator scrapes `GET /metrics`: counts of this server only, behind a token when one
//! is configured, and never a user, a conversation or a text.
use std::collections::HashMap;

use serde_json::json;

use crate::apoio::{TestApp, definir, id_conversa, spawn_app, spawn_app_with};

/// The samples of a Prometheus text exposition: `serie{rotulos}` → value.
pub(crate) fn amostras(texto: &str) -> HashMap<String, f64> {
    texto
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (serie, valor) = l.rsplit_once(' ').expect("`series value`");
            let valor = valor.parse().unwrap_or_else(|_| panic!("a number: {l}"));
            (serie.to_owned(), valor)
        })
        .collect()
}

/// The values of every series of `nome`, whatever their labels.
pub(crate) fn soma(a: &HashMap<String, f64>, nome: &str) -> f64 {
    a.iter()
        .filter(|(s, _)| s.as_str() == nome || s.starts_with(&format!("{nome}{{")))
        .map(|(_, v)| v)
        .sum()
}

pub(crate) async fn raspar(app: &TestApp) -> (String, HashMap<String, f64>) {
    let r = reqwest::get(format!("{}/metrics", app.url))
        .await
        .expect("get /metrics");
    assert_eq!(r.status(), 200);
    let tipo = r.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(tipo.starts_with("text/plain; version=0.0.4"), "{tipo}");
    let texto = r.text().await.expect("body");
    let a = amostras(&texto);
    (texto, a)
}

#[tokio::test]
async fn an_answered_message_shows_in_the_counts_without_who_or_what() {
    let app = spawn_app().await;
    let aluna = app.cliente("ana-metricas").await;
    let texto = "Quanto é sete vezes oito, tutor-metricas?";
    let ack = TestApp::enviar(&aluna, json!({ "conteudo": texto })).await;
    let conversa = id_conversa(&ack);
    let (ev, _) = aluna.esperar_fim(&conversa).await;
    assert_eq!(ev, "mensagem_respondida");
    let recusado = aluna
        .pedir("mensagem_enviada", json!({ "conteudo": 7 }))
        .await;
    assert_eq!(recusado["erro"]["codigo"], "entrada_invalida");

    let (corpo, a) = raspar(&app).await;
    assert!(soma(&a, "tutor_sockets") >= 1.0, "{corpo}");
    assert_eq!(a.get("tutor_sockets{transporte=\"websocket\"}"), Some(&1.0));
    assert_eq!(a.get("tutor_salas"), Some(&1.0), "the conversation's room");
    assert_eq!(a.get("tutor_envios_total{resultado=\"ok\"}"), Some(&1.0));
    assert_eq!(
        a.get("tutor_envios_total{resultado=\"entrada_invalida\"}"),
        Some(&1.0)
    );
    if cfg!(target_os = "linux") {
        assert!(a["tutor_process_resident_memory_bytes"] > 0.0, "{corpo}");
        assert!(a.contains_key("tutor_process_cpu_seconds_total"), "{corpo}");
    }
    for segredo in ["ana-metricas", conversa.as_str(), "tutor-metricas"] {
        assert!(!corpo.contains(segredo), "{segredo} leaked into\n{corpo}");
    }
}

#[tokio::test]
async fn with_a_token_configured_only_its_bearer_may_scrape() {
    let app = spawn_app_with(|a| definir(a, "--metricas-token", "segredo-das-metricas")).await;
    let http = reqwest::Client::new();
    let url = format!("{}/metrics", app.url);
    let sem = http.get(&url).send().await.expect("get");
    assert_eq!(sem.status(), 401);
    for errado in [
        "Bearer outro",
        "Bearer segredo-das-metricass",
        "segredo-das-metricas",
    ] {
        let r = http
            .get(&url)
            .header("Authorization", errado)
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), 401, "{errado}");
    }
    let certo = http
        .get(&url)
        .bearer_auth("segredo-das-metricas")
        .send()
        .await
        .expect("get");
    assert_eq!(certo.status(), 200);
    let a = amostras(&certo.text().await.expect("body"));
    assert!(a.contains_key("tutor_sockets_lentos_total"));
}

#[tokio::test]
async fn two_servers_in_one_process_keep_their_own_counts() {
    let (um, outro) = tokio::join!(spawn_app(), spawn_app());
    let aluno = um.cliente("bia").await;
    let ack = TestApp::enviar(&aluno, json!({ "conteudo": "oi" })).await;
    aluno.esperar_fim(&id_conversa(&ack)).await;

    let (_, a) = raspar(&um).await;
    let (_, b) = raspar(&outro).await;
    assert_eq!(a.get("tutor_envios_total{resultado=\"ok\"}"), Some(&1.0));
    assert_eq!(soma(&b, "tutor_envios_total"), 0.0);
    assert_eq!(soma(&a, "tutor_sockets"), 1.0);
    assert_eq!(soma(&b, "tutor_sockets"), 0.0);
}

#[tokio::test]
async fn refused_handshakes_are_counted() {
    let app = spawn_app_with(|a| {
        definir(a, "--handshakes-por-segundo", "1");
        definir(a, "--handshakes-rajada", "2");
    })
    .await;
    let http = reqwest::Client::new();
    let mut recusas = 0.0;
    for _ in 0..5 {
        let r = http
            .get(format!("{}/socket.io/?EIO=4&transport=polling", app.url))
            .send()
            .await
            .expect("get");
        if r.status() == 429 {
            recusas += 1.0;
        }
    }
    assert!(recusas >= 1.0, "the budget of 2 was spent");
    let (_, a) = raspar(&app).await;
    assert_eq!(a.get("tutor_handshakes_recusados_total"), Some(&recusas));
}

//! Plain HTTP beside the sockets.
use crate::apoio::spawn_app;

#[tokio::test]
async fn health_and_ready_answer_200_while_serving() {
    let app = spawn_app().await;
    let h = reqwest::get(format!("{}/health", app.url))
        .await
        .expect("health");
    assert_eq!(h.status(), 200);
    let r = reqwest::get(format!("{}/ready", app.url))
        .await
        .expect("ready");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn the_demo_token_endpoint_does_not_exist_with_a_configured_secret() {
    let app = spawn_app().await;
    let r = reqwest::get(format!("{}/dev/token?sub=ana", app.url))
        .await
        .expect("get");
    assert_eq!(r.status(), 404);
}

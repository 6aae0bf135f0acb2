//! The lease that keeps one answer at a time per conversation across processes, on the real
//! database (SQLite here, Postgres in the suite's second run): a lease held and renewed is
//! nobody else's, an expired one is anyone's, and a process only renews and gives back its
//! own.
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::Database;
use tutor::storage::{
    list_arrendadas, list_arrendamentos_vencidos, renovar_arrendamentos, soltar_arrendamento,
    tomar_arrendamento,
};
use uuid::Uuid;

use crate::apoio::banco;

#[tokio::test]
async fn a_lease_is_one_processs_until_it_expires_or_is_given_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Database::connect(&banco::novo(dir.path()).await)
        .await
        .expect("connect");
    Migrator::up(&db, None).await.expect("migrate");
    let c = Uuid::now_v7();
    let t0 = 1_000_000;

    assert!(
        tomar_arrendamento(&db, c, "a", t0, t0 + 3000)
            .await
            .expect("take")
    );
    assert!(
        !tomar_arrendamento(&db, c, "b", t0 + 1000, t0 + 4000)
            .await
            .expect("take"),
        "held and not expired: not b's"
    );
    assert!(
        tomar_arrendamento(&db, c, "a", t0 + 1000, t0 + 4000)
            .await
            .expect("take"),
        "a takes its own again"
    );
    assert_eq!(
        renovar_arrendamentos(&db, "a", t0 + 6000)
            .await
            .expect("renew"),
        vec![c]
    );
    assert!(
        list_arrendamentos_vencidos(&db, t0 + 5000)
            .await
            .expect("list")
            .is_empty(),
        "renewed until t0+6000"
    );
    // a stops renewing (it died): after expiry the conversation is listed and b takes it.
    assert_eq!(
        list_arrendamentos_vencidos(&db, t0 + 7000)
            .await
            .expect("list"),
        vec![c]
    );
    assert!(
        tomar_arrendamento(&db, c, "b", t0 + 7000, t0 + 10_000)
            .await
            .expect("take")
    );
    assert!(
        renovar_arrendamentos(&db, "a", t0 + 12_000)
            .await
            .expect("renew")
            .is_empty(),
        "a renewing late learns it lost the lease"
    );
    soltar_arrendamento(&db, c, "a").await.expect("give back");
    assert_eq!(
        list_arrendadas(&db).await.expect("list"),
        vec![c],
        "a cannot give back b's lease"
    );
    soltar_arrendamento(&db, c, "b").await.expect("give back");
    assert!(list_arrendadas(&db).await.expect("list").is_empty());
}

#[tokio::test]
async fn two_processes_racing_for_one_conversation_get_one_lease() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = banco::novo(dir.path()).await;
    let db = Database::connect(&url).await.expect("connect");
    Migrator::up(&db, None).await.expect("migrate");
    let outro = Database::connect(&url).await.expect("connect");
    for _ in 0..20 {
        let c = Uuid::now_v7();
        let agora = chrono::Utc::now().timestamp_millis();
        let ate = agora + Duration::from_secs(9).as_millis() as i64;
        let (a, b) = tokio::join!(
            tomar_arrendamento(&db, c, "a", agora, ate),
            tomar_arrendamento(&outro, c, "b", agora, ate)
        );
        let ganhos = [a, b]
            .into_iter()
            .filter(|r| *r.as_ref().expect("take"))
            .count();
        assert_eq!(ganhos, 1, "exactly one of the two holds conversation {c}");
    }
}

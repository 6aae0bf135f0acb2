//! The schema as an operator meets it: a database written before the text columns became
//! bytes still reads, byte for byte, after the upgrade; and on Postgres several servers
//! starting at once on one new database migrate it once and all serve.
use std::time::Duration;

use chrono::Utc;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, EntityTrait, sea_query::Query};
use serde_json::json;
use uuid::Uuid;

use crate::apoio::{TestApp, banco, id_conversa, spawn_app_no_banco, spawn_apps_juntos};

/// Writes a row as the first schema had it (text columns), through the same driver the
/// server used then, so the values are encoded exactly as old rows were.
async fn inserir<E: EntityTrait>(
    db: &DatabaseConnection,
    tabela: E,
    colunas: Vec<E::Column>,
    valores: Vec<sea_orm::Value>,
) {
    let mut q = Query::insert();
    q.into_table(tabela).columns(colunas);
    q.values_panic(valores.into_iter().map(Into::into));
    db.execute(&q).await.expect("an old row");
}

#[tokio::test]
async fn text_stored_before_the_bytes_migration_reads_back_exactly_after_it() {
    use entity::{conversa, mensagem};

    let dir = std::sync::Arc::new(tempfile::tempdir().expect("tempdir"));
    let db_url = banco::novo(dir.path()).await;
    let db = Database::connect(&db_url).await.expect("connect");
    Migrator::up(&db, Some(1))
        .await
        .expect("the first schema only");

    // Postgres `text` never could hold NUL; SQLite's could, and it must survive too.
    let nul = if banco::e_postgres(&db_url) { "" } else { "\0" };
    let titulo = format!("Frações: ½ + ⅓{nul} 😀");
    let pergunta = format!("Quanto é ½ + ⅓?\n{nul}Çà 😀");
    let resposta = "É 5/6: ½ = 3/6 e ⅓ = 2/6.";
    let (c, p, r) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let agora = Utc::now();
    inserir(
        &db,
        conversa::Entity,
        vec![
            conversa::Column::Id,
            conversa::Column::UsuarioId,
            conversa::Column::Titulo,
            conversa::Column::CriadaEm,
            conversa::Column::AtualizadaEm,
        ],
        vec![
            c.into(),
            "ana".into(),
            titulo.clone().into(),
            agora.into(),
            agora.into(),
        ],
    )
    .await;
    for (id, papel, texto, responde_a) in [
        (p, "aluno", pergunta.as_str(), None),
        (r, "tutor", resposta, Some(p)),
    ] {
        use mensagem::Column as M;
        inserir(
            &db,
            mensagem::Entity,
            vec![
                M::Id,
                M::ConversaId,
                M::UsuarioId,
                M::Papel,
                M::Conteudo,
                M::Status,
                M::RespondeA,
                M::CriadaEm,
                M::AtualizadaEm,
            ],
            vec![
                id.into(),
                c.into(),
                "ana".into(),
                papel.into(),
                texto.into(),
                "completa".into(),
                responde_a.into(),
                agora.into(),
                agora.into(),
            ],
        )
        .await;
    }
    let _ = db.close().await;

    // The server upgrades the schema at start and reads the old rows.
    let app = spawn_app_no_banco(dir, db_url).await;
    let ana = app.cliente("ana").await;
    let l = ana.pedir("listar_conversas", json!({})).await;
    assert_eq!(l["conversas"][0]["titulo"], titulo.as_str(), "{l}");
    let h = ana
        .pedir("entrar_conversa", json!({ "conversa_id": c.to_string() }))
        .await;
    let textos: Vec<&str> = h["mensagens"]
        .as_array()
        .expect("mensagens")
        .iter()
        .map(|m| m["conteudo"].as_str().expect("conteudo"))
        .collect();
    assert_eq!(textos, [pergunta.as_str(), resposta]);

    // And the conversation goes on, NUL included.
    let nova = "depois\0da migração";
    let ack = TestApp::enviar(
        &ana,
        json!({ "conversa_id": c.to_string(), "conteudo": nova }),
    )
    .await;
    assert_eq!(ack["mensagem"]["conteudo"], nova);
    ana.esperar_fim(&id_conversa(&ack)).await;
    let h = ana
        .pedir("entrar_conversa", json!({ "conversa_id": c.to_string() }))
        .await;
    assert_eq!(h["mensagens"][2]["conteudo"], nova, "{h}");
    assert_eq!(h["mensagens"].as_array().map(Vec::len), Some(4));
}

#[tokio::test]
async fn several_servers_starting_at_once_on_one_new_postgres_database_all_come_up_and_serve() {
    if banco::postgres_admin().is_none() {
        // One SQLite file belongs to one process: there is no cluster to start on it.
        eprintln!(
            "skipped on {}: several processes share a database only on Postgres",
            banco::nome()
        );
        return;
    }
    let apps = tokio::time::timeout(Duration::from_secs(60), spawn_apps_juntos(4))
        .await
        .expect("four servers start in time");

    let ana = apps[0].cliente("ana").await;
    let ack = TestApp::enviar(&ana, json!({ "conteudo": "começo no primeiro" })).await;
    let conversa = id_conversa(&ack);
    ana.esperar_fim(&conversa).await;
    for app in &apps[1..] {
        let c = app.cliente("ana").await;
        let h = c
            .pedir("entrar_conversa", json!({ "conversa_id": conversa }))
            .await;
        assert_eq!(
            h["mensagens"].as_array().map(Vec::len),
            Some(2),
            "one database under all of them: {h}"
        );
        let ack = TestApp::enviar(&c, json!({ "conteudo": "e sigo aqui" })).await;
        let (ev, fim) = c.esperar_fim(&id_conversa(&ack)).await;
        assert_eq!(ev, "mensagem_respondida", "{fim}");
    }
    let db = Database::connect(&apps[0].db_url).await.expect("connect");
    let pendentes = Migrator::get_pending_migrations(&db)
        .await
        .expect("migration status");
    assert!(pendentes.is_empty(), "every migration ran");
}

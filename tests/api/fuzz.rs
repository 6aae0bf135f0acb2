//! Arbitrary JSON into every event of a real server: it never panics, never drops the
//! socket, and always answers with an ack of the protocol's shape.
use proptest::{
    prelude::*,
    strategy::ValueTree,
    test_runner::{Config, TestRunner},
};
use serde_json::{Value, json};

use crate::apoio::{Cliente, spawn_app};

fn json_qualquer() -> impl Strategy<Value = Value> {
    let folha = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,20}".prop_map(Value::String),
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}".prop_map(Value::String),
    ];
    folha.prop_recursive(3, 24, 5, |dentro| {
        let campo = prop_oneof![
            Just("conteudo".to_owned()),
            Just("conversa_id".to_owned()),
            Just("id_cliente".to_owned()),
            Just("apos".to_owned()),
            Just("usuario".to_owned()),
            "[a-z]{1,8}",
        ];
        prop_oneof![
            prop::collection::vec(dentro.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(campo, dentro, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[tokio::test]
async fn arbitrary_json_into_every_event_always_gets_a_well_formed_ack() {
    let app = spawn_app().await;
    let aluno = app.cliente("fuzz").await;
    // A professor too: the class events parse their payloads only for professors.
    let professor = Cliente::conectar(&app.url, &app.token_professor("fuzz-prof"))
        .await
        .expect("connects");
    let mut runner = TestRunner::new(Config::with_cases(200));
    // Every event the server declares: one it declares but does not listen to gets no ack,
    // and `pedir` fails on it.
    let eventos = tutor::socket::wire::entrada::TODOS;
    assert_eq!(
        eventos.len(),
        8,
        "the protocol's five events and the class view's three"
    );
    for i in 0..320 {
        let c = if (i / eventos.len()).is_multiple_of(2) {
            &aluno
        } else {
            &professor
        };
        let v = json_qualquer()
            .new_tree(&mut runner)
            .expect("value")
            .current();
        let evento = eventos[i % eventos.len()];
        let ack = c.pedir(evento, v.clone()).await;
        let ok = ack["ok"]
            .as_bool()
            .unwrap_or_else(|| panic!("{evento} {v}: ack without ok: {ack}"));
        if !ok {
            let codigo = ack["erro"]["codigo"].as_str().expect("codigo");
            assert!(
                [
                    "entrada_invalida",
                    "nao_encontrada",
                    "proibido",
                    "limite_excedido"
                ]
                .contains(&codigo),
                "{evento} {v}: {ack}"
            );
            assert!(
                !ack["erro"]["mensagem"]
                    .as_str()
                    .expect("mensagem")
                    .is_empty()
            );
        }
    }
    // Still connected and serving.
    for c in [&aluno, &professor] {
        let l = c.emit_ack("listar_conversas", None).await;
        assert_eq!(l["ok"], true);
    }
}

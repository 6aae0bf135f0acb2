//! docs/asyncapi.yaml and the server's wire types (`wire::catalogo`) say the same thing: the
//! same events in each direction, and for each event the same fields in its payload and ack,
//! down to nested objects and array items, required where the server requires them. A field
//! or an event added on one side only fails here.
mod forma;

use std::collections::BTreeMap;

use serde_json::{Value, json};
use tutor::socket::wire::{self, Catalogo};

use forma::{Forma, comparar};

const DOCUMENTO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/asyncapi.yaml");

fn documento() -> Value {
    let texto = std::fs::read_to_string(DOCUMENTO).expect("read docs/asyncapi.yaml");
    serde_norway::from_str(&texto).expect("docs/asyncapi.yaml is YAML")
}

/// What one event carries, as schemas still to be read against their root.
struct Carga<'a> {
    payload: &'a Value,
    ack: Option<&'a Value>,
}

/// Follows `$ref`s (`#/…`) until a value that is not one.
fn resolver<'a>(raiz: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(alvo) => {
            let ponteiro = alvo.strip_prefix('#').expect("a local $ref");
            let achado = raiz
                .pointer(ponteiro)
                .unwrap_or_else(|| panic!("unresolvable $ref {alvo}"));
            resolver(raiz, achado)
        }
        None => v,
    }
}

/// The payload of an operation's (or reply's) one message, and that message's `name`: the
/// Socket.IO event name.
fn mensagem<'a>(raiz: &'a Value, dono: &'a Value) -> (&'a str, &'a Value) {
    let lista = dono["messages"].as_array().expect("messages");
    assert_eq!(lista.len(), 1, "one message per operation: {dono}");
    let m = resolver(raiz, &lista[0]);
    let nome = m["name"].as_str().expect("every message has a name");
    (nome, &m["payload"])
}

/// The document's events for one `action`: `send` are the client's (with their `reply`),
/// `receive` the server's.
fn eventos_do_documento<'a>(raiz: &'a Value, acao: &str) -> BTreeMap<&'a str, Carga<'a>> {
    let operacoes = raiz["operations"].as_object().expect("operations");
    operacoes
        .values()
        .filter(|op| op["action"] == acao)
        .map(|op| {
            let (nome, payload) = mensagem(raiz, op);
            let ack = op.get("reply").map(|r| mensagem(raiz, r).1);
            (nome, Carga { payload, ack })
        })
        .collect()
}

/// Every difference between the document and the catalogue, one sentence each.
fn diferencas(doc: &Value, catalogo: &Catalogo) -> Vec<String> {
    let mut dif = Vec::new();
    for (acao, do_servidor) in [("send", &catalogo.entrada), ("receive", &catalogo.saida)] {
        let do_documento = eventos_do_documento(doc, acao);
        for ev in do_servidor {
            let Some(carga) = do_documento.get(ev.nome) else {
                dif.push(format!(
                    "{}: an event of the server's, no `{acao}` operation",
                    ev.nome
                ));
                continue;
            };
            let servidor = ev.payload.as_value();
            comparar(
                ev.nome,
                &Forma::ler(servidor, servidor),
                &Forma::ler(carga.payload, doc),
                &mut dif,
            );
            match (&ev.ack, carga.ack) {
                (Some(s), Some(d)) => comparar(
                    &format!("{} ack", ev.nome),
                    &Forma::ler(s.as_value(), s.as_value()),
                    &Forma::ler(d, doc),
                    &mut dif,
                ),
                (None, None) => {}
                (Some(_), None) => dif.push(format!("{}: acked by the server, no reply", ev.nome)),
                (None, Some(_)) => dif.push(format!("{}: a reply for an unacked event", ev.nome)),
            }
        }
        for nome in do_documento.keys() {
            if !do_servidor.iter().any(|e| e.nome == *nome) {
                dif.push(format!(
                    "{nome}: a `{acao}` operation, no event of the server's"
                ));
            }
        }
    }
    dif
}

#[test]
fn the_document_and_the_server_agree_on_every_event_and_field() {
    let dif = diferencas(&documento(), &wire::catalogo());
    assert!(
        dif.is_empty(),
        "docs/asyncapi.yaml and src/socket/wire.rs disagree:\n{}",
        dif.join("\n")
    );
}

#[test]
fn the_document_lists_exactly_the_servers_event_names_per_direction() {
    let doc = documento();
    let nomes = |acao| {
        let mut v: Vec<&str> = eventos_do_documento(&doc, acao).into_keys().collect();
        v.sort();
        v
    };
    let ordenados = |t: &[&'static str]| {
        let mut v = t.to_vec();
        v.sort();
        v
    };
    assert_eq!(nomes("send"), ordenados(wire::entrada::TODOS));
    assert_eq!(nomes("receive"), ordenados(wire::saida::TODOS));
}

/// The check itself can fail: a field or an event on one side only is reported, by path.
#[test]
fn a_field_or_an_event_on_one_side_only_is_a_difference() {
    let mut doc = documento();
    doc["components"]["schemas"]["Mensagem"]["properties"]["so_no_documento"] =
        json!({ "type": "string" });
    doc["operations"]
        .as_object_mut()
        .expect("operations")
        .remove("deixar_turma");
    let mut catalogo = wire::catalogo();
    let entrar = catalogo
        .entrada
        .iter_mut()
        .find(|e| e.nome == wire::entrada::ENTRAR_CONVERSA)
        .expect("entrar_conversa");
    entrar.payload.as_object_mut().expect("an object schema")["properties"]["so_no_servidor"] =
        json!({ "type": "integer" });

    let dif = diferencas(&doc, &catalogo);
    for esperada in [
        "mensagem_enviada ack|0.mensagem.so_no_documento: the document has it, the server does not",
        "entrar_conversa ack|0.mensagens[].so_no_documento: the document has it, the server does not",
        "mensagem_recebida.mensagem.so_no_documento: the document has it, the server does not",
        "entrar_conversa.so_no_servidor: the server has it, the document does not",
        "deixar_turma: an event of the server's, no `send` operation",
    ] {
        assert!(
            dif.iter().any(|d| d == esperada),
            "{esperada:?} not in:\n{}",
            dif.join("\n")
        );
    }
}

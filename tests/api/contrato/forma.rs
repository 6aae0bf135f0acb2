//! The shape of a JSON Schema, as far as a contract is concerned: which fields an object has
//! (recursively, into nested objects and array items), which of them are required, their JSON
//! types and the values of an enum. Descriptions, formats and bounds are documentation and
//! are left out. Both halves of the contract, the document's schemas and the server's, are
//! read into this one form so that they can be compared field by field.
use std::{
    cmp::Reverse,
    collections::{BTreeMap, BTreeSet},
};

use serde_json::Value;

#[derive(Debug, Clone)]
pub enum Forma {
    Objeto(BTreeMap<String, Campo>),
    Lista(Box<Forma>),
    /// One of several shapes: an ack is a success or a failure.
    Alternativas(Vec<Forma>),
    /// A string, number, boolean…: its JSON types (never `null`; empty when the schema does
    /// not say) and its values when it lists them (`enum`, `const`).
    Escalar {
        tipos: BTreeSet<String>,
        valores: Option<BTreeSet<String>>,
    },
}

#[derive(Debug, Clone)]
pub struct Campo {
    pub obrigatorio: bool,
    pub forma: Forma,
}

impl Forma {
    /// Reads a schema. `$ref`s (`#/…`) are resolved in `raiz`. `null` is dropped from types
    /// and alternatives: a field that may be `null` counts as absent on this wire.
    pub fn ler(esquema: &Value, raiz: &Value) -> Forma {
        if let Some(alvo) = esquema.get("$ref").and_then(Value::as_str) {
            let resolvido = alvo
                .strip_prefix('#')
                .and_then(|ponteiro| raiz.pointer(ponteiro))
                .unwrap_or_else(|| panic!("unresolvable $ref {alvo}"));
            return Forma::ler(resolvido, raiz);
        }
        let alternativas = ["anyOf", "oneOf", "allOf"]
            .iter()
            .find_map(|k| esquema.get(*k).and_then(Value::as_array));
        if let Some(alternativas) = alternativas {
            return Forma::alternativas(alternativas, raiz);
        }
        let tipos = tipos(esquema);
        if tipos.contains("object") || esquema.get("properties").is_some() {
            return Forma::objeto(esquema, raiz);
        }
        if let Some(itens) = esquema.get("items") {
            return Forma::Lista(Box::new(Forma::ler(itens, raiz)));
        }
        let valores = match (esquema.get("enum"), esquema.get("const")) {
            (Some(Value::Array(v)), _) => Some(v.iter().map(texto).collect()),
            (_, Some(c)) => Some(BTreeSet::from([texto(c)])),
            _ => None,
        };
        Forma::Escalar { tipos, valores }
    }

    fn objeto(esquema: &Value, raiz: &Value) -> Forma {
        let obrigatorios: BTreeSet<&str> = esquema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let campos = esquema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(nome, s)| {
                let campo = Campo {
                    obrigatorio: obrigatorios.contains(nome.as_str()),
                    forma: Forma::ler(s, raiz),
                };
                (nome.clone(), campo)
            })
            .collect();
        Forma::Objeto(campos)
    }

    /// `anyOf`/`oneOf`: without the `null` alternative; one left is that one; scalars each
    /// holding a value (serde's unit variants with doc comments) are one enum.
    fn alternativas(alternativas: &[Value], raiz: &Value) -> Forma {
        let formas: Vec<Forma> = alternativas
            .iter()
            .filter(|a| a.get("type").and_then(Value::as_str) != Some("null"))
            .map(|a| Forma::ler(a, raiz))
            .collect();
        if formas.len() == 1 {
            return formas.into_iter().next().expect("one");
        }
        let todas_valores = formas.iter().all(|f| {
            matches!(
                f,
                Forma::Escalar {
                    valores: Some(_),
                    ..
                }
            )
        });
        if !todas_valores {
            return Forma::Alternativas(formas);
        }
        let (mut tipos, mut valores) = (BTreeSet::new(), BTreeSet::new());
        for f in formas {
            if let Forma::Escalar {
                tipos: t,
                valores: v,
            } = f
            {
                tipos.extend(t);
                valores.extend(v.into_iter().flatten());
            }
        }
        Forma::Escalar {
            tipos,
            valores: Some(valores),
        }
    }

    fn nome(&self) -> &'static str {
        match self {
            Forma::Objeto(_) => "an object",
            Forma::Lista(_) => "an array",
            Forma::Alternativas(_) => "alternatives",
            Forma::Escalar { .. } => "a scalar",
        }
    }

    /// An object's field names (for pairing alternatives).
    fn nomes(&self) -> BTreeSet<&str> {
        match self {
            Forma::Objeto(c) => c.keys().map(String::as_str).collect(),
            _ => BTreeSet::new(),
        }
    }
}

/// An enum's value as written: a string without its quotes.
fn texto(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

fn tipos(esquema: &Value) -> BTreeSet<String> {
    let tipos: Vec<&str> = match esquema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    tipos
        .into_iter()
        .filter(|t| *t != "null")
        .map(str::to_owned)
        .collect()
}

/// Every way `documento` departs from `servidor`, each a sentence starting with its path.
/// Values are compared where the server lists them (an enum it derives); types where both
/// sides state them.
pub fn comparar(caminho: &str, servidor: &Forma, documento: &Forma, diferencas: &mut Vec<String>) {
    match (servidor, documento) {
        (Forma::Objeto(s), Forma::Objeto(d)) => {
            for (nome, cs) in s {
                let aqui = format!("{caminho}.{nome}");
                let Some(cd) = d.get(nome) else {
                    diferencas.push(format!("{aqui}: the server has it, the document does not"));
                    continue;
                };
                if cs.obrigatorio != cd.obrigatorio {
                    let (onde, nao) = if cs.obrigatorio {
                        ("the server", "the document")
                    } else {
                        ("the document", "the server")
                    };
                    diferencas.push(format!("{aqui}: required in {onde}, optional in {nao}"));
                }
                comparar(&aqui, &cs.forma, &cd.forma, diferencas);
            }
            for nome in d.keys().filter(|n| !s.contains_key(*n)) {
                diferencas.push(format!(
                    "{caminho}.{nome}: the document has it, the server does not"
                ));
            }
        }
        (Forma::Lista(s), Forma::Lista(d)) => comparar(&format!("{caminho}[]"), s, d, diferencas),
        (Forma::Alternativas(s), Forma::Alternativas(d)) => {
            if s.len() != d.len() {
                diferencas.push(format!(
                    "{caminho}: {} alternatives in the server, {} in the document",
                    s.len(),
                    d.len()
                ));
                return;
            }
            // Each server alternative against the document's that shares most field names (and,
            // between equals, has fewest others).
            let mut livres: Vec<&Forma> = d.iter().collect();
            for (i, fs) in s.iter().enumerate() {
                let nomes = fs.nomes();
                let melhor = (0..livres.len())
                    .max_by_key(|j| {
                        let outros = livres[*j].nomes();
                        let comuns = outros.intersection(&nomes).count();
                        (comuns, Reverse(outros.symmetric_difference(&nomes).count()))
                    })
                    .expect("as many alternatives on both sides");
                let fd = livres.swap_remove(melhor);
                comparar(&format!("{caminho}|{i}"), fs, fd, diferencas);
            }
        }
        (
            Forma::Escalar {
                tipos: ts,
                valores: vs,
            },
            Forma::Escalar {
                tipos: td,
                valores: vd,
            },
        ) => {
            if !ts.is_empty() && !td.is_empty() && ts != td {
                diferencas.push(format!(
                    "{caminho}: type {ts:?} in the server, {td:?} in the document"
                ));
            }
            if let Some(vs) = vs
                && vd.as_ref() != Some(vs)
            {
                diferencas.push(format!(
                    "{caminho}: values {vs:?} in the server, {vd:?} in the document"
                ));
            }
        }
        (s, d) => diferencas.push(format!(
            "{caminho}: {} in the server, {} in the document",
            s.nome(),
            d.nome()
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn diferencas(servidor: Value, documento: Value) -> Vec<String> {
        let mut d = Vec::new();
        comparar(
            "x",
            &Forma::ler(&servidor, &servidor),
            &Forma::ler(&documento, &documento),
            &mut d,
        );
        d
    }

    #[test]
    fn nested_fields_required_ness_and_enums_are_compared() {
        let servidor = json!({"type": "object", "required": ["a"], "properties": {
            "a": {"type": "array", "items": {"type": "object", "properties": {"b": {"type": "string"}}}},
            "m": {"oneOf": [{"const": "um"}, {"type": "string", "enum": ["dois"]}]}
        }});
        let igual = json!({"type": "object", "required": ["a"], "properties": {
            "a": {"type": "array", "items": {"$ref": "#/$defs/B"}},
            "m": {"type": ["string", "null"], "enum": ["dois", "um"]}
        }, "$defs": {"B": {"properties": {"b": {"type": "string", "description": "doc"}}}}});
        assert_eq!(diferencas(servidor.clone(), igual), Vec::<String>::new());

        let outro = json!({"type": "object", "properties": {
            "a": {"type": "array", "items": {"properties": {"c": {"type": "string"}}}},
            "m": {"type": "string", "enum": ["um"]}
        }});
        assert_eq!(
            diferencas(servidor, outro),
            [
                "x.a: required in the server, optional in the document",
                "x.a[].b: the server has it, the document does not",
                "x.a[].c: the document has it, the server does not",
                r#"x.m: values {"dois", "um"} in the server, Some({"um"}) in the document"#,
            ]
        );
    }
}

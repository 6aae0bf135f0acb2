//! Checks each streamed answer against what the protocol promises: `indice` counts from 0
//! without gaps or repeats, and the deltas joined in `indice` order equal the stored
//! `mensagem.conteudo`. Load numbers mean nothing if pieces were lost on the way.

use std::collections::{BTreeMap, HashMap};

/// The pieces of one answer seen by one socket.
#[derive(Debug, Default)]
pub struct Montagem {
    pedacos: BTreeMap<u64, String>,
    repetidos: u64,
}

/// Why an answer failed the check.
#[derive(Debug, PartialEq)]
pub enum Falha {
    /// `indice` did not count 0, 1, 2…: the first missing one.
    Buraco { falta: u64, recebidos: usize },
    /// The same `indice` came twice.
    Repetido(u64),
    /// The deltas joined differ from `conteudo` (lengths in bytes).
    Texto { juntos: usize, conteudo: usize },
}

impl std::fmt::Display for Falha {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Falha::Buraco { falta, recebidos } => {
                write!(f, "indice {falta} missing ({recebidos} pieces)")
            }
            Falha::Repetido(n) => write!(f, "{n} repeated indices"),
            Falha::Texto { juntos, conteudo } => {
                write!(f, "deltas join to {juntos} bytes, conteudo has {conteudo}")
            }
        }
    }
}

impl Montagem {
    pub fn pedaco(&mut self, indice: u64, delta: &str) {
        if self.pedacos.insert(indice, delta.to_owned()).is_some() {
            self.repetidos += 1;
        }
    }

    pub fn len(&self) -> usize {
        self.pedacos.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pedacos.is_empty()
    }

    /// Checks the pieces against the final text.
    pub fn conferir(&self, conteudo: &str) -> Result<(), Falha> {
        if self.repetidos > 0 {
            return Err(Falha::Repetido(self.repetidos));
        }
        for (esperado, (&indice, _)) in (0u64..).zip(&self.pedacos) {
            if indice != esperado {
                return Err(Falha::Buraco {
                    falta: esperado,
                    recebidos: self.pedacos.len(),
                });
            }
        }
        let juntos: String = self.pedacos.values().map(String::as_str).collect();
        if juntos != conteudo {
            return Err(Falha::Texto {
                juntos: juntos.len(),
                conteudo: conteudo.len(),
            });
        }
        Ok(())
    }
}

/// One socket's answers in progress, by tutor `mensagem_id`.
#[derive(Debug, Default)]
pub struct Coletor {
    abertas: HashMap<String, Montagem>,
}

impl Coletor {
    /// Records a `resposta_parcial` payload; returns whether it was the answer's first piece.
    pub fn parcial(&mut self, d: &serde_json::Value) -> bool {
        let id = d["mensagem_id"].as_str().unwrap_or_default().to_owned();
        let m = self.abertas.entry(id).or_default();
        let primeiro = m.is_empty();
        m.pedaco(
            d["indice"].as_u64().unwrap_or(u64::MAX),
            d["delta"].as_str().unwrap_or_default(),
        );
        primeiro
    }

    /// Checks a `mensagem_respondida` payload against the pieces of that message.
    pub fn respondida(&mut self, d: &serde_json::Value) -> Result<(), Falha> {
        let m = &d["mensagem"];
        let id = m["id"].as_str().unwrap_or_default();
        let montagem = self.abertas.remove(id).unwrap_or_default();
        montagem.conferir(m["conteudo"].as_str().unwrap_or_default())
    }

    /// Forgets an answer that ended in `erro_resposta`.
    pub fn erro(&mut self, d: &serde_json::Value) {
        self.abertas
            .remove(d["mensagem_id"].as_str().unwrap_or_default());
    }
}

/// The fake upstream's deterministic answer of `n` chunks ("Parte i de N. "), padded with
/// `~` to `tamanho` characters per chunk, as `fake-openai.mjs` and `tutor-carga fake` write it.
pub fn texto_do_fake(n: u32, tamanho: usize) -> String {
    (1..=n).map(|i| pedaco_do_fake(i, n, tamanho)).collect()
}

/// The fake's `i`-th chunk of `n`.
pub fn pedaco_do_fake(i: u32, n: u32, tamanho: usize) -> String {
    let base = format!("Parte {i} de {n}. ");
    let len = base.chars().count();
    if tamanho > len {
        base + &"~".repeat(tamanho - len)
    } else {
        base
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn aceita_pecas_em_ordem_e_fora_de_ordem() {
        let mut m = Montagem::default();
        m.pedaco(1, "mundo");
        m.pedaco(0, "olá ");
        assert_eq!(m.conferir("olá mundo"), Ok(()));
        assert_eq!(
            m.conferir("olá mund"),
            Err(Falha::Texto {
                juntos: 10,
                conteudo: 9
            })
        );
    }

    #[test]
    fn acusa_buraco_repeticao_e_inicio_errado() {
        let mut m = Montagem::default();
        m.pedaco(0, "a");
        m.pedaco(2, "c");
        assert_eq!(
            m.conferir("ac"),
            Err(Falha::Buraco {
                falta: 1,
                recebidos: 2
            })
        );
        let mut r = Montagem::default();
        r.pedaco(0, "a");
        r.pedaco(0, "a");
        assert_eq!(r.conferir("a"), Err(Falha::Repetido(1)));
        let mut s = Montagem::default();
        s.pedaco(1, "x");
        assert!(matches!(
            s.conferir("x"),
            Err(Falha::Buraco { falta: 0, .. })
        ));
        assert_eq!(Montagem::default().conferir(""), Ok(()));
        assert!(Montagem::default().conferir("perdido").is_err());
    }

    #[test]
    fn coletor_separa_por_mensagem() {
        let mut c = Coletor::default();
        assert!(c.parcial(&json!({"mensagem_id": "a", "indice": 0, "delta": "x"})));
        assert!(c.parcial(&json!({"mensagem_id": "b", "indice": 0, "delta": "y"})));
        assert!(!c.parcial(&json!({"mensagem_id": "a", "indice": 1, "delta": "z"})));
        assert_eq!(
            c.respondida(&json!({"mensagem": {"id": "a", "conteudo": "xz"}})),
            Ok(())
        );
        assert!(
            c.respondida(&json!({"mensagem": {"id": "b", "conteudo": "yy"}}))
                .is_err()
        );
        assert!(
            c.respondida(&json!({"mensagem": {"id": "a", "conteudo": "xz"}}))
                .is_err(),
            "its pieces were consumed"
        );
    }

    #[test]
    fn texto_do_fake_igual_ao_do_node() {
        assert_eq!(texto_do_fake(2, 0), "Parte 1 de 2. Parte 2 de 2. ");
        assert_eq!(texto_do_fake(1, 16), "Parte 1 de 1. ~~");
    }
}

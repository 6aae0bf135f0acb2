//! Validation, once, from what a client sent into domain values. Every failure is an
//! `entrada_invalida` with a sentence a student or developer can act on.
use uuid::Uuid;

use crate::error::Erro;

/// Longest `id_cliente`, in code points (PROTOCOL.md).
const MAX_ID_CLIENTE: usize = 64;
/// Words and characters of a conversation title taken from its first message.
const PALAVRAS_TITULO: usize = 8;
const MAX_TITULO: usize = 80;

/// A student's message text: not blank, at most the configured number of code points, kept
/// byte-exact (NUL and emoji included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conteudo(String);

impl Conteudo {
    pub fn parse(texto: String, max_caracteres: usize) -> Result<Self, Erro> {
        if texto.trim().is_empty() {
            return Err(Erro::entrada("A mensagem está vazia."));
        }
        let n = texto.chars().count();
        if n > max_caracteres {
            return Err(Erro::entrada(format!(
                "A mensagem tem {n} caracteres; o máximo é {max_caracteres}."
            )));
        }
        Ok(Self(texto))
    }

    pub fn into_inner(self) -> String {
        self.0
    }

    /// A title from the first words, on one line.
    pub fn titulo(&self) -> String {
        let palavras: Vec<&str> = self
            .0
            .split(|c: char| c.is_whitespace() || c.is_control())
            .filter(|p| !p.is_empty())
            .take(PALAVRAS_TITULO)
            .collect();
        let mut titulo: String = palavras.join(" ").chars().take(MAX_TITULO).collect();
        if titulo.is_empty() {
            titulo = "Nova conversa".into();
        }
        titulo
    }
}

/// The client's own id for a send, so a retry is recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdCliente(String);

impl IdCliente {
    pub fn parse(texto: String) -> Result<Self, Erro> {
        if texto.is_empty() {
            return Err(Erro::entrada("id_cliente não pode ser vazio."));
        }
        if texto.chars().count() > MAX_ID_CLIENTE {
            return Err(Erro::entrada(format!(
                "id_cliente tem mais de {MAX_ID_CLIENTE} caracteres."
            )));
        }
        // A key column: Postgres cannot store U+0000 there (message text can hold it).
        if texto.contains('\0') {
            return Err(Erro::entrada("id_cliente não pode conter o caractere NUL."));
        }
        Ok(Self(texto))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A conversation or message id: a string that is not a UUID is `entrada_invalida`.
pub fn parse_id(campo: &str, texto: &str) -> Result<Uuid, Erro> {
    Uuid::parse_str(texto).map_err(|_| Erro::entrada(format!("{campo} não é um UUID válido.")))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Accepted text comes back byte for byte; the limit counts code points.
        #[test]
        fn content_is_kept_exact_and_limited_in_code_points(texto in "\\PC{0,40}", max in 1usize..30) {
            match Conteudo::parse(texto.clone(), max) {
                Ok(c) => {
                    prop_assert!(texto.chars().count() <= max && !texto.trim().is_empty());
                    prop_assert_eq!(c.into_inner(), texto);
                }
                Err(e) => {
                    prop_assert_eq!(e.codigo(), "entrada_invalida");
                    prop_assert!(texto.chars().count() > max || texto.trim().is_empty());
                }
            }
        }
    }

    #[test]
    fn emoji_and_nul_count_as_one_character_each() {
        assert!(Conteudo::parse("😀".repeat(8000), 8000).is_ok());
        assert!(Conteudo::parse("😀".repeat(8001), 8000).is_err());
        assert!(Conteudo::parse("a\0b".into(), 3).is_ok());
        assert!(Conteudo::parse(" \n\t ".into(), 10).is_err());
    }

    #[test]
    fn titles_are_one_line_from_the_first_words() {
        let c = Conteudo::parse(
            "  Como\nresolvo   equações do segundo grau com números complexos?".into(),
            100,
        )
        .expect("valid");
        assert_eq!(
            c.titulo(),
            "Como resolvo equações do segundo grau com números"
        );
    }
}

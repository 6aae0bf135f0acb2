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

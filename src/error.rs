//! The one error type that crosses into handlers, and its mapping to the protocol's codes.
//! Internal causes are logged once, where the error is made; clients see only a stable code
//! and a plain sentence.
use schemars::JsonSchema;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum Erro {
    /// `entrada_invalida`: a payload of the wrong shape, type or size.
    #[error("{0}")]
    EntradaInvalida(String),
    /// `nao_encontrada`: no such conversation, or not the caller's.
    #[error("Conversa não encontrada.")]
    NaoEncontrada,
    /// `proibido`: a professor may read but not write another user's conversation.
    #[error("Você pode ler esta conversa, mas não escrever nela.")]
    Proibido,
    /// `proibido`: only a professor may see the class.
    #[error("Só professores podem ver a turma.")]
    SoProfessor,
    /// `limite_excedido`: the student used their day's model tokens; the budget renews in
    /// `tentar_em_ms`. The sentence says when, in words.
    #[error("{mensagem}")]
    CotaEsgotada { tentar_em_ms: u64, mensagem: String },
    /// `limite_excedido`: too many requests; retry after `tentar_em_ms`.
    #[error("Muitas mensagens em pouco tempo. Tente de novo em instantes.")]
    LimiteExcedido { tentar_em_ms: u64 },
    /// `indisponivel`: the database cannot store right now.
    #[error("O servidor não consegue guardar mensagens agora. Tente de novo em instantes.")]
    Indisponivel,
    /// `interno`: a bug or an unexpected state; details are in the log only.
    #[error("Erro interno do servidor.")]
    Interno,
}

impl Erro {
    pub fn codigo(&self) -> &'static str {
        match self {
            Erro::EntradaInvalida(_) => "entrada_invalida",
            Erro::NaoEncontrada => "nao_encontrada",
            Erro::Proibido | Erro::SoProfessor => "proibido",
            Erro::LimiteExcedido { .. } | Erro::CotaEsgotada { .. } => "limite_excedido",
            Erro::Indisponivel => "indisponivel",
            Erro::Interno => "interno",
        }
    }

    pub fn entrada(mensagem: impl Into<String>) -> Self {
        Erro::EntradaInvalida(mensagem.into())
    }

    /// The wire form: `{ codigo, mensagem, tentar_em_ms?, limite? }`.
    pub fn corpo(&self) -> CorpoErro {
        CorpoErro {
            codigo: self.codigo(),
            mensagem: self.to_string(),
            tentar_em_ms: match self {
                Erro::LimiteExcedido { tentar_em_ms } | Erro::CotaEsgotada { tentar_em_ms, .. } => {
                    Some(*tentar_em_ms)
                }
                _ => None,
            },
            limite: match self {
                Erro::CotaEsgotada { .. } => Some(LIMITE_TOKENS_POR_DIA),
                _ => None,
            },
        }
    }
}

impl From<sea_orm::DbErr> for Erro {
    /// A database failure is logged here, with its cause, and becomes `indisponivel`.
    fn from(e: sea_orm::DbErr) -> Self {
        tracing::error!(error = %e, "database error");
        Erro::Indisponivel
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, JsonSchema)]
pub struct CorpoErro {
    pub codigo: &'static str,
    pub mensagem: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tentar_em_ms: Option<u64>,
    /// Which limit a `limite_excedido` hit, when it is not the rate limit (docs/turma.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limite: Option<&'static str>,
}

/// `erro.limite` of a send refused because the student's day's budget is spent.
pub const LIMITE_TOKENS_POR_DIA: &str = "tokens_por_dia";

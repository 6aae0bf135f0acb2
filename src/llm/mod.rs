//! The model behind the tutor: a small streaming-chat trait, its async-openai implementation
//! for any OpenAI-compatible server, and the built-in demo tutor. Nothing here knows about
//! sockets, storage or conversations.
mod demo;
mod openai;
mod transporte;

use futures::stream::BoxStream;

pub use demo::TutorDemo;
pub use openai::ModeloOpenAi;
pub use transporte::Politica;

/// Who says a prompt line. Student text only ever travels as `Usuario`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Papel {
    Sistema,
    Usuario,
    Assistente,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinhaPrompt {
    pub papel: Papel,
    pub conteudo: String,
}

/// Why the model could not answer. The `String`s are for the log, never for clients.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ErroModelo {
    /// It failed, timed out or sent something unreadable.
    #[error("model unavailable: {0}")]
    Indisponivel(String),
    /// Its rate limit held after retries.
    #[error("model rate limit: {0}")]
    LimiteExcedido(String),
}

/// What an answer's stream carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parte {
    /// A piece of the answer's text.
    Texto(String),
    /// The tokens the request cost (prompt and answer), as the model reported them; it may
    /// come at the end or never (the generation then estimates it).
    Tokens(u64),
}

/// The parts of an answer. A stream that ends without an error ended properly (the model
/// said it was done); one that was cut ends with an `Err`.
pub type Fluxo = BoxStream<'static, Result<Parte, ErroModelo>>;

#[async_trait::async_trait]
pub trait ModeloChat: Send + Sync + 'static {
    /// Starts an answer. An `Err` here means nothing was generated.
    async fn gerar(&self, prompt: Vec<LinhaPrompt>) -> Result<Fluxo, ErroModelo>;
}

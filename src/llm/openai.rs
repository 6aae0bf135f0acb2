//! Any OpenAI-compatible server (OpenAI, Ollama, vLLM, llama.cpp) through async-openai's
//! streaming chat completions. Chunks are parsed with our own lenient types (`byot`), so
//! servers that send non-standard `finish_reason` values still work.
use std::time::Duration;

use async_openai::{Client, config::OpenAIConfig, error::OpenAIError};
use futures::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::{
    ErroModelo, Fluxo, LinhaPrompt, ModeloChat, Papel, Parte,
    transporte::{self, Politica},
};

pub struct ModeloOpenAi {
    cliente: Client<OpenAIConfig>,
    modelo: String,
}

impl ModeloOpenAi {
    /// `connect_timeout` bounds the TCP/TLS connect; the time-to-first-token and idle
    /// timeouts are the generation task's job (they also cover the demo tutor).
    pub fn new(
        base_url: Option<&str>,
        chave: Option<&SecretString>,
        modelo: &str,
        connect_timeout: Duration,
        politica: Politica,
    ) -> Result<Self, reqwest::Error> {
        let mut config = OpenAIConfig::new();
        if let Some(base) = base_url {
            config = config.with_api_base(base.trim_end_matches('/'));
        }
        // A local server needs no key; async-openai still sends the header, harmlessly.
        config = config.with_api_key(chave.map(|c| c.expose_secret()).unwrap_or("sem-chave"));
        let http = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .build()?;
        let servico = tower::service_fn(move |pedido| {
            transporte::executar(http.clone(), politica.clone(), pedido)
        });
        Ok(Self {
            cliente: Client::with_config(config).with_http_service(servico),
            modelo: modelo.to_owned(),
        })
    }
}

#[derive(Serialize)]
struct Pedido<'a> {
    model: &'a str,
    messages: Vec<LinhaWire<'a>>,
    stream: bool,
    /// Asks for a last chunk with `usage` (the students' daily budgets count it). Servers
    /// that do not know the option ignore it, and the cost is then estimated.
    stream_options: OpcoesFluxo,
}

#[derive(Serialize)]
struct OpcoesFluxo {
    include_usage: bool,
}

#[derive(Serialize)]
struct LinhaWire<'a> {
    role: &'static str,
    content: &'a str,
}

/// Only what we read of a `chat.completion.chunk`; everything else is ignored.
#[derive(Deserialize)]
struct Pedaco {
    #[serde(default)]
    choices: Vec<Escolha>,
    #[serde(default)]
    usage: Option<UsoInformado>,
}

#[derive(Deserialize)]
struct UsoInformado {
    #[serde(default)]
    total_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct Escolha {
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
}

fn papel(p: Papel) -> &'static str {
    match p {
        Papel::Sistema => "system",
        Papel::Usuario => "user",
        Papel::Assistente => "assistant",
    }
}

fn classificar(e: &OpenAIError) -> ErroModelo {
    let texto = e.to_string();
    match e {
        OpenAIError::ApiError(api) if api.status_code.as_u16() == 429 => {
            ErroModelo::LimiteExcedido(texto)
        }
        _ => ErroModelo::Indisponivel(texto),
    }
}

#[async_trait::async_trait]
impl ModeloChat for ModeloOpenAi {
    async fn gerar(&self, prompt: Vec<LinhaPrompt>) -> Result<Fluxo, ErroModelo> {
        let pedido = Pedido {
            model: &self.modelo,
            messages: prompt
                .iter()
                .map(|l| LinhaWire {
                    role: papel(l.papel),
                    content: &l.conteudo,
                })
                .collect(),
            stream: true,
            stream_options: OpcoesFluxo {
                include_usage: true,
            },
        };
        // Retries before the first token happen below, in `transporte`.
        let bruto = self
            .cliente
            .chat()
            .create_stream_byot::<_, Pedaco>(pedido)
            .await
            .map_err(|e| classificar(&e))?;
        Ok(pedacos(bruto))
    }
}

/// Turns chunks into parts. The first error is final (async-openai yields an error for a bad
/// chunk and would go on); an end without any `finish_reason` means the stream was cut. A
/// chunk with both text and `usage` gives the text, then the tokens.
fn pedacos(
    bruto: std::pin::Pin<Box<dyn futures::Stream<Item = Result<Pedaco, OpenAIError>> + Send>>,
) -> Fluxo {
    struct Estado {
        bruto: std::pin::Pin<Box<dyn futures::Stream<Item = Result<Pedaco, OpenAIError>> + Send>>,
        terminou: bool,
        tokens: Option<u64>,
    }
    let inicio = Estado {
        bruto,
        terminou: false,
        tokens: None,
    };
    futures::stream::unfold(Some(inicio), |estado| async move {
        let mut e = estado?;
        if let Some(t) = e.tokens.take() {
            return Some((Ok(Parte::Tokens(t)), Some(e)));
        }
        loop {
            match e.bruto.next().await {
                Some(Ok(p)) => {
                    let mut texto = String::new();
                    for escolha in p.choices {
                        if let Some(c) = escolha.delta.and_then(|d| d.content) {
                            texto.push_str(&c);
                        }
                        e.terminou |= escolha.finish_reason.is_some();
                    }
                    e.tokens = p.usage.and_then(|u| u.total_tokens);
                    if !texto.is_empty() {
                        return Some((Ok(Parte::Texto(texto)), Some(e)));
                    }
                    if let Some(t) = e.tokens.take() {
                        return Some((Ok(Parte::Tokens(t)), Some(e)));
                    }
                }
                Some(Err(erro)) => {
                    return Some((Err(ErroModelo::Indisponivel(erro.to_string())), None));
                }
                None if e.terminou => return None,
                None => {
                    let erro =
                        ErroModelo::Indisponivel("stream ended without finish_reason".into());
                    return Some((Err(erro), None));
                }
            }
        }
    })
    .boxed()
}

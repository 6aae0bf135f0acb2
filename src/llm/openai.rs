//! Any OpenAI-compatible server (OpenAI, Ollama, vLLM, llama.cpp) through async-openai's
//! streaming chat completions. Chunks are parsed with our own lenient types (`byot`), so
//! servers that send non-standard `finish_reason` values still work.
use std::time::Duration;

use async_openai::{Client, config::OpenAIConfig, error::OpenAIError};
use futures::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::{ErroModelo, Fluxo, LinhaPrompt, ModeloChat, Papel};

/// Attempts to start a stream (connect errors, 5xx, 429), before any token arrived.
const TENTATIVAS: u32 = 3;
const ESPERA_BASE: Duration = Duration::from_millis(250);

pub struct ModeloOpenAi {
    cliente: Client<OpenAIConfig>,
    modelo: String,
}

impl ModeloOpenAi {
    /// `connect_timeout` bounds the TCP/TLS connect; the idle timeout between chunks is the
    /// generation task's job (it also covers the demo tutor).
    pub fn new(
        base_url: Option<&str>,
        chave: Option<&SecretString>,
        modelo: &str,
        connect_timeout: Duration,
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
        Ok(Self {
            cliente: Client::with_config(config).with_http_client(http),
            modelo: modelo.to_owned(),
        })
    }
}

#[derive(Serialize)]
struct Pedido<'a> {
    model: &'a str,
    messages: Vec<LinhaWire<'a>>,
    stream: bool,
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

fn classificar(e: &OpenAIError) -> (ErroModelo, bool) {
    let texto = e.to_string();
    match e {
        OpenAIError::ApiError(api) if api.status_code.as_u16() == 429 => {
            let sem_cota = api.api_error.code.as_deref() == Some("insufficient_quota");
            (ErroModelo::LimiteExcedido(texto), !sem_cota)
        }
        OpenAIError::ApiError(api) => {
            let repetir = api.status_code.is_server_error();
            (ErroModelo::Indisponivel(texto), repetir)
        }
        OpenAIError::Reqwest(r) => (ErroModelo::Indisponivel(texto), r.is_connect()),
        _ => (ErroModelo::Indisponivel(texto), false),
    }
}

#[async_trait::async_trait]
impl ModeloChat for ModeloOpenAi {
    async fn gerar(&self, prompt: Vec<LinhaPrompt>) -> Result<Fluxo, ErroModelo> {
        let mut tentativa = 0;
        let bruto = loop {
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
            };
            match self
                .cliente
                .chat()
                .create_stream_byot::<_, Pedaco>(pedido)
                .await
            {
                Ok(s) => break s,
                Err(e) => {
                    tentativa += 1;
                    let (erro, repetir) = classificar(&e);
                    if !repetir || tentativa >= TENTATIVAS {
                        return Err(erro);
                    }
                    tracing::warn!(error = %e, tentativa, "upstream failed before the first token; retrying");
                    tokio::time::sleep(ESPERA_BASE * 2u32.pow(tentativa - 1)).await;
                }
            }
        };
        Ok(pedacos(bruto))
    }
}

/// Turns chunks into text pieces. The first error is final (async-openai yields an error for
/// a bad chunk and would go on); an end without any `finish_reason` means the stream was cut.
fn pedacos(
    bruto: std::pin::Pin<Box<dyn futures::Stream<Item = Result<Pedaco, OpenAIError>> + Send>>,
) -> Fluxo {
    futures::stream::unfold(Some((bruto, false)), |estado| async move {
        let (mut bruto, mut terminou) = estado?;
        loop {
            match bruto.next().await {
                Some(Ok(p)) => {
                    let mut texto = String::new();
                    for e in p.choices {
                        if let Some(c) = e.delta.and_then(|d| d.content) {
                            texto.push_str(&c);
                        }
                        terminou |= e.finish_reason.is_some();
                    }
                    if !texto.is_empty() {
                        return Some((Ok(texto), Some((bruto, terminou))));
                    }
                }
                Some(Err(e)) => {
                    return Some((Err(ErroModelo::Indisponivel(e.to_string())), None));
                }
                None if terminou => return None,
                None => {
                    let e = ErroModelo::Indisponivel("stream ended without finish_reason".into());
                    return Some((Err(e), None));
                }
            }
        }
    })
    .boxed()
}

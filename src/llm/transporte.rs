//! The HTTP path to the model, under async-openai (as its tower middleware): retries with
//! backoff and jitter before the first token only (connect errors, 5xx, 429 honouring
//! `Retry-After` up to a cap, never `insufficient_quota`), and a bound on the length of one
//! line of the event stream, so a server sending megabytes without a newline cannot grow
//! our memory.
use std::time::Duration;

use async_openai::{error::OpenAIError, middleware::HttpRequestFactory};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use rand::Rng;
use reqwest::{StatusCode, header::RETRY_AFTER};

/// Longest SSE line accepted from the model (a chunk is a few hundred bytes).
const MAX_LINHA: usize = 1024 * 1024;
/// Most of an error body read to look for `insufficient_quota`.
const MAX_CORPO_ERRO: usize = 64 * 1024;
const ESPERA_BASE: Duration = Duration::from_millis(250);

#[derive(Debug, Clone)]
pub struct Politica {
    pub tentativas: u32,
    pub espera_max: Duration,
}

/// Sends one request to the model, retrying what is worth retrying.
pub async fn executar(
    http: reqwest::Client,
    politica: Politica,
    pedido: HttpRequestFactory,
) -> Result<reqwest::Response, OpenAIError> {
    let mut tentativa = 1;
    loop {
        let ultima = tentativa >= politica.tentativas.max(1);
        let req = pedido.build().await?;
        let resposta = match http.execute(req).await {
            Ok(r) => r,
            Err(e) if e.is_connect() && !ultima => {
                tracing::warn!(error = %e, tentativa, "cannot reach the model; retrying");
                tokio::time::sleep(espera(tentativa, None, &politica)).await;
                tentativa += 1;
                continue;
            }
            Err(e) => return Err(OpenAIError::Reqwest(e)),
        };
        let status = resposta.status();
        if status.is_success() {
            return Ok(limitar_linhas(resposta));
        }
        if !(status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()) || ultima {
            return Ok(resposta);
        }
        let retry_after = resposta
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        let (resposta, corpo) = ler_corpo(resposta).await;
        if corpo.windows(18).any(|w| w == b"insufficient_quota") {
            // Retrying cannot help: the account is out of credit.
            return Ok(resposta);
        }
        tracing::warn!(%status, tentativa, "the model failed before the first token; retrying");
        tokio::time::sleep(espera(tentativa, retry_after, &politica)).await;
        tentativa += 1;
    }
}

/// Exponential backoff with jitter, or the server's `Retry-After`; capped either way.
fn espera(tentativa: u32, retry_after: Option<Duration>, p: &Politica) -> Duration {
    let d = retry_after.unwrap_or_else(|| {
        let base = ESPERA_BASE * 2u32.saturating_pow(tentativa.saturating_sub(1));
        base.mul_f64(rand::rng().random_range(0.5..1.5))
    });
    d.min(p.espera_max)
}

/// Reads at most `MAX_CORPO_ERRO` of an error body, and rebuilds a response around it so
/// async-openai can still report the error.
async fn ler_corpo(r: reqwest::Response) -> (reqwest::Response, Bytes) {
    let status = r.status();
    let headers = r.headers().clone();
    let mut corpo = Vec::new();
    let mut fluxo = r.bytes_stream();
    while let Some(Ok(pedaco)) = fluxo.next().await {
        let cabe = MAX_CORPO_ERRO.saturating_sub(corpo.len()).min(pedaco.len());
        corpo.extend_from_slice(&pedaco[..cabe]);
        if corpo.len() >= MAX_CORPO_ERRO {
            break;
        }
    }
    let corpo = Bytes::from(corpo);
    (
        reconstruir(status, headers, reqwest::Body::from(corpo.clone())),
        corpo,
    )
}

fn reconstruir(
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    corpo: reqwest::Body,
) -> reqwest::Response {
    let mut r = http::Response::new(corpo);
    *r.status_mut() = status;
    *r.headers_mut() = headers;
    reqwest::Response::from(r)
}

/// The same response, whose body fails once a line grows past `MAX_LINHA`.
fn limitar_linhas(r: reqwest::Response) -> reqwest::Response {
    let status = r.status();
    let headers = r.headers().clone();
    let corpo = reqwest::Body::wrap_stream(com_limite(r.bytes_stream(), MAX_LINHA));
    reconstruir(status, headers, corpo)
}

fn com_limite(
    fluxo: impl Stream<Item = reqwest::Result<Bytes>> + Send + 'static,
    max: usize,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let mut linha = 0usize;
    fluxo.map(move |r| {
        let b = r.map_err(std::io::Error::other)?;
        match b.iter().rposition(|&c| c == b'\n') {
            Some(i) => linha = b.len() - i - 1,
            None => linha += b.len(),
        }
        if linha > max {
            return Err(std::io::Error::other(
                "a line of the event stream is too long",
            ));
        }
        Ok(b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_line_past_the_limit_ends_the_body_with_an_error() {
        let pedacos: Vec<reqwest::Result<Bytes>> = vec![
            Ok(Bytes::from_static(b"data: ok\n\ndata: ")),
            Ok(Bytes::from(vec![b'x'; 40])),
            Ok(Bytes::from(vec![b'x'; 40])),
        ];
        let saida: Vec<_> = com_limite(futures::stream::iter(pedacos), 64)
            .collect()
            .await;
        assert!(saida[0].is_ok());
        assert!(
            saida[1].is_ok(),
            "46 bytes since the last newline is under 64"
        );
        assert!(
            saida[2].is_err(),
            "86 bytes since the last newline is over 64"
        );
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let p = Politica {
            tentativas: 3,
            espera_max: Duration::from_secs(2),
        };
        assert_eq!(
            espera(1, Some(Duration::from_secs(1)), &p),
            Duration::from_secs(1)
        );
        assert_eq!(
            espera(1, Some(Duration::from_secs(60)), &p),
            Duration::from_secs(2)
        );
        let d = espera(2, None, &p);
        assert!(d >= Duration::from_millis(250) && d <= Duration::from_millis(750));
    }
}

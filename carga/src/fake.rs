//! `fake`: an OpenAI-compatible upstream for trying a deployment without a model.
//! `POST …/chat/completions` with `stream: true` answers N SSE chunks
//! (`data: {"choices":[{"delta":{"content":…}}]}`) D ms apart, then `data: [DONE]`; the text is
//! the same deterministic "Parte i de N. " as `fake-openai.mjs`, and the directives
//! `[[tokens:N]]`, `[[atraso:MS]]`, `[[primeiro:MS]]`, `[[tamanho:C]]` in the last user message
//! work the same way, so `--conferir-fake` checks answers against it. HTTP/1.1 by hand, with
//! keep-alive and chunked bodies as a real upstream (and `fake-openai.mjs`) serves them: a
//! fake that closed each connection would bill the server a TCP connect per answer.

use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::cli::FakeArgs;

/// Reads `[[nome:VALOR]]` from `texto`.
pub fn diretiva(texto: &str, nome: &str) -> Option<u64> {
    let abre = format!("[[{nome}:");
    let i = texto.rfind(&abre)? + abre.len();
    let fim = texto[i..].find("]]")?;
    texto[i..i + fim].trim().parse().ok()
}

/// The pieces of an answer to `ultima` (the last user message).
pub fn pedacos(ultima: &str, padrao: u32) -> Vec<String> {
    let n = diretiva(ultima, "tokens").map_or(padrao, |n| u32::try_from(n).unwrap_or(u32::MAX));
    let tamanho = diretiva(ultima, "tamanho").unwrap_or(0) as usize;
    (1..=n)
        .map(|i| crate::verificacao::pedaco_do_fake(i, n, tamanho))
        .collect()
}

pub async fn servir(args: &FakeArgs) -> Result<()> {
    let ouvinte = TcpListener::bind(&args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    println!(
        "tutor-carga fake listening on http://{}",
        ouvinte.local_addr().context("local address")?
    );
    loop {
        let (s, _) = ouvinte.accept().await.context("accept")?;
        // Each SSE event leaves when written, as from a real upstream (Node's `http` does
        // the same): with Nagle's algorithm an event written right after the head waited
        // for the client's delayed ACK, and the first piece arrived 40 ms late.
        s.set_nodelay(true).context("TCP_NODELAY")?;
        let (padrao, atraso) = (args.pedacos, args.atraso_ms);
        tokio::spawn(async move {
            let _ = atender(s, padrao, atraso).await;
        });
    }
}

async fn atender(mut s: TcpStream, padrao: u32, atraso_padrao: u64) -> Result<()> {
    let mut buf = Vec::new();
    while let Some((cabecalho, corpo)) = ler_pedido(&mut s, &mut buf).await? {
        let fechar = cabecalho
            .lines()
            .any(|l| l.eq_ignore_ascii_case("connection: close"));
        responder(&mut s, &cabecalho, &corpo, padrao, atraso_padrao).await?;
        if fechar {
            break;
        }
    }
    s.shutdown().await?;
    Ok(())
}

/// The next request on the connection: its head and its body (`content-length` bytes);
/// `None` once the client closed it. Bytes past the body stay in `buf` for the next one.
async fn ler_pedido(s: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Option<(String, Vec<u8>)>> {
    let mut pedaco = [0u8; 8192];
    let fim_cabecalho = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut pedaco).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&pedaco[..n]);
    };
    let cabecalho = String::from_utf8_lossy(&buf[..fim_cabecalho]).to_string();
    let tamanho: usize = cabecalho
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < fim_cabecalho + tamanho {
        let n = s.read(&mut pedaco).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&pedaco[..n]);
    }
    let corpo = buf[fim_cabecalho..fim_cabecalho + tamanho].to_vec();
    buf.drain(..fim_cabecalho + tamanho);
    Ok(Some((cabecalho, corpo)))
}

/// Writes `dados` as one chunk of a chunked body.
async fn pedaco_http(s: &mut TcpStream, dados: &str) -> Result<()> {
    s.write_all(format!("{:x}\r\n{dados}\r\n", dados.len()).as_bytes())
        .await?;
    Ok(())
}

async fn responder(
    s: &mut TcpStream,
    cabecalho: &str,
    corpo: &[u8],
    padrao: u32,
    atraso_padrao: u64,
) -> Result<()> {
    let primeira = cabecalho.lines().next().unwrap_or_default();
    if !(primeira.starts_with("POST ") && primeira.contains("/chat/completions")) {
        s.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
            .await?;
        return Ok(());
    }
    let corpo: Value = serde_json::from_slice(corpo).unwrap_or(Value::Null);
    let ultima = corpo["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_owned();
    let atraso = diretiva(&ultima, "atraso").unwrap_or(atraso_padrao);
    let primeiro = diretiva(&ultima, "primeiro").unwrap_or(atraso);
    let pedacos = pedacos(&ultima, padrao);
    let modelo = corpo["model"].as_str().unwrap_or("fake").to_owned();
    let chunk = |delta: Value, fim: Option<&str>| {
        json!({
            "id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": modelo,
            "choices": [{"index": 0, "delta": delta, "finish_reason": fim}],
        })
    };
    if corpo["stream"] != true {
        let texto: String = pedacos.concat();
        let r = json!({
            "id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": modelo,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": texto}, "finish_reason": "stop"}],
        })
        .to_string();
        s.write_all(
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{r}",
                r.len()
            )
            .as_bytes(),
        )
        .await?;
        return Ok(());
    }
    s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n")
        .await?;
    let papel = chunk(json!({"role": "assistant", "content": ""}), None);
    pedaco_http(s, &format!("data: {papel}\n\n")).await?;
    for (i, p) in pedacos.iter().enumerate() {
        let espera = if i == 0 { primeiro } else { atraso };
        if espera > 0 {
            tokio::time::sleep(Duration::from_millis(espera)).await;
        }
        let c = chunk(json!({"content": p}), None);
        pedaco_http(s, &format!("data: {c}\n\n")).await?;
    }
    let fim = chunk(json!({}), Some("stop"));
    pedaco_http(s, &format!("data: {fim}\n\ndata: [DONE]\n\n")).await?;
    s.write_all(b"0\r\n\r\n").await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diretivas_e_pedacos_como_o_fake_do_node() {
        let m = "oi [[tokens:3]] [[atraso:15]] [[tamanho:20]]";
        assert_eq!(diretiva(m, "tokens"), Some(3));
        assert_eq!(diretiva(m, "atraso"), Some(15));
        assert_eq!(diretiva(m, "primeiro"), None);
        let p = pedacos(m, 8);
        assert_eq!(p.len(), 3);
        assert_eq!(p[1], "Parte 2 de 3. ~~~~~~");
        assert_eq!(p.concat(), crate::verificacao::texto_do_fake(3, 20));
        assert_eq!(
            pedacos("sem diretivas", 2).concat(),
            crate::verificacao::texto_do_fake(2, 0)
        );
    }
}

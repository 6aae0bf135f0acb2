//! The server's Prometheus text (`/metrics`) read before and after a run, so the report can
//! say what the server itself counted. The endpoint may not exist: a 404 is not an error.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use serde_json::{Value, json};

/// Sample name with labels (`tutor_respostas_total{status="completa"}`) → value.
pub type Amostras = BTreeMap<String, f64>;

/// Parses the text exposition format; comments, blank lines and NaNs are skipped.
pub fn analisar(texto: &str) -> Amostras {
    let mut m = Amostras::new();
    for linha in texto.lines() {
        let linha = linha.trim();
        if linha.is_empty() || linha.starts_with('#') {
            continue;
        }
        // The value follows the name (and its `{labels}`, which may contain spaces).
        let fim_nome = match linha.find('{') {
            Some(i) if i < linha.find(' ').unwrap_or(usize::MAX) => {
                linha.rfind('}').map_or(linha.len(), |j| j + 1)
            }
            _ => linha.find(' ').unwrap_or(linha.len()),
        };
        let nome = linha[..fim_nome].trim();
        let valor = linha[fim_nome..].split_whitespace().next();
        if let Some(v) = valor.and_then(|v| v.parse::<f64>().ok())
            && v.is_finite()
        {
            m.insert(nome.to_owned(), v);
        }
    }
    m
}

/// Fetches `/metrics`; `Ok(None)` when the server has no such endpoint.
pub async fn ler(http: &reqwest::Client, url: &str) -> Result<Option<Amostras>> {
    let r = http.get(url).send().await.context("GET /metrics")?;
    if r.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    let r = r.error_for_status().context("GET /metrics")?;
    Ok(Some(analisar(&r.text().await.context("/metrics body")?)))
}

/// What changed between two readings: every sample that moved (new samples count from 0).
pub fn diferenca(antes: &Amostras, depois: &Amostras) -> Value {
    let mut d = serde_json::Map::new();
    for (k, v) in depois {
        let delta = v - antes.get(k).copied().unwrap_or(0.0);
        if delta != 0.0 {
            d.insert(k.clone(), json!((delta * 1000.0).round() / 1000.0));
        }
    }
    Value::Object(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn le_o_formato_de_texto_e_subtrai() {
        let antes = analisar(
            "# HELP x y\n# TYPE tutor_respostas_total counter\n\
             tutor_respostas_total{status=\"completa\"} 10\n\
             tutor_sockets 5\nlatencia_bucket{le=\"+Inf\", a=\"b c\"} 3 1700000000\nruim NaN\n",
        );
        assert_eq!(antes["tutor_respostas_total{status=\"completa\"}"], 10.0);
        assert_eq!(antes["latencia_bucket{le=\"+Inf\", a=\"b c\"}"], 3.0);
        assert!(!antes.contains_key("ruim"));
        let depois = analisar(
            "tutor_respostas_total{status=\"completa\"} 25\ntutor_sockets 5\nnovo_total 2\n",
        );
        let d = diferenca(&antes, &depois);
        assert_eq!(d["tutor_respostas_total{status=\"completa\"}"], 15.0);
        assert_eq!(d["novo_total"], 2.0);
        assert!(
            d.get("tutor_sockets").is_none(),
            "unchanged samples are left out"
        );
    }
}

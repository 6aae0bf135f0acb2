//! Runs a scenario in this process, as one child of a parent (`--filho`), or as the parent of
//! `--processos P` children that split the clients. Takes the server's measurements around
//! the measured phase, prints progress every second and the final report.
//!
//! Parent ↔ child speak JSON lines: the child prints `{"progresso":…}` every second,
//! `{"pronto":true}` once connected, waits for a line on stdin to start, and ends with
//! `{"resultado":…,"extra":…}`.

use std::future::Future;
use std::io::Write as _;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::cenarios::{Contexto, Diretivas, Largada, clientes_http};
use crate::cli::Comum;
use crate::medidas::{Foto, Progresso, Resultado};
use crate::token::Fonte;
use crate::{metricas, relatorio, sistema};

/// A scenario's share in this process: global indices `inicio..inicio + quantos`, and the
/// fraction of any rate it must offer.
#[derive(Debug, Clone, Copy)]
pub struct Parte {
    pub inicio: usize,
    pub quantos: usize,
    pub fracao: f64,
}

/// Splits `total` clients over `p` processes; process `i` gets a contiguous range.
pub fn parte(total: usize, i: usize, p: usize) -> Parte {
    let base = total / p;
    let resto = total % p;
    let quantos = base + usize::from(i < resto);
    let inicio = i * base + i.min(resto);
    Parte {
        inicio,
        quantos,
        fracao: if total == 0 {
            1.0 / p as f64
        } else {
            quantos as f64 / total as f64
        },
    }
}

/// The server on this machine, measured before and after.
#[derive(Debug, Clone, Default)]
struct FotoServidor {
    cpu: Option<sistema::Cpu>,
    rss_kb: Option<u64>,
    metricas: Option<metricas::Amostras>,
    nota_metricas: Option<String>,
}

async fn fotografar(comum: &Comum, http: &reqwest::Client) -> FotoServidor {
    let mut f = FotoServidor::default();
    if let Some(pid) = comum.pid {
        f.cpu = sistema::cpu(pid).ok();
        f.rss_kb = sistema::rss_kb(pid).ok();
    }
    if let Some(url) = &comum.metrics {
        match metricas::ler(http, url).await {
            Ok(Some(m)) => f.metricas = Some(m),
            Ok(None) => f.nota_metricas = Some("404: the server has no /metrics".to_owned()),
            Err(e) => f.nota_metricas = Some(format!("{e:#}")),
        }
    }
    f
}

fn fonte(comum: &Comum) -> Result<Fonte> {
    match (&comum.secret, &comum.token) {
        (_, Some(t)) => Ok(Fonte::Fixo(t.clone())),
        (Some(s), None) => Ok(Fonte::Segredo {
            segredo: s.clone(),
            horas: comum.horas,
        }),
        (None, None) => bail!("give --secret (or TUTOR_JWT_SECRET) or --token"),
    }
}

fn execucao_nova() -> String {
    format!("{:08x}", rand::random::<u32>())
}

pub fn contexto(
    comum: &Comum,
    transporte_padrao: crate::sio::Transporte,
    p: Parte,
) -> Result<Contexto> {
    Ok(Contexto {
        url: comum.url.trim_end_matches('/').to_owned(),
        fonte: fonte(comum)?,
        transporte: comum.transporte.unwrap_or(transporte_padrao),
        origens: comum.origens.clone(),
        http: clientes_http(&comum.origens)?,
        prazo_conexao: Duration::from_secs(comum.prazo_conexao_s),
        timeout: Duration::from_secs(comum.timeout_s),
        concorrencia: comum.concorrencia,
        diretivas: Diretivas {
            tokens: (!comum.sem_diretivas).then_some(comum.tokens),
            atraso_ms: comum.atraso,
            primeiro_ms: comum.primeiro,
            tamanho: comum.tamanho,
            conferir_fake: comum.conferir_fake,
            texto: comum.texto.clone(),
        },
        execucao: comum.execucao.clone().unwrap_or_else(execucao_nova),
        inicio: p.inicio,
        resultado: Arc::new(Mutex::new(Resultado::default())),
        progresso: Arc::new(Progresso::default()),
    })
}

/// Prints the progress line on stderr once a second from `foto()`.
fn progresso_humano(foto: impl Fn() -> Foto + Send + 'static) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let inicio = Instant::now();
        let mut anterior = Foto::default();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        loop {
            tick.tick().await;
            let f = foto();
            eprintln!(
                "[{:>4}s] connected {:>6}  sent {:>7}  answered {:>7}  errors {:>5}  {:>7.1} msg/s",
                inicio.elapsed().as_secs(),
                f.conectados,
                f.enviadas,
                f.respondidas,
                f.erros,
                f.respondidas.saturating_sub(anterior.respondidas) as f64,
            );
            anterior = f;
        }
    })
}

/// Runs `cenario` with its share of `total` clients and reports; returns the exit code.
pub async fn executar<F, Fut>(
    comum: &Comum,
    nome: &str,
    transporte_padrao: crate::sio::Transporte,
    total: usize,
    mut config: Value,
    cenario: F,
) -> Result<i32>
where
    F: FnOnce(Arc<Contexto>, Largada, Parte) -> Fut,
    Fut: Future<Output = Result<Value>>,
{
    if let Err(e) = sistema::subir_limite_arquivos() {
        eprintln!("warning: could not raise RLIMIT_NOFILE: {e:#}");
    }
    if let Some(f) = &comum.filho {
        return filho(comum, f, transporte_padrao, total, cenario).await;
    }
    let http = clientes_http(&[])?.remove(0);
    let antes = Arc::new(tokio::sync::Mutex::new(FotoServidor::default()));
    let (resultado, extra, duracao_total) = if comum.processos > 1 {
        pai(comum, total, &http, antes.clone()).await?
    } else {
        let p = parte(total, 0, 1);
        let ctx = Arc::new(contexto(comum, transporte_padrao, p)?);
        let prog = ctx.progresso.clone();
        let barra = (!comum.silencioso).then(|| progresso_humano(move || prog.foto()));
        let (c2, h2, a2) = (comum.clone(), http.clone(), antes.clone());
        let largada: Largada = Box::new(move || {
            Box::pin(async move {
                *a2.lock().await = fotografar(&c2, &h2).await;
            })
        });
        let t0 = Instant::now();
        let extra = cenario(ctx.clone(), largada, p).await?;
        if let Some(b) = barra {
            b.abort();
        }
        let r = ctx.res().clone();
        (r, extra, t0.elapsed())
    };
    let depois = fotografar(comum, &http).await;
    let antes = antes.lock().await.clone();
    if let (Value::Object(c), Value::Object(e)) = (&mut config, &extra) {
        for (k, v) in e {
            c.entry(k.clone()).or_insert(v.clone());
        }
    }
    let servidor = relatorio_servidor(comum, &antes, &depois, &resultado);
    let aprovado = resultado.perdas() == 0
        && resultado.falhas_conexao_total() == 0
        && resultado.timeouts == 0
        && resultado.quedas == 0
        && extra.get("passed").is_none_or(|v| v == true);
    let saida = json!({
        "scenario": nome,
        "label": comum.rotulo.clone().unwrap_or_else(|| nome.to_owned()),
        "url": comum.url,
        "processes": comum.processos,
        "config": config,
        "result": resultado.resumo(),
        "scenario_report": extra,
        "server": servidor,
        "wall_s": (duracao_total.as_secs_f64() * 100.0).round() / 100.0,
        "histograms_us_v2_base64": {
            "connect": resultado.conexao,
            "ack": resultado.ack,
            "first_piece": resultado.primeiro,
            "answer": resultado.resposta,
        },
        "passed": aprovado,
    });
    relatorio::tabela(&saida, &resultado);
    let linha = serde_json::to_string(&saida).context("serializing the report")?;
    println!("{linha}");
    if let Some(caminho) = &comum.json {
        std::fs::write(caminho, format!("{linha}\n"))
            .with_context(|| format!("writing {}", caminho.display()))?;
    }
    Ok(if aprovado { 0 } else { 1 })
}

fn relatorio_servidor(comum: &Comum, a: &FotoServidor, d: &FotoServidor, r: &Resultado) -> Value {
    let mut s = serde_json::Map::new();
    if let Some(pid) = comum.pid {
        s.insert("pid".into(), json!(pid));
        s.insert("rss_kb_before".into(), json!(a.rss_kb));
        s.insert("rss_kb_after".into(), json!(d.rss_kb));
        if let (Some(x), Some(y)) = (a.cpu, d.cpu) {
            let (cpu, usuario, nucleo) = (
                y.total_ms() - x.total_ms(),
                y.usuario_ms - x.usuario_ms,
                y.nucleo_ms - x.nucleo_ms,
            );
            s.insert("cpu_ms".into(), json!(cpu.round()));
            s.insert("cpu_user_ms".into(), json!(usuario.round()));
            s.insert("cpu_kernel_ms".into(), json!(nucleo.round()));
            if r.respondidas > 0 {
                let por = |ms: f64| json!((ms / r.respondidas as f64 * 1000.0).round() / 1000.0);
                s.insert("cpu_ms_per_answer".into(), por(cpu));
                s.insert("cpu_user_ms_per_answer".into(), por(usuario));
                s.insert("cpu_kernel_ms_per_answer".into(), por(nucleo));
            }
        }
    }
    if comum.metrics.is_some() {
        match (&a.metricas, &d.metricas) {
            (Some(x), Some(y)) => {
                s.insert("metrics_delta".into(), metricas::diferenca(x, y));
            }
            _ => {
                s.insert(
                    "metrics_note".into(),
                    json!(d.nota_metricas.clone().or(a.nota_metricas.clone())),
                );
            }
        }
    }
    Value::Object(s)
}

/// The child side: run our share, talk JSON lines to the parent.
async fn filho<F, Fut>(
    comum: &Comum,
    quem: &str,
    transporte_padrao: crate::sio::Transporte,
    total: usize,
    cenario: F,
) -> Result<i32>
where
    F: FnOnce(Arc<Contexto>, Largada, Parte) -> Fut,
    Fut: Future<Output = Result<Value>>,
{
    let (i, p) = quem
        .split_once('/')
        .and_then(|(i, p)| Some((i.parse::<usize>().ok()?, p.parse::<usize>().ok()?)))
        .context("--filho I/P")?;
    let parte = parte(total, i, p);
    let ctx = Arc::new(contexto(comum, transporte_padrao, parte)?);
    let prog = ctx.progresso.clone();
    let relogio = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            imprimir(&json!({ "progresso": prog.foto() }));
        }
    });
    let largada: Largada = Box::new(|| {
        Box::pin(async {
            imprimir(&json!({ "pronto": true }));
            let mut linha = String::new();
            let _ = BufReader::new(tokio::io::stdin())
                .read_line(&mut linha)
                .await;
        })
    });
    let extra = cenario(ctx.clone(), largada, parte).await?;
    relogio.abort();
    let r = ctx.res().clone();
    imprimir(&json!({ "resultado": r, "extra": extra }));
    Ok(0)
}

fn imprimir(v: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

/// The parent side: start the children, wait until all are connected, measure, let them go,
/// add up what they report.
async fn pai(
    comum: &Comum,
    total: usize,
    http: &reqwest::Client,
    antes: Arc<tokio::sync::Mutex<FotoServidor>>,
) -> Result<(Resultado, Value, Duration)> {
    let p = comum.processos;
    let execucao = comum.execucao.clone().unwrap_or_else(execucao_nova);
    let exe = std::env::current_exe().context("own executable")?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let fotos = Arc::new(Mutex::new(vec![Foto::default(); p]));
    let barra = (!comum.silencioso).then(|| {
        let f = fotos.clone();
        progresso_humano(move || {
            let mut soma = Foto::default();
            for x in f
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .iter()
            {
                soma.somar(x);
            }
            soma
        })
    });
    let t0 = Instant::now();
    let mut entradas = Vec::new();
    let mut prontos = Vec::new();
    let mut fins = Vec::new();
    let mut filhos = Vec::new();
    for i in 0..p {
        let mut filho = tokio::process::Command::new(&exe)
            .args(&args)
            .args([
                "--filho",
                &format!("{i}/{p}"),
                "--execucao",
                &execucao,
                "--silencioso",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting a child process")?;
        entradas.push(filho.stdin.take().context("child stdin")?);
        let saida = filho.stdout.take().context("child stdout")?;
        let (pronto_tx, pronto_rx) = tokio::sync::oneshot::channel::<()>();
        prontos.push(pronto_rx);
        let f = fotos.clone();
        fins.push(tokio::spawn(async move {
            let mut linhas = BufReader::new(saida).lines();
            let mut pronto = Some(pronto_tx);
            while let Ok(Some(l)) = linhas.next_line().await {
                let Ok(v) = serde_json::from_str::<Value>(&l) else {
                    continue;
                };
                if let Some(foto) = v.get("progresso") {
                    if let Ok(foto) = serde_json::from_value::<Foto>(foto.clone()) {
                        f.lock().unwrap_or_else(std::sync::PoisonError::into_inner)[i] = foto;
                    }
                } else if v.get("pronto").is_some() {
                    if let Some(t) = pronto.take() {
                        let _ = t.send(());
                    }
                } else if let Some(r) = v.get("resultado") {
                    let r: Resultado = serde_json::from_value(r.clone())?;
                    return Ok((r, v["extra"].clone()));
                }
            }
            bail!("child {i} ended without a result")
        }));
        filhos.push(filho);
    }
    for pr in prontos {
        // A child that died before being ready shows up below as a missing result.
        let _ = pr.await;
    }
    *antes.lock().await = fotografar(comum, http).await;
    for e in &mut entradas {
        let _ = e.write_all(b"vai\n").await;
        let _ = e.flush().await;
    }
    let mut total_r = Resultado::default();
    let mut extras = Vec::new();
    for f in fins {
        match f.await {
            Ok(Ok((r, e))) => {
                total_r.juntar(&r);
                extras.push(e);
            }
            Ok(Err(e)) => {
                total_r.falha_conexao("child_failed".to_owned());
                total_r.amostra(format!("{e:#}"));
            }
            Err(e) => bail!("child reader: {e}"),
        }
    }
    for mut f in filhos {
        let _ = f.wait().await;
    }
    if let Some(b) = barra {
        b.abort();
    }
    let _ = total;
    let extra = extras.into_iter().next().unwrap_or(Value::Null);
    Ok((total_r, extra, t0.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partes_cobrem_todos_sem_sobrepor() {
        let partes: Vec<Parte> = (0..3).map(|i| parte(10, i, 3)).collect();
        assert_eq!(
            partes.iter().map(|p| p.quantos).collect::<Vec<_>>(),
            [4, 3, 3]
        );
        assert_eq!(
            partes.iter().map(|p| p.inicio).collect::<Vec<_>>(),
            [0, 4, 7]
        );
        let soma: f64 = partes.iter().map(|p| p.fracao).sum();
        assert!((soma - 1.0).abs() < 1e-9);
        assert_eq!(parte(2, 2, 3).quantos, 0);
    }
}

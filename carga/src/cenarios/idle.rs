//! `idle`: what an open, quiet socket costs the server. Sockets are opened in steps and the
//! server's RSS read after each; the cost per socket is the least-squares slope of RSS
//! against sockets, which ignores the fixed base and averages out allocator noise.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::{Contexto, Largada};
use crate::sio::{Entrada, Socket};
use crate::sistema;

pub struct Config {
    pub clientes: usize,
    pub passos: usize,
    pub pausa: Duration,
    pub segurar: Duration,
    pub pid: Option<u32>,
}

/// Slope of the least-squares line through `pontos` (x, y); None with fewer than two
/// distinct x.
pub fn inclinacao(pontos: &[(f64, f64)]) -> Option<f64> {
    let n = pontos.len() as f64;
    if pontos.len() < 2 {
        return None;
    }
    let mx = pontos.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pontos.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pontos.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pontos.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// How many of `sockets` the server has not closed.
fn vivos(sockets: &mut [Socket]) -> usize {
    sockets
        .iter_mut()
        .map(|s| {
            let mut vivo = true;
            while let Ok(e) = s.entrada.try_recv() {
                if matches!(e, Entrada::Fechado { .. }) {
                    vivo = false;
                }
            }
            vivo
        })
        .filter(|v| *v)
        .count()
}

pub async fn rodar(ctx: Arc<Contexto>, cfg: Config, largada: Largada) -> Result<Value> {
    largada().await;
    let rss = || cfg.pid.and_then(|p| sistema::rss_kb(p).ok());
    let mut pontos: Vec<(usize, Option<u64>)> = vec![(0, rss())];
    let mut sockets: Vec<Socket> = Vec::new();
    let mut mortos = 0usize;
    let passo = cfg.clientes.div_ceil(cfg.passos.max(1)).max(1);
    let sem = Arc::new(Semaphore::new(ctx.concorrencia.max(1)));
    let mut maximo = 0usize;
    let mut feitos = 0usize;
    while feitos < cfg.clientes {
        let ate = (feitos + passo).min(cfg.clientes);
        let mut tarefas = Vec::new();
        for k in feitos..ate {
            let (ctx, sem) = (ctx.clone(), sem.clone());
            tarefas.push(tokio::spawn(async move {
                let _vez = sem.acquire_owned().await.ok()?;
                let g = ctx.inicio + k;
                let op = ctx.opcoes(g, &ctx.usuario(g), ctx.transporte).ok()?;
                ctx.conectar(&op).await
            }));
        }
        for t in tarefas {
            if let Ok(Some(s)) = t.await {
                sockets.push(s);
            }
        }
        feitos = ate;
        tokio::time::sleep(cfg.pausa).await;
        let agora = vivos(&mut sockets);
        maximo = maximo.max(agora);
        pontos.push((agora, rss()));
    }
    tokio::time::sleep(cfg.segurar).await;
    let no_fim = vivos(&mut sockets);
    if no_fim < sockets.len() {
        mortos = sockets.len() - no_fim;
        ctx.res().quedas += mortos as u64;
    }
    let xy: Vec<(f64, f64)> = pontos
        .iter()
        .filter_map(|(s, r)| r.map(|r| (*s as f64, r as f64)))
        .collect();
    let kb_por_socket = inclinacao(&xy);
    drop(sockets);
    Ok(json!({
        "steps": pontos.iter().map(|(s, r)| json!({"sockets": s, "rss_kb": r})).collect::<Vec<_>>(),
        "rss_kb_per_socket": kb_por_socket.map(|k| (k * 100.0).round() / 100.0),
        "max_sockets_held": maximo,
        "held_at_end": no_fim,
        "closed_by_server": mortos,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inclinacao_de_uma_reta_e_de_pontos_com_ruido() {
        let reta: Vec<(f64, f64)> = (0..5)
            .map(|i| (i as f64 * 100.0, 1000.0 + i as f64 * 800.0))
            .collect();
        assert!((inclinacao(&reta).expect("slope") - 8.0).abs() < 1e-9);
        let ruido = [(0.0, 0.0), (1.0, 2.0), (2.0, 1.0), (3.0, 3.0)];
        assert!((inclinacao(&ruido).expect("slope") - 0.8).abs() < 1e-9);
        assert_eq!(inclinacao(&[(1.0, 1.0)]), None);
        assert_eq!(inclinacao(&[(1.0, 1.0), (1.0, 5.0)]), None);
    }
}

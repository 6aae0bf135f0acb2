//! `classroom`: a class behind one address opens the app within a second, the way browsers
//! do (long-polling, then the upgrade, by default), retrying a failed connect like
//! socket.io-client (1 s doubling to 5 s, ±50 %) until a cap. Each student then sends one
//! message, verified like any other. Connect time is measured from the moment the student
//! opened the page, retries included.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{Value, json};

use super::chat::{self, Cliente, Modo};
use super::{Contexto, Largada};
use crate::medidas::Progresso;
use crate::sio;

pub struct Config {
    pub alunos: usize,
    pub janela: Duration,
    pub limite: Duration,
}

/// socket.io-client's reconnection delay for attempt `n` (0-based), before jitter.
pub fn espera_base(n: u32) -> Duration {
    Duration::from_millis((1000u64 << n.min(3)).min(5000))
}

pub async fn rodar(ctx: Arc<Contexto>, cfg: Config, largada: Largada) -> Result<Value> {
    largada().await;
    let t0 = Instant::now();
    let erros: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let mut tarefas = Vec::new();
    for i in 0..cfg.alunos {
        let alvo = cfg.janela.mul_f64(i as f64 / cfg.alunos.max(1) as f64);
        let (ctx, erros) = (ctx.clone(), erros.clone());
        let limite = cfg.limite;
        tarefas.push(tokio::spawn(async move {
            tokio::time::sleep_until(tokio::time::Instant::from_std(t0 + alvo)).await;
            let k = ctx.inicio + i;
            let aberto = Instant::now();
            let mut tentativa = 0u32;
            let principal = loop {
                let op = ctx.opcoes(k, &ctx.usuario(k), ctx.transporte).ok()?;
                match sio::conectar(&op).await {
                    Ok(s) => break s,
                    Err(e) => {
                        *erros
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .entry(e.rotulo())
                            .or_default() += 1;
                        let espera = espera_base(tentativa).mul_f64(0.5 + rand::random::<f64>());
                        tentativa += 1;
                        if aberto.elapsed() + espera > limite {
                            let mut r = ctx.res();
                            r.falha_conexao("never_connected".to_owned());
                            r.amostra(format!("student {k}: {e}"));
                            return None;
                        }
                        tokio::time::sleep(espera).await;
                    }
                }
            };
            let conectado = t0.elapsed();
            {
                let mut r = ctx.res();
                r.conectados += 1;
                r.conexao.registrar(aberto.elapsed());
            }
            Progresso::mais(&ctx.progresso.conectados);
            let cliente = Cliente {
                k,
                principal,
                abas: Vec::new(),
                conversa: None,
            };
            let cfg = chat::Config {
                clientes: 1,
                mensagens: 1,
                abas: 0,
                modo: Modo::Fechado,
            };
            chat::executar(&ctx, cliente, &cfg, None).await;
            Some((conectado, tentativa))
        }));
    }
    let mut ultimo = Duration::ZERO;
    let mut com_erro = 0u64;
    for t in tarefas {
        if let Ok(Some((c, tentativas))) = t.await {
            ultimo = ultimo.max(c);
            com_erro += u64::from(tentativas > 0);
        }
    }
    ctx.res().duracao_s = t0.elapsed().as_secs_f64();
    let r = ctx.res().clone();
    let erros = erros
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    Ok(json!({
        "students": cfg.alunos,
        "connected": r.conectados,
        "answered": r.respondidas,
        "last_connected_s": (ultimo.as_secs_f64() * 100.0).round() / 100.0,
        "students_that_retried": com_erro,
        "connect_errors": erros,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn espera_dobra_ate_cinco_segundos() {
        let ms: Vec<u128> = (0..6).map(|n| espera_base(n).as_millis()).collect();
        assert_eq!(ms, [1000, 2000, 4000, 5000, 5000, 5000]);
    }
}

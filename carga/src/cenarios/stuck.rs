//! `stuck`: one tab stops reading its WebSocket (a frozen laptop) while big answers stream
//! into its conversation and other students chat normally. The others must be unaffected;
//! the report says what the server did to the stuck tab. Since a socket that reads nothing
//! cannot see a close, the tab's TCP connection is watched in `/proc/net/tcp` (our unread
//! bytes, and the state turning CLOSE_WAIT when the server hangs up), and after the others
//! finish the tab reads again to see what arrives (the rest of its queue, then the close).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::chat::{self, Modo};
use super::{Contexto, Largada};
use crate::sio::Entrada;

pub struct Config {
    pub clientes: usize,
    pub mensagens: usize,
    pub grandes: usize,
    pub grande_tokens: u32,
    pub grande_tamanho: usize,
    pub limite: Duration,
}

/// One connection's line in /proc/net/tcp: state and our receive queue.
#[derive(Debug, PartialEq, Clone, Copy)]
pub struct Tcp {
    pub estado: u8,
    pub fila_rx: u64,
}

/// Finds the connection whose local address is `local` in the text of /proc/net/tcp.
pub fn procurar_tcp(tabela: &str, local: SocketAddr) -> Option<Tcp> {
    let SocketAddr::V4(v4) = local else {
        return None;
    };
    // The kernel prints the IPv4 address as the hex of its native-endian u32.
    let alvo = format!(
        "{:08X}:{:04X}",
        u32::from_le_bytes(v4.ip().octets()),
        v4.port()
    );
    tabela.lines().skip(1).find_map(|l| {
        let campos: Vec<&str> = l.split_whitespace().collect();
        if campos.get(1)? != &alvo {
            return None;
        }
        let estado = u8::from_str_radix(campos.get(3)?, 16).ok()?;
        let fila_rx = u64::from_str_radix(campos.get(4)?.split(':').nth(1)?, 16).ok()?;
        Some(Tcp { estado, fila_rx })
    })
}

fn nome_estado(e: Option<u8>) -> &'static str {
    match e {
        Some(1) => "ESTABLISHED",
        Some(7) => "CLOSE",
        Some(8) => "CLOSE_WAIT",
        Some(9) => "LAST_ACK",
        Some(_) => "other",
        None => "gone",
    }
}

type Vigia = std::sync::Mutex<(Option<Duration>, Option<u8>, u64)>;

/// Records one look at the tab's connection: when it stopped being ESTABLISHED, its last
/// state, the most unread bytes seen.
fn anotar(v: &Vigia, t: Option<Tcp>, decorrido: Duration) {
    let mut f = v.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    f.1 = t.map(|t| t.estado);
    f.2 = f.2.max(t.map_or(0, |t| t.fila_rx));
    if f.0.is_none() && t.is_none_or(|t| t.estado != 1) {
        f.0 = Some(decorrido);
    }
}

pub async fn rodar(ctx: Arc<Contexto>, cfg: Config, largada: Largada) -> Result<Value> {
    // The victim: a sender and the tab that will freeze, same user, same conversation.
    let mut vitima_ctx = (*ctx).clone();
    vitima_ctx.diretivas.tokens = Some(cfg.grande_tokens);
    vitima_ctx.diretivas.tamanho = Some(cfg.grande_tamanho);
    vitima_ctx.diretivas.atraso_ms = 0;
    vitima_ctx.diretivas.primeiro_ms = None;
    vitima_ctx.diretivas.conferir_fake = false;
    // The victim's sender is counted apart, so the main table is the others' alone.
    vitima_ctx.resultado = Arc::default();
    let vitima_res = vitima_ctx.resultado.clone();
    let vitima_k = usize::MAX / 2;
    let mut vitima = chat::preparar(&vitima_ctx, vitima_k, 1, true)
        .await
        .context("the stuck tab's user could not connect and set up its conversation")?;
    let mut aba = vitima.abas.pop().context("stuck tab")?;
    let local = aba.local;
    let abertura = aba.abertura.clone();
    let mut outros = Vec::new();
    for i in 0..cfg.clientes {
        if let Some(c) = chat::preparar(&ctx, ctx.inicio + i, 0, false).await {
            outros.push(c);
        }
    }
    largada().await;
    let inicio = Instant::now();
    aba.pausar(true);
    let fechado: Arc<Vigia> = Arc::default();
    let vigia = {
        let fechado = fechado.clone();
        tokio::spawn(async move {
            let Some(local) = local else { return };
            loop {
                let tabela = tokio::fs::read_to_string("/proc/net/tcp")
                    .await
                    .unwrap_or_default();
                let t = procurar_tcp(&tabela, local);
                anotar(&fechado, t, inicio.elapsed());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let cfg_outros = chat::Config {
        clientes: outros.len(),
        mensagens: cfg.mensagens,
        abas: 0,
        modo: Modo::Fechado,
    };
    let cfg_vitima = chat::Config {
        clientes: 1,
        mensagens: cfg.grandes,
        abas: 0,
        modo: Modo::Fechado,
    };
    let mut tarefas = Vec::new();
    for c in outros {
        let (ctx, cfg) = (ctx.clone(), cfg_outros.clone());
        tarefas.push(tokio::spawn(async move {
            chat::executar(&ctx, c, &cfg, None).await
        }));
    }
    vitima.abas.clear();
    let vctx = Arc::new(vitima_ctx);
    let remetente = tokio::spawn(async move {
        let limite = cfg.limite;
        let _ =
            tokio::time::timeout(limite, chat::executar(&vctx, vitima, &cfg_vitima, None)).await;
    });
    for t in tarefas {
        let _ = t.await;
    }
    let outros_s = inicio.elapsed();
    let _ = remetente.await;
    // Give the server the rest of the limit to act on the frozen tab, if it has not yet.
    while fechado
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .0
        .is_none()
        && inicio.elapsed() < cfg.limite
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    vigia.abort();
    let (fechou, estado, fila_max) = *fechado
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Thaw the tab: read what is left and whether a close follows.
    aba.pausar(false);
    let mut eventos = 0u64;
    let mut motivo = None;
    let ate = tokio::time::Instant::now() + Duration::from_secs(5);
    while let Ok(Some(e)) = tokio::time::timeout_at(ate, aba.entrada.recv()).await {
        match e {
            Entrada::Fechado { motivo: m, .. } => {
                motivo = Some(m);
                break;
            }
            _ => eventos += 1,
        }
    }
    ctx.res().duracao_s = outros_s.as_secs_f64();
    let r = ctx.res().clone();
    let v = vitima_res
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .resumo();
    Ok(json!({
        "stuck_users_sender": {
            "sent": v["sent"], "answered": v["answered"], "missing_or_wrong": v["missing_or_wrong"],
            "answer_ms": v["answer_ms"],
        },
        "others_unaffected": r.perdas() == 0 && r.quedas == 0 && r.timeouts == 0,
        "others_done_s": (outros_s.as_secs_f64() * 100.0).round() / 100.0,
        "stuck_tab": {
            "server_closed_it": fechou.is_some() || motivo.is_some(),
            "closed_after_s": fechou.map(|d| (d.as_secs_f64() * 10.0).round() / 10.0),
            "tcp_state_at_end": nome_estado(estado),
            "max_unread_bytes_in_our_kernel": fila_max,
            "events_read_after_thaw": eventos,
            "close_seen_after_thaw": motivo,
            "ping_interval_ms": abertura.ping_interval_ms,
            "ping_timeout_ms": abertura.ping_timeout_ms,
        },
        "passed": r.perdas() == 0 && r.quedas == 0,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acha_a_conexao_em_proc_net_tcp() {
        let tabela = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   \
             0: 0100007F:8C9F 0100007F:0BB8 01 00000000:0001F400 00:00000000 00000000     0        0 1 1\n   \
             1: 0100007F:8CA0 0100007F:0BB8 08 00000000:00000010 00:00000000 00000000     0        0 2 1\n";
        let a: SocketAddr = "127.0.0.1:36000".parse().expect("addr");
        assert_eq!(
            procurar_tcp(tabela, a),
            Some(Tcp {
                estado: 8,
                fila_rx: 16
            })
        );
        let b: SocketAddr = "127.0.0.1:35999".parse().expect("addr");
        assert_eq!(
            procurar_tcp(tabela, b),
            Some(Tcp {
                estado: 1,
                fila_rx: 0x1F400
            })
        );
        assert_eq!(
            procurar_tcp(tabela, "127.0.0.1:1".parse().expect("addr")),
            None
        );
    }
}

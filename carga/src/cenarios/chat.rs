//! `chat`, `fanout` and `burst`: clients that each own one conversation and send into it.
//!
//! - closed loop (`chat`): the next message after the previous answer;
//! - open loop (`--taxa R`): arrivals at R per second whatever the answers do, spread
//!   round-robin over the clients (a message may wait behind the previous answer of its
//!   conversation: that wait is part of what the student sees);
//! - `burst`: every message of every client at once.
//!
//! With tabs (`fanout`), each conversation also has extra sockets of the same user that
//! joined it, and each of them must see every answer, verified the same way.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc, watch};

use super::{Contexto, Largada};
use crate::medidas::Progresso;
use crate::sio::{Entrada, Socket};
use crate::verificacao::Coletor;

/// When messages are sent.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub enum Modo {
    Fechado,
    Taxa { por_s: f64, poisson: bool },
    Rajada,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Clients of this process.
    pub clientes: usize,
    pub mensagens: usize,
    /// Extra tabs per conversation.
    pub abas: usize,
    pub modo: Modo,
}

/// One client: its socket, its tabs, its conversation (created in setup when needed).
pub(crate) struct Cliente {
    pub k: usize,
    pub principal: Socket,
    pub abas: Vec<Socket>,
    pub conversa: Option<String>,
}

/// A send waiting for its answer.
struct Envio {
    ack_id: u64,
    t0: Instant,
    ack: bool,
    /// The tutor message answering it, once its first event names it.
    tutor: Option<String>,
    primeiro: bool,
}

pub async fn rodar(ctx: Arc<Contexto>, cfg: Config, largada: Largada) -> Result<Value> {
    let precisa_conversa = cfg.abas > 0 || !matches!(cfg.modo, Modo::Fechado);
    let sem = Arc::new(Semaphore::new(ctx.concorrencia.max(1)));
    let mut tarefas = Vec::new();
    for i in 0..cfg.clientes {
        let (ctx, sem) = (ctx.clone(), sem.clone());
        let abas = cfg.abas;
        tarefas.push(tokio::spawn(async move {
            let _vez = sem.acquire_owned().await.ok()?;
            preparar(&ctx, ctx.inicio + i, abas, precisa_conversa).await
        }));
    }
    let mut clientes = Vec::new();
    for t in tarefas {
        if let Ok(Some(c)) = t.await {
            clientes.push(c);
        }
    }
    largada().await;
    let inicio = Instant::now();
    let mut filas = Vec::new();
    let mut tarefas = Vec::new();
    for c in clientes {
        let (tx, rx) = mpsc::unbounded_channel();
        filas.push(tx);
        let (ctx, cfg) = (ctx.clone(), cfg.clone());
        let rx = matches!(cfg.modo, Modo::Taxa { .. }).then_some(rx);
        tarefas.push(tokio::spawn(
            async move { executar(&ctx, c, &cfg, rx).await },
        ));
    }
    if let Modo::Taxa { por_s, poisson } = cfg.modo {
        chegadas(filas, cfg.mensagens, por_s, poisson).await;
    } else {
        drop(filas);
    }
    for t in tarefas {
        let _ = t.await;
    }
    ctx.res().duracao_s = inicio.elapsed().as_secs_f64();
    // Everything about this run is already in the config the caller reports.
    Ok(json!({}))
}

/// Open loop: `total` arrivals at `por_s` a second over the clients, round-robin.
async fn chegadas(
    filas: Vec<mpsc::UnboundedSender<()>>,
    por_cliente: usize,
    por_s: f64,
    poisson: bool,
) {
    if filas.is_empty() {
        return;
    }
    let total = filas.len() * por_cliente;
    let inicio = tokio::time::Instant::now();
    let mut t = 0.0f64;
    for n in 0..total {
        let passo = if poisson {
            // Exponential gaps: -ln(U)/rate with U in (0, 1].
            let u: f64 = 1.0 - rand::random::<f64>();
            -u.ln() / por_s
        } else {
            1.0 / por_s
        };
        if n > 0 {
            t += passo;
        }
        tokio::time::sleep_until(inicio + Duration::from_secs_f64(t)).await;
        let _ = filas[n % filas.len()].send(());
    }
}

/// Waits for an event named in `nomes` on `s`, dropping others.
async fn esperar(s: &mut Socket, nomes: &[&str], prazo: Duration) -> Option<(String, Value)> {
    tokio::time::timeout(prazo, async {
        while let Some(e) = s.entrada.recv().await {
            match e {
                Entrada::Evento { nome, dados, .. } if nomes.contains(&nome.as_str()) => {
                    return Some((nome, dados));
                }
                Entrada::Fechado { .. } => return None,
                _ => {}
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}

/// Connects client `k` and its tabs; creates the conversation first when tabs must join
/// it or messages will overlap. Not measured, except the connection times.
pub(crate) async fn preparar(
    ctx: &Contexto,
    k: usize,
    abas: usize,
    precisa_conversa: bool,
) -> Option<Cliente> {
    let sub = ctx.usuario(k);
    let mut sockets = Vec::new();
    for _ in 0..=abas {
        let op = match ctx.opcoes(k, &sub, ctx.transporte) {
            Ok(op) => op,
            Err(e) => {
                ctx.res().amostra(format!("{e:#}"));
                return None;
            }
        };
        sockets.push(ctx.conectar(&op).await?);
    }
    let mut principal = sockets.remove(0);
    let mut conversa = None;
    if precisa_conversa {
        let conteudo = ctx.diretivas.conteudo(&format!("{k} inicio"), Some(1));
        let falha = |ctx: &Contexto, m: String| {
            let mut r = ctx.res();
            r.falha_conexao("setup".to_owned());
            r.amostra(m);
        };
        match principal
            .chamar(
                "mensagem_enviada",
                json!({ "conteudo": conteudo }),
                ctx.timeout,
            )
            .await
        {
            Ok(ack) if ack["ok"] == true => {
                conversa = ack["conversa_id"].as_str().map(str::to_owned)
            }
            Ok(ack) => {
                falha(ctx, format!("setup send: {ack}"));
                return None;
            }
            Err(e) => {
                falha(ctx, format!("setup send: {e:#}"));
                return None;
            }
        }
        if esperar(
            &mut principal,
            &["mensagem_respondida", "erro_resposta"],
            ctx.timeout,
        )
        .await
        .is_none()
        {
            falha(ctx, "setup answer never came".to_owned());
            return None;
        }
        for aba in &mut sockets {
            match aba
                .chamar(
                    "entrar_conversa",
                    json!({ "conversa_id": conversa }),
                    ctx.timeout,
                )
                .await
            {
                Ok(ack) if ack["ok"] == true => {}
                outro => {
                    falha(ctx, format!("tab join: {outro:?}"));
                    return None;
                }
            }
        }
    }
    Some(Cliente {
        k,
        principal,
        abas: sockets,
        conversa,
    })
}

/// Finds the send an answer event belongs to: the one already tied to that tutor message,
/// else the oldest acked send not yet tied (answers come in the order sends were stored).
fn achar(pend: &mut VecDeque<Envio>, tutor: &str) -> Option<usize> {
    if let Some(i) = pend.iter().position(|p| p.tutor.as_deref() == Some(tutor)) {
        return Some(i);
    }
    let i = pend.iter().position(|p| p.tutor.is_none() && p.ack)?;
    pend[i].tutor = Some(tutor.to_owned());
    Some(i)
}

/// Runs one client's measured messages and its tabs.
pub(crate) async fn executar(
    ctx: &Contexto,
    c: Cliente,
    cfg: &Config,
    mut chegadas: Option<mpsc::UnboundedReceiver<()>>,
) {
    let Cliente {
        k,
        mut principal,
        abas,
        mut conversa,
    } = c;
    let (alvo_tx, alvo_rx) = watch::channel(None::<u64>);
    let seguidores: Vec<_> = abas
        .into_iter()
        .map(|aba| seguir_aba(ctx, aba, conversa.clone(), alvo_rx.clone()))
        .collect();
    let esperado = ctx.diretivas.esperado();
    let p = &ctx.progresso;
    let remetente = async {
        let mut pend: VecDeque<Envio> = VecDeque::new();
        let mut coletor = Coletor::default();
        let mut enviadas = 0usize;
        let mut chegaram = 0u64;
        let mut vivo = true;
        let mut sem_chegadas = chegadas.is_none();
        let enviar =
            |s: &mut Socket, pend: &mut VecDeque<Envio>, conversa: &Option<String>, n: usize| {
                let conteudo = ctx.diretivas.conteudo(&format!("{k}.{n}"), None);
                let dados = match conversa {
                    Some(id) => json!({ "conversa_id": id, "conteudo": conteudo }),
                    None => json!({ "conteudo": conteudo }),
                };
                let ack_id = s.emitir("mensagem_enviada", dados);
                pend.push_back(Envio {
                    ack_id,
                    t0: Instant::now(),
                    ack: false,
                    tutor: None,
                    primeiro: false,
                });
                ctx.res().enviadas += 1;
                Progresso::mais(&p.enviadas);
            };
        loop {
            if vivo {
                match cfg.modo {
                    Modo::Fechado if pend.is_empty() && enviadas < cfg.mensagens => {
                        enviar(&mut principal, &mut pend, &conversa, enviadas);
                        enviadas += 1;
                    }
                    Modo::Rajada => {
                        while enviadas < cfg.mensagens {
                            enviar(&mut principal, &mut pend, &conversa, enviadas);
                            enviadas += 1;
                        }
                    }
                    _ => {}
                }
            }
            let nada_mais = match cfg.modo {
                Modo::Taxa { .. } => sem_chegadas,
                _ => enviadas >= cfg.mensagens,
            };
            if pend.is_empty() && (nada_mais || !vivo) {
                break;
            }
            if !vivo && !sem_chegadas {
                // Arrivals for a dead socket are dropped (already counted as not sent).
                if let Some(rx) = chegadas.as_mut() {
                    rx.close();
                }
                sem_chegadas = true;
            }
            let prazo = pend
                .front()
                .map(|e| tokio::time::Instant::from_std(e.t0 + ctx.timeout));
            tokio::select! {
                e = principal.entrada.recv() => {
                    let Some(e) = e else { vivo = false; pend.clear(); continue };
                    match e {
                        Entrada::Ack { id, dados, em } => {
                            let Some(i) = pend.iter().position(|e| e.ack_id == id) else { continue };
                            if dados["ok"] == true {
                                pend[i].ack = true;
                                conversa = conversa.or_else(|| dados["conversa_id"].as_str().map(str::to_owned));
                                ctx.res().ack.registrar(em - pend[i].t0);
                            } else {
                                let codigo = dados["erro"]["codigo"].as_str().unwrap_or("?").to_owned();
                                let mut r = ctx.res();
                                r.erro(format!("ack:{codigo}"));
                                r.amostra(format!("ack: {dados}"));
                                Progresso::mais(&p.erros);
                                pend.remove(i);
                            }
                        }
                        Entrada::Evento { nome, dados, em } => {
                            if conversa.is_none() || dados["conversa_id"].as_str() != conversa.as_deref() {
                                continue;
                            }
                            match nome.as_str() {
                                "resposta_iniciada" => {
                                    achar(&mut pend, dados["mensagem_id"].as_str().unwrap_or_default());
                                }
                                "resposta_parcial" => {
                                    coletor.parcial(&dados);
                                    if let Some(i) = achar(&mut pend, dados["mensagem_id"].as_str().unwrap_or_default())
                                        && !pend[i].primeiro
                                    {
                                        pend[i].primeiro = true;
                                        ctx.res().primeiro.registrar(em - pend[i].t0);
                                    }
                                }
                                "mensagem_respondida" => {
                                    let id = dados["mensagem"]["id"].as_str().unwrap_or_default().to_owned();
                                    let conferido = coletor.respondida(&dados);
                                    let Some(i) = achar(&mut pend, &id) else { continue };
                                    let Some(envio) = pend.remove(i) else { continue };
                                    chegaram += 1;
                                    let conteudo = dados["mensagem"]["conteudo"].as_str().unwrap_or_default();
                                    let status = dados["mensagem"]["status"].as_str().unwrap_or("?");
                                    let mut r = ctx.res();
                                    if let Err(f) = conferido {
                                        r.divergentes += 1;
                                        r.amostra(format!("client {k}: {f}"));
                                        Progresso::mais(&p.erros);
                                    } else if esperado.as_deref().is_some_and(|t| t != conteudo) {
                                        r.divergentes += 1;
                                        r.amostra(format!("client {k}: text is not the fake's ({} bytes)", conteudo.len()));
                                        Progresso::mais(&p.erros);
                                    } else if status != "completa" {
                                        r.erro(format!("status:{status}"));
                                        Progresso::mais(&p.erros);
                                    } else {
                                        r.respondidas += 1;
                                        r.resposta.registrar(em - envio.t0);
                                        Progresso::mais(&p.respondidas);
                                    }
                                }
                                "erro_resposta" => {
                                    coletor.erro(&dados);
                                    let Some(i) = achar(&mut pend, dados["mensagem_id"].as_str().unwrap_or_default()) else { continue };
                                    pend.remove(i);
                                    let codigo = dados["erro"]["codigo"].as_str().unwrap_or("?");
                                    let mut r = ctx.res();
                                    r.erro(format!("resposta:{codigo}"));
                                    r.amostra(format!("client {k}: erro_resposta {codigo}"));
                                    Progresso::mais(&p.erros);
                                }
                                _ => {}
                            }
                        }
                        Entrada::Fechado { motivo, .. } => {
                            let mut r = ctx.res();
                            r.quedas += 1;
                            r.amostra(format!("client {k}: disconnected ({motivo}) with {} answers pending", pend.len()));
                            vivo = false;
                            pend.clear();
                        }
                    }
                }
                a = async { chegadas.as_mut()?.recv().await }, if !sem_chegadas => {
                    match a {
                        Some(()) if vivo => {
                            enviar(&mut principal, &mut pend, &conversa, enviadas);
                            enviadas += 1;
                        }
                        Some(()) => {}
                        None => sem_chegadas = true,
                    }
                }
                _ = async { tokio::time::sleep_until(prazo.unwrap_or_else(tokio::time::Instant::now)).await }, if prazo.is_some() => {
                    pend.pop_front();
                    let mut r = ctx.res();
                    r.timeouts += 1;
                    r.amostra(format!("client {k}: no answer within {:?}", ctx.timeout));
                    Progresso::mais(&p.erros);
                    if matches!(cfg.modo, Modo::Fechado) {
                        vivo = false;
                    }
                }
            }
        }
        let _ = alvo_tx.send(Some(chegaram));
        principal
    };
    let (principal, _) = tokio::join!(remetente, futures_util::future::join_all(seguidores));
    drop(principal);
}

/// One extra tab: verifies every answer of the conversation it sees, until it has seen as
/// many as the sender got (`alvo`), or 5 s after the sender finished.
async fn seguir_aba(
    ctx: &Contexto,
    mut aba: Socket,
    conversa: Option<String>,
    mut alvo: watch::Receiver<Option<u64>>,
) {
    let mut coletor = Coletor::default();
    let (mut recebidas, mut divergentes) = (0u64, 0u64);
    let mut prazo: Option<tokio::time::Instant> = None;
    let mut caiu = false;
    let n = loop {
        if let Some(n) = *alvo.borrow_and_update() {
            if recebidas >= n {
                break n;
            }
            prazo.get_or_insert_with(|| tokio::time::Instant::now() + Duration::from_secs(5));
        }
        tokio::select! {
            e = aba.entrada.recv() => match e {
                Some(Entrada::Evento { nome, dados, .. }) if dados["conversa_id"].as_str() == conversa.as_deref() => {
                    match nome.as_str() {
                        "resposta_parcial" => { coletor.parcial(&dados); }
                        "mensagem_respondida" => {
                            recebidas += 1;
                            if let Err(f) = coletor.respondida(&dados) {
                                divergentes += 1;
                                ctx.res().amostra(format!("tab: {f}"));
                            }
                        }
                        "erro_resposta" => coletor.erro(&dados),
                        _ => {}
                    }
                }
                Some(Entrada::Fechado { motivo, .. }) => {
                    if !caiu {
                        caiu = true;
                        let mut r = ctx.res();
                        r.quedas += 1;
                        r.amostra(format!("tab disconnected ({motivo})"));
                    }
                    // Still wait for the sender's count, to know how many this tab missed.
                    if let Some(n) = *alvo.borrow() { break n; }
                    if alvo.changed().await.is_err() { break 0; }
                }
                Some(_) => {}
                None => {
                    if let Some(n) = *alvo.borrow() { break n; }
                    if alvo.changed().await.is_err() { break 0; }
                }
            },
            r = alvo.changed(), if prazo.is_none() => {
                if r.is_err() { break 0; }
            }
            _ = async { tokio::time::sleep_until(prazo.unwrap_or_else(tokio::time::Instant::now)).await }, if prazo.is_some() => {
                break alvo.borrow().unwrap_or(0);
            }
        }
    };
    let mut r = ctx.res();
    r.abas_esperadas += n;
    r.abas_recebidas += recebidas.min(n);
    r.abas_divergentes += divergentes;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envio(id: u64, ack: bool) -> Envio {
        Envio {
            ack_id: id,
            t0: Instant::now(),
            ack,
            tutor: None,
            primeiro: false,
        }
    }

    #[test]
    fn respostas_casam_com_envios_em_ordem() {
        let mut pend: VecDeque<Envio> = [envio(0, true), envio(1, true), envio(2, false)].into();
        assert_eq!(achar(&mut pend, "t0"), Some(0));
        assert_eq!(
            achar(&mut pend, "t0"),
            Some(0),
            "same tutor message, same send"
        );
        assert_eq!(achar(&mut pend, "t1"), Some(1));
        assert_eq!(
            achar(&mut pend, "t2"),
            None,
            "the third send has no ack yet"
        );
        pend.remove(0);
        assert_eq!(achar(&mut pend, "t1"), Some(0));
    }
}

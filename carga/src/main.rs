//! Entry point: parse the command line and run the scenario (see `lib.rs`).

use anyhow::Result;
use clap::Parser;
use serde_json::json;

use std::time::Duration;
use tutor_carga::cenarios::chat::{self, Modo};
use tutor_carga::cenarios::{classroom, idle, stuck};
use tutor_carga::cli::{ChatArgs, Chegadas, ClassroomArgs, Cli, Comando, IdleArgs, StuckArgs};
use tutor_carga::coordenacao::executar;
use tutor_carga::sio::Transporte;
use tutor_carga::{fake, plot};

fn main() {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime must start for anything to run");
    match rt.block_on(rodar(cli)) {
        Ok(codigo) => std::process::exit(codigo),
        Err(e) => {
            eprintln!("tutor-carga: {e:#}");
            std::process::exit(2);
        }
    }
}

async fn rodar(cli: Cli) -> Result<i32> {
    match cli.comando {
        Comando::Chat(a) => conversar("chat", a, 0, false).await,
        Comando::Fanout(a) => conversar("fanout", a, 3, false).await,
        Comando::Burst(a) => conversar("burst", a, 0, true).await,
        Comando::Plot(a) => plot::desenhar(&a).map(|()| 0),
        Comando::Fake(a) => fake::servir(&a).await.map(|()| 0),
        Comando::Idle(a) => ocioso(a).await,
        Comando::Classroom(a) => turma(a).await,
        Comando::Stuck(a) => travado(a).await,
    }
}

async fn conversar(nome: &str, a: ChatArgs, abas_padrao: usize, rajada: bool) -> Result<i32> {
    let abas = a.abas.unwrap_or(abas_padrao);
    let config = json!({
        "clients": a.clientes, "messages_per_client": a.mensagens, "tabs": abas,
        "rate": a.taxa, "arrivals": format!("{:?}", a.chegadas).to_lowercase(),
        "tokens": (!a.comum.sem_diretivas).then_some(a.comum.tokens),
        "delay_ms": a.comum.atraso, "first_ms": a.comum.primeiro, "size": a.comum.tamanho,
        "transport": a.comum.transporte.unwrap_or(Transporte::Websocket),
        "origins": a.comum.origens.len().max(1),
    });
    let (mensagens, taxa, chegadas) = (a.mensagens, a.taxa, a.chegadas);
    executar(
        &a.comum,
        nome,
        Transporte::Websocket,
        a.clientes,
        config,
        move |ctx, largada, parte| {
            let modo = match (rajada, taxa) {
                (true, _) => Modo::Rajada,
                (false, Some(r)) => Modo::Taxa {
                    por_s: r * parte.fracao,
                    poisson: chegadas == Chegadas::Poisson,
                },
                (false, None) => Modo::Fechado,
            };
            chat::rodar(
                ctx,
                chat::Config {
                    clientes: parte.quantos,
                    mensagens,
                    abas,
                    modo,
                },
                largada,
            )
        },
    )
    .await
}

/// Several processes only make sense where clients are independent (chat, fanout, burst).
fn um_processo(c: &mut tutor_carga::cli::Comum, nome: &str) {
    if c.processos > 1 {
        eprintln!("note: {nome} runs in one process; --processos ignored");
        c.processos = 1;
    }
}

async fn ocioso(mut a: IdleArgs) -> Result<i32> {
    um_processo(&mut a.comum, "idle");
    let config = json!({
        "clients": a.clientes, "steps": a.passos, "pause_s": a.pausa_s, "hold_s": a.segurar_s,
        "transport": a.comum.transporte.unwrap_or(Transporte::Websocket),
        "origins": a.comum.origens.len().max(1),
    });
    let cfg = idle::Config {
        clientes: a.clientes,
        passos: a.passos,
        pausa: Duration::from_secs_f64(a.pausa_s),
        segurar: Duration::from_secs_f64(a.segurar_s),
        pid: a.comum.pid,
    };
    executar(
        &a.comum,
        "idle",
        Transporte::Websocket,
        a.clientes,
        config,
        move |ctx, largada, _| idle::rodar(ctx, cfg, largada),
    )
    .await
}

async fn turma(mut a: ClassroomArgs) -> Result<i32> {
    um_processo(&mut a.comum, "classroom");
    let config = json!({
        "students": a.alunos, "window_ms": a.janela_ms, "cap_s": a.limite_s,
        "tokens": (!a.comum.sem_diretivas).then_some(a.comum.tokens), "delay_ms": a.comum.atraso,
        "transport": a.comum.transporte.unwrap_or(Transporte::Upgrade),
        "origins": a.comum.origens.len().max(1),
    });
    let cfg = classroom::Config {
        alunos: a.alunos,
        janela: Duration::from_millis(a.janela_ms),
        limite: Duration::from_secs(a.limite_s),
    };
    executar(
        &a.comum,
        "classroom",
        Transporte::Upgrade,
        a.alunos,
        config,
        move |ctx, largada, _| classroom::rodar(ctx, cfg, largada),
    )
    .await
}

async fn travado(mut a: StuckArgs) -> Result<i32> {
    um_processo(&mut a.comum, "stuck");
    if a.comum
        .transporte
        .is_some_and(|t| t != Transporte::Websocket)
    {
        anyhow::bail!("stuck freezes a WebSocket: use --transporte websocket");
    }
    let config = json!({
        "clients": a.clientes, "messages_per_client": a.mensagens, "big_messages": a.grandes,
        "big_tokens": a.grande_tokens, "big_size": a.grande_tamanho, "cap_s": a.limite_s,
        "tokens": a.comum.tokens, "delay_ms": a.comum.atraso,
    });
    let cfg = stuck::Config {
        clientes: a.clientes,
        mensagens: a.mensagens,
        grandes: a.grandes,
        grande_tokens: a.grande_tokens,
        grande_tamanho: a.grande_tamanho,
        limite: Duration::from_secs(a.limite_s),
    };
    executar(
        &a.comum,
        "stuck",
        Transporte::Websocket,
        a.clientes,
        config,
        move |ctx, largada, _| stuck::rodar(ctx, cfg, largada),
    )
    .await
}

//! Entry point: parse the command line and run the scenario (see `lib.rs`).

use anyhow::Result;
use clap::Parser;
use serde_json::json;

use tutor_carga::cenarios::chat::{self, Modo};
use tutor_carga::cli::{ChatArgs, Chegadas, Cli, Comando};
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
        Comando::Idle(_) | Comando::Classroom(_) | Comando::Stuck(_) => {
            anyhow::bail!("not yet")
        }
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

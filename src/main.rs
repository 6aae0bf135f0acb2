//! The `tutor` binary: parse the configuration, start logging, then either print a token
//! (`tutor token`) or run the server until SIGTERM or Ctrl-C.
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use secrecy::ExposeSecret;
use tracing_subscriber::{
    EnvFilter,
    fmt::{FmtContext, FormatEvent, FormatFields, format::Writer},
    registry::LookupSpan,
};
use tutor::{
    auth::{Papel, emitir_token_com_nome},
    config::{Command, Config},
    startup::Application,
};

fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    let runtime = match config.threads {
        1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        n => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            if n > 0 {
                b.worker_threads(n);
            }
            b.enable_all().build()
        }
    }
    .context("starting the async runtime")?;
    runtime.block_on(servir(config))
}

async fn servir(config: Config) -> anyhow::Result<()> {
    if let Some(Command::Token(t)) = &config.command {
        let segredo = config
            .jwt_secret
            .as_ref()
            .context("set TUTOR_JWT_SECRET (or --jwt-secret) to sign tokens")?;
        let papel = match t.papel.as_str() {
            "aluno" => Papel::Aluno,
            "professor" => Papel::Professor,
            outro => anyhow::bail!("--papel must be aluno or professor, not {outro:?}"),
        };
        let validade = Duration::from_secs(t.horas.saturating_mul(3600));
        println!(
            "{}",
            emitir_token_com_nome(
                segredo.expose_secret(),
                &t.sub,
                t.nome.as_deref(),
                papel,
                validade
            )
        );
        return Ok(());
    }
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(filtro_de_log(config.log_inseguro))
        .event_format(ComNo {
            no: config.nome_do_no(),
            interno: tracing_subscriber::fmt::format(),
        })
        .init();
    // Listening for the signals starts before the server does: a SIGTERM during start-up
    // (a deployment stopping a node as it boots, a test that is over at once) is then a
    // graceful stop like any other, not the default action's kill.
    let parada = sinal_de_parada()?;
    let app = Application::build(config).await?;
    app.run_until(parada).await
}

/// `RUST_LOG` (default `info`), with the libraries that would print packets, headers or SQL
/// (tokens, keys, students' text) held at `warn` whatever it says, unless `log_inseguro`.
fn filtro_de_log(log_inseguro: bool) -> EnvFilter {
    let pedido = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into());
    let tetos = if log_inseguro {
        ""
    } else {
        ",socketioxide=warn,engineioxide=warn,hyper=warn,hyper_util=warn,reqwest=warn,\
         h2=warn,tungstenite=warn,tokio_tungstenite=warn,sqlx=warn,sea_orm=warn,\
         async_openai=warn,tower_http=info"
    };
    EnvFilter::try_new(format!("{pedido}{tetos}")).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Opens every log line with the process's name: the logs of a deployment's processes end
/// up side by side, and a line must say which one wrote it.
struct ComNo<F> {
    no: String,
    interno: F,
}

impl<S, N, F> FormatEvent<S, N> for ComNo<F>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        evento: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        write!(w, "[{}] ", self.no)?;
        self.interno.format_event(ctx, w, evento)
    }
}

/// SIGTERM or Ctrl-C: registered when called (a signal that arrives from then on is kept
/// until the returned future is polled), resolving when one arrives.
fn sinal_de_parada() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("listening for Ctrl-C")?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            if let Err(e) = tokio::signal::ctrl_c().await {
                tracing::error!(error = %e, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
        })
    }
}

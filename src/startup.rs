//! Putting the server together: connect and migrate, recover what a crash left, pick the
//! model, build the service, the Socket.IO layer and the router, then serve until told to
//! stop and shut down in order.
use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use ::http::{HeaderValue, Method};
use anyhow::Context;
use axum::{Router, routing::get, serve::ListenerExt};
use rand::distr::{Alphanumeric, SampleString};
use secrecy::{ExposeSecret, SecretString};
use socketioxide::{ParserConfig, SocketIo};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    services::{ServeDir, ServeFile},
    trace::TraceLayer,
};

use crate::{
    auth::{Papel, Verificador, emitir_token},
    cluster::Cluster,
    config::Config,
    conversation::{
        Ajustes, Coordenacao, Cota, Difusor, Gerador, Limites, PROMPT_PADRAO, Salas, Servico,
        Sozinho,
    },
    http,
    llm::{ModeloChat, ModeloOpenAi, Politica, TutorDemo},
    metricas::Metricas,
    socket::{self, Conexoes, DifusorSocketIo, Estado},
    storage::{self, Db, Escritor},
};

/// How long the HTTP server may take to close after the sockets are gone.
const FECHAR_HTTP: Duration = Duration::from_secs(5);

pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    router: Router,
    io: SocketIo,
    gerador: Arc<Gerador>,
    db: Db,
    graca: Duration,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let modelo = modelo(&config)?;
        Self::build_com_modelo(config, modelo).await
    }

    /// Like `build`, with the model given instead of chosen from the configuration (tests
    /// use it to put a misbehaving model behind the real pipeline).
    pub async fn build_com_modelo(
        config: Config,
        modelo: Arc<dyn ModeloChat>,
    ) -> anyhow::Result<Self> {
        let db = storage::conectar(
            &config.database_url,
            Duration::from_millis(config.db_espera_ms),
        )
        .await
        .context("connecting to the database")?;
        storage::migrar(&db, &config.database_url)
            .await
            .context("running migrations")?;

        let segredo = match &config.jwt_secret {
            Some(s) => s.clone(),
            None => {
                let s = SecretString::from(Alphanumeric.sample_string(&mut rand::rng(), 48));
                let demo = emitir_token(
                    s.expose_secret(),
                    "demo",
                    Papel::Aluno,
                    Duration::from_secs(24 * 3600),
                );
                tracing::warn!(
                    "TUTOR_JWT_SECRET is not set: demo mode, with a random secret for this run"
                );
                tracing::info!("demo token (user \"demo\", 24 h): {demo}");
                s
            }
        };
        let demo_segredo = config
            .jwt_secret
            .is_none()
            .then(|| Arc::new(segredo.clone()));

        // This server's own registry: several servers may run in one process (tests).
        let metricas = Arc::new(Metricas::new());
        let escritor = Escritor::abrir(
            &config.database_url,
            db.clone(),
            Duration::from_millis(config.db_espera_ms),
            metricas.clone(),
        )
        .map_err(anyhow::Error::msg)
        .context("starting the database writer")?;
        let (layer, io) = socket_io(&config);
        let salas = Arc::new(Salas::default());
        let local: Arc<dyn Difusor> = Arc::new(DifusorSocketIo::new(
            io.clone(),
            config.socket_buffer_bytes,
            metricas.clone(),
        ));
        let (difusor, coordenacao, chamados): (Arc<dyn Difusor>, Arc<dyn Coordenacao>, _) =
            match &config.redis_url {
                None => (local, Arc::new(Sozinho), None),
                Some(url) => {
                    if config.database_url.starts_with("sqlite") {
                        tracing::warn!(
                            "REDIS_URL with SQLite: every process must share one SQLite file on one machine; use Postgres across machines"
                        );
                    }
                    let c = Cluster::conectar(
                        url,
                        db.clone(),
                        &config.nome_do_no(),
                        config.arrendamento(),
                        salas.clone(),
                        local,
                    )
                    .await
                    .context("joining the cluster through Redis")?;
                    (c.difusor, c.coordenacao, Some(c.chamados))
                }
            };
        let cota = Cota {
            tokens_por_dia: config.tokens_por_dia,
            fuso: config.fuso_horario,
        };
        let gerador = Arc::new(Gerador::new(
            db.clone(),
            escritor.clone(),
            metricas.clone(),
            modelo,
            difusor.clone(),
            salas.clone(),
            coordenacao.clone(),
            Ajustes {
                sistema: prompt_sistema(&config)?,
                orcamento_historico: config.historico_max_caracteres,
                timeout_primeiro_token: config.upstream_primeiro_token(),
                timeout_inativo: config.upstream_timeout(),
                intervalo_parcial: Duration::from_millis(config.parcial_ms),
                cota,
            },
        ));
        gerador
            .recuperar()
            .await
            .context("recovering answers left by a previous run")?;
        tokio::spawn(gerador.clone().vigiar());
        if let Some(mut chamados) = chamados {
            let g = gerador.clone();
            tokio::spawn(async move {
                while let Some(id) = chamados.recv().await {
                    g.assumir(id);
                }
            });
        }
        let servico = Arc::new(Servico::new(
            db.clone(),
            escritor,
            difusor,
            gerador.clone(),
            salas,
            coordenacao.clone(),
            Limites {
                mensagens_por_minuto: config.mensagens_por_minuto,
                eventos_por_minuto: config.eventos_por_minuto,
                eventos_por_minuto_professor: config.eventos_por_minuto_professor,
                max_caracteres: config.max_caracteres,
                espera_db: Duration::from_millis(config.db_espera_ms),
                cota,
            },
        ));
        let orcamento = Arc::new(http::Orcamento::new(
            config.handshakes_por_segundo,
            config.handshakes_rajada,
            config.sessoes_por_segundo,
            config.proxies_confiaveis.clone(),
        ));
        socket::register(
            &io,
            Estado {
                orcamento: orcamento.clone(),
                servico,
                verificador: Arc::new(Verificador::new(segredo.expose_secret())),
                conexoes: Conexoes::new(config.max_sockets_por_usuario),
                metricas: metricas.clone(),
            },
        );

        let prontidao = http::Prontidao {
            db: db.clone(),
            coordenacao,
            gerador: gerador.clone(),
        };
        let exposicao = http::Exposicao {
            metricas: metricas.clone(),
            io: io.clone(),
            token: token_metricas(&config)?,
        };
        let router = router(
            &config,
            prontidao,
            exposicao,
            http::SegredoDemo(demo_segredo),
        )
        .layer(layer);
        let router = router
            .layer(axum::middleware::from_fn_with_state(
                Arc::new(http::GuardaHandshake::new(
                    config.cors_origins.clone(),
                    orcamento,
                    metricas,
                )),
                http::guardar_handshake,
            ))
            .layer(cors(&config.cors_origins))
            .layer(TraceLayer::new_for_http());

        let listener = escutar(config.addr).with_context(|| format!("binding {}", config.addr))?;
        let addr = listener.local_addr()?;
        Ok(Self {
            listener,
            addr,
            router,
            io,
            gerador,
            db,
            graca: config.shutdown_grace(),
        })
    }

    /// The address actually bound (the real port when configured with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then: stop accepting, let answers in flight
    /// finish within the grace period (ending the rest as `interrompida`), close every
    /// socket, close the database.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!("listening on http://{}", self.addr);
        let parar = CancellationToken::new();
        let servico = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        // No Nagle: a streamed piece is a small write that must leave now, not wait for the
        // client's delayed ACK of the previous one (that cost ~40 ms on the first piece).
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
        });
        let mut servidor = tokio::spawn(
            axum::serve(listener, servico)
                .with_graceful_shutdown(parar.clone().cancelled_owned())
                .into_future(),
        );
        tokio::select! {
            _ = shutdown => {}
            r = &mut servidor => {
                r.context("server task")?.context("serving")?;
                anyhow::bail!("the server stopped on its own");
            }
        }
        // Still serving while answers finish: `/ready` says 503 from now on, so the balancer
        // sends new tabs elsewhere; the queues with work left go to the other processes.
        tracing::info!("shutting down");
        self.gerador.encerrar(self.graca).await;
        parar.cancel();
        // axum's graceful shutdown does not wait for upgraded sockets: close them ourselves.
        self.io.close().await;
        if tokio::time::timeout(FECHAR_HTTP, servidor).await.is_err() {
            tracing::warn!("HTTP connections still open after shutdown; leaving them");
        }
        self.db.close().await.context("closing the database")?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// What one read from a WebSocket takes; a bigger frame grows the buffer as it comes.
/// Students' events are small, and every idle socket holds this much.
const WS_LEITURA: usize = 1024;

/// One size cap for every way in: the polling body, a WebSocket message and frame, binary
/// attachments. An oversized payload is refused before it is buffered whole.
fn socket_io(config: &Config) -> (socketioxide::layer::SocketIoLayer, SocketIo) {
    let cap = config.max_payload_bytes;
    SocketIo::builder()
        // A bound in packets beside the one in bytes (`TUTOR_SOCKET_BUFFER_BYTES`): room for
        // a professor's burst of joins and the events of a whole class; a tab that stopped
        // reading reaches the byte bound first.
        .max_buffer_size(config.socket_buffer)
        .ping_interval(Duration::from_millis(config.ping_intervalo_ms))
        .ping_timeout(Duration::from_millis(config.ping_timeout_ms))
        .max_payload(cap as u64)
        .ws_read_buffer_size(WS_LEITURA)
        .ws_max_message_size(cap)
        .ws_max_frame_size(cap)
        .with_parser(
            ParserConfig::common()
                .max_incoming_binaries(1)
                .max_incoming_binary_buf_size(cap)
                .packet_completion_timeout(Duration::from_secs(10)),
        )
        .build_layer()
}

fn modelo(config: &Config) -> anyhow::Result<Arc<dyn ModeloChat>> {
    if config.modo_demo_llm() {
        tracing::warn!(
            "neither OPENAI_API_KEY nor OPENAI_BASE_URL is set: the built-in demo tutor answers"
        );
        return Ok(Arc::new(TutorDemo::new(Duration::from_millis(
            config.demo_atraso_ms,
        ))));
    }
    let base = config.openai_base_url.as_deref();
    tracing::info!(base_url = base.unwrap_or("https://api.openai.com/v1"), model = %config.model, "answers come from an OpenAI-compatible model");
    let politica = Politica {
        tentativas: config.upstream_tentativas,
        espera_max: Duration::from_millis(config.upstream_espera_max_ms),
    };
    Ok(Arc::new(
        ModeloOpenAi::new(
            base,
            config.openai_api_key.as_ref(),
            &config.model,
            config.upstream_connect_timeout(),
            politica,
        )
        .context("building the HTTP client for the model")?,
    ))
}

fn prompt_sistema(config: &Config) -> anyhow::Result<String> {
    match &config.prompt_file {
        Some(p) => std::fs::read_to_string(p)
            .with_context(|| format!("reading the system prompt from {}", p.display())),
        None => Ok(PROMPT_PADRAO.to_owned()),
    }
}

/// Connections the kernel queues before they are accepted. A classroom opening at once
/// sends hundreds of connects in the same instant; past the queue (1024 by default) the
/// kernel drops them and each client waits a second to retry. The kernel caps it at
/// `net.core.somaxconn`.
const FILA_DE_CONEXOES: u32 = 8192;

fn escutar(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(FILA_DE_CONEXOES)
}

/// `TUTOR_METRICAS_TOKEN`, refused when blank: an empty bearer would protect nothing.
fn token_metricas(config: &Config) -> anyhow::Result<Option<Arc<SecretString>>> {
    match &config.metricas_token {
        None => {
            tracing::info!("TUTOR_METRICAS_TOKEN is not set: GET /metrics is open (counts only)");
            Ok(None)
        }
        Some(t) if t.expose_secret().trim().is_empty() => {
            anyhow::bail!("TUTOR_METRICAS_TOKEN is set but blank")
        }
        Some(t) => Ok(Some(Arc::new(t.clone()))),
    }
}

fn router(
    config: &Config,
    prontidao: http::Prontidao,
    exposicao: http::Exposicao,
    demo: http::SegredoDemo,
) -> Router {
    let mut r = Router::new()
        .route("/health", get(http::health))
        .route("/ready", get(http::ready).with_state(prontidao))
        .route("/metrics", get(http::metrics).with_state(exposicao))
        .route("/dev/token", get(http::token_demo).with_state(demo));
    if let Some(dir) = &config.static_dir {
        let index = dir.join("index.html");
        r = r.fallback_service(ServeDir::new(dir).fallback(ServeFile::new(index)));
    }
    r
}

fn cors(origens: &[String]) -> CorsLayer {
    let permitidas: Vec<HeaderValue> = origens
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim()).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(permitidas))
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([::http::header::CONTENT_TYPE])
        .allow_credentials(true)
}

//! The Socket.IO face of the server: `register` is THE list of events; `auth` is the connect
//! middleware; `handlers` parse, call the conversation service and ack; `difusor` is the only
//! code that emits into rooms; `wire` holds every event name and payload type. Nothing here
//! touches the database or the model directly.
mod auth;
mod conexoes;
mod difusor;
mod fila;
mod handlers;
mod ordem;
pub mod wire;

use std::sync::Arc;

use socketioxide::{
    SocketIo,
    extract::{SocketRef, TryData},
    handler::ConnectHandler,
};

pub use conexoes::Conexoes;
pub use difusor::DifusorSocketIo;

use crate::{
    auth::Usuario, auth::Verificador, conversation::Servico, http::Orcamento, metricas::Metricas,
};

/// What every handler can reach.
#[derive(Clone)]
pub struct Estado {
    pub servico: Arc<Servico>,
    pub verificador: Arc<Verificador>,
    pub conexoes: Arc<Conexoes>,
    /// The handshake budget, given back by sessions that authenticate.
    pub orcamento: Arc<Orcamento>,
    /// This server's metrics (the handlers count the sends' acks).
    pub metricas: Arc<Metricas>,
}

/// Registers the namespace, its auth middleware and every event handler. The state rides in
/// each socket's extensions (put there by the middleware), because the broadcaster inside it
/// needs the `SocketIo` that `with_state` would have to be given before it exists.
pub fn register(io: &SocketIo, estado: Estado) {
    let autenticar = move |s: SocketRef, TryData(auth): TryData<serde_json::Value>| {
        let estado = estado.clone();
        async move {
            let usuario = auth::autenticar(&s, estado, auth).await?;
            preparar(&s, &usuario);
            Ok::<(), auth::Recusa>(())
        }
    };
    io.ns("/", on_connect.with(autenticar));
}

/// Everything a socket needs, set up in the middleware, before the server's CONNECT packet
/// goes out: socketioxide runs the connect handler in a task spawned after that packet, so a
/// client that emits as soon as it is connected could otherwise reach a socket with no
/// handlers yet, and its event would be dropped without an ack.
fn preparar(s: &SocketRef, usuario: &Usuario) {
    auth::salas_iniciais(s, usuario);
    auth::vigiar_expiracao(s, usuario);
    s.on(
        wire::entrada::MENSAGEM_ENVIADA,
        handlers::on_mensagem_enviada,
    );
    s.on(wire::entrada::ENTRAR_CONVERSA, handlers::on_entrar_conversa);
    s.on(wire::entrada::SAIR_CONVERSA, handlers::on_sair_conversa);
    s.on(
        wire::entrada::LISTAR_CONVERSAS,
        handlers::on_listar_conversas,
    );
    s.on(
        wire::entrada::CANCELAR_RESPOSTA,
        handlers::on_cancelar_resposta,
    );
    s.on(wire::entrada::LISTAR_TURMA, handlers::on_listar_turma);
    s.on(
        wire::entrada::ACOMPANHAR_TURMA,
        handlers::on_acompanhar_turma,
    );
    s.on(wire::entrada::DEIXAR_TURMA, handlers::on_deixar_turma);
    s.on_disconnect(auth::ao_desconectar);
}

async fn on_connect(s: SocketRef) {
    tracing::debug!(sid = %s.id, "socket connected");
}

//! Connect middleware: no socket reaches a handler without a valid token. Every failure is
//! the same `nao_autorizado` to the client (the error's `Display` is what `connect_error`
//! carries); the reason goes to the log at debug level, never the token.
use std::{net::SocketAddr, sync::Arc, time::SystemTime};

use axum::extract::ConnectInfo;

use serde::Deserialize;
use socketioxide::extract::SocketRef;
use tokio_util::sync::CancellationToken;

use super::{Estado, conexoes::Vaga, fila::Fila, ordem::Sequenciador, wire};
use crate::auth::Usuario;

/// Why a connection is refused; the `Display` is the `connect_error` message.
#[derive(Debug, thiserror::Error)]
pub enum Recusa {
    #[error("nao_autorizado")]
    NaoAutorizado,
    /// The user already has the most sockets allowed open.
    #[error("limite_excedido")]
    LimiteExcedido,
}

#[derive(Deserialize)]
struct Credenciais {
    token: String,
}

/// Verifies the token and records who the socket is; the user on success.
pub async fn autenticar(
    s: &SocketRef,
    estado: Estado,
    auth: Result<serde_json::Value, socketioxide::ParserError>,
) -> Result<Usuario, Recusa> {
    let token = auth
        .ok()
        .and_then(|v| serde_json::from_value::<Credenciais>(v).ok())
        .map(|c| c.token);
    let Some(usuario) = token.and_then(|t| estado.verificador.verificar(&t)) else {
        tracing::debug!(sid = %s.id, "handshake refused");
        return Err(Recusa::NaoAutorizado);
    };
    let Some(vaga) = estado.conexoes.reservar(&usuario.id) else {
        tracing::info!(sid = %s.id, "user has too many sockets open; refused");
        return Err(Recusa::LimiteExcedido);
    };
    // Authenticated: this session owes its address's handshake budget nothing.
    let partes = s.req_parts();
    if let Some(ConnectInfo(par)) = partes.extensions.get::<ConnectInfo<SocketAddr>>() {
        estado
            .orcamento
            .devolver(estado.orcamento.endereco(par.ip(), &partes.headers));
    }
    s.extensions.insert(vaga);
    s.extensions.insert(usuario.clone());
    s.extensions.insert(Sequenciador::default());
    s.extensions.insert(Arc::new(Fila::default()));
    s.extensions.insert(estado);
    Ok(usuario)
}

/// Closes the socket when its token expires. This is a server-side disconnect
/// (`io server disconnect`), which socket.io clients do not retry by themselves: a front-end
/// reconnects with a fresh token (the React example calls `connect()` and, with the old
/// token, lands on `nao_autorizado`). The watcher ends with the socket.
pub fn vigiar_expiracao(s: &SocketRef, usuario: &Usuario) {
    let fim = CancellationToken::new();
    s.extensions.insert(fim.clone());
    // The very instant the handshake starts refusing the token: closing earlier would let
    // the client reconnect with the same token and be closed again, in a loop; closing later
    // would keep an expired token connected.
    let restante = usuario
        .fim_da_validade()
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    let s = s.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = fim.cancelled() => {}
            _ = tokio::time::sleep(restante) => {
                tracing::debug!(sid = %s.id, "token expired; disconnecting");
                let _ = s.disconnect();
            }
        }
    });
}

/// A socket is gone: stop its expiry watcher and free its place.
pub async fn ao_desconectar(s: SocketRef) {
    if let Some(fim) = s.extensions.get::<CancellationToken>() {
        fim.cancel();
    }
    s.extensions.remove::<Arc<Vaga>>();
}

/// The rooms every socket is in from the start: its user's and its own.
pub fn salas_iniciais(s: &SocketRef, usuario: &Usuario) {
    s.join(wire::sala_usuario(&usuario.id));
    s.join(wire::sala_socket(&s.id.to_string()));
}

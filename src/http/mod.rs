//! Plain HTTP beside the sockets: liveness, readiness, the demo-only token endpoint, the
//! handshake's `Origin` check, and the static front-end.
mod origem;
mod saude;
mod token_demo;

pub use origem::verificar_origem;
pub use saude::{health, ready};
pub use token_demo::{SegredoDemo, token_demo};

//! Plain HTTP beside the sockets: liveness, readiness, metrics, the demo-only token endpoint, the
//! handshake's `Origin` check, and the static front-end.
mod handshake;
mod metricas;
mod saude;
mod token_demo;

pub use handshake::{GuardaHandshake, Orcamento, guardar_handshake};
pub use metricas::{Exposicao, metrics};
pub use saude::{Prontidao, health, ready};
pub use token_demo::{SegredoDemo, token_demo};

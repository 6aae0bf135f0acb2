//! The integration suite: one binary, stories as modules. Each test starts the real server
//! on port 0 with its own SQLite file and its own fake OpenAI-compatible upstream, and talks
//! to it with a real socket.io client.
mod apoio;

mod cancelar;
mod conversa;
mod falhas;
mod historico;
mod idempotencia;
mod ordem;
mod varias_abas;

//! The integration suite: one binary, stories as modules. Each test starts the real server
//! on port 0 with its own database (a SQLite file; with `TUTOR_TEST_POSTGRES_URL`, a fresh
//! Postgres database) and its own fake OpenAI-compatible upstream, and talks to it with a
//! real socket.io client.
mod apoio;

mod abuso;
mod antecipacao;
mod arrendamentos;
mod autorizacao;
mod cancelar;
mod cli;
mod contrato;
mod conversa;
mod cota;
mod entrada_invalida;
mod falhas;
mod fuzz;
mod historico;
mod http;
mod idempotencia;
mod lote;
mod metricas;
mod migracoes;
mod ordem;
mod processo;
mod robustez;
mod sala_de_aula;
mod turma;
mod varias_abas;

//! # tutor
//! A Socket.IO server where students talk with an AI tutor in real time.
//!
//! # Layout
//! - [`config`]: every setting, as a flag and an environment variable (names fixed by PROTOCOL.md).
//! - [`startup`]: connect and migrate, build the model, the service, the router and the
//!   Socket.IO layer; serve until told to stop, then shut down in order.
//! - [`auth`]: the handshake token (HS256 JWT) and the user it proves.
//! - [`error`]: the one error enum and its mapping to the protocol's error codes.
//! - [`socket`]: THE list of events, the auth middleware, thin handlers, the wire types and
//!   the broadcaster (the only code that emits into rooms).
//! - [`conversation`]: the domain: accepting messages, the per-conversation answer queue,
//!   the generation task and the prompt; knows nothing of sockets or SQL.
//! - [`llm`]: the streaming chat-model trait, its async-openai implementation, the demo tutor.
//! - [`storage`]: the only code that touches `entity` and builds queries.
//! - [`limite`]: token buckets for rates per user and per address.
//! - [`cluster`]: several processes on one database: leases in Postgres, room events and
//!   cancels between processes over Redis (the shared `conversation::Coordenacao`).
//! - [`http`]: health, readiness, metrics, the demo token endpoint and the `Origin` check.
//! - [`metricas`]: the metrics one running server counts (its own registry, no global).
pub mod auth;
pub mod cluster;
pub mod config;
pub mod conversation;
pub mod error;
pub mod http;
pub mod limite;
pub mod llm;
pub mod metricas;
pub mod socket;
pub mod startup;
pub mod storage;

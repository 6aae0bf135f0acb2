//! tutor-carga: a load tool for any tutor deployment.
//!
//! - [`sio`]: a minimal Socket.IO v5 client (WebSocket, long-polling, the upgrade);
//! - [`token`]: HS256 tokens, one user per simulated student;
//! - [`verificacao`]: every streamed answer checked piece by piece;
//! - [`medidas`]: counters and HdrHistograms, mergeable across processes;
//! - [`cenarios`]: chat, fanout, burst, idle, classroom, stuck;
//! - [`coordenacao`]: one process or many, server measurements, the report;
//! - [`plot`]: results as an SVG chart; [`fake`]: a fake OpenAI-compatible upstream.

pub mod cenarios;
pub mod cli;
pub mod coordenacao;
pub mod fake;
pub mod medidas;
pub mod metricas;
pub mod plot;
pub mod relatorio;
pub mod sio;
pub mod sistema;
pub mod token;
pub mod verificacao;

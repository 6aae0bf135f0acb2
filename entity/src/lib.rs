//! SeaORM entities, as `sea-orm-cli generate entity` writes them, and the enums their
//! columns hold (`vocabulario`).
pub mod prelude;

pub mod arrendamento;
pub mod conversa;
pub mod mensagem;
pub mod uso_diario;
pub mod vocabulario;

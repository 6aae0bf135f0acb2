//! SeaORM entities, as `sea-orm-cli generate entity` writes them: nothing else lives here.
pub mod prelude;

pub mod arrendamento;
pub mod conversa;
pub mod mensagem;
pub mod uso_diario;

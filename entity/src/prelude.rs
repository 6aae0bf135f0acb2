pub use super::arrendamento::Entity as Arrendamento;
pub use super::conversa::Entity as Conversa;
pub use super::mensagem::Entity as Mensagem;
pub use super::uso_diario::Entity as UsoDiario;

pub use super::arrendamento::Entity as Arrendamento;
pub use super::conversa::Entity as Conversa;
pub use super::mensagem::Entity as Mensagem;

pub use super::conversa::Entity as Conversa;
pub use super::mensagem::Entity as Mensagem;

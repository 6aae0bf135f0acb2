//! Storage: the only code that imports `entity` and builds queries. Reads are small
//! functions taking a `&DatabaseConnection`; the writes of the hot path go through one
//! group-commit writer (`Escritor`); each write is short and never held open across a model
//! call.
mod arrendamentos;
mod conexao;
mod conversas;
mod escrita;
mod linhas;
mod mensagens;
mod turma;

pub use arrendamentos::{
    list_arrendadas, list_arrendamentos_vencidos, renovar_arrendamentos, soltar_arrendamento,
    tomar_arrendamento, vencer_arrendamento,
};
pub use conexao::{aceita_escritas, conectar, migrar};
pub use conversas::{find_conversa, list_conversas};
pub use escrita::{Destino, ErroEscrita, Escritor, FimResposta, Prazo, Uso};
pub use mensagens::{
    find_mensagem_por_id_cliente, find_proxima_sem_resposta, list_conversas_com_pendentes,
    list_gerando, list_gerando_da_conversa, list_mensagens, list_mensagens_alteradas_desde,
};

/// The words a message row holds, as the entity defines them (one type each, wire text
/// included): the rest of the server names them through here.
pub use entity::vocabulario::{Autor, CodigoResposta, Status};
pub use linhas::{ConversaRow, MensagemRow};
pub use sea_orm::DatabaseConnection as Db;
pub use turma::{Marca, ResumoRow, Selecao, find_uso, list_turma};

/// A message row about to be written.
#[derive(Debug, Clone)]
pub struct NovaMensagem {
    pub id: uuid::Uuid,
    pub usuario_id: String,
    pub conteudo: String,
    pub id_cliente: Option<String>,
    pub criada_em: chrono::DateTime<chrono::Utc>,
}

impl NovaMensagem {
    /// The row as stored in `conversa_id` at `seq`.
    pub fn linha(&self, conversa_id: uuid::Uuid, seq: i64) -> MensagemRow {
        MensagemRow {
            seq,
            id: self.id,
            conversa_id,
            usuario_id: self.usuario_id.clone(),
            papel: Autor::Aluno,
            conteudo: self.conteudo.clone(),
            status: Status::Completa,
            id_cliente: self.id_cliente.clone(),
            responde_a: None,
            erro: None,
            criada_em: self.criada_em,
            atualizada_em: self.criada_em,
        }
    }
}

use sea_orm::entity::prelude::*;

use crate::vocabulario::{Autor, CodigoResposta, Status};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mensagem")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub seq: i64,
    #[sea_orm(unique)]
    pub id: Uuid,
    pub conversa_id: Uuid,
    pub usuario_id: String,
    pub papel: Autor,
    #[sea_orm(column_type = "VarBinary(StringLen::None)")]
    pub conteudo: Vec<u8>,
    pub status: Status,
    pub id_cliente: Option<String>,
    #[sea_orm(unique)]
    pub responde_a: Option<Uuid>,
    pub erro: Option<CodigoResposta>,
    pub criada_em: DateTimeUtc,
    pub atualizada_em: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::conversa::Entity",
        from = "Column::ConversaId",
        to = "super::conversa::Column::Id",
        on_update = "NoAction",
        on_delete = "Cascade"
    )]
    Conversa,
}

impl Related<super::conversa::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Conversa.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "conversa")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub usuario_id: String,
    #[sea_orm(column_type = "VarBinary(StringLen::None)")]
    pub titulo: Vec<u8>,
    pub criada_em: DateTimeUtc,
    pub atualizada_em: DateTimeUtc,
    pub usuario_nome: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::mensagem::Entity")]
    Mensagem,
}

impl Related<super::mensagem::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Mensagem.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

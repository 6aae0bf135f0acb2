use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "arrendamento")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub conversa_id: Uuid,
    pub dono: String,
    pub expira_em: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "uso_diario")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub usuario_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub dia: String,
    pub tokens: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

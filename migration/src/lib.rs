//! Database migrations, as `sea-orm-cli migrate init` lays them out. Append-only: a shipped
//! migration is never edited; a change of schema is a new file.
pub use sea_orm_migration::prelude::*;

mod m20261124_000001_criar_conversas_e_mensagens;
mod m20261201_000001_textos_em_bytes;
mod m20261202_000001_arrendamentos;
mod m20261203_000001_turma;
mod m20261204_000001_indices_parciais;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_criar_conversas_e_mensagens::Migration),
            Box::new(m20261201_000001_textos_em_bytes::Migration),
            Box::new(m20261202_000001_arrendamentos::Migration),
            Box::new(m20261203_000001_turma::Migration),
            Box::new(m20261204_000001_indices_parciais::Migration),
        ]
    }
}

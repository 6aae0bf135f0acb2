//! TODO
use anyhow::Result;
pub async fn servir(_a: &crate::cli::FakeArgs) -> Result<()> {
    anyhow::bail!("not yet")
}

//! TODO
use anyhow::Result;
pub fn desenhar(_a: &crate::cli::PlotArgs) -> Result<()> {
    anyhow::bail!("not yet")
}

//! `export_user_data`: everything held about a user, written privately under `exports/<job id>/`.

use serde_json::Value;

use crate::jobs::JobContext;

/// Exports the owner's data (profile, roles, records with metadata) as JSON or CSV.
pub async fn export_user_data(_ctx: JobContext) -> anyhow::Result<Value> {
    anyhow::bail!("not yet available")
}

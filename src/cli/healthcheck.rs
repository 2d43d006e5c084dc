//! `corpus healthcheck`: asks the local server for `/health` (container health checks).

use std::{process::ExitCode, time::Duration};

use crate::config::Config;

/// Options of `corpus healthcheck`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// URL to check; defaults to `http://127.0.0.1:<port of CORPUS_BIND>/health`.
    #[arg(long)]
    pub url: Option<String>,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 3)]
    pub timeout: u64,
}

/// Exit 0 when the server answers 200 `{"status":"healthy"}`, 1 otherwise.
pub async fn run(config: &Config, args: Args) -> anyhow::Result<ExitCode> {
    let url = args.url.unwrap_or_else(|| format!("http://127.0.0.1:{}/health", config.http.bind.port()));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(args.timeout)).build()?;
    match client.get(&url).send().await {
        Ok(response) if response.status().is_success() => {
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            if body["status"] == "healthy" {
                println!("healthy: {url}");
                return Ok(ExitCode::SUCCESS);
            }
            eprintln!("unhealthy: {url} answered {body}");
        }
        Ok(response) => eprintln!("unhealthy: {url} answered {}", response.status()),
        Err(err) => eprintln!("unhealthy: {url}: {err}"),
    }
    Ok(ExitCode::FAILURE)
}

//! Tracing setup: pretty lines in development, JSON in production; filter from `LOG_LEVEL`.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::{Config, LogFormat};

/// Installs the global subscriber (once; later calls are ignored).
pub fn init(config: &Config) {
    let filter = EnvFilter::try_new(filter_directive(&config.log.log_level)).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match config.log_format() {
        LogFormat::Json => {
            registry.with(fmt::layer().json().with_current_span(true).with_writer(std::io::stderr)).try_init()
        }
        LogFormat::Pretty => registry.with(fmt::layer().with_target(false).with_writer(std::io::stderr)).try_init(),
    };
}

/// Accepts the original's Python level names (`WARNING`, `CRITICAL`) as well as tracing filters.
/// Noisy dependencies stay at `warn` unless the directive names them.
fn filter_directive(level: &str) -> String {
    let level = match level.trim().to_ascii_lowercase().as_str() {
        "warning" => "warn".to_owned(),
        "critical" | "fatal" => "error".to_owned(),
        other => other.to_owned(),
    };
    if level.contains('=') { level } else { format!("{level},sqlx=warn,hyper=warn,aws_config=warn,object_store=warn") }
}

#[cfg(test)]
mod tests {
    #[test]
    fn python_level_names_map_to_tracing() {
        assert!(super::filter_directive("WARNING").starts_with("warn,"));
        assert!(super::filter_directive("CRITICAL").starts_with("error,"));
        assert_eq!(super::filter_directive("corpus_te=debug"), "corpus_te=debug");
    }
}

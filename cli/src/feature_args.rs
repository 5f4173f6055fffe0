//! The clap definitions of the commands beyond tools: `complete`, `watch`
//! and `auth`, and the parsers they share with the global flags.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args, Subcommand};
use mcpstore::LogLevel;

/// The flags of `complete`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("reference").required(true).multiple(false)))]
pub struct CompleteArgs {
    /// Complete an argument of this prompt (service.prompt, service_prompt, or a unique name)
    #[arg(long, value_name = "NAME", group = "reference")]
    pub prompt: Option<String>,
    /// Complete a variable of this resource template (its URI template, e.g. demo://notes/{name})
    #[arg(long, value_name = "URI_TEMPLATE", group = "reference")]
    pub template: Option<String>,
    /// The service to ask (default: the one that has the prompt or template)
    #[arg(long, value_name = "SERVICE")]
    pub service: Option<String>,
    /// Arguments already chosen, a JSON object of strings
    #[arg(long, value_name = "JSON")]
    pub context: Option<String>,
    /// The argument (or template variable) to complete
    #[arg(value_name = "ARGUMENT")]
    pub argument: String,
    /// What was typed so far (default: nothing)
    #[arg(value_name = "VALUE", default_value = "")]
    pub value: String,
}

/// The flags of `watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Stop after this many seconds
    #[arg(long = "for", value_name = "SECS", value_parser = seconds)]
    pub for_secs: Option<Duration>,
    /// Stop after printing this many events
    #[arg(long, value_name = "N", value_parser = positive)]
    pub count: Option<usize>,
    /// Print only events of this type (tools_list_changed, resources_list_changed,
    /// prompts_list_changed, resource_updated, log, progress, service_state, ...); repeatable
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
    /// Subscribe to updates of this resource first (resource_updated events); repeatable
    #[arg(long, value_name = "URI")]
    pub subscribe: Vec<String>,
}

/// The `auth` actions.
#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Authorizes SERVICE in the browser (prints the URL; waits for the redirect on 127.0.0.1)
    Login {
        /// The service (an HTTP service of the config)
        service: String,
    },
    /// Forgets SERVICE's credential (in memory and in the token store)
    Logout {
        /// The service
        service: String,
    },
    /// Prints SERVICE's authorization as JSON (no secrets)
    Status {
        /// The service
        service: String,
    },
}

/// A log level name (`--log-level`).
pub fn log_level(s: &str) -> Result<LogLevel, String> {
    s.parse()
}

/// A directory given as a root (`--root`): it must exist.
pub fn root_dir(s: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(s);
    if path.is_dir() { Ok(path) } else { Err(format!("'{s}' is not a directory")) }
}

/// A whole number of at least 1.
pub fn positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("expected a whole number of at least 1, not '{s}'")),
    }
}

/// A positive number of seconds.
pub fn seconds(s: &str) -> Result<Duration, String> {
    s.parse::<f64>()
        .ok()
        .filter(|v| *v > 0.0)
        .and_then(|v| Duration::try_from_secs_f64(v).ok())
        .ok_or_else(|| format!("expected a positive number of seconds, not '{s}'"))
}

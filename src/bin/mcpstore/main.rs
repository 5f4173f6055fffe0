//! `mcpstore`: the command-line face of the library.

mod args;
mod bench_cmd;
mod commands;
mod demo_cmd;
mod progress;

use std::process::ExitCode;
use std::time::Duration;

use mcpstore::{Error, ServiceConfig, Store};

use args::{Cli, Source, USAGE};

/// Exit status for a tool that reported an error (`isError`).
pub const EXIT_TOOL_ERROR: u8 = 1;
/// Exit status for every other failure.
pub const EXIT_FAILURE: u8 = 2;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some("serve-demo") {
        return mcpstore::demo::main_with_args(argv[1..].to_vec());
    }
    let cli = match args::parse(argv) {
        Ok(cli) => cli,
        Err(e) => {
            eprintln!("mcpstore: {e}\n\n{USAGE}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    init_logging(cli.verbose);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mcpstore: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, Error> {
    match cli.command.as_str() {
        "help" => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        "version" => {
            println!("mcpstore {}", mcpstore::version());
            Ok(ExitCode::SUCCESS)
        }
        "demo" => demo_cmd::run(),
        "services" => commands::services(&open_store(&cli)?),
        "tools" => commands::tools(&open_store(&cli)?, &cli.args),
        "call" => commands::call(&open_store(&cli)?, &cli.args),
        "batch" => commands::batch(&open_store(&cli)?, &cli.args),
        "bench" => bench_cmd::run(&open_store(&cli)?, &cli.args),
        other => Err(Error::InvalidArgument(format!("unknown command '{other}'; try --help"))),
    }
}

/// The embedded demo server, run as this very program with `serve-demo`.
pub fn embedded_demo_service(extra_args: &[&str]) -> Result<ServiceConfig, Error> {
    let exe = std::env::current_exe().map_err(|e| {
        Error::Internal(format!("cannot find this program's path to start the demo server: {e}"))
    })?;
    let mut args = vec!["serve-demo".to_owned()];
    args.extend(extra_args.iter().map(|s| (*s).to_owned()));
    Ok(ServiceConfig::stdio(exe.to_string_lossy().into_owned(), args))
}

fn open_store(cli: &Cli) -> Result<Store, Error> {
    let store = match &cli.source {
        Source::Config(path) => Store::from_file(path)?,
        Source::Default if std::path::Path::new("mcp.json").exists() => Store::from_file("mcp.json")?,
        Source::Default => {
            let store = Store::builder().with_env().build()?;
            store.add_service("demo", embedded_demo_service(&[])?)?;
            store
        }
        Source::Stdio(words) => {
            let store = Store::builder().with_env().build()?;
            store.add_service("server", ServiceConfig::stdio(words[0].clone(), words[1..].to_vec()))?;
            store
        }
        Source::Url(url) => {
            let store = Store::builder().with_env().build()?;
            let mut config = ServiceConfig::http(url.clone());
            for (k, v) in &cli.headers {
                config = config.header(k.clone(), v.clone());
            }
            store.add_service("server", config)?;
            store
        }
    };
    let wait = store.config().pool.connection_timeout.min(Duration::from_secs(60));
    for failed in store.wait_ready(wait) {
        eprintln!(
            "mcpstore: warning: service '{}' is {}: {}",
            failed.name,
            failed.state.as_str(),
            failed.last_error.unwrap_or_else(|| "not connected".into())
        );
    }
    Ok(store)
}

/// Logs to stderr: warnings by default, everything with `-v` (or `MCPSTORE_LOG=debug`).
fn init_logging(verbose: bool) {
    let level = match std::env::var("MCPSTORE_LOG").ok().as_deref() {
        Some("trace") => log::LevelFilter::Trace,
        Some("debug") => log::LevelFilter::Debug,
        Some("info") => log::LevelFilter::Info,
        _ if verbose => log::LevelFilter::Debug,
        _ => log::LevelFilter::Warn,
    };
    static LOGGER: StderrLogger = StderrLogger;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
}

struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!("[{} {}] {}", record.level(), record.target(), record.args());
        }
    }

    fn flush(&self) {}
}

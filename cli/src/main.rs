//! `mcpstore`: the command-line face of the library.

mod args;
mod auth_cmd;
mod bench_cmd;
mod commands;
mod demo_cmd;
mod demo_features;
mod feature_args;
mod feature_cmds;
mod progress;
mod watch_cmd;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use mcpstore::{AcceptDefaults, Error, HttpConfig, Root, ServersFile, ServiceConfig, Store, StoreBuilder};

use args::{Cli, Command, Source};

/// Exit status for a tool that reported an error (`isError`).
pub const EXIT_TOOL_ERROR: u8 = 1;
/// Exit status for every other failure, usage errors included.
pub const EXIT_FAILURE: u8 = 2;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    // The demo server parses its own arguments (and has its own --help).
    if argv.get(1).map(String::as_str) == Some("serve-demo") {
        return mcpstore_demo_server::main_with_args(argv[2..].to_vec());
    }
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print to stdout and exit 0; usage errors
            // print to stderr (naming the bad argument) and exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_FAILURE } else { 0 });
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
    match &cli.command {
        Command::ServeDemo { args } => Ok(mcpstore_demo_server::main_with_args(args.clone())),
        Command::Demo => demo_cmd::run(),
        Command::Services => commands::services(&open_store(&cli)?),
        Command::Tools { service } => commands::tools(&open_store(&cli)?, service.as_deref()),
        Command::Call { tool, json_args } => commands::call(&open_store(&cli)?, tool, json_args.as_deref()),
        Command::Batch { file } => commands::batch(&open_store(&cli)?, file),
        Command::Resources { service } => feature_cmds::resources(&open_store(&cli)?, service.as_deref()),
        Command::Templates { service } => feature_cmds::templates(&open_store(&cli)?, service.as_deref()),
        Command::Read { uri, service } => feature_cmds::read(&open_store(&cli)?, uri, service.as_deref()),
        Command::Prompts { service } => feature_cmds::prompts(&open_store(&cli)?, service.as_deref()),
        Command::Prompt { name, json_args } => {
            feature_cmds::prompt(&open_store(&cli)?, name, json_args.as_deref())
        }
        Command::Complete(args) => feature_cmds::complete(&open_store(&cli)?, args),
        Command::Watch(args) => watch_cmd::run(&open_store(&cli)?, args, cli.log_level),
        Command::Auth { action } => auth_cmd::run(&open_store(&cli)?, action),
        Command::Bench(args) => bench_cmd::run(&open_store_with(&cli, args.protocol.as_ref())?, args),
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

/// A store builder with the environment's settings and the handlers the
/// global flags ask for (`--accept-elicitation-defaults`, `--root`).
fn builder(cli: &Cli) -> StoreBuilder {
    let mut builder = Store::builder().with_env();
    if cli.accept_elicitation_defaults {
        builder = builder.elicitation_handler(AcceptDefaults);
    }
    if !cli.roots.is_empty() {
        builder = builder.roots(cli.roots.iter().map(Root::directory).collect());
    }
    builder
}

/// A store with the services (and `performance` section) of an `mcp.json` file.
/// Adds a service, with the protocol era `protocol` asks for (`bench --protocol`) if any.
fn add_service(
    store: &Store,
    name: &str,
    mut config: ServiceConfig,
    protocol: Option<&mcpstore::ProtocolChoice>,
) -> Result<(), Error> {
    if let Some(p) = protocol {
        config.protocol = p.clone();
    }
    store.add_service(name, config)
}

fn store_from_file(
    cli: &Cli,
    path: &std::path::Path,
    protocol: Option<&mcpstore::ProtocolChoice>,
) -> Result<Store, Error> {
    let file = ServersFile::load(path)?;
    let store = builder(cli).performance(file.performance).credentials(file.credentials.as_ref()).build()?;
    for (name, config) in file.services {
        add_service(&store, &name, config, protocol)?;
    }
    Ok(store)
}

fn open_store(cli: &Cli) -> Result<Store, Error> {
    open_store_with(cli, None)
}

/// The store of the command line; `protocol` overrides every service's era.
fn open_store_with(cli: &Cli, protocol: Option<&mcpstore::ProtocolChoice>) -> Result<Store, Error> {
    let store = match cli.source() {
        Source::Config(path) => store_from_file(cli, &path, protocol)?,
        Source::Default if std::path::Path::new("mcp.json").exists() => {
            store_from_file(cli, std::path::Path::new("mcp.json"), protocol)?
        }
        Source::Default => {
            let store = builder(cli).build()?;
            add_service(&store, "demo", embedded_demo_service(&[])?, protocol)?;
            store
        }
        Source::Stdio(words) => {
            let store = builder(cli).build()?;
            let (program, args) = words
                .split_first()
                .ok_or_else(|| Error::InvalidArgument("--stdio needs a command".into()))?;
            add_service(&store, "server", ServiceConfig::stdio(program.clone(), args.to_vec()), protocol)?;
            store
        }
        Source::Url(url) => {
            let store = builder(cli).build()?;
            let http = HttpConfig { headers: cli.headers.iter().cloned().collect(), ..HttpConfig::new(url) };
            add_service(&store, "server", ServiceConfig::new(http), protocol)?;
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
    if let Some(level) = cli.log_level {
        store.set_log_level(None, level)?;
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

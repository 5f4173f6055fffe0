//! The command line, declared with clap: where the services come from, the
//! commands and their flags. `--help` works on every command; usage errors
//! name the bad argument and exit with status 2.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use mcpstore::LogLevel;

use crate::feature_args::{AuthCommand, CompleteArgs, WatchArgs, log_level, positive, root_dir, seconds};

const AFTER_HELP: &str = "\
Without --config, --stdio or --url, ./mcp.json is used if present, else the
embedded demo server over stdio.

Exit status: 0 ok; 1 when a tool reports an error (call, batch); 2 on any
other error, usage errors included.";

/// Keeps many MCP servers at hand and calls their tools.
#[derive(Debug, Parser)]
#[command(name = "mcpstore", version, about, after_help = AFTER_HELP)]
#[command(group(ArgGroup::new("source").multiple(false)))]
pub struct Cli {
    /// The services of an mcp.json file ({"mcpServers": {...}})
    #[arg(long, short = 'c', value_name = "FILE", group = "source")]
    pub config: Option<PathBuf>,
    /// One stdio server, given as its command line (quotes group words)
    #[arg(long, value_name = "CMD ARGS", value_parser = parse_command_line, group = "source")]
    pub stdio: Option<CommandLine>,
    /// One Streamable HTTP server
    #[arg(long, value_name = "URL", group = "source")]
    pub url: Option<String>,
    /// An HTTP header sent to the --url server, as "Name: value" (repeatable)
    #[arg(long = "header", short = 'H', value_name = "Name: value", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
    /// Log debug messages to stderr (MCPSTORE_LOG=trace|debug|info also works)
    #[arg(long, short, global = true)]
    pub verbose: bool,
    /// Ask every service that logs for messages of LEVEL and above (debug, info, notice,
    /// warning, error, critical, alert, emergency); `watch` prints them
    #[arg(long, value_name = "LEVEL", value_parser = log_level, global = true)]
    pub log_level: Option<LogLevel>,
    /// Answer servers' elicitation requests (forms) by accepting the schema's defaults
    #[arg(long, global = true)]
    pub accept_elicitation_defaults: bool,
    /// Give servers this directory as a root (roots/list); repeatable
    #[arg(long = "root", value_name = "PATH", value_parser = root_dir, global = true)]
    pub roots: Vec<PathBuf>,
    /// What to do
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Lists the services with state, tool count, sessions and server
    Services,
    /// Lists the tools of one service, or of all
    Tools {
        /// Only this service's tools
        service: Option<String>,
    },
    /// Calls a tool and prints its CallToolResult as JSON (exit 1 when the tool reports an error)
    Call {
        /// The tool: service.tool, service_tool, or a name unique across services
        #[arg(value_name = "TOOL")]
        tool: String,
        /// The arguments, a JSON object (default {})
        #[arg(value_name = "JSON_ARGS")]
        json_args: Option<String>,
    },
    /// Runs one call per line of a JSONL file ({"tool": ..., "arguments": {...}}) and prints
    /// one result line per call, in order (exit 2 when a line failed, else 1 when a tool
    /// reported an error)
    Batch {
        /// The file; - reads standard input
        #[arg(value_name = "FILE.jsonl")]
        file: String,
    },
    /// Lists the resources of one service, or of all
    Resources {
        /// Only this service's resources
        service: Option<String>,
    },
    /// Lists the resource templates of one service, or of all
    Templates {
        /// Only this service's templates
        service: Option<String>,
    },
    /// Reads a resource and prints its ReadResourceResult as JSON (text and blobs whole)
    Read {
        /// The resource's URI (it resolves to the service that lists it or has a matching template)
        #[arg(value_name = "URI")]
        uri: String,
        /// Read it from this service
        #[arg(long, value_name = "SERVICE")]
        service: Option<String>,
    },
    /// Lists the prompts of one service, or of all
    Prompts {
        /// Only this service's prompts
        service: Option<String>,
    },
    /// Gets a prompt with its arguments and prints its GetPromptResult as JSON
    Prompt {
        /// The prompt: service.prompt, service_prompt, or a name unique across services
        #[arg(value_name = "NAME")]
        name: String,
        /// The arguments, a JSON object of strings (default {})
        #[arg(value_name = "JSON_ARGS")]
        json_args: Option<String>,
    },
    /// Suggests values for a prompt argument or a resource-template variable (prints JSON)
    Complete(CompleteArgs),
    /// Prints the store's events as JSON lines until interrupted (or --for / --count)
    Watch(WatchArgs),
    /// OAuth authorization of an HTTP service: login, logout, status
    Auth {
        /// The action
        #[command(subcommand)]
        action: AuthCommand,
    },
    /// Measures calls per second and latency of one tool
    Bench(BenchArgs),
    /// A short tour against the embedded demo server (stdio and HTTP)
    Demo,
    /// Runs the embedded demo MCP server (the CLI starts itself this way)
    #[command(hide = true, disable_help_flag = true)]
    ServeDemo {
        /// The demo server's own arguments (see serve-demo --help)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// How `bench` issues its calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchMode {
    /// One call at a time on each of C threads
    Single,
    /// Batches of --batch-size calls, C at once (batch_call)
    Batch,
    /// Background calls through a completion queue, C outstanding (submit)
    Submit,
}

impl BenchMode {
    /// The mode's name, as on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            BenchMode::Single => "single",
            BenchMode::Batch => "batch",
            BenchMode::Submit => "submit",
        }
    }
}

/// The formats of `--stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatsFormat {
    /// One JSON object
    Json,
    /// The Prometheus text exposition format
    Prometheus,
    /// A table for people
    Table,
}

/// The flags of `bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The tool: service.tool, service_tool, or a name unique across services
    #[arg(value_name = "TOOL")]
    pub tool: String,
    /// The arguments, a JSON object (default {})
    #[arg(value_name = "JSON_ARGS")]
    pub json_args: Option<String>,
    /// How many calls to make
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = positive)]
    pub calls: usize,
    /// How many calls are in flight at once
    #[arg(long, value_name = "C", default_value_t = 1, value_parser = positive)]
    pub concurrency: usize,
    /// How the calls are issued
    #[arg(long, value_enum, default_value_t = BenchMode::Single)]
    pub mode: BenchMode,
    /// Calls per batch with --mode batch
    #[arg(long, value_name = "B", default_value_t = 100, value_parser = positive)]
    pub batch_size: usize,
    /// Run for this many seconds instead of a number of calls
    #[arg(long, value_name = "S", value_parser = seconds)]
    pub duration: Option<Duration>,
    /// Calls made first, not measured
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub warmup: usize,
    /// Bypass the result cache, so every call reaches the server
    #[arg(long)]
    pub no_cache: bool,
    /// Print one JSON object instead of tables (and no progress bar)
    #[arg(long)]
    pub json: bool,
    /// Also print the store's statistics in this format
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub stats: Option<StatsFormat>,
    /// The protocol era every service speaks: auto (the services' own
    /// setting, auto by default), 2026-07-28 (stateless) or 2025-11-25 (initialize)
    #[arg(long, value_name = "VERSION", value_parser = protocol)]
    pub protocol: Option<mcpstore::ProtocolChoice>,
}

fn protocol(text: &str) -> Result<mcpstore::ProtocolChoice, String> {
    mcpstore::ProtocolChoice::parse(text)
}

/// A command line split into words (`--stdio`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine(pub Vec<String>);

/// Where the services come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// An `mcp.json` file.
    Config(PathBuf),
    /// One stdio server: command and arguments.
    Stdio(Vec<String>),
    /// One Streamable HTTP server.
    Url(String),
    /// `./mcp.json` if present, else the embedded demo server.
    Default,
}

impl Cli {
    /// Where the services come from.
    pub fn source(&self) -> Source {
        match (&self.config, &self.stdio, &self.url) {
            (Some(path), _, _) => Source::Config(path.clone()),
            (_, Some(words), _) => Source::Stdio(words.0.clone()),
            (_, _, Some(url)) => Source::Url(url.clone()),
            _ => Source::Default,
        }
    }
}

fn parse_header(s: &str) -> Result<(String, String), String> {
    let (name, value) = s.split_once(':').ok_or_else(|| format!("expected 'Name: value', not '{s}'"))?;
    let name = name.trim();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!("'{name}' is not a header name"));
    }
    Ok((name.to_owned(), value.trim().to_owned()))
}

fn parse_command_line(s: &str) -> Result<CommandLine, String> {
    split_command(s).map(CommandLine)
}

/// Splits a command line into words, honouring single and double quotes.
pub fn split_command(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(format!("unbalanced quote in '{line}'"));
    }
    if in_word {
        words.push(cur);
    }
    if words.is_empty() {
        return Err("expected a command".into());
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use clap::error::ErrorKind;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("mcpstore").chain(args.iter().copied()))
    }

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn splits_quoted_commands() {
        assert_eq!(split_command("npx -y 'a b' \"c\"").unwrap(), vec!["npx", "-y", "a b", "c"]);
        assert!(split_command("x 'oops").is_err());
        assert!(split_command("  ").is_err());
    }

    #[test]
    fn parses_sources_headers_and_commands() {
        let cli =
            parse(&["--url", "http://x/mcp", "-H", "A: b: c", "--header", "X:1", "call", "echo"]).unwrap();
        assert!(matches!(cli.source(), Source::Url(u) if u == "http://x/mcp"));
        assert_eq!(cli.headers, [("A".to_owned(), "b: c".to_owned()), ("X".to_owned(), "1".to_owned())]);
        assert!(matches!(cli.command, Command::Call { ref tool, json_args: None } if tool == "echo"));
        let cli = parse(&["--stdio", "srv 'a b'", "-v", "tools"]).unwrap();
        assert!(matches!(cli.source(), Source::Stdio(w) if w == ["srv", "a b"]));
        assert!(cli.verbose);
        assert!(matches!(parse(&["services"]).unwrap().source(), Source::Default));
    }

    #[test]
    fn rejects_bad_usage() {
        let conflict = parse(&["--config", "a", "--url", "b", "services"]).unwrap_err();
        assert_eq!(conflict.kind(), ErrorKind::ArgumentConflict);
        assert!(parse(&["--header", "nocolon", "services"]).is_err());
        assert!(parse(&["--stdio", "'unbalanced", "services"]).is_err());
        let unknown = parse(&["bench", "echo", "--bogus"]).unwrap_err();
        assert_eq!(unknown.kind(), ErrorKind::UnknownArgument);
        assert!(unknown.to_string().contains("--bogus"));
        assert!(parse(&["bench", "echo", "--calls", "0"]).is_err());
        assert!(parse(&["bench", "echo", "--mode", "fast"]).is_err());
        assert!(parse(&["bench", "echo", "--duration", "-1"]).is_err());
        assert!(parse(&["bench", "echo", "--stats", "xml"]).is_err());
        assert!(parse(&["call"]).is_err());
        assert_eq!(parse(&[]).unwrap_err().exit_code(), 2);
    }

    #[test]
    fn bench_flags() {
        let cli = parse(&[
            "bench",
            "echo",
            "{}",
            "--calls",
            "5",
            "--concurrency",
            "2",
            "--mode",
            "submit",
            "--batch-size",
            "3",
            "--duration",
            "0.5",
            "--warmup",
            "0",
            "--no-cache",
            "--json",
            "--stats",
            "prometheus",
        ])
        .unwrap();
        let Command::Bench(b) = cli.command else { panic!("not bench") };
        assert_eq!((b.calls, b.concurrency, b.batch_size, b.warmup), (5, 2, 3, 0));
        assert_eq!(b.mode, BenchMode::Submit);
        assert_eq!(b.duration, Some(Duration::from_millis(500)));
        assert!(b.no_cache && b.json);
        assert_eq!(b.stats, Some(StatsFormat::Prometheus));
        assert_eq!(b.json_args.as_deref(), Some("{}"));
    }

    #[test]
    fn serve_demo_takes_everything_after_it() {
        let cli = parse(&["serve-demo", "--http", "127.0.0.1:0", "--help"]).unwrap();
        assert!(
            matches!(cli.command, Command::ServeDemo { ref args } if args == &["--http", "127.0.0.1:0", "--help"])
        );
    }
}

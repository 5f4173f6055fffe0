//! Command-line parsing (small and dependency-free).

use std::path::PathBuf;

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

/// Parsed global options and the command with its own arguments.
#[derive(Debug)]
pub struct Cli {
    pub source: Source,
    pub headers: Vec<(String, String)>,
    pub verbose: bool,
    pub command: String,
    pub args: Vec<String>,
}

pub const USAGE: &str = "\
usage: mcpstore [--config FILE | --stdio \"CMD ARGS\" | --url URL] [--header \"Name: value\"] [-v] <command>

commands:
  services                      list services with their state
  tools [SERVICE]               list tools
  call TOOL [JSON_ARGS]         call a tool; prints the CallToolResult JSON
                                (exit 0; 1 when the tool reports an error; 2 on any other error)
  batch FILE.jsonl              one call per line ({\"tool\": ..., \"arguments\": ...}); one result line per call
  bench TOOL [JSON_ARGS] [--calls N] [--concurrency C] [--mode single|batch|submit] [--batch-size B]
        [--duration SECS] [--warmup N] [--no-cache] [--json] [--stats json|prometheus|table]
  demo                          a short tour against the embedded demo server
  serve-demo [ARGS]             run the embedded demo MCP server (see serve-demo --help)

Without --config, ./mcp.json is used if present, else the embedded demo server over stdio.";

/// Parses `argv` (without the program name).
pub fn parse(argv: Vec<String>) -> Result<Cli, String> {
    let mut source = Source::Default;
    let mut headers = Vec::new();
    let mut verbose = false;
    let mut it = argv.into_iter();
    let set_source = |s: Source, current: &Source| -> Result<Source, String> {
        if matches!(current, Source::Default) {
            Ok(s)
        } else {
            Err("use only one of --config, --stdio, --url".into())
        }
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--config" | "-c" => source = set_source(Source::Config(value(&mut it, &arg)?.into()), &source)?,
            "--stdio" => {
                let words = split_command(&value(&mut it, &arg)?)?;
                source = set_source(Source::Stdio(words), &source)?;
            }
            "--url" => source = set_source(Source::Url(value(&mut it, &arg)?), &source)?,
            "--header" | "-H" => {
                let h = value(&mut it, &arg)?;
                let (k, v) =
                    h.split_once(':').ok_or_else(|| format!("--header expects 'Name: value', got '{h}'"))?;
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
            "-v" | "--verbose" => verbose = true,
            "-h" | "--help" | "help" => {
                return Ok(Cli { source, headers, verbose, command: "help".into(), args: vec![] });
            }
            "--version" | "-V" => {
                return Ok(Cli { source, headers, verbose, command: "version".into(), args: vec![] });
            }
            s if s.starts_with('-') => return Err(format!("unknown option '{s}'")),
            _ => {
                return Ok(Cli { source, headers, verbose, command: arg, args: it.collect() });
            }
        }
    }
    Err("missing command".into())
}

fn value(it: &mut impl Iterator<Item = String>, flag: &str) -> Result<String, String> {
    it.next().ok_or_else(|| format!("{flag} needs a value"))
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
        return Err("--stdio needs a command".into());
    }
    Ok(words)
}

/// Options of a subcommand: `--name value` pairs and bare flags, plus positionals.
pub struct Options {
    pub positional: Vec<String>,
    pairs: Vec<(String, Option<String>)>,
}

impl Options {
    /// Splits `args`; `flags` take no value.
    pub fn parse(args: &[String], flags: &[&str], valued: &[&str]) -> Result<Options, String> {
        let mut positional = Vec::new();
        let mut pairs = Vec::new();
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            if flags.contains(&a.as_str()) {
                pairs.push((a.clone(), None));
            } else if valued.contains(&a.as_str()) {
                let v = args.get(i + 1).ok_or_else(|| format!("{a} needs a value"))?;
                pairs.push((a.clone(), Some(v.clone())));
                i += 1;
            } else if a.starts_with("--") {
                return Err(format!("unknown option '{a}'"));
            } else {
                positional.push(a.clone());
            }
            i += 1;
        }
        Ok(Options { positional, pairs })
    }

    /// Whether a flag is present.
    pub fn flag(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }

    /// A value parsed as `T`, or `default`.
    pub fn get<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.pairs.iter().rev().find(|(k, _)| k == name).and_then(|(_, v)| v.as_deref()) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("{name}: invalid value '{v}'")),
        }
    }

    /// A string value, if given.
    pub fn text(&self, name: &str) -> Option<String> {
        self.pairs.iter().rev().find(|(k, _)| k == name).and_then(|(_, v)| v.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_quoted_commands() {
        assert_eq!(split_command("npx -y 'a b' \"c\"").unwrap(), vec!["npx", "-y", "a b", "c"]);
        assert!(split_command("x 'oops").is_err());
    }

    #[test]
    fn parses_global_options_then_command() {
        let cli = parse(vec!["--url".into(), "http://x/mcp".into(), "call".into(), "echo".into()]).unwrap();
        assert!(matches!(cli.source, Source::Url(_)));
        assert_eq!(cli.command, "call");
        assert_eq!(cli.args, vec!["echo"]);
        assert!(parse(vec!["--config".into(), "a".into(), "--url".into(), "b".into(), "x".into()]).is_err());
    }
}

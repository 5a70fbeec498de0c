//! `wsgate`: the operator's command line. Makes demo keys and tokens, checks configs.

mod document;
mod explain;
#[cfg(feature = "fetch")]
mod fetch;
#[cfg(not(feature = "fetch"))]
mod fetch_unavailable;
#[cfg(not(feature = "fetch"))]
use fetch_unavailable as fetch;
mod inline_keys;
mod keys;
#[cfg(feature = "replay")]
mod replay;
#[cfg(not(feature = "replay"))]
mod replay_unavailable;
#[cfg(not(feature = "replay"))]
use replay_unavailable as replay;
mod validate;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "wsgate", version, about = "Workspace gate: Google identity and group policy at the proxy")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make a signing key (private JWK) and its public JWKS, for demos and tests.
    Keygen(keys::KeygenArgs),
    /// Sign a Google-style ID token with a key made by `keygen`.
    Mint(keys::MintArgs),
    /// Check a plugin configuration or a policy file; prints every problem with its
    /// field path, and warnings for rules that can never take effect.
    Validate {
        /// A plugin configuration or a policy document (JSON).
        config: PathBuf,
    },
    /// Show what a policy decides for one request and caller, and which rule decided.
    Explain(explain::ExplainArgs),
    /// Write a provider's keys into a configuration as `local_jwks`, fetched from
    /// Google (--fetch) or from a file (for plugins that cannot fetch: the
    /// service_extensions profile).
    InlineKeys(inline_keys::InlineKeysArgs),
    /// Replay recorded traffic (case files, Envoy tap traces) through the real .wasm.
    Replay(replay::ReplayArgs),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Keygen(args) => keys::keygen(&args),
        Command::Mint(args) => keys::mint(&args),
        Command::Validate { config } => validate::validate(&config),
        Command::Explain(args) => explain::explain(&args),
        Command::InlineKeys(args) => inline_keys::inline_keys(&args),
        Command::Replay(args) => replay::replay(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("wsgate: {message}");
            ExitCode::FAILURE
        }
    }
}

//! `wsgate inline-keys`: a provider's keys written into the configuration as
//! `local_jwks`, from a JWKS fetched beforehand. What a plugin that cannot fetch
//! (Service Extensions) runs with; run it again when Google rotates its keys:
//! `curl -s https://www.googleapis.com/oauth2/v3/certs | wsgate inline-keys wsgate.json --provider google --jwks -`

use clap::Args;
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use wsgate_core::jwks::parse_jwks;

#[derive(Args)]
pub struct InlineKeysArgs {
    /// The plugin configuration (JSON), rewritten in place.
    config: PathBuf,
    /// The provider (`providers[].name`) whose keys these are.
    #[arg(long)]
    provider: String,
    /// The JWKS, a file or `-` for standard input.
    #[arg(long)]
    jwks: PathBuf,
}

pub fn inline_keys(args: &InlineKeysArgs) -> Result<(), String> {
    let mut config: Value = serde_json::from_str(&read(&args.config)?).map_err(|e| format!("{}: {e}", args.config.display()))?;
    let jwks_text = if args.jwks == Path::new("-") {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| format!("standard input: {e}"))?;
        text
    } else {
        read(&args.jwks)?
    };
    let jwks: Value = serde_json::from_str(&jwks_text).map_err(|e| format!("the JWKS is not JSON: {e}"))?;
    // Never write keys the plugin would refuse: it would then refuse the whole configuration.
    let keys = parse_jwks(&jwks).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| format!("{}{}", e.index.map(|i| format!("keys[{i}]: ")).unwrap_or_default(), e.message)).collect();
        format!("the JWKS is not usable: {}", lines.join("; "))
    })?;
    let providers = config["providers"].as_array_mut().ok_or("the configuration has no `providers` list")?;
    let provider = providers.iter_mut().find(|p| p["name"] == args.provider.as_str()).ok_or_else(|| format!("no provider named `{}` in `providers`", args.provider))?;
    let fields = provider.as_object_mut().ok_or("the provider is not an object")?;
    fields.remove("remote_jwks");
    fields.remove("remote_x509");
    fields.insert("local_jwks".to_owned(), jwks);
    let text = serde_json::to_string_pretty(&config).map_err(|e| e.to_string())?;
    std::fs::write(&args.config, text + "\n").map_err(|e| format!("{}: {e}", args.config.display()))?;
    println!("{}: provider `{}` now has {} inline keys", args.config.display(), args.provider, keys.len());
    Ok(())
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

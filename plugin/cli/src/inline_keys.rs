//! `wsgate inline-keys`: a provider's keys written into the configuration as
//! `local_jwks`, fetched from Google (`--fetch`) or read from a file. What a plugin
//! that cannot fetch (Service Extensions) runs with; run it again when Google rotates
//! its keys: `wsgate inline-keys wsgate.json --provider google --fetch`.

use clap::Args;
use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use wsgate_core::jwks::parse_jwks;
use crate::fetch::fetch;

/// Google's keys for its ID tokens, and IAP's for its assertions, as the providers'
/// issuers name them.
const KNOWN_JWKS: [(&str, &str); 2] = [
    ("https://accounts.google.com", "https://www.googleapis.com/oauth2/v3/certs"),
    ("https://cloud.google.com/iap", "https://www.gstatic.com/iap/verify/public_key-jwk"),
];

/// The URL of the JWKS for a provider that issues as `issuer`, if Google publishes it.
fn known_jwks_url(issuer: &str) -> Option<&'static str> {
    KNOWN_JWKS.iter().find(|(known, _)| *known == issuer).map(|(_, url)| *url)
}

#[derive(Args)]
pub struct InlineKeysArgs {
    /// The plugin configuration (JSON), rewritten in place.
    config: PathBuf,
    /// The provider (`providers[].name`) whose keys these are.
    #[arg(long)]
    provider: String,
    /// The JWKS, a file or `-` for standard input.
    #[arg(long, required_unless_present = "fetch", conflicts_with = "fetch")]
    jwks: Option<PathBuf>,
    /// Fetch the JWKS over HTTPS: from URL, or else from the provider's
    /// `remote_jwks`, or else from Google's published keys for its issuer (Google ID
    /// tokens, IAP).
    #[arg(long, value_name = "URL", num_args = 0..=1, default_missing_value = "")]
    fetch: Option<String>,
}

pub fn inline_keys(args: &InlineKeysArgs) -> Result<(), String> {
    let mut config: Value = serde_json::from_str(&read(&args.config)?).map_err(|e| format!("{}: {e}", args.config.display()))?;
    let jwks_text = match (&args.jwks, &args.fetch) {
        (Some(path), _) if path == Path::new("-") => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|e| format!("standard input: {e}"))?;
            text
        }
        (Some(path), _) => read(path)?,
        (None, Some(url)) => fetch(&source_url(&config, &args.provider, url)?)?,
        (None, None) => return Err("give the keys: --jwks FILE, or --fetch".to_owned()),
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

/// Where `--fetch` gets the keys: the URL given, or the provider's `remote_jwks`, or
/// Google's published keys for the provider's issuer.
fn source_url(config: &Value, provider: &str, given: &str) -> Result<String, String> {
    if !given.is_empty() {
        return Ok(given.to_owned());
    }
    let found = config["providers"].as_array().and_then(|all| all.iter().find(|p| p["name"] == provider)).ok_or_else(|| format!("no provider named `{provider}` in `providers`"))?;
    let remote = &found["remote_jwks"];
    if let (Some(authority), Some(path)) = (remote["authority"].as_str(), remote["path"].as_str()) {
        return Ok(format!("https://{authority}{path}"));
    }
    let issuers = found["issuers"].as_array().into_iter().flatten().filter_map(Value::as_str);
    issuers.filter_map(known_jwks_url).next().map(str::to_owned).ok_or_else(|| format!("provider `{provider}`: no remote_jwks and no issuer whose keys Google publishes: give the URL, --fetch URL"))
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fetch_takes_the_url_given_then_remote_jwks_then_google_s_published_keys() {
        let config = json!({"providers": [
            {"name": "google", "issuers": ["https://accounts.google.com"]},
            {"name": "iap", "issuers": ["https://cloud.google.com/iap"]},
            {"name": "mirrored", "issuers": ["https://accounts.google.com"], "remote_jwks": {"cluster": "c", "authority": "keys.example.com", "path": "/jwks"}},
            {"name": "okta", "issuers": ["https://example.okta.com"]}
        ]});
        assert_eq!(source_url(&config, "google", "https://x.example/k").unwrap(), "https://x.example/k");
        assert_eq!(source_url(&config, "google", "").unwrap(), "https://www.googleapis.com/oauth2/v3/certs");
        assert_eq!(source_url(&config, "iap", "").unwrap(), "https://www.gstatic.com/iap/verify/public_key-jwk");
        assert_eq!(source_url(&config, "mirrored", "").unwrap(), "https://keys.example.com/jwks");
        assert!(source_url(&config, "okta", "").unwrap_err().contains("--fetch URL"));
        assert!(source_url(&config, "nobody", "").unwrap_err().contains("no provider named"));
    }
}

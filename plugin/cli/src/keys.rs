//! `wsgate keygen` and `wsgate mint`: local keys and tokens that a demo config trusts.
//! Real deployments verify Google's own keys; these exist so nobody needs a Google
//! account to try wsgate or to test it.

use clap::{Args, ValueEnum};
use serde_json::Value;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};
use wsgate_core::mint::{SigningKey, jwks};
use wsgate_fixtures::GoogleClaims;
use wsgate_fixtures::claims::GOOGLE_ISSUER;

#[derive(Clone, Copy, ValueEnum)]
pub enum KeyKind {
    /// RSA 2048, like Google ID tokens.
    Rs256,
    /// P-256, like IAP assertions.
    Es256,
}

#[derive(Args)]
pub struct KeygenArgs {
    /// Directory for `signing-key.json` (private, demo/test only) and `jwks.json` (public).
    #[arg(long)]
    out: PathBuf,
    #[arg(long, value_enum, default_value = "rs256")]
    alg: KeyKind,
    #[arg(long, default_value = "wsgate-demo-1")]
    kid: String,
}

#[derive(Args)]
pub struct MintArgs {
    /// A private key file written by `wsgate keygen`.
    #[arg(long)]
    key: PathBuf,
    #[arg(long)]
    email: String,
    /// Workspace domain (`hd`); defaults to the email's domain. Pass "" to leave it out.
    #[arg(long)]
    hd: Option<String>,
    #[arg(long, default_value = GOOGLE_ISSUER)]
    iss: String,
    #[arg(long, default_value = "wsgate-demo")]
    aud: String,
    /// Subject (`sub`); defaults to a stable number derived from the email.
    #[arg(long)]
    sub: Option<String>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    ttl: u64,
    /// Extra claim as NAME=JSON (e.g. `groups=["eng@example.com"]`); repeatable.
    #[arg(long = "claim", value_name = "NAME=JSON")]
    claims: Vec<String>,
}

pub fn keygen(args: &KeygenArgs) -> Result<(), String> {
    let key = match args.alg {
        KeyKind::Rs256 => SigningKey::generate_rs256(&args.kid)?,
        KeyKind::Es256 => SigningKey::generate_es256(&args.kid),
    };
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    write(&args.out.join("signing-key.json"), &key.to_private_jwk())?;
    write(&args.out.join("jwks.json"), &jwks(&[&key]).to_string())?;
    println!("wrote {0}/signing-key.json (private: demo and tests only) and {0}/jwks.json", args.out.display());
    Ok(())
}

pub fn mint(args: &MintArgs) -> Result<(), String> {
    let text = std::fs::read_to_string(&args.key).map_err(|e| format!("{}: {e}", args.key.display()))?;
    let key = SigningKey::from_private_jwk(&text)?;
    println!("{}", key.sign(&claims(args, unix_now())?)?);
    Ok(())
}

/// A Google ID token's claims for the arguments, issued at `now`.
fn claims(args: &MintArgs, now: u64) -> Result<Value, String> {
    let mut claims = GoogleClaims::id_token(&args.email, &args.aud, now).issuer(&args.iss).hd(args.hd.as_deref()).lifetime(args.ttl);
    if let Some(subject) = &args.sub {
        claims = claims.subject(subject.as_str());
    }
    for extra in &args.claims {
        let (name, value) = extra_claim(extra)?;
        claims = claims.set(name, value);
    }
    Ok(claims.build())
}

/// `NAME=JSON`; a value that is not JSON is taken as a string.
fn extra_claim(spec: &str) -> Result<(&str, Value), String> {
    let (name, json) = spec.split_once('=').ok_or(format!("--claim `{spec}`: expected NAME=JSON"))?;
    let value = serde_json::from_str(json).unwrap_or_else(|_| Value::String(json.to_owned()));
    Ok((name, value))
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn write(path: &std::path::Path, contents: &str) -> Result<(), String> {
    std::fs::write(path, contents).map_err(|e| format!("{}: {e}", path.display()))
}

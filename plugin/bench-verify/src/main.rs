//! `make bench-verify`'s measured program: the filter's verifier (the whole token,
//! and the signature check alone), and jwt-simple's `verify_token` for reference,
//! timed per verify on the same tokens. The same source
//! is built for wasm32-wasip1 (run by `run-wasm.mjs` under node) and natively; the
//! driver (`wsgate-bench-verify-driver` in host-tests) alternates the two.
//!
//! Usage: `wsgate-bench-verify INPUT.json`. Prints one JSON line per verifier and
//! algorithm: the per-verify time of each batch and their median, in microseconds.

use jwt_simple::prelude::{Duration, ECDSAP256PublicKeyLike, ES256PublicKey, RS256PublicKey, RSAPublicKeyLike, VerificationOptions};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::HashSet;
use std::process::ExitCode;
use std::time::Instant;
use wsgate_core::Settings;
use wsgate_core::verify::Verifier;

/// What the driver's generator writes (`target/bench/verify-input.json`).
#[derive(Deserialize)]
struct Input {
    /// The verification time, Unix seconds: every token is valid then.
    now: u64,
    /// Timed passes over every token, per verifier and algorithm.
    batches: usize,
    suites: Vec<Suite>,
}

/// One provider and the tokens it issued, all signed with `alg`.
#[derive(Deserialize)]
struct Suite {
    alg: String,
    issuer: String,
    audience: String,
    jwks: Value,
    tokens: Vec<String>,
}

/// Whether a verifier accepts one token.
type Accepts<'a> = Box<dyn Fn(&str) -> bool + 'a>;

/// A verifier under test, on one suite's tokens.
struct Contender<'a> {
    verifier: &'static str,
    suite: &'a Suite,
    accepts: Accepts<'a>,
    /// False for the key-import row, which checks no signature.
    verifies: bool,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("wsgate-bench-verify: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let path = std::env::args().nth(1).ok_or("usage: wsgate-bench-verify INPUT.json")?;
    let text = std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?;
    let input: Input = serde_json::from_slice(&text).map_err(|e| format!("{path}: {e}"))?;
    let verifier = filter_verifier(&input.suites)?;
    let mut contenders = Vec::new();
    for suite in &input.suites {
        let now = input.now;
        let verifier = &verifier;
        contenders.push(Contender { verifier: "wsgate", suite, accepts: Box::new(move |t: &str| verifier.check(t.as_bytes(), now).is_ok()), verifies: true });
        contenders.push(Contender { verifier: "jwt-simple", suite, accepts: jwt_simple_verifier(suite, now)?, verifies: true });
        contenders.push(Contender { verifier: "wsgate-signature", suite, accepts: signature_only(suite)?, verifies: true });
        contenders.push(Contender { verifier: "wsgate-key-import", suite, accepts: key_import(suite), verifies: false });
    }
    for contender in &contenders {
        refuses_a_forgery(contender)?;
        pass(contender)?; // warm-up, and every token must pass before anything is timed
    }
    // Batches interleave the contenders, so a slow moment of the machine hits all alike.
    let mut timings = vec![Vec::new(); contenders.len()];
    for _ in 0..input.batches {
        for (contender, times) in contenders.iter().zip(&mut timings) {
            times.push(pass(contender)?);
        }
    }
    for (contender, times) in contenders.iter().zip(timings) {
        println!("{}", report(contender, times));
    }
    Ok(())
}

/// The verifier as the filter builds it: its configuration JSON through
/// `Settings::from_json`, one `local_jwks` provider per suite.
fn filter_verifier(suites: &[Suite]) -> Result<Verifier, String> {
    let providers: Vec<Value> = suites
        .iter()
        .map(|s| {
            json!({"name": s.alg, "issuers": [s.issuer], "audiences": [s.audience], "local_jwks": s.jwks,
                   "algorithms": [s.alg], "allowed_domains": ["example.com"],
                   // IAP assertions (ES256) carry no email_verified; README's IAP provider turns the check off.
                   "require_email_verified": s.alg == "RS256"})
        })
        .collect();
    let config = json!({"providers": providers, "policy": {"rules": [{"name": "staff", "effect": "allow", "subjects": {"domains": ["example.com"]}}]}});
    Settings::from_json(config.to_string().as_bytes())
        .map(|settings| settings.verifier)
        .map_err(|e| format!("the verifier's configuration is refused: {e}"))
}

/// The signature check alone (the key's `verify` on the signing input and the decoded
/// signature): what the per-verify goal is about, without JSON and claims.
fn signature_only<'a>(suite: &Suite) -> Result<Accepts<'a>, String> {
    use base64::Engine;
    let keys = wsgate_core::jwks::parse_jwks(&suite.jwks).map_err(|e| format!("the JWKS is refused: {e:?}"))?;
    let key = keys.into_values().next().ok_or("an empty JWKS")?;
    Ok(Box::new(move |token: &str| {
        let Some((signed, signature)) = token.rsplit_once('.') else { return false };
        let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature).unwrap_or_default();
        key.verify(signed.as_bytes(), &signature)
    }))
}

/// Not a verification: importing the suite's key from its JWK once per token (the
/// RS256 Montgomery parameters, the ES256 tables), what a VM pays per key at start-up
/// and on every JWKS refresh.
fn key_import<'a>(suite: &'a Suite) -> Accepts<'a> {
    Box::new(move |_token: &str| wsgate_core::jwks::parse_jwks(&suite.jwks).is_ok_and(|keys| keys.len() == 1))
}

/// jwt-simple's `verify_token` with the same issuer, audience, time and skew.
fn jwt_simple_verifier<'a>(suite: &Suite, now: u64) -> Result<Accepts<'a>, String> {
    let jwk = suite.jwks["keys"][0].to_string();
    let options = VerificationOptions {
        allowed_issuers: Some(HashSet::from([suite.issuer.clone()])),
        allowed_audiences: Some(HashSet::from([suite.audience.clone()])),
        time_tolerance: Some(Duration::from_secs(60)),
        artificial_time: Some(Duration::from_secs(now)),
        ..VerificationOptions::default()
    };
    // verify_token takes its options by value: the clone is part of its cost.
    match suite.alg.as_str() {
        "RS256" => {
            let key = RS256PublicKey::from_jwk(&jwk).map_err(|e| format!("jwt-simple refuses the RS256 key: {e}"))?;
            Ok(Box::new(move |t: &str| key.verify_token::<Map<String, Value>>(t, Some(options.clone())).is_ok()))
        }
        "ES256" => {
            let key = ES256PublicKey::from_jwk(&jwk).map_err(|e| format!("jwt-simple refuses the ES256 key: {e}"))?;
            Ok(Box::new(move |t: &str| key.verify_token::<Map<String, Value>>(t, Some(options.clone())).is_ok()))
        }
        other => Err(format!("unknown alg `{other}`")),
    }
}

/// A verifier that skipped the signature would look fast: each must refuse the
/// first token with one signature character changed (key import verifies nothing).
fn refuses_a_forgery(contender: &Contender) -> Result<(), String> {
    if !contender.verifies {
        return Ok(());
    }
    let token = contender.suite.tokens.first().ok_or("a suite without tokens")?;
    let signature_start = token.rfind('.').map_or(0, |dot| dot + 1);
    let middle = signature_start + (token.len() - signature_start) / 2;
    let replacement = if token.as_bytes().get(middle) == Some(&b'A') { "B" } else { "A" };
    let mut forged = token.clone();
    forged.replace_range(middle..=middle, replacement);
    if (contender.accepts)(&forged) {
        return Err(format!("{} accepts a forged {} token", contender.verifier, contender.suite.alg));
    }
    Ok(())
}

/// Verifies every token once; microseconds per verify. Every token must be accepted.
fn pass(contender: &Contender) -> Result<f64, String> {
    let tokens = &contender.suite.tokens;
    let start = Instant::now();
    let accepted = tokens.iter().filter(|t| (contender.accepts)(t)).count();
    let micros = start.elapsed().as_secs_f64() * 1e6;
    if accepted != tokens.len() {
        return Err(format!("{} accepted {accepted} of {} {} tokens", contender.verifier, tokens.len(), contender.suite.alg));
    }
    Ok(micros / tokens.len().max(1) as f64)
}

fn report(contender: &Contender, batch_us: Vec<f64>) -> Value {
    let median_us = median(batch_us.clone());
    json!({"verifier": contender.verifier, "alg": contender.suite.alg, "tokens": contender.suite.tokens.len(),
           "batch_us": batch_us, "median_us": median_us})
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

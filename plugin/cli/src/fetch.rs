//! Fetching a JWKS over HTTPS for `wsgate inline-keys --fetch` (feature `fetch`): the
//! keys every request will be checked against, so only over TLS with the web's root
//! certificates, except from this machine's loopback (tests, a local mirror).

use std::io::Read;
use std::time::Duration;

/// Google's JWKS documents are a few KiB; anything near this is not one.
const MAX_BYTES: u64 = 1 << 20;
const TIMEOUT: Duration = Duration::from_secs(15);

/// The body of `url`, which must be `https:` (or `http:` to loopback) and answer 200.
pub fn fetch(url: &str) -> Result<String, String> {
    check_scheme(url)?;
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(TIMEOUT)).max_redirects(0).build().into();
    let response = agent.get(url).call().map_err(|e| format!("{url}: {e}"))?;
    let mut body = String::new();
    response.into_body().into_reader().take(MAX_BYTES).read_to_string(&mut body).map_err(|e| format!("{url}: {e}"))?;
    Ok(body)
}

fn check_scheme(url: &str) -> Result<(), String> {
    if url.starts_with("https://") {
        return Ok(());
    }
    let loopback = ["http://127.0.0.1:", "http://127.0.0.1/", "http://localhost:", "http://localhost/", "http://[::1]:", "http://[::1]/"];
    if loopback.iter().any(|prefix| url.starts_with(prefix)) {
        return Ok(());
    }
    Err(format!("{url}: keys are fetched over https only (plain http only from loopback)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        assert!(check_scheme("https://www.googleapis.com/oauth2/v3/certs").is_ok());
        assert!(check_scheme("http://127.0.0.1:8080/certs").is_ok());
        for refused in ["http://www.googleapis.com/oauth2/v3/certs", "http://127.0.0.1.evil.example/certs", "http://localhost.evil.example/", "ftp://x", "file:///etc/passwd"] {
            assert!(check_scheme(refused).is_err(), "{refused}");
        }
    }
}

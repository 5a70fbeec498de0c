//! `sign_in` checked and compiled: where sign-in applies, the cookies' names and
//! attributes, and the secrets read from the VM's environment, never from the
//! configuration. Every problem names its field, and a missing secret names the
//! variable.

use super::Lifetimes;
use super::seal::{MAX_KEYS, SessionKeys};
use crate::config::{ProviderConfig, SignInConfig};
use crate::diagnostics::Diagnostics;
use crate::header_syntax::{is_token, is_visible_value_byte};
use crate::policy::compile::path_pattern;
use crate::policy::pattern::{HostPattern, PathPattern, RequestShape};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};

/// Where a secret comes from: the VM's environment (the filter), the process's (the
/// CLI), or a table (tests).
pub type Environment<'a> = &'a dyn Fn(&str) -> Option<String>;

/// An environment without variables: configurations that need none.
pub fn no_environment(_: &str) -> Option<String> {
    None
}

/// A secret value: never printed.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Google's token endpoint as the gate calls it.
#[derive(Debug, Clone)]
pub struct TokenEndpoint {
    pub cluster: String,
    pub authority: String,
    pub path: String,
    pub timeout_ms: u64,
}

/// The names and attributes of the gate's own cookies.
#[derive(Debug, Clone)]
pub struct CookieNames {
    /// Every cookie of the gate's starts with this (`__Host-wsgate-`): none of them
    /// ever reaches the upstream.
    pub prefix: String,
    /// The session's (chunks `NAME-0`, `NAME-1`, …).
    pub session: String,
    /// Each sign-in's own cookie is this followed by its `state`.
    pub flow: String,
    pub secure: bool,
}

/// Browser sign-in, ready to run.
#[derive(Debug)]
pub struct SignIn {
    /// Index of the provider verifying the ID tokens.
    pub provider: usize,
    pub client_id: String,
    pub client_secret: Secret,
    pub keys: SessionKeys,
    pub redirect_uri: String,
    /// `redirect_uri`'s authority: the one host sign-ins start on (its cookies are
    /// that host's only, and Google comes back there).
    pub redirect_authority: String,
    /// `redirect_uri`'s path: the gate answers it.
    pub callback_path: String,
    /// Bound into every seal beside the cookie's name (the client, the hosted domain,
    /// the host): a cookie sealed for another sign-in configuration with the same
    /// keys opens to nothing here.
    binding: String,
    pub authorization_endpoint: String,
    pub token_endpoint: TokenEndpoint,
    hosts: Vec<HostPattern>,
    paths: Vec<PathPattern>,
    pub sign_out_path: String,
    pub signed_out_url: String,
    pub cookies: CookieNames,
    pub lifetimes: Lifetimes,
    pub hosted_domain: Option<String>,
    pub refusal_page_names_groups: bool,
}

impl SignIn {
    /// The associated data of cookie `name`'s seal.
    pub fn seal_context(&self, name: &str) -> String {
        format!("{name}\n{}", self.binding)
    }

    /// `session` sealed for the session cookie with `nonce`.
    pub fn seal_session(&self, session: &super::Session, nonce: [u8; 12]) -> Option<String> {
        let plain = serde_json::to_vec(session).ok()?;
        self.keys.seal(&self.seal_context(&self.cookies.session), &plain, nonce)
    }

    /// The session a sealed session cookie holds, if this gate sealed it for this
    /// sign-in configuration.
    pub fn open_session(&self, sealed: &[u8]) -> Option<super::Session> {
        serde_json::from_slice(&self.keys.open(&self.seal_context(&self.cookies.session), sealed)?).ok()
    }

    /// Whether a request for `authority` may start a sign-in: only the redirect URI's
    /// host gets the browser back with its sign-in's cookie.
    pub fn starts_on(&self, authority: &[u8]) -> bool {
        authority.eq_ignore_ascii_case(self.redirect_authority.as_bytes())
    }

    /// Whether sign-in applies to a request of this shape: its host, and one of the
    /// ways an upstream may read its path.
    pub fn applies_to(&self, shape: &RequestShape) -> bool {
        let host = self.hosts.is_empty() || self.hosts.iter().any(|h| h.matches(&shape.host));
        let path = self.paths.is_empty() || shape.readings.iter().any(|r| self.paths.iter().any(|p| p.matches(r)));
        host && path
    }
}

const MAX_SESSION_SECONDS: u64 = 30 * 86_400;
/// Short enough for a test to watch a session end.
const MIN_SESSION_SECONDS: u64 = 10;

/// Checks `config` (at `sign_in`) against the providers and the environment.
pub fn check(config: &SignInConfig, providers: &[ProviderConfig], env: Environment<'_>, found: &mut Diagnostics) -> Option<SignIn> {
    let errors_before = found.errors.len();
    let provider = sign_in_provider(config, providers, found);
    let client_secret = secret(found, "sign_in.client_secret_env", &config.client_secret_env, env);
    let keys = secret(found, "sign_in.cookie_keys_env", &config.cookie_keys_env, env).and_then(|value| session_keys(found, &config.cookie_keys_env, value.expose()));
    let callback_path = callback_path(found, &config.redirect_uri);
    let redirect_authority = url_authority(&config.redirect_uri);
    if !config.secure_cookies && !redirect_authority.as_deref().is_some_and(is_loopback) {
        found.error("sign_in.secure_cookies", "may be false only for a redirect_uri on localhost, 127.0.0.1 or [::1] (a plain-HTTP demo): elsewhere cookies without `Secure` and `__Host-` can be planted from sibling hosts");
    }
    check_urls(config, found);
    let (hosts, paths) = routes(config, found);
    let cookies = cookie_names(config, found);
    check_lifetimes(config, found);
    if found.errors.len() != errors_before {
        return None;
    }
    Some(SignIn {
        provider: provider?,
        client_id: config.client_id.clone(),
        client_secret: client_secret?,
        keys: keys?,
        redirect_uri: config.redirect_uri.clone(),
        redirect_authority: redirect_authority.clone()?,
        callback_path: callback_path?,
        binding: format!("{}\n{}\n{}", config.client_id, config.hosted_domain.as_deref().unwrap_or_default().to_ascii_lowercase(), redirect_authority?.to_ascii_lowercase()),
        authorization_endpoint: config.authorization_endpoint.clone(),
        token_endpoint: TokenEndpoint {
            cluster: config.token_endpoint.cluster.clone(),
            authority: config.token_endpoint.authority.clone(),
            path: config.token_endpoint.path.clone(),
            timeout_ms: config.token_endpoint.timeout_ms,
        },
        hosts,
        paths,
        sign_out_path: config.sign_out_path.clone(),
        signed_out_url: config.signed_out_url.clone(),
        cookies: cookies?,
        lifetimes: Lifetimes { absolute_seconds: config.session_lifetime_seconds, idle_seconds: config.session_idle_seconds },
        hosted_domain: config.hosted_domain.as_deref().map(str::to_ascii_lowercase),
        refusal_page_names_groups: config.refusal_page_names_groups,
    })
}

/// The provider's index; it must be configured and accept the client's ID tokens.
fn sign_in_provider(config: &SignInConfig, providers: &[ProviderConfig], found: &mut Diagnostics) -> Option<usize> {
    if config.client_id.trim().is_empty() {
        found.error("sign_in.client_id", "must be the OAuth client's ID, e.g. 1234-abc.apps.googleusercontent.com");
    }
    let Some(index) = providers.iter().position(|p| p.name == config.provider) else {
        found.error("sign_in.provider", format!("`{}` is not in `providers`", config.provider));
        return None;
    };
    if !providers[index].audiences.contains(&config.client_id) {
        found.error("sign_in.provider", format!("`{}` must list `sign_in.client_id` in its audiences: Google's ID tokens are issued to the client", config.provider));
    }
    Some(index)
}

/// The value of the variable named at `field`; an error naming it if it is unset or empty.
fn secret(found: &mut Diagnostics, field: &str, variable: &str, env: Environment<'_>) -> Option<Secret> {
    if variable.is_empty() || !variable.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        found.error(field, "must name an environment variable (letters, digits, `_`)");
        return None;
    }
    match env(variable).filter(|value| !value.trim().is_empty()) {
        Some(value) => Some(Secret(value.trim().to_owned())),
        None => {
            found.error(field, format!("the VM's environment has no `{variable}`: set it in vm_config.environment_variables (Istio: vmConfig.env; Cloud Run: a Secret Manager secret)"));
            None
        }
    }
}

/// Comma-separated base64 keys of 32 bytes, at most [`MAX_KEYS`]. Errors name the
/// variable and the key's position, never the key.
fn session_keys(found: &mut Diagnostics, variable: &str, value: &str) -> Option<SessionKeys> {
    let mut keys = Vec::new();
    let mut bad = false;
    for (position, text) in value.split(',').map(str::trim).enumerate() {
        let decoded = STANDARD.decode(text).or_else(|_| URL_SAFE.decode(text)).ok();
        match decoded.and_then(|bytes| <[u8; 32]>::try_from(bytes).ok()) {
            Some(key) => keys.push(key),
            None => {
                bad = true;
                found.error("sign_in.cookie_keys_env", format!("key {} of `{variable}` is not 32 bytes in base64 (make one with `openssl rand -base64 32`)", position + 1));
            }
        }
    }
    if keys.len() > MAX_KEYS {
        found.error("sign_in.cookie_keys_env", format!("`{variable}` holds more than {MAX_KEYS} keys"));
        return None;
    }
    if bad { None } else { SessionKeys::new(&keys).ok() }
}

/// The path of an absolute `http(s)://` redirect URI without query or fragment.
fn callback_path(found: &mut Diagnostics, redirect_uri: &str) -> Option<String> {
    let path = absolute_url_path(redirect_uri).filter(|path| !path.contains(['?', '#']));
    if path.is_none() {
        found.error("sign_in.redirect_uri", "must be the absolute URL registered with the OAuth client, e.g. https://app.example.com/_wsgate/callback");
    }
    path
}

/// The authority of an absolute `http(s)://authority/path` URL.
fn url_authority(url: &str) -> Option<String> {
    absolute_url_path(url)?;
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    rest.split('/').next().map(str::to_owned)
}

/// Whether an authority names this machine.
fn is_loopback(authority: &str) -> bool {
    let host = authority.rsplit_once(':').filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit())).map_or(authority, |(host, _)| host);
    ["localhost", "127.0.0.1", "[::1]"].contains(&host.to_ascii_lowercase().as_str())
}

/// `/path` of `http(s)://authority/path`, if the URL has that shape and only
/// visible ASCII.
fn absolute_url_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    let slash = rest.find('/')?;
    let (authority, path) = rest.split_at(slash);
    let visible = url.bytes().all(is_visible_value_byte) && !url.contains(' ');
    (visible && !authority.is_empty() && !authority.contains('@')).then(|| path.to_owned())
}

fn check_urls(config: &SignInConfig, found: &mut Diagnostics) {
    if absolute_url_path(&config.authorization_endpoint).is_none() || config.authorization_endpoint.contains(['?', '#']) {
        found.error("sign_in.authorization_endpoint", "must be an absolute URL such as https://accounts.google.com/o/oauth2/v2/auth");
    }
    let endpoint = &config.token_endpoint;
    if endpoint.cluster.trim().is_empty() {
        found.error("sign_in.token_endpoint.cluster", "must name the Envoy cluster that reaches oauth2.googleapis.com");
    }
    if endpoint.authority.trim().is_empty() || !endpoint.authority.bytes().all(is_visible_value_byte) {
        found.error("sign_in.token_endpoint.authority", "must be a host name such as oauth2.googleapis.com");
    }
    if !endpoint.path.starts_with('/') || !endpoint.path.bytes().all(is_visible_value_byte) {
        found.error("sign_in.token_endpoint.path", "must be an absolute path such as /token");
    }
    if !(100..=60_000).contains(&endpoint.timeout_ms) {
        found.error("sign_in.token_endpoint.timeout_ms", "must be between 100 and 60000");
    }
    if !plain_path(&config.sign_out_path) {
        found.error("sign_in.sign_out_path", "must be a plain absolute path such as /_wsgate/sign_out");
    }
    let https = config.signed_out_url.starts_with("https://") && absolute_url_path(&config.signed_out_url).is_some();
    if !plain_path(&config.signed_out_url) && !https {
        found.error("sign_in.signed_out_url", "must be a path on this origin (/signed-out) or an https:// URL");
    }
}

/// `/…` of visible ASCII, and not `//host` or `/\host`, which browsers read as
/// another origin.
fn plain_path(path: &str) -> bool {
    path.starts_with('/') && !path.starts_with("//") && !path.starts_with("/\\") && path.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
}

fn routes(config: &SignInConfig, found: &mut Diagnostics) -> (Vec<HostPattern>, Vec<PathPattern>) {
    let mut hosts = Vec::new();
    for (i, host) in config.hosts.iter().enumerate() {
        match HostPattern::parse(host) {
            Ok(pattern) => hosts.push(pattern),
            Err(message) => found.error(format!("sign_in.hosts[{i}]"), message),
        }
    }
    let mut paths = Vec::new();
    for (i, path) in config.paths.iter().enumerate() {
        match path_pattern(path) {
            Ok(pattern) => paths.push(pattern),
            Err((field, message)) => found.error(format!("sign_in.paths[{i}]{field}"), message),
        }
    }
    (hosts, paths)
}

fn cookie_names(config: &SignInConfig, found: &mut Diagnostics) -> Option<CookieNames> {
    let base = &config.cookie_name;
    if base.is_empty() || base.len() > 40 || !is_token(base) || base.starts_with("__") {
        found.error("sign_in.cookie_name", "must be a cookie name of at most 40 characters, without the `__Host-` or `__Secure-` prefix (the gate adds it)");
        return None;
    }
    let prefix = if config.secure_cookies { format!("__Host-{base}-") } else { format!("{base}-") };
    Some(CookieNames { session: format!("{prefix}session"), flow: format!("{prefix}flow-"), prefix, secure: config.secure_cookies })
}

fn check_lifetimes(config: &SignInConfig, found: &mut Diagnostics) {
    if !(MIN_SESSION_SECONDS..=MAX_SESSION_SECONDS).contains(&config.session_lifetime_seconds) {
        found.error("sign_in.session_lifetime_seconds", format!("must be between {MIN_SESSION_SECONDS} and {MAX_SESSION_SECONDS}"));
    }
    if !(MIN_SESSION_SECONDS..=config.session_lifetime_seconds.max(MIN_SESSION_SECONDS)).contains(&config.session_idle_seconds) {
        found.error("sign_in.session_idle_seconds", format!("must be between {MIN_SESSION_SECONDS} and session_lifetime_seconds"));
    }
}

//! Checks a [`Config`] and compiles it into the [`Settings`] the gate runs with.
//!
//! Every problem is reported with the path of the field it concerns
//! (`providers[0].local_jwks.keys[1]: needs a kid`), and all of them at once, so a
//! user fixes a config in one pass. Anything doubtful is an error, never a default.

use crate::config::{Config, DecisionLog, PolicyConfig, DecisionLogTo, GroupLookupConfig, IdentityHeadersConfig, Profile, ProviderConfig, RemoteJwksConfig, TokenSourceConfig};
use crate::diagnostics::{self, Diagnostics};
use crate::extract::TokenSource;
use crate::group_lookup::GroupLookup;
use crate::header_syntax::{self, is_quotable_byte, is_token, is_visible_value_byte};
use crate::jwks::{KeySet, has_key_for, parse_jwks};
use crate::key_refresh::{KeyFormat, RemoteJwks};
use crate::policy::Policy;
use crate::policy::compile::compile;
use crate::policy::names::canonical_domain;
use crate::provider::Provider;
use crate::session::setup::{Environment, SignIn, no_environment};
use crate::verify::Verifier;
use std::collections::HashSet;
use std::ops::RangeInclusive;
use std::rc::Rc;

/// The errors [`Settings::from_json`] returns and the warnings [`Settings`] keeps,
/// named here too: whoever loads settings (the gate among them) imports them from here.
pub use crate::diagnostics::{ConfigError, ConfigErrors};

/// Identity header names, lower-cased.
#[derive(Debug, Clone)]
pub struct IdentityHeaders {
    pub email: String,
    pub subject: String,
    pub domain: String,
    pub groups: String,
    pub via: String,
}

impl IdentityHeaders {
    pub fn all(&self) -> [&str; 5] {
        [&self.email, &self.subject, &self.domain, &self.groups, &self.via]
    }

    /// Whether a request header called `name` could reach the service as one of the
    /// identity headers: WSGI, CGI, Rack and PHP read `x_workspace_email` (and
    /// `X-Workspace_Email`) as `HTTP_X_WORKSPACE_EMAIL`, the same variable as
    /// `x-workspace-email`. Names compare by their ASCII letters and digits alone, case
    /// folded: stricter than any of those readings.
    pub fn could_be_read_as_one(&self, name: &str) -> bool {
        self.all().iter().any(|identity| same_letters_and_digits(name, identity))
    }
}

/// Whether two header names have the same letters and digits, ASCII case folded,
/// whatever separators stand between them. Runs for every request header, so it
/// compares in place rather than building the folded names.
pub fn same_letters_and_digits(a: &str, b: &str) -> bool {
    significant(a).next().is_some() && significant(a).eq(significant(b))
}

fn significant(name: &str) -> impl Iterator<Item = u8> + '_ {
    name.bytes().filter(u8::is_ascii_alphanumeric).map(|b| b.to_ascii_lowercase())
}

/// A validated configuration.
#[derive(Debug)]
pub struct Settings {
    pub verifier: Verifier,
    pub policy: Policy,
    pub token_sources: Vec<TokenSource>,
    pub identity_headers: IdentityHeaders,
    pub strip_token: bool,
    pub realm: String,
    pub token_cache_entries: usize,
    pub token_cache_bytes: usize,
    pub decision_log: DecisionLog,
    pub decision_log_to: DecisionLogTo,
    /// Live group membership, if configured.
    pub group_lookup: Option<GroupLookup>,
    /// Browser sign-in, if configured.
    pub sign_in: Option<SignIn>,
    /// Where the plugin runs.
    pub profile: Profile,
    /// Not fatal; shown by `wsgate validate` and logged when the filter loads.
    pub warnings: Vec<ConfigError>,
}

const MAX_CLOCK_SKEW_SECONDS: u64 = 600;
const MAX_LIFETIME_SECONDS: u64 = 24 * 3600;
const TOKEN_BYTES_RANGE: std::ops::RangeInclusive<usize> = 512..=65536;
const MAX_CACHE_ENTRIES: usize = 1_000_000;
/// 64 KiB to 1 GiB: below, not even a few dozen tokens fit.
const TOKEN_CACHE_BYTES_RANGE: std::ops::RangeInclusive<usize> = (64 << 10)..=(1 << 30);
const MAX_REFRESH_SECONDS: u64 = 7 * 86_400;
/// The token cache's share of a Service Extensions VM's 16 MiB, and its default there.
const SERVICE_EXTENSIONS_CACHE_BYTES: usize = 4 << 20;
/// 8 MiB: 4,096 typical entries (about 1.5 KiB each) fit, 4,096 maximal ones do not.
const DEFAULT_CACHE_BYTES: usize = 8 << 20;

/// `token_cache_bytes`, or its default for the profile.
fn token_cache_bytes(config: &Config) -> usize {
    config.token_cache_bytes.unwrap_or(match config.profile {
        Profile::ServiceExtensions => SERVICE_EXTENSIONS_CACHE_BYTES,
        Profile::Envoy => DEFAULT_CACHE_BYTES,
    })
}

impl Settings {
    /// Parses and checks a JSON configuration that needs no secrets (a `sign_in`
    /// section is refused for want of them).
    pub fn from_json(json: &[u8]) -> Result<Settings, ConfigErrors> {
        Settings::from_json_with_env(json, &no_environment)
    }

    /// Parses and checks a JSON configuration, its secrets read from `env` (the VM's
    /// environment variables).
    pub fn from_json_with_env(json: &[u8], env: Environment<'_>) -> Result<Settings, ConfigErrors> {
        let config: Config = diagnostics::from_json(json).map_err(|error| ConfigErrors(vec![error]))?;
        Settings::from_config_with_env(config, env)
    }

    pub fn from_config(config: Config) -> Result<Settings, ConfigErrors> {
        Settings::from_config_with_env(config, &no_environment)
    }

    pub fn from_config_with_env(config: Config, env: Environment<'_>) -> Result<Settings, ConfigErrors> {
        let mut check = Checker::default();
        let providers = check.providers(&config.providers);
        let (policy, policy_diagnostics) = compile(&config.policy, "policy.");
        check.found.absorb(policy_diagnostics);
        check.rule_providers(&config.policy, &config.providers);
        let token_sources = check.token_sources(&config.token_sources);
        let identity_headers = check.identity_headers(&config.identity_headers, &token_sources);
        check.realm(&config.realm);
        check.bounds(&config);
        let group_lookup = config.group_lookup.as_ref().and_then(|g| check.group_lookup(g));
        let sign_in = config.sign_in.as_ref().and_then(|s| crate::session::setup::check(s, &config.providers, env, &mut check.found));
        check.profile(&config);
        let Diagnostics { errors, warnings, .. } = check.found;
        let cache_bytes = token_cache_bytes(&config);
        let Some(policy) = policy.filter(|_| errors.is_empty()) else {
            return Err(ConfigErrors(errors));
        };
        Ok(Settings {
            verifier: Verifier::new(providers, config.max_token_bytes),
            policy,
            token_sources,
            identity_headers,
            strip_token: config.strip_token,
            realm: config.realm,
            token_cache_entries: config.token_cache_entries,
            token_cache_bytes: cache_bytes,
            decision_log: config.decision_log,
            decision_log_to: config.decision_log_to,
            group_lookup,
            sign_in,
            profile: config.profile,
            warnings,
        })
    }
}

/// Where the filter sends a request: an Envoy cluster, the `:authority` and the path
/// (`None` where the configuration has no such field, or leaves it to a default).
struct Destination<'a> {
    cluster: &'a str,
    authority: Option<&'a str>,
    path: Option<&'a str>,
}

/// What error messages about a [`Destination`] suggest.
#[derive(Clone, Copy)]
struct Hints {
    cluster: &'static str,
    authority: &'static str,
    /// Appended to "must be an absolute path".
    path: &'static str,
}

const JWKS_HINTS: Hints = Hints { cluster: "the Envoy cluster that reaches the JWKS endpoint", authority: "www.googleapis.com", path: " such as /oauth2/v3/certs" };
const GOOGLE_API_HINTS: Hints = Hints { cluster: "an Envoy cluster", authority: "cloudidentity.googleapis.com", path: "" };

#[derive(Default)]
struct Checker {
    found: Diagnostics,
}

impl Checker {
    fn error(&mut self, path: impl AsRef<str>, message: impl Into<String>) {
        self.found.error(path, message);
    }

    fn providers(&mut self, providers: &[ProviderConfig]) -> Vec<Provider> {
        if providers.is_empty() {
            self.error("providers", "needs at least one provider");
        }
        let mut names = HashSet::new();
        let mut issuers = HashSet::new();
        let mut compiled = Vec::new();
        for (index, provider) in providers.iter().enumerate() {
            let path = format!("providers[{index}]");
            if !names.insert(provider.name.as_str()) {
                self.error(format!("{path}.name"), format!("`{}` is used by another provider", provider.name));
            }
            for (i, issuer) in provider.issuers.iter().enumerate() {
                if !issuers.insert(issuer.as_str()) {
                    self.error(format!("{path}.issuers[{i}]"), format!("`{issuer}` belongs to another provider already: the issuer picks the provider"));
                }
            }
            if let Some(provider) = self.provider(&path, provider) {
                compiled.push(provider);
            }
        }
        compiled
    }

    fn provider(&mut self, path: &str, config: &ProviderConfig) -> Option<Provider> {
        if config.name.trim().is_empty() {
            self.error(format!("{path}.name"), "must not be empty");
        }
        self.non_empty_list(&format!("{path}.issuers"), &config.issuers, "needs at least one issuer, e.g. https://accounts.google.com");
        self.non_empty_list(&format!("{path}.audiences"), &config.audiences, "needs at least one audience: a token for another service must not be accepted here");
        if config.algorithms.is_empty() {
            self.error(format!("{path}.algorithms"), "needs at least one of RS256, ES256");
        }
        if config.clock_skew_seconds > MAX_CLOCK_SKEW_SECONDS {
            self.error(format!("{path}.clock_skew_seconds"), format!("must be at most {MAX_CLOCK_SKEW_SECONDS}"));
        }
        if config.max_lifetime_seconds == 0 || config.max_lifetime_seconds > MAX_LIFETIME_SECONDS {
            self.error(format!("{path}.max_lifetime_seconds"), format!("must be between 1 and {MAX_LIFETIME_SECONDS}"));
        }
        self.non_blank_entries(&format!("{path}.allowed_domains"), &config.allowed_domains);
        self.non_blank_entries(&format!("{path}.allowed_azp"), &config.allowed_azp);
        let (keys, remote) = self.key_source(path, config)?;
        Some(Provider {
            name: Rc::from(config.name.as_str()),
            issuers: config.issuers.clone(),
            audiences: config.audiences.iter().cloned().collect(),
            keys,
            remote,
            algorithms: config.algorithms.clone(),
            clock_skew: config.clock_skew_seconds,
            max_lifetime: config.max_lifetime_seconds,
            allowed_domains: config.allowed_domains.iter().map(|d| canonical_domain(d)).collect(),
            require_email_verified: config.require_email_verified,
            allowed_azp: config.allowed_azp.iter().cloned().collect(),
            groups_claim: config.groups_claim.clone(),
            require_subject: config.require_subject,
        })
    }

    /// Local keys, or none yet and where to fetch them.
    fn key_source(&mut self, path: &str, config: &ProviderConfig) -> Option<(KeySet, Option<RemoteJwks>)> {
        match (&config.local_jwks, &config.remote_jwks, &config.remote_x509) {
            (Some(document), None, None) => Some((self.keys(path, document, &config.algorithms)?, None)),
            (None, Some(remote), None) => Some((KeySet::new(), Some(self.remote_keys(&format!("{path}.remote_jwks"), remote, KeyFormat::Jwks)?))),
            (None, None, Some(remote)) => Some((KeySet::new(), Some(self.remote_keys(&format!("{path}.remote_x509"), remote, KeyFormat::X509)?))),
            (None, None, None) => {
                self.error(format!("{path}.local_jwks"), "one of local_jwks (the keys as a JWKS), remote_jwks or remote_x509 (where to fetch them) is required");
                None
            }
            (_, _, remote_x509) => {
                let second = if remote_x509.is_some() { "remote_x509" } else { "remote_jwks" };
                self.error(format!("{path}.{second}"), "set only one of local_jwks, remote_jwks and remote_x509");
                None
            }
        }
    }

    fn remote_keys(&mut self, path: &str, config: &RemoteJwksConfig, format: KeyFormat) -> Option<RemoteJwks> {
        let errors_before = self.found.errors.len();
        let destination = Destination { cluster: &config.cluster, authority: Some(&config.authority), path: Some(&config.path) };
        self.destination(path, &destination, JWKS_HINTS);
        self.within(path, &[
            ("timeout_ms", config.timeout_ms, 100..=60_000),
            ("min_refresh_seconds", config.min_refresh_seconds, 10..=config.max_refresh_seconds.max(10)),
            ("max_refresh_seconds", config.max_refresh_seconds, 10..=MAX_REFRESH_SECONDS),
            ("unknown_kid_refresh_seconds", config.unknown_kid_refresh_seconds, 1..=86_400),
            ("stale_if_error_seconds", config.stale_if_error_seconds, 0..=MAX_REFRESH_SECONDS),
            ("max_retry_seconds", config.max_retry_seconds, 1..=3600),
            ("wait_for_keys_ms", config.wait_for_keys_ms, 0..=30_000),
        ]);
        if ![401, 503].contains(&config.unavailable_status) {
            self.error(format!("{path}.unavailable_status"), "must be 503 (retry later) or 401 (unauthenticated)");
        }
        (self.found.errors.len() == errors_before).then(|| RemoteJwks::from_config(config, format))
    }

    /// Each provider a rule names (`match.providers`) is configured.
    fn rule_providers(&mut self, policy: &PolicyConfig, providers: &[ProviderConfig]) {
        for (index, rule) in policy.rules.iter().enumerate() {
            for (i, name) in rule.matches.providers.iter().enumerate() {
                if !providers.iter().any(|p| p.name == *name) {
                    self.error(format!("policy.rules[{index}].match.providers[{i}]"), format!("`{name}` is not in `providers`"));
                }
            }
        }
    }

    fn group_lookup(&mut self, config: &GroupLookupConfig) -> Option<GroupLookup> {
        let errors_before = self.found.errors.len();
        let api = Destination { cluster: &config.cluster, authority: config.authority.as_deref(), path: None };
        self.destination("group_lookup", &api, GOOGLE_API_HINTS);
        let token = &config.access_token;
        let metadata = Destination { cluster: &token.cluster, authority: Some(&token.authority), path: Some(&token.path) };
        self.destination("group_lookup.access_token", &metadata, GOOGLE_API_HINTS);
        self.within("group_lookup", &[
            ("ttl_seconds", config.ttl_seconds, 1..=86_400),
            ("negative_ttl_seconds", config.negative_ttl_seconds, 1..=config.ttl_seconds.max(1)),
            ("stale_if_error_seconds", config.stale_if_error_seconds, 0..=MAX_REFRESH_SECONDS),
            ("timeout_ms", config.timeout_ms, 100..=60_000),
            ("wait_ms", config.wait_ms, 0..=30_000),
            ("max_retry_seconds", config.max_retry_seconds, 1..=3600),
        ]);
        if !(1..=MAX_CACHE_ENTRIES).contains(&config.cache_users) {
            self.error("group_lookup.cache_users", format!("must be between 1 and {MAX_CACHE_ENTRIES}"));
        }
        (self.found.errors.len() == errors_before).then(|| GroupLookup::from_config(config))
    }

    /// An Envoy cluster, and the authority and path sent to it where configured.
    fn destination(&mut self, at: &str, destination: &Destination<'_>, hints: Hints) {
        // Sent as `:authority` and `:path`: one word each.
        let unsendable = |value: &str| !value.bytes().all(is_visible_value_byte);
        if destination.cluster.trim().is_empty() {
            self.error(format!("{at}.cluster"), format!("must name {}", hints.cluster));
        }
        if destination.authority.is_some_and(|a| a.trim().is_empty() || unsendable(a)) {
            self.error(format!("{at}.authority"), format!("must be a host name such as {}", hints.authority));
        }
        if destination.path.is_some_and(|p| !p.starts_with('/') || unsendable(p)) {
            self.error(format!("{at}.path"), format!("must be an absolute path{}", hints.path));
        }
    }

    /// Each `(field, value, range)` of the object at `at` is within its range.
    fn within(&mut self, at: &str, ranges: &[(&str, u64, RangeInclusive<u64>)]) {
        for (field, value, range) in ranges {
            if !range.contains(value) {
                self.error(format!("{at}.{field}"), format!("must be between {} and {}", range.start(), range.end()));
            }
        }
    }

    fn keys(&mut self, path: &str, document: &serde_json::Value, algorithms: &[crate::config::Algorithm]) -> Option<KeySet> {
        let jwks_path = format!("{path}.local_jwks");
        match parse_jwks(document) {
            Ok(keys) if has_key_for(&keys, algorithms) => Some(keys),
            Ok(_) => {
                self.error(jwks_path, "holds no key for the provider's algorithms");
                None
            }
            Err(errors) => {
                for error in errors {
                    let at = error.index.map_or(jwks_path.clone(), |i| format!("{jwks_path}.keys[{i}]"));
                    self.error(at, error.message);
                }
                None
            }
        }
    }

    fn token_sources(&mut self, sources: &[TokenSourceConfig]) -> Vec<TokenSource> {
        if sources.is_empty() {
            self.error("token_sources", "needs at least one source");
        }
        sources
            .iter()
            .enumerate()
            .filter_map(|(index, source)| self.token_source(&format!("token_sources[{index}]"), source))
            .collect()
    }

    fn token_source(&mut self, path: &str, source: &TokenSourceConfig) -> Option<TokenSource> {
        match (&source.header, &source.cookie, &source.prefix) {
            (Some(header), None, prefix) => {
                let name = self.header_name(&format!("{path}.header"), header)?;
                Some(TokenSource::Header { name, prefix: prefix.clone().unwrap_or_default() })
            }
            (None, Some(cookie), None) => {
                if !is_token(cookie) {
                    self.error(format!("{path}.cookie"), format!("`{cookie}` is not a valid cookie name"));
                    return None;
                }
                Some(TokenSource::Cookie { name: cookie.clone() })
            }
            (None, Some(_), Some(_)) => {
                self.error(format!("{path}.prefix"), "applies to headers only, not cookies");
                None
            }
            _ => {
                self.error(path, "set exactly one of `header` or `cookie`");
                None
            }
        }
    }

    fn identity_headers(&mut self, config: &IdentityHeadersConfig, sources: &[TokenSource]) -> IdentityHeaders {
        let mut names = Vec::new();
        let fields = [("email", &config.email), ("subject", &config.subject), ("domain", &config.domain), ("groups", &config.groups), ("via", &config.via)];
        for (field, value) in fields {
            let path = format!("identity_headers.{field}");
            let Some(name) = self.header_name(&path, value) else { continue };
            if names.contains(&name) {
                self.error(&path, format!("`{name}` is used for another identity header"));
            }
            let carries_token = sources.iter().any(|s| matches!(s, TokenSource::Header { name: n, .. } if *n == name));
            if carries_token || ["authorization", "cookie", "host"].contains(&name.as_str()) {
                self.error(&path, format!("`{name}` would be removed from every request: pick a dedicated header"));
            }
            names.push(name);
        }
        let lower = |name: &String| name.to_ascii_lowercase();
        IdentityHeaders {
            email: lower(&config.email),
            subject: lower(&config.subject),
            domain: lower(&config.domain),
            groups: lower(&config.groups),
            via: lower(&config.via),
        }
    }

    fn realm(&mut self, realm: &str) {
        let quotable = realm.bytes().all(is_quotable_byte);
        if realm.is_empty() || !quotable {
            self.error("realm", "must be non-empty printable ASCII without `\"` or `\\`");
        }
    }

    /// Under Service Extensions, nothing that needs a host call its proxy lacks: an
    /// outbound call (fetched keys, live groups, the sign-in's code exchange), a timer,
    /// or filter state (the decision line through the access log).
    fn profile(&mut self, config: &Config) {
        if config.profile != Profile::ServiceExtensions {
            return;
        }
        const WHY: &str = "Service Extensions plugins make no outbound calls";
        for (index, provider) in config.providers.iter().enumerate() {
            let remote = if provider.remote_jwks.is_some() { Some("remote_jwks") } else { provider.remote_x509.as_ref().map(|_| "remote_x509") };
            if let Some(field) = remote {
                self.error(format!("providers[{index}].{field}"), format!("{WHY}: give the keys inline in local_jwks (refresh them with `wsgate keys inline`)"));
            }
        }
        if config.group_lookup.is_some() {
            self.error("group_lookup", format!("{WHY}: put the groups in the policy's directory, or in the token's groups claim"));
        }
        if config.sign_in.is_some() {
            self.error("sign_in", format!("{WHY}: sign people in with IAP in front of the load balancer instead"));
        }
        if config.decision_log_to == DecisionLogTo::AccessLog {
            self.error("decision_log_to", "Service Extensions plugins cannot set filter state: use envoy_log (the plugin's log)");
        }
        if token_cache_bytes(config) > SERVICE_EXTENSIONS_CACHE_BYTES {
            self.error("token_cache_bytes", format!("must be at most {SERVICE_EXTENSIONS_CACHE_BYTES} under service_extensions: a VM has 16 MiB for everything"));
        }
    }

    fn bounds(&mut self, config: &Config) {
        if !TOKEN_BYTES_RANGE.contains(&config.max_token_bytes) {
            self.error("max_token_bytes", format!("must be between {} and {}", TOKEN_BYTES_RANGE.start(), TOKEN_BYTES_RANGE.end()));
        }
        if config.token_cache_entries > MAX_CACHE_ENTRIES {
            self.error("token_cache_entries", format!("must be at most {MAX_CACHE_ENTRIES} (0 turns the cache off)"));
        }
        if !TOKEN_CACHE_BYTES_RANGE.contains(&token_cache_bytes(config)) {
            let (low, high) = (TOKEN_CACHE_BYTES_RANGE.start(), TOKEN_CACHE_BYTES_RANGE.end());
            self.error("token_cache_bytes", format!("must be between {low} and {high}"));
        }
    }

    fn header_name(&mut self, path: &str, name: &str) -> Option<String> {
        header_syntax::header_name(name).map_err(|message| self.error(path, message)).ok()
    }

    fn non_empty_list(&mut self, path: &str, list: &[String], message: &str) {
        if list.is_empty() {
            self.error(path, message);
        }
        self.non_blank_entries(path, list);
    }

    fn non_blank_entries(&mut self, path: &str, list: &[String]) {
        for (index, entry) in list.iter().enumerate() {
            if entry.trim().is_empty() {
                self.error(format!("{path}[{index}]"), "must not be empty");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::same_letters_and_digits;

    #[test]
    fn header_names_compare_by_letters_and_digits_case_folded() {
        assert!(same_letters_and_digits("X-Workspace_Email", "x-workspace-email"));
        assert!(same_letters_and_digits("x.workspace.email", "xworkspaceemail"));
        assert!(!same_letters_and_digits("x-workspace-emails", "x-workspace-email"));
        assert!(!same_letters_and_digits("x-workspace-email", "x-workspace-emails"));
        assert!(!same_letters_and_digits("---", "___"), "names without letters or digits match nothing");
    }
}

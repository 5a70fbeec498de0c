//! The filter's configuration as users write it (JSON in Envoy's `configuration`).
//!
//! These structs only describe the wire format; `settings` checks them and turns them
//! into what the gate runs with. Unknown fields are refused everywhere so that a typo
//! never silently turns a check off.

use serde::Deserialize;

pub use crate::policy_config::PolicyConfig;

/// The whole plugin configuration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Who may issue tokens, and how to verify them. At least one.
    pub providers: Vec<ProviderConfig>,
    /// Who may call, once verified.
    pub policy: PolicyConfig,
    /// Where to look for the token, first match wins.
    #[serde(default = "default_token_sources")]
    pub token_sources: Vec<TokenSourceConfig>,
    /// Names of the headers that carry the verified identity to the service.
    #[serde(default)]
    pub identity_headers: IdentityHeadersConfig,
    /// Remove the token from the request before it is forwarded.
    #[serde(default)]
    pub strip_token: bool,
    /// The `realm` in `WWW-Authenticate` challenges.
    #[serde(default = "default_realm")]
    pub realm: String,
    /// Tokens longer than this are refused before any parsing.
    #[serde(default = "default_max_token_bytes")]
    pub max_token_bytes: usize,
    /// How many verified tokens each VM remembers, so a signature is checked once.
    #[serde(default = "default_token_cache_entries")]
    pub token_cache_entries: usize,
    /// The most bytes that cache may hold (tokens and what is kept of their callers);
    /// whichever bound is reached first evicts. Unset: 8 MiB, or 4 MiB under the
    /// `service_extensions` profile (its VMs have 16 MiB for everything).
    #[serde(default)]
    pub token_cache_bytes: Option<usize>,
    /// Which decisions get a JSON line in the proxy's log.
    #[serde(default)]
    pub decision_log: DecisionLog,
    /// Where those lines go.
    #[serde(default)]
    pub decision_log_to: DecisionLogTo,
    /// Look Workspace group membership up live, per user, with a cache: for groups
    /// neither the token nor the policy's directory vouches for.
    #[serde(default)]
    pub group_lookup: Option<GroupLookupConfig>,
    /// Sign people in with Google in the browser when they come without a token.
    #[serde(default)]
    pub sign_in: Option<SignInConfig>,
    /// Where the plugin runs, and so which host calls it may count on.
    #[serde(default)]
    pub profile: Profile,
}

/// The proxy that runs the plugin.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// Envoy or Istio: every proxy-wasm host call.
    #[default]
    Envoy,
    /// Google Cloud Service Extensions on Google's load balancers: no outbound calls,
    /// no timers, no shared data, no custom metrics, no filter state. The plugin is
    /// self-contained: inline keys, the policy's directory, no live lookups, no sign-in.
    ServiceExtensions,
}

/// Browser sign-in: OpenID Connect's code flow with PKCE against Google, a session
/// cookie sealed by the gate. Secrets are never written here: only the names of the
/// VM's environment variables that hold them (`vm_config.environment_variables`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInConfig {
    /// The provider (`providers[].name`) that verifies the ID tokens Google returns;
    /// its `audiences` must include `client_id`.
    pub provider: String,
    /// The OAuth client's ID (`….apps.googleusercontent.com`).
    pub client_id: String,
    /// The environment variable holding the OAuth client's secret.
    pub client_secret_env: String,
    /// The environment variable holding the session keys: 32 random bytes each,
    /// base64, comma-separated; the first seals, every one opens (rotation).
    pub cookie_keys_env: String,
    /// The callback URL registered with the OAuth client, e.g.
    /// `https://app.example.com/_wsgate/callback`; its path is the gate's.
    pub redirect_uri: String,
    /// Where browsers are sent to sign in.
    #[serde(default = "default_authorization_endpoint")]
    pub authorization_endpoint: String,
    /// Where the gate exchanges the code, through an Envoy cluster.
    pub token_endpoint: TokenEndpointConfig,
    /// Hosts where sign-in applies (`*.example.com` allowed); empty: every host.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Paths where sign-in applies; empty: every path.
    #[serde(default)]
    pub paths: Vec<crate::policy_config::PathConfig>,
    /// The path that signs a browser out.
    #[serde(default = "default_sign_out_path")]
    pub sign_out_path: String,
    /// Where a signed-out browser goes: a path on this origin, or an `https://` URL.
    #[serde(default = "default_signed_out_url")]
    pub signed_out_url: String,
    /// The cookies' base name; `__Host-` is put in front when cookies are secure.
    #[serde(default = "default_cookie_name")]
    pub cookie_name: String,
    /// `Secure` cookies with the `__Host-` prefix. Only a plain-HTTP demo on
    /// localhost turns this off.
    #[serde(default = "default_true")]
    pub secure_cookies: bool,
    /// A session ends this long after sign-in, however active.
    #[serde(default = "default_session_lifetime_seconds")]
    pub session_lifetime_seconds: u64,
    /// A session ends after this long unused.
    #[serde(default = "default_session_idle_seconds")]
    pub session_idle_seconds: u64,
    /// One Workspace domain: sent to Google as the `hd` hint, and required of the ID
    /// token's `hd`.
    #[serde(default)]
    pub hosted_domain: Option<String>,
    /// The refusal page names the groups access depends on. Off by default: group
    /// names can say more than an operator wants refused people to read.
    #[serde(default)]
    pub refusal_page_names_groups: bool,
}

/// Google's token endpoint, reached through an Envoy cluster.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEndpointConfig {
    pub cluster: String,
    #[serde(default = "default_token_authority")]
    pub authority: String,
    #[serde(default = "default_token_path")]
    pub path: String,
    #[serde(default = "default_token_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_authorization_endpoint() -> String {
    "https://accounts.google.com/o/oauth2/v2/auth".to_owned()
}

fn default_sign_out_path() -> String {
    "/_wsgate/sign_out".to_owned()
}

fn default_signed_out_url() -> String {
    "/".to_owned()
}

fn default_cookie_name() -> String {
    "wsgate".to_owned()
}

fn default_session_lifetime_seconds() -> u64 {
    8 * 3600
}

fn default_session_idle_seconds() -> u64 {
    3600
}

fn default_token_authority() -> String {
    "oauth2.googleapis.com".to_owned()
}

fn default_token_path() -> String {
    "/token".to_owned()
}

fn default_token_timeout_ms() -> u64 {
    5000
}

/// Which decisions are logged. Counters are kept for every decision either way.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DecisionLog {
    /// Every decision: the audit trail, and the default.
    #[default]
    All,
    /// Only refusals (and dry-run "would deny"): for busy gateways whose access log
    /// already records allowed requests.
    Denied,
    /// None.
    None,
}

/// Where decision log lines go.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DecisionLogTo {
    /// Envoy's own log, through `proxy_log`: needs nothing else, and is the default.
    #[default]
    EnvoyLog,
    /// Envoy's filter state `wasm.wsgate_decision`, for the access logger the operator
    /// already runs (`%FILTER_STATE(wasm.wsgate_decision:PLAIN)%`): Envoy buffers
    /// access log writes, where `proxy_log` writes each line as it comes.
    AccessLog,
}

/// The filter state key (under Envoy's `wasm.` prefix) that holds the decision line
/// with `decision_log_to: access_log`.
pub const DECISION_PROPERTY: &str = "wsgate_decision";

/// One place a token may be found: a header (with an optional scheme prefix) or a cookie.
#[derive(Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TokenSourceConfig {
    pub header: Option<String>,
    /// For headers: text before the token, matched case-insensitively (`"Bearer "`).
    pub prefix: Option<String>,
    pub cookie: Option<String>,
}

/// A token issuer and what its tokens must satisfy.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Names the provider in logs.
    pub name: String,
    /// Accepted `iss` values; unique across providers (the issuer picks the provider).
    pub issuers: Vec<String>,
    /// Accepted `aud` values: a Cloud Run URL, an OAuth client id, an IAP audience.
    pub audiences: Vec<String>,
    /// The verification keys as a JWKS (`{"keys": [...]}`), inline as JSON or as a
    /// JSON string. Exactly one of `local_jwks` and `remote_jwks`.
    pub local_jwks: Option<serde_json::Value>,
    /// Where to fetch the keys from, and how to keep them fresh.
    pub remote_jwks: Option<RemoteJwksConfig>,
    /// Where to fetch the keys as a map from key id to X.509 certificate (PEM), the
    /// form Google publishes at `/service_accounts/v1/metadata/x509/ACCOUNT` (Chat's
    /// signer publishes no JWKS). Refreshed like `remote_jwks`; set one key source.
    pub remote_x509: Option<RemoteJwksConfig>,
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<Algorithm>,
    #[serde(default = "default_clock_skew_seconds")]
    pub clock_skew_seconds: u64,
    #[serde(default = "default_max_lifetime_seconds")]
    pub max_lifetime_seconds: u64,
    /// Accepted Workspace domains (`hd`); empty accepts any, including none.
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    /// Refuse tokens whose email is not marked verified. IAP assertions carry no
    /// `email_verified`: set this to false for an IAP provider.
    #[serde(default = "default_true")]
    pub require_email_verified: bool,
    /// Accepted `azp` values; empty accepts any.
    #[serde(default)]
    pub allowed_azp: Vec<String>,
    /// The claim holding the caller's groups (a list of group emails), if any.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// Refuse tokens without a `sub`. Chat's project-number tokens name no subject:
    /// a provider for them sets this to false, and its tokens' subject is their issuer.
    #[serde(default = "default_true")]
    pub require_subject: bool,
}

/// A JWKS endpoint reached through an Envoy cluster, such as Google's
/// `https://www.googleapis.com/oauth2/v3/certs` or IAP's
/// `https://www.gstatic.com/iap/verify/public_key-jwk`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteJwksConfig {
    /// The Envoy cluster that reaches the endpoint (TLS is the cluster's business).
    pub cluster: String,
    /// The `:authority` sent, e.g. `www.googleapis.com`.
    pub authority: String,
    /// The path, e.g. `/oauth2/v3/certs`.
    pub path: String,
    /// How long one fetch may take.
    #[serde(default = "default_fetch_timeout_ms")]
    pub timeout_ms: u64,
    /// Bounds on the refresh interval taken from `Cache-Control: max-age`.
    #[serde(default = "default_min_refresh_seconds")]
    pub min_refresh_seconds: u64,
    #[serde(default = "default_max_refresh_seconds")]
    pub max_refresh_seconds: u64,
    /// A token naming an unknown `kid` triggers a refresh at most this often.
    #[serde(default = "default_unknown_kid_refresh_seconds")]
    pub unknown_kid_refresh_seconds: u64,
    /// How long past their freshness the last good keys are still used while
    /// refreshes fail.
    #[serde(default = "default_stale_if_error_seconds")]
    pub stale_if_error_seconds: u64,
    /// The longest pause between retries of a failing fetch (backoff doubles from 1 s).
    #[serde(default = "default_max_retry_seconds")]
    pub max_retry_seconds: u64,
    /// How long a request waits for keys that are being fetched (at start, or after
    /// an unknown `kid`) before it is answered.
    #[serde(default = "default_wait_for_keys_ms")]
    pub wait_for_keys_ms: u64,
    /// The status for a request that cannot be verified because no usable keys
    /// exist: 503 (the default: the caller may retry) or 401.
    #[serde(default = "default_unavailable_status")]
    pub unavailable_status: u16,
}

/// Live group membership: which Google API answers "is this user in this group?",
/// through which Envoy cluster, and how answers are cached.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupLookupConfig {
    pub backend: GroupBackend,
    /// The Envoy cluster that reaches the API (TLS is the cluster's business).
    pub cluster: String,
    /// The `:authority` sent; defaults to the backend's API host.
    #[serde(default)]
    pub authority: Option<String>,
    /// Where the access token for the API comes from: the metadata server.
    #[serde(default)]
    pub access_token: AccessTokenConfig,
    /// How long a "member" answer is trusted.
    #[serde(default = "default_group_ttl_seconds")]
    pub ttl_seconds: u64,
    /// How long a "not a member" answer is trusted: shorter, so a user just added
    /// to a group gets in soon.
    #[serde(default = "default_group_negative_ttl_seconds")]
    pub negative_ttl_seconds: u64,
    /// How long past its TTL an answer is still used while lookups fail.
    #[serde(default = "default_group_stale_if_error_seconds")]
    pub stale_if_error_seconds: u64,
    /// How long one lookup may take.
    #[serde(default = "default_group_timeout_ms")]
    pub timeout_ms: u64,
    /// How long a request waits for its lookups before it is decided without them.
    #[serde(default = "default_group_wait_ms")]
    pub wait_ms: u64,
    /// The longest pause after failed lookups (backoff doubles from 1 s; a 429's
    /// `Retry-After` is honoured up to this).
    #[serde(default = "default_max_retry_seconds")]
    pub max_retry_seconds: u64,
    /// What a request gets when a group it depends on cannot be resolved.
    #[serde(default)]
    pub on_failure: GroupFailureMode,
    /// How many users' answers each worker remembers.
    #[serde(default = "default_group_cache_users")]
    pub cache_users: usize,
}

/// The API asked about membership. Both include nested groups.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum GroupBackend {
    /// Cloud Identity `groups.memberships.checkTransitiveMembership`.
    CloudIdentity,
    /// Admin SDK Directory `members.hasMember`: Workspace editions without Cloud
    /// Identity Premium.
    AdminSdk,
}

/// What a request whose decision depends on an unresolvable group gets. Either way
/// it is refused: a lookup that failed never lets a request through.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum GroupFailureMode {
    /// 403 `groups_unavailable`.
    #[default]
    Deny,
    /// 503 `groups_unavailable` with `Retry-After`: the caller may retry.
    Unavailable,
}

/// The metadata server's token endpoint: keyless, the workload's own service account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessTokenConfig {
    #[serde(default = "default_metadata_cluster")]
    pub cluster: String,
    #[serde(default = "default_metadata_authority")]
    pub authority: String,
    #[serde(default = "default_metadata_token_path")]
    pub path: String,
}

impl Default for AccessTokenConfig {
    fn default() -> Self {
        Self { cluster: default_metadata_cluster(), authority: default_metadata_authority(), path: default_metadata_token_path() }
    }
}

fn default_metadata_cluster() -> String {
    "metadata".to_owned()
}

fn default_metadata_authority() -> String {
    "metadata.google.internal".to_owned()
}

fn default_metadata_token_path() -> String {
    "/computeMetadata/v1/instance/service-accounts/default/token".to_owned()
}

fn default_group_ttl_seconds() -> u64 {
    300
}

fn default_group_negative_ttl_seconds() -> u64 {
    60
}

fn default_group_stale_if_error_seconds() -> u64 {
    3600
}

fn default_group_timeout_ms() -> u64 {
    2000
}

fn default_group_wait_ms() -> u64 {
    3000
}

fn default_group_cache_users() -> usize {
    10_000
}

/// Signing algorithms the gate can verify. HMAC and `none` are deliberately absent.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSA PKCS#1 v1.5 with SHA-256: Google ID tokens.
    RS256,
    /// ECDSA P-256 with SHA-256: IAP assertions.
    ES256,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::ES256 => "ES256",
        }
    }
}

/// Request headers that carry the identity upstream. Always removed from the client's
/// request first.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityHeadersConfig {
    #[serde(default = "default_email_header")]
    pub email: String,
    #[serde(default = "default_subject_header")]
    pub subject: String,
    #[serde(default = "default_domain_header")]
    pub domain: String,
    /// The caller's groups that the policy references, comma-separated.
    #[serde(default = "default_groups_header")]
    pub groups: String,
    /// The named caller that carried the request (`addon:123`, `chat:123`); absent
    /// for a caller that came directly.
    #[serde(default = "default_via_header")]
    pub via: String,
}

impl Default for IdentityHeadersConfig {
    fn default() -> Self {
        Self {
            email: default_email_header(),
            subject: default_subject_header(),
            domain: default_domain_header(),
            groups: default_groups_header(),
            via: default_via_header(),
        }
    }
}

fn default_token_sources() -> Vec<TokenSourceConfig> {
    ["authorization", "x-serverless-authorization"]
        .into_iter()
        .map(|header| TokenSourceConfig {
            header: Some(header.to_owned()),
            prefix: Some("Bearer ".to_owned()),
            cookie: None,
        })
        .collect()
}

fn default_fetch_timeout_ms() -> u64 {
    5000
}

fn default_min_refresh_seconds() -> u64 {
    300
}

/// Google's certs say about six hours; a day bounds a misconfigured endpoint.
fn default_max_refresh_seconds() -> u64 {
    86_400
}

fn default_unknown_kid_refresh_seconds() -> u64 {
    30
}

/// Google publishes a key for days before and after it signs: keys a few hours
/// stale are still the right keys.
fn default_stale_if_error_seconds() -> u64 {
    12 * 3600
}

fn default_max_retry_seconds() -> u64 {
    60
}

fn default_wait_for_keys_ms() -> u64 {
    3000
}

fn default_unavailable_status() -> u16 {
    503
}

fn default_realm() -> String {
    "wsgate".to_owned()
}

/// Google ID tokens are about 1 KiB; 8 KiB leaves room for large group claims.
fn default_max_token_bytes() -> usize {
    8192
}

fn default_token_cache_entries() -> usize {
    4096
}

fn default_algorithms() -> Vec<Algorithm> {
    vec![Algorithm::RS256, Algorithm::ES256]
}

fn default_clock_skew_seconds() -> u64 {
    60
}

/// Google ID tokens live exactly one hour.
fn default_max_lifetime_seconds() -> u64 {
    3600
}

fn default_true() -> bool {
    true
}

fn default_email_header() -> String {
    "x-workspace-email".to_owned()
}

fn default_subject_header() -> String {
    "x-workspace-subject".to_owned()
}

fn default_domain_header() -> String {
    "x-workspace-domain".to_owned()
}

fn default_groups_header() -> String {
    "x-workspace-groups".to_owned()
}

fn default_via_header() -> String {
    "x-workspace-via".to_owned()
}

fn default_groups_claim() -> String {
    "groups".to_owned()
}

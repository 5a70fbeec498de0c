//! Live group membership as Google's APIs speak it: the requests the filter sends
//! (metadata-server access token, Cloud Identity, Admin SDK Directory) and what their
//! answers mean. The filter only moves bytes; every path and every answer is built
//! and read here, so both are tested without a proxy.

use crate::config::{GroupBackend, GroupFailureMode, GroupLookupConfig};
use crate::header_syntax;
use serde::Deserialize;

/// A checked `group_lookup` configuration (see `settings`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupLookup {
    pub backend: GroupBackend,
    pub cluster: String,
    pub authority: String,
    pub token_cluster: String,
    pub token_authority: String,
    pub token_path: String,
    pub ttl_ms: u64,
    pub negative_ttl_ms: u64,
    pub stale_if_error_ms: u64,
    pub timeout_ms: u64,
    pub wait_ms: u64,
    pub max_retry_ms: u64,
    pub on_failure: GroupFailureMode,
    pub cache_users: usize,
}

impl GroupLookup {
    /// Converts a checked configuration (see `settings`); times become milliseconds.
    pub fn from_config(config: &GroupLookupConfig) -> Self {
        let ms = |seconds: u64| seconds.saturating_mul(1000);
        let authority = config.authority.clone().unwrap_or_else(|| default_authority(config.backend).to_owned());
        Self {
            backend: config.backend,
            cluster: config.cluster.clone(),
            authority,
            token_cluster: config.access_token.cluster.clone(),
            token_authority: config.access_token.authority.clone(),
            token_path: config.access_token.path.clone(),
            ttl_ms: ms(config.ttl_seconds),
            negative_ttl_ms: ms(config.negative_ttl_seconds),
            stale_if_error_ms: ms(config.stale_if_error_seconds),
            timeout_ms: config.timeout_ms,
            wait_ms: config.wait_ms,
            max_retry_ms: ms(config.max_retry_seconds),
            on_failure: config.on_failure,
            cache_users: config.cache_users,
        }
    }

    /// The status of a request refused because a group could not be resolved.
    pub fn failure_status(&self) -> u16 {
        match self.on_failure {
            GroupFailureMode::Deny => 403,
            GroupFailureMode::Unavailable => 503,
        }
    }

    /// The path that answers whether `member` is in `group`. For Cloud Identity,
    /// `group_name` is the group's resource name (`groups/…`) from [`group_name_path`];
    /// the Admin SDK takes the email.
    pub fn membership_path(&self, group_email: &str, group_name: Option<&str>, member: &str) -> Option<String> {
        match self.backend {
            GroupBackend::CloudIdentity => {
                // A CEL string literal: an email may hold `'` (o'brien@…), which must
                // not end the literal and turn the rest into query syntax.
                let literal = member.replace('\\', "\\\\").replace('\'', "\\'");
                let query = format!("member_key_id == '{literal}'");
                Some(format!("/v1/{}/memberships:checkTransitiveMembership?query={}", group_name?, encode(&query)))
            }
            GroupBackend::AdminSdk => Some(format!("/admin/directory/v1/groups/{}/hasMember/{}", encode(group_email), encode(member))),
        }
    }

    /// Whether the backend names groups by resource name, looked up by email first.
    pub fn needs_group_names(&self) -> bool {
        self.backend == GroupBackend::CloudIdentity
    }
}

fn default_authority(backend: GroupBackend) -> &'static str {
    match backend {
        GroupBackend::CloudIdentity => "cloudidentity.googleapis.com",
        GroupBackend::AdminSdk => "admin.googleapis.com",
    }
}

/// A Cloud Identity lookup as unit tests configure it: answers live 300 s (60 s for
/// "not a member") and 600 s stale, calls time out after 2 s, requests wait 3 s.
#[cfg(test)]
pub(crate) fn test_config(max_retry_seconds: u64, cache_users: usize) -> GroupLookupConfig {
    GroupLookupConfig {
        backend: GroupBackend::CloudIdentity,
        cluster: "google".into(),
        authority: None,
        access_token: crate::config::AccessTokenConfig::default(),
        ttl_seconds: 300,
        negative_ttl_seconds: 60,
        stale_if_error_seconds: 600,
        timeout_ms: 2000,
        wait_ms: 3000,
        max_retry_seconds,
        on_failure: GroupFailureMode::Deny,
        cache_users,
    }
}

/// Cloud Identity `groups.lookup`: a group's resource name from its email.
pub fn group_name_path(group_email: &str) -> String {
    format!("/v1/groups:lookup?groupKey.id={}", encode(group_email))
}

/// Why an answer from Google does not settle a question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiFailure {
    /// No answer: timeout, reset, connection refused.
    NoResponse,
    /// 401: the access token was refused; get a new one.
    Unauthorized,
    /// Cloud Identity answered 404 for a group resource name: the group was deleted
    /// (and perhaps re-created under a new name). Not an answer: look its name up again.
    GroupNameGone,
    /// 429 (with `Retry-After` seconds, if sent) or 5xx: back off.
    Overloaded { status: u16, retry_after: Option<u64> },
    /// Any other status (403: the service account lacks permission), or a body that
    /// does not say what it should.
    Unexpected(String),
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiFailure::NoResponse => write!(f, "no response (timeout, reset or connection failure)"),
            ApiFailure::Unauthorized => write!(f, "HTTP 401: the access token was refused"),
            ApiFailure::GroupNameGone => write!(f, "HTTP 404: the group's resource name is no longer valid"),
            ApiFailure::Overloaded { status, .. } => write!(f, "HTTP {status}"),
            ApiFailure::Unexpected(why) => write!(f, "{why}"),
        }
    }
}

/// An API answer as the filter received it.
#[derive(Debug, Clone, Copy)]
pub struct ApiAnswer<'a> {
    /// `None`: the call failed without a response.
    pub status: Option<u16>,
    pub retry_after: Option<&'a str>,
    pub body: &'a [u8],
}

/// What a settled answer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found<T> {
    Yes(T),
    /// 404 with Google's error body: the group does not exist, so nobody is in it.
    NoSuchGroup,
}

impl ApiAnswer<'_> {
    fn ok_body<T: for<'de> Deserialize<'de>>(&self) -> Result<Found<T>, ApiFailure> {
        match self.status {
            None => Err(ApiFailure::NoResponse),
            Some(200) => serde_json::from_slice(self.body)
                .map(Found::Yes)
                .map_err(|e| ApiFailure::Unexpected(format!("HTTP 200 with an unexpected body: {e}"))),
            // Only Google's own "not found" says the group does not exist; a 404 from
            // anything else (a misrouted cluster) must not read as "not a member".
            Some(404) if is_google_not_found(self.body) => Ok(Found::NoSuchGroup),
            Some(401) => Err(ApiFailure::Unauthorized),
            Some(status @ (429 | 500..=599)) => {
                Err(ApiFailure::Overloaded { status, retry_after: self.retry_after.and_then(|v| v.trim().parse().ok()) })
            }
            Some(status) => Err(ApiFailure::Unexpected(format!("HTTP {status}: {}", google_error_message(self.body)))),
        }
    }

    /// A membership answer: member or not. For the Admin SDK, a group that does not
    /// exist has no members; Cloud Identity asks by resource name, and a 404 there
    /// means the name is stale ([`ApiFailure::GroupNameGone`]).
    pub fn membership(&self, backend: GroupBackend) -> Result<bool, ApiFailure> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct CheckTransitive {
            has_membership: bool,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct HasMember {
            is_member: bool,
        }
        match backend {
            GroupBackend::CloudIdentity => match self.ok_body::<CheckTransitive>()? {
                Found::Yes(answer) => Ok(answer.has_membership),
                Found::NoSuchGroup => Err(ApiFailure::GroupNameGone),
            },
            GroupBackend::AdminSdk => self.ok_body::<HasMember>().map(|f| matches!(f, Found::Yes(a) if a.is_member)),
        }
    }

    /// A `groups.lookup` answer: the group's resource name.
    pub fn group_name(&self) -> Result<Found<String>, ApiFailure> {
        #[derive(Deserialize)]
        struct Lookup {
            name: String,
        }
        match self.ok_body::<Lookup>()? {
            Found::Yes(Lookup { name }) if is_resource_name(&name) => Ok(Found::Yes(name)),
            Found::Yes(Lookup { name }) => Err(ApiFailure::Unexpected(format!("`{name}` is not a group resource name"))),
            Found::NoSuchGroup => Ok(Found::NoSuchGroup),
        }
    }

    /// The metadata server's answer: an access token and how many seconds it lives.
    pub fn access_token(&self) -> Result<(String, u64), ApiFailure> {
        #[derive(Deserialize)]
        struct Token {
            access_token: String,
            expires_in: u64,
        }
        match self.ok_body::<Token>()? {
            Found::Yes(token) if is_header_safe(&token.access_token) => Ok((token.access_token, token.expires_in)),
            Found::Yes(_) => Err(ApiFailure::Unexpected("the access token holds characters a header cannot carry".to_owned())),
            Found::NoSuchGroup => Err(ApiFailure::Unexpected("HTTP 404 from the token endpoint".to_owned())),
        }
    }
}

/// `{"error": {"code": 404, …}}`, as Google's APIs answer a missing resource.
fn is_google_not_found(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| v.pointer("/error/code").and_then(serde_json::Value::as_u64) == Some(404))
}

/// `groups/` and an id made of characters that are safe in a path.
fn is_resource_name(name: &str) -> bool {
    name.strip_prefix("groups/").is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)))
}

fn is_header_safe(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(header_syntax::is_visible_value_byte)
}

/// Google's error body (`{"error": {"message": …}}`), shortened, for the log.
fn google_error_message(body: &[u8]) -> String {
    let message = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.pointer("/error/message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    message.chars().take(200).map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// Percent-encodes everything but RFC 3986 unreserved characters: emails may hold
/// `+`, which a query would read as a space.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AccessTokenConfig;

    fn lookup(backend: GroupBackend) -> GroupLookup {
        GroupLookup::from_config(&GroupLookupConfig {
            backend,
            cluster: "google".into(),
            authority: None,
            access_token: AccessTokenConfig::default(),
            ttl_seconds: 300,
            negative_ttl_seconds: 60,
            stale_if_error_seconds: 3600,
            timeout_ms: 2000,
            wait_ms: 3000,
            max_retry_seconds: 60,
            on_failure: GroupFailureMode::Deny,
            cache_users: 10,
        })
    }

    fn answer(status: u16, body: &str) -> ApiAnswer<'_> {
        ApiAnswer { status: Some(status), retry_after: None, body: body.as_bytes() }
    }

    #[test]
    fn cloud_identity_asks_by_resource_name_with_a_cel_query() {
        let api = lookup(GroupBackend::CloudIdentity);
        assert_eq!(api.authority, "cloudidentity.googleapis.com");
        assert_eq!(group_name_path("eng+ops@example.com"), "/v1/groups:lookup?groupKey.id=eng%2Bops%40example.com");
        assert_eq!(
            api.membership_path("eng@example.com", Some("groups/01abc"), "a.b@example.com").as_deref(),
            Some("/v1/groups/01abc/memberships:checkTransitiveMembership?query=member_key_id%20%3D%3D%20%27a.b%40example.com%27")
        );
        assert_eq!(api.membership_path("eng@example.com", None, "a@example.com"), None);
        assert_eq!(
            api.membership_path("eng@example.com", Some("groups/01abc"), "o'b\\@x").as_deref(),
            Some("/v1/groups/01abc/memberships:checkTransitiveMembership?query=member_key_id%20%3D%3D%20%27o%5C%27b%5C%5C%40x%27")
        );
        assert_eq!(answer(200, r#"{"hasMembership": true}"#).membership(api.backend), Ok(true));
        assert_eq!(answer(200, r#"{"hasMembership": false}"#).membership(api.backend), Ok(false));
        assert_eq!(answer(200, r#"{"name": "groups/01abc"}"#).group_name(), Ok(Found::Yes("groups/01abc".into())));
        assert!(answer(200, r#"{"name": "groups/../x"}"#).group_name().is_err());
    }

    #[test]
    fn admin_sdk_asks_by_email() {
        let api = lookup(GroupBackend::AdminSdk);
        assert_eq!(api.authority, "admin.googleapis.com");
        assert_eq!(
            api.membership_path("eng@example.com", None, "alice@example.com").as_deref(),
            Some("/admin/directory/v1/groups/eng%40example.com/hasMember/alice%40example.com")
        );
        let body = r#"{"kind": "admin#directory#membersHasMember", "isMember": true}"#;
        assert_eq!(answer(200, body).membership(api.backend), Ok(true));
    }

    #[test]
    fn failures_say_what_to_do_next() {
        let backend = GroupBackend::AdminSdk;
        assert_eq!(ApiAnswer { status: None, retry_after: None, body: b"" }.membership(backend), Err(ApiFailure::NoResponse));
        assert_eq!(
            ApiAnswer { status: Some(429), retry_after: Some("7"), body: b"" }.membership(backend),
            Err(ApiFailure::Overloaded { status: 429, retry_after: Some(7) })
        );
        assert_eq!(answer(503, "").membership(backend), Err(ApiFailure::Overloaded { status: 503, retry_after: None }));
        assert_eq!(answer(401, "").membership(backend), Err(ApiFailure::Unauthorized));
        let denied = answer(403, r#"{"error": {"code": 403, "message": "Not Authorized to access this resource/api"}}"#);
        assert_eq!(denied.membership(backend), Err(ApiFailure::Unexpected("HTTP 403: Not Authorized to access this resource/api".into())));
        // A group that does not exist has no members; a bare 404 or an HTML page is
        // not an answer.
        let not_found = r#"{"error": {"code": 404, "message": "Resource Not Found: groupKey"}}"#;
        assert_eq!(answer(404, not_found).membership(backend), Ok(false));
        assert!(matches!(answer(404, "Not Found").membership(backend), Err(ApiFailure::Unexpected(_))));
        assert_eq!(answer(404, not_found).membership(GroupBackend::CloudIdentity), Err(ApiFailure::GroupNameGone));
        assert_eq!(answer(404, not_found).group_name(), Ok(Found::NoSuchGroup));
        assert!(matches!(answer(200, "<html>").membership(backend), Err(ApiFailure::Unexpected(_))));
    }

    #[test]
    fn the_metadata_token_is_read_and_checked() {
        let ok = answer(200, r#"{"access_token": "ya29.abc", "expires_in": 3599, "token_type": "Bearer"}"#);
        assert_eq!(ok.access_token(), Ok(("ya29.abc".into(), 3599)));
        assert!(answer(200, r#"{"access_token": "ya29\r\nx: y", "expires_in": 3599}"#).access_token().is_err());
        assert!(answer(403, "Missing Metadata-Flavor:Google header.").access_token().is_err());
    }
}

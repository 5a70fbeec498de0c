//! The policy language as people write it (JSON): rules, a default, dry-run, and a
//! directory snapshot of Workspace groups.
//!
//! Semantics follow Istio's AuthorizationPolicy and Envoy's RBAC: a matching deny
//! always wins, otherwise a matching allow admits, otherwise the default applies.
//! Rule order never matters. `policy::compile` checks and compiles this.

use serde::Deserialize;
use std::collections::BTreeMap;

/// A policy document: the `policy` field of the plugin configuration, or a file of
/// its own (`policies/*.json`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// What happens when no rule matches. Deny unless set to allow.
    #[serde(default)]
    pub default: Effect,
    /// Evaluate, log and count, but let every request through.
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
    /// Shorthand for a rule named `public_paths`: these path prefixes admit anyone.
    #[serde(default)]
    pub public_paths: Vec<String>,
    /// Shorthand for a rule named `allow`: these subjects are admitted on every path.
    #[serde(default)]
    pub allow: Option<SubjectsConfig>,
    /// Workspace groups and their members (users, service accounts, other groups),
    /// keyed by group email. Members are emails, or Cloud Identity memberships as
    /// `gcloud identity groups memberships list --group-email=G --format=json` prints them.
    #[serde(default)]
    pub directory: BTreeMap<String, Vec<MemberConfig>>,
    /// If set, responses carry this header with the decision, reason and rule. Off by
    /// default: rule names tell callers how the policy is built.
    #[serde(default)]
    pub explain_header: Option<String>,
    /// The Google products and services that call on someone's behalf (Chat apps,
    /// Workspace add-ons, Apps Script, Pub/Sub push…), by name: rules require them in
    /// `match.callers`, and the service learns which one carried a request.
    #[serde(default)]
    pub callers: Vec<CallerConfig>,
}

/// One kind of automated caller, recognised by the verified token it sends.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallerConfig {
    /// Unique; what rules name in `match.callers`.
    pub name: String,
    pub kind: CallerKind,
    /// The Google Cloud project number of a Chat app or add-on (digits).
    #[serde(default)]
    pub project_number: Option<String>,
    /// Token emails that identify this caller: the signer of a Chat app's endpoint-URL
    /// tokens, an add-on's system account, the accounts Pub/Sub or Cloud Scheduler
    /// push as (exact, or `*@project.iam.gserviceaccount.com`). Each kind has defaults
    /// where Google documents one.
    #[serde(default)]
    pub service_accounts: Vec<String>,
    /// OAuth client ids: a user's token with one of these as `aud` came through this
    /// caller (Apps Script's `ScriptApp.getIdentityToken()`).
    #[serde(default)]
    pub client_ids: Vec<String>,
    /// If set, the token's `aud` must also be one of these (a Chat app's endpoint URL).
    #[serde(default)]
    pub audiences: Vec<String>,
    /// The caller acts for a user whose ID token rides in the JSON body
    /// (`authorizationEventObject.userIdToken`): the policy decides on that user.
    #[serde(default)]
    pub on_behalf_of: Option<OnBehalfOfConfig>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CallerKind {
    /// A Google Chat app over HTTP: `via` `chat:PROJECT_NUMBER`.
    ChatApp,
    /// A Google Workspace add-on's HTTP runtime: `via` `addon:PROJECT_NUMBER`.
    WorkspaceAddon,
    /// An Apps Script project calling with the user's identity token.
    AppsScript,
    /// A Google service pushing as a service account: Pub/Sub, Cloud Scheduler, Cloud
    /// Tasks, Eventarc, Workflows.
    ServiceAccount,
}

/// Where the user's token is, and how much body may be read to find it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnBehalfOfConfig {
    /// If set, the user token's `aud` must be one of these.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Larger bodies are refused with 413 before they are read.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
}

/// 64 KiB: an add-on event with its context is a few KiB.
fn default_max_body_bytes() -> usize {
    64 << 10
}

#[derive(Debug, Default, Clone, Copy, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Allow,
    #[default]
    Deny,
}

impl Effect {
    pub fn name(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Unique; names the rule in logs, metrics and explanations.
    pub name: String,
    /// Which requests the rule is about; empty matches every request.
    #[serde(default, rename = "match")]
    pub matches: MatchConfig,
    pub effect: Effect,
    /// Who the rule is about.
    pub subjects: SubjectsConfig,
    /// Evaluate, log and count this rule, but do not enforce it.
    #[serde(default)]
    pub dry_run: bool,
}

/// All present conditions must hold; within one condition any entry may match.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchConfig {
    /// Exact hosts (`api.example.com`) or `*.example.com` for any subdomain.
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub paths: Vec<PathConfig>,
    /// HTTP methods, upper case.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Names from `callers`, or `direct` for a caller whose own token came through no
    /// named caller: the request must have come this way.
    #[serde(default)]
    pub callers: Vec<String>,
    /// Provider names (`providers[].name`): the caller's token must have been verified
    /// by one of them (`iap`: only callers IAP vouched for).
    #[serde(default)]
    pub providers: Vec<String>,
}

/// Exactly one of the three.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathConfig {
    /// The whole path, query excluded.
    pub exact: Option<String>,
    /// Whole segments: `/admin` covers `/admin` and `/admin/users`, not `/administer`.
    pub prefix: Option<String>,
    /// Segments, `{name}` matching any one segment: `/users/{id}/reports`.
    pub template: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectsConfig {
    /// User emails.
    #[serde(default)]
    pub users: Vec<String>,
    /// Group emails; membership may be direct, nested, or from the token's groups claim.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Workspace domains (`hd`).
    #[serde(default)]
    pub domains: Vec<String>,
    /// Service account emails, exact or `*@project.iam.gserviceaccount.com`.
    #[serde(default)]
    pub service_accounts: Vec<String>,
    /// Any caller with a verified token.
    #[serde(default)]
    pub authenticated: bool,
    /// Anyone, with or without a token.
    #[serde(default)]
    pub anonymous: bool,
}

/// A group member: an email, or a Cloud Identity `Membership` object.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum MemberConfig {
    Email(String),
    Membership(Membership),
}

impl MemberConfig {
    pub fn email(&self) -> &str {
        match self {
            MemberConfig::Email(email) => email,
            MemberConfig::Membership(m) => &m.preferred_member_key.id,
        }
    }
}

/// The fields of Cloud Identity's `Membership` resource that matter here; the rest
/// (`name`, `roles`, `createTime`, …) is accepted and ignored.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Membership {
    pub preferred_member_key: EntityKey,
    /// USER, SERVICE_ACCOUNT, GROUP, …
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EntityKey {
    pub id: String,
}

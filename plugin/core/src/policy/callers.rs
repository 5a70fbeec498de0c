//! The Google products and services that call for someone (Chat apps, Workspace
//! add-ons, Apps Script, Pub/Sub push…), compiled: how each is recognised from the
//! verified token it sends, and what rules require of the way a request came.

use crate::diagnostics::Diagnostics;
use crate::policy::names::{AccountPattern, valid_name};
use crate::policy_config::{CallerConfig, CallerKind, OnBehalfOfConfig};
use std::collections::HashSet;
use std::rc::Rc;

/// Index of a caller definition in the policy.
pub type CallerId = u16;

/// The issuer of Chat's project-number tokens, and the account it signs as.
pub const CHAT_SIGNER: &str = "chat@system.gserviceaccount.com";

/// The issuers of Google's ID tokens, the only tokens a service account's or an
/// OAuth client's identity is read from.
const GOOGLE_ISSUERS: [&str; 2] = ["https://accounts.google.com", "accounts.google.com"];

/// The name rules use for a caller whose own token came through no named caller.
pub const DIRECT: &str = "direct";

/// The most body an `on_behalf_of` caller may be given: Envoy's default buffer limit.
const MAX_BODY_BYTES: std::ops::RangeInclusive<usize> = 1024..=(1 << 20);

/// Whether some email matches both patterns.
fn overlaps(a: &AccountPattern, b: &AccountPattern) -> bool {
    match (a, b) {
        (AccountPattern::Exact(email), other) | (other, AccountPattern::Exact(email)) => other.matches(email),
        (AccountPattern::Suffix(a), AccountPattern::Suffix(b)) => a.ends_with(b.as_str()) || b.ends_with(a.as_str()),
    }
}

fn describe(account: &AccountPattern) -> String {
    match account {
        AccountPattern::Exact(email) => email.clone(),
        AccountPattern::Suffix(suffix) => format!("*{suffix}"),
    }
}

/// The facts of a verified token that recognise its caller.
#[derive(Debug, Clone, Copy)]
pub struct TokenFacts<'a> {
    pub issuer: &'a str,
    /// Canonical (lower case).
    pub email: Option<&'a str>,
    pub audiences: &'a [String],
}

/// Where an on-behalf-of caller's user token is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnBehalfOf {
    /// Empty: any audience the user token's provider accepts.
    pub audiences: HashSet<String>,
    pub max_body_bytes: usize,
}

/// A compiled caller definition.
#[derive(Debug, Clone)]
pub struct CallerDefinition {
    pub name: Rc<str>,
    pub kind: CallerKind,
    pub project_number: Option<String>,
    /// What the service receives in the via header: `addon:123`, `chat:123`,
    /// `apps_script:NAME`, `service_account:NAME`.
    pub via: Rc<str>,
    accounts: Vec<AccountPattern>,
    client_ids: HashSet<String>,
    audiences: HashSet<String>,
    pub on_behalf_of: Option<OnBehalfOf>,
}

impl CallerDefinition {
    /// Whether a verified token with these facts came from this caller: Chat's own
    /// token for this project, or a Google ID token of one of its accounts or for one
    /// of its OAuth clients. Accounts and clients are read from Google's ID tokens
    /// only: another issuer may put any email in its tokens.
    pub fn recognises(&self, token: &TokenFacts<'_>) -> bool {
        let has_audience = |set: &HashSet<String>| token.audiences.iter().any(|aud| set.contains(aud));
        if !self.audiences.is_empty() && !has_audience(&self.audiences) {
            return false;
        }
        let project_token = self.kind == CallerKind::ChatApp
            && token.issuer == CHAT_SIGNER
            && self.project_number.as_ref().is_some_and(|p| token.audiences.contains(p));
        let google = GOOGLE_ISSUERS.contains(&token.issuer);
        let signer = token.email.is_some_and(|email| self.accounts.iter().any(|a| a.matches(email)));
        project_token || (google && (signer || has_audience(&self.client_ids)))
    }
}

/// What a rule requires of the way a request came; empty: any way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ViaSet {
    pub direct: bool,
    pub callers: Vec<CallerId>,
}

impl ViaSet {
    pub fn is_any(&self) -> bool {
        !self.direct && self.callers.is_empty()
    }

    /// Whether a verified caller that came `via` (`None`: directly) meets this.
    pub fn admits(&self, authenticated: bool, via: Option<CallerId>) -> bool {
        match via {
            _ if self.is_any() => true,
            _ if !authenticated => false,
            None => self.direct,
            Some(id) => self.callers.contains(&id),
        }
    }

    /// Whether every way this admits, `other` admits too.
    pub fn within(&self, other: &ViaSet) -> bool {
        other.is_any() || (!self.is_any() && (!self.direct || other.direct) && self.callers.iter().all(|c| other.callers.contains(c)))
    }
}

/// Compiles the `callers` list, reporting problems under `callers[i]`.
pub fn compile_callers(configs: &[CallerConfig], found: &mut Diagnostics) -> Vec<CallerDefinition> {
    let mut names = HashSet::new();
    let mut definitions: Vec<CallerDefinition> = Vec::new();
    for (index, config) in configs.iter().enumerate() {
        let path = format!("callers[{index}]");
        if !valid_name(&config.name) || config.name == DIRECT {
            found.error(format!("{path}.name"), format!("`{}` must be letters, digits, `.`, `_` or `-`, and not `{DIRECT}`", config.name));
        } else if !names.insert(config.name.as_str()) {
            found.error(format!("{path}.name"), format!("`{}` names another caller already", config.name));
        }
        if let Some(definition) = compile_one(&path, config, found) {
            for earlier in &definitions {
                overlap(&path, &definition, earlier, found);
            }
            definitions.push(definition);
        }
    }
    if definitions.len() > usize::from(CallerId::MAX) {
        found.error("callers", "too many callers");
    }
    definitions
}

/// A token must name one caller: `definition` may share no account and no client
/// with an `earlier` one (recognition takes the first that matches, and an earlier
/// catch-all would take a later caller's tokens, and skip its checks).
fn overlap(path: &str, definition: &CallerDefinition, earlier: &CallerDefinition, found: &mut Diagnostics) {
    let name = &earlier.name;
    for account in &definition.accounts {
        if let Some(other) = earlier.accounts.iter().find(|other| overlaps(account, other)) {
            let (mine, theirs) = (describe(account), describe(other));
            found.error(format!("{path}.service_accounts"), format!("`{mine}` overlaps `{theirs}` of caller `{name}`: a token must name one caller"));
        }
    }
    if let Some(client) = definition.client_ids.iter().find(|client| earlier.client_ids.contains(*client)) {
        found.error(format!("{path}.client_ids"), format!("`{client}` is a client of caller `{name}` already: a token must name one caller"));
    }
}

fn compile_one(path: &str, config: &CallerConfig, found: &mut Diagnostics) -> Option<CallerDefinition> {
    let errors_before = found.errors.len();
    let project = project_number(path, config, found);
    let accounts = accounts(path, config, project.as_deref(), found);
    let client_ids: HashSet<String> = config.client_ids.iter().cloned().collect();
    let recognisable = !accounts.is_empty() || !client_ids.is_empty() || config.kind == CallerKind::ChatApp;
    if !recognisable {
        found.error(path, "names no way to recognise it: list service_accounts or client_ids");
    }
    for (field, list) in [("client_ids", &config.client_ids), ("audiences", &config.audiences)] {
        for (i, entry) in list.iter().enumerate().filter(|(_, e)| e.trim().is_empty()) {
            found.error(format!("{path}.{field}[{i}]"), format!("`{entry}` must not be empty"));
        }
    }
    let on_behalf_of = config.on_behalf_of.as_ref().map(|o| on_behalf_of(path, config.kind, o, found));
    (found.errors.len() == errors_before).then(|| CallerDefinition {
        name: Rc::from(config.name.as_str()),
        kind: config.kind,
        via: Rc::from(via_label(config, project.as_deref()).as_str()),
        project_number: project,
        accounts,
        client_ids,
        audiences: config.audiences.iter().cloned().collect(),
        on_behalf_of: on_behalf_of.flatten(),
    })
}

fn project_number(path: &str, config: &CallerConfig, found: &mut Diagnostics) -> Option<String> {
    let needs_project = matches!(config.kind, CallerKind::ChatApp | CallerKind::WorkspaceAddon);
    match &config.project_number {
        Some(number) if !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()) => Some(number.clone()),
        Some(number) => {
            found.error(format!("{path}.project_number"), format!("`{number}` is not a project number (digits, as `gcloud projects describe` prints)"));
            None
        }
        None if needs_project => {
            found.error(format!("{path}.project_number"), "is required for a Chat app or an add-on: it is part of what its tokens say");
            None
        }
        None => None,
    }
}

/// The configured accounts, or the kind's documented default.
fn accounts(path: &str, config: &CallerConfig, project: Option<&str>, found: &mut Diagnostics) -> Vec<AccountPattern> {
    let mut accounts = Vec::new();
    for (i, account) in config.service_accounts.iter().enumerate() {
        match AccountPattern::parse(account) {
            Ok(pattern) => accounts.push(pattern),
            Err(message) => found.error(format!("{path}.service_accounts[{i}]"), message),
        }
    }
    if config.kind == CallerKind::ChatApp && accounts.contains(&AccountPattern::Exact(CHAT_SIGNER.to_owned())) {
        found.warning(format!("{path}.service_accounts"), format!("any Chat app pointed at your endpoint URL sends tokens of `{CHAT_SIGNER}`, whatever its project: use the project-number audience, or the project's add-on account"));
    }
    if !config.service_accounts.is_empty() {
        return accounts;
    }
    // No default for a Chat app: every Chat app whose endpoint URL is yours sends
    // tokens of `chat@system.gserviceaccount.com` for it, whatever its project; only
    // the project-number token names the project.
    match (config.kind, project) {
        (CallerKind::WorkspaceAddon, Some(project)) => vec![AccountPattern::Exact(addon_account(project))],
        (CallerKind::ServiceAccount, _) => {
            found.error(format!("{path}.service_accounts"), "a service_account caller needs the accounts it pushes as");
            accounts
        }
        _ => accounts,
    }
}

/// The add-on system account of a project, as Google documents it.
pub fn addon_account(project: &str) -> String {
    format!("service-{project}@gcp-sa-gsuiteaddons.iam.gserviceaccount.com")
}

fn on_behalf_of(path: &str, kind: CallerKind, config: &OnBehalfOfConfig, found: &mut Diagnostics) -> Option<OnBehalfOf> {
    if !matches!(kind, CallerKind::WorkspaceAddon | CallerKind::ChatApp) {
        found.error(format!("{path}.on_behalf_of"), "only Chat apps and add-ons carry a user's token in their requests");
    }
    if !MAX_BODY_BYTES.contains(&config.max_body_bytes) {
        found.error(format!("{path}.on_behalf_of.max_body_bytes"), format!("must be between {} and {}", MAX_BODY_BYTES.start(), MAX_BODY_BYTES.end()));
    }
    Some(OnBehalfOf { audiences: config.audiences.iter().cloned().collect(), max_body_bytes: config.max_body_bytes })
}

fn via_label(config: &CallerConfig, project: Option<&str>) -> String {
    let qualifier = project.unwrap_or(&config.name);
    match config.kind {
        CallerKind::ChatApp => format!("chat:{qualifier}"),
        CallerKind::WorkspaceAddon => format!("addon:{qualifier}"),
        CallerKind::AppsScript => format!("apps_script:{}", config.name),
        CallerKind::ServiceAccount => format!("service_account:{}", config.name),
    }
}

/// The project number an OAuth client id belongs to (`123-abc.apps.googleusercontent.com`).
pub fn client_project(client_id: &str) -> Option<&str> {
    let (project, rest) = client_id.split_once('-')?;
    let well_formed = !project.is_empty() && project.bytes().all(|b| b.is_ascii_digit()) && rest.ends_with(".apps.googleusercontent.com");
    well_formed.then_some(project)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled(json: serde_json::Value) -> Result<Vec<CallerDefinition>, Vec<String>> {
        let configs: Vec<CallerConfig> = serde_json::from_value(json).unwrap();
        let mut found = Diagnostics::default();
        let definitions = compile_callers(&configs, &mut found);
        if found.errors.is_empty() { Ok(definitions) } else { Err(found.errors.iter().map(ToString::to_string).collect()) }
    }

    fn facts<'a>(issuer: &'a str, email: Option<&'a str>, audiences: &'a [String]) -> TokenFacts<'a> {
        TokenFacts { issuer, email, audiences }
    }

    #[test]
    fn a_chat_app_is_its_projects_token_and_endpoint_tokens_only_when_listed() {
        let chat = &compiled(serde_json::json!([{ "name": "chat", "kind": "chat_app", "project_number": "123" }])).unwrap()[0];
        assert_eq!(&*chat.via, "chat:123");
        let project = ["123".to_owned()];
        assert!(chat.recognises(&facts(CHAT_SIGNER, None, &project)));
        assert!(!chat.recognises(&facts(CHAT_SIGNER, None, &["456".to_owned()])), "another project's Chat app");
        let url = ["https://bot.example.com/chat".to_owned()];
        assert!(!chat.recognises(&facts("https://accounts.google.com", Some(CHAT_SIGNER), &url)), "any Chat app may send these");
        let as_addon = &compiled(serde_json::json!([{ "name": "chat", "kind": "chat_app", "project_number": "123", "service_accounts": ["service-123@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"] }])).unwrap()[0];
        assert!(as_addon.recognises(&facts("https://accounts.google.com", Some("service-123@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"), &url)));
        assert!(!as_addon.recognises(&facts("https://cloud.google.com/iap", Some("service-123@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"), &url)), "only Google's ID tokens name accounts");
    }

    #[test]
    fn listing_chats_shared_account_is_a_warning() {
        let configs: Vec<CallerConfig> = serde_json::from_value(serde_json::json!([{ "name": "chat", "kind": "chat_app", "project_number": "1", "service_accounts": [CHAT_SIGNER] }])).unwrap();
        let mut found = Diagnostics::default();
        compile_callers(&configs, &mut found);
        assert!(found.errors.is_empty());
        assert!(found.warnings.iter().any(|w| w.to_string().starts_with("callers[0].service_accounts: any Chat app")), "{:?}", found.warnings);
    }

    #[test]
    fn callers_may_not_share_an_account_or_a_client() {
        let errors = compiled(serde_json::json!([
            { "name": "addon", "kind": "workspace_addon", "project_number": "42" },
            { "name": "catch-all", "kind": "service_account", "service_accounts": ["*@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"] },
            { "name": "s1", "kind": "apps_script", "client_ids": ["1-a.apps.googleusercontent.com"] },
            { "name": "s2", "kind": "apps_script", "client_ids": ["1-a.apps.googleusercontent.com"] },
            { "name": "p1", "kind": "service_account", "service_accounts": ["*@p.iam.gserviceaccount.com"] },
            { "name": "p2", "kind": "service_account", "service_accounts": ["*@P.iam.gserviceaccount.com"] }
        ])).unwrap_err();
        for field in ["callers[1].service_accounts: `*@gcp-sa-gsuiteaddons.iam.gserviceaccount.com` overlaps", "callers[3].client_ids", "callers[5].service_accounts"] {
            assert!(errors.iter().any(|e| e.starts_with(field)), "{field} missing from {errors:#?}");
        }
    }

    #[test]
    fn an_addon_is_its_projects_system_account_and_nothing_else() {
        let addon = &compiled(serde_json::json!([{ "name": "expenses", "kind": "workspace_addon", "project_number": "42" }])).unwrap()[0];
        assert_eq!(&*addon.via, "addon:42");
        let aud = ["https://x".to_owned()];
        assert!(addon.recognises(&facts("https://accounts.google.com", Some("service-42@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"), &aud)));
        assert!(!addon.recognises(&facts("https://accounts.google.com", Some("service-43@gcp-sa-gsuiteaddons.iam.gserviceaccount.com"), &aud)));
    }

    #[test]
    fn apps_script_and_service_accounts_by_client_id_and_email() {
        let found = compiled(serde_json::json!([
            { "name": "script", "kind": "apps_script", "client_ids": ["77-abc.apps.googleusercontent.com"] },
            { "name": "push", "kind": "service_account", "service_accounts": ["*@orders.iam.gserviceaccount.com"], "audiences": ["https://svc/push"] }
        ])).unwrap();
        let client = ["77-abc.apps.googleusercontent.com".to_owned()];
        assert!(found[0].recognises(&facts("https://accounts.google.com", Some("alice@example.com"), &client)));
        let push = ["https://svc/push".to_owned()];
        assert!(found[1].recognises(&facts("https://accounts.google.com", Some("pubsub@orders.iam.gserviceaccount.com"), &push)));
        assert!(!found[1].recognises(&facts("https://accounts.google.com", Some("pubsub@orders.iam.gserviceaccount.com"), &client)), "audience narrows");
        assert!(!found[1].recognises(&facts("https://accounts.google.com", Some("x@evilorders.iam.gserviceaccount.com"), &push)));
    }

    #[test]
    fn bad_definitions_name_their_field() {
        let errors = compiled(serde_json::json!([
            { "name": "direct", "kind": "service_account", "service_accounts": ["a@b"] },
            { "name": "addon", "kind": "workspace_addon" },
            { "name": "chat", "kind": "chat_app", "project_number": "12x" },
            { "name": "push", "kind": "service_account" },
            { "name": "script", "kind": "apps_script", "on_behalf_of": { "max_body_bytes": 10 } },
            { "name": "twice", "kind": "service_account", "service_accounts": ["a@b"] }
        ])).unwrap_err();
        assert!(errors.iter().any(|e| e.starts_with("callers[5].service_accounts: `a@b` overlaps")), "{errors:#?}");
        let expected = ["callers[0].name", "callers[1].project_number", "callers[2].project_number", "callers[3].service_accounts", "callers[4].on_behalf_of", "callers[4].on_behalf_of.max_body_bytes"];
        for field in expected {
            assert!(errors.iter().any(|e| e.starts_with(&format!("{field}: "))), "{field} missing from {errors:#?}");
        }
    }

    #[test]
    fn via_sets_admit_the_ways_they_name() {
        let any = ViaSet::default();
        let addon_only = ViaSet { direct: false, callers: vec![1] };
        let direct_only = ViaSet { direct: true, callers: vec![] };
        assert!(any.admits(false, None) && any.admits(true, Some(3)));
        assert!(addon_only.admits(true, Some(1)) && !addon_only.admits(true, Some(0)) && !addon_only.admits(true, None));
        assert!(direct_only.admits(true, None) && !direct_only.admits(true, Some(1)) && !direct_only.admits(false, None));
        assert!(addon_only.within(&any) && !any.within(&addon_only) && !addon_only.within(&direct_only));
    }

    #[test]
    fn client_ids_name_their_project() {
        assert_eq!(client_project("123-abc.apps.googleusercontent.com"), Some("123"));
        assert_eq!(client_project("abc-123.apps.googleusercontent.com"), None);
        assert_eq!(client_project("123-abc.example.com"), None);
        assert_eq!(client_project("https://addon.example.com"), None);
    }
}

//! `wsgate explain`: what the policy decides for one request and caller, and why.

use crate::document::{Document, load};
use clap::Args;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};
use wsgate_core::gate::reason_for;
use wsgate_core::policy::pattern::{RequestShape, Unmatchable};
use wsgate_core::policy::callers::DIRECT;
use wsgate_core::policy::subjects::Caller;
use wsgate_core::{Gate, Reason, RequestSnapshot};

#[derive(Args)]
pub struct ExplainArgs {
    /// A policy document, or a whole plugin configuration (needed with --token).
    policy: PathBuf,
    /// The caller's email; without it (and without --token) the caller is anonymous.
    #[arg(long)]
    email: Option<String>,
    /// A group the caller belongs to (as a token's groups claim would say); repeatable.
    #[arg(long = "group")]
    groups: Vec<String>,
    /// The caller's Workspace domain (`hd`); defaults to the email's domain.
    #[arg(long)]
    domain: Option<String>,
    /// The named caller (`callers[].name`) the request came through: an add-on
    /// acting for --email, a Chat app, a Pub/Sub push. Without it, the caller came
    /// directly.
    #[arg(long)]
    via: Option<String>,
    /// The provider (`providers[].name`) that verified the caller's token, for rules
    /// with `match.providers`.
    #[arg(long)]
    provider: Option<String>,
    /// A token to verify instead of --email/--group (needs a whole configuration).
    #[arg(long, conflicts_with_all = ["email", "groups", "domain", "via", "provider"])]
    token: Option<String>,
    #[arg(long, default_value = "GET")]
    method: String,
    #[arg(long, default_value = "localhost")]
    host: String,
    #[arg(long, default_value = "/")]
    path: String,
}

pub fn explain(args: &ExplainArgs) -> Result<(), String> {
    let document = match load(&args.policy)? {
        Ok((document, _)) => document,
        Err(errors) => {
            let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
            return Err(format!("{} is invalid:\n{}", args.policy.display(), lines.join("\n")));
        }
    };
    match (&args.token, document) {
        (Some(token), Document::Config(settings)) => explain_token(args, token, Gate::new(*settings)),
        (Some(_), Document::Policy(_)) => Err("--token needs a whole plugin configuration (with `providers`) to verify it".to_owned()),
        (None, document) => explain_caller(args, &document),
    }
}

fn explain_caller(args: &ExplainArgs, document: &Document) -> Result<(), String> {
    let policy = document.policy();
    let shape = RequestShape::read(args.host.as_bytes(), args.path.as_bytes(), args.method.as_bytes(), &[]).map_err(|unmatchable| match unmatchable {
        Unmatchable::Path => format!("`{}` is ambiguous: the filter refuses it with 400 ambiguous_path", args.path),
        Unmatchable::Host => format!("`{}` is ambiguous: the filter refuses it with 400 ambiguous_host", args.host),
    })?;
    let domain = args.domain.clone().or_else(|| args.email.as_ref().and_then(|e| e.split_once('@')).map(|(_, d)| d.to_owned()));
    let via = match args.via.as_deref() {
        None | Some(DIRECT) => None,
        Some(name) => Some(policy.caller_id(name).ok_or_else(|| format!("--via `{name}` is not in the policy's `callers` (nor `{DIRECT}`)"))?),
    };
    let caller = match &args.email {
        Some(email) => Caller { via, provider: args.provider.as_deref().map(Into::into), ..policy.caller(Some(email), domain.as_deref(), &args.groups) },
        None => Caller::anonymous(),
    };
    let decision = policy.evaluate(&shape, &caller);
    let token_failure = args.email.is_none().then_some(Reason::MissingToken);
    let reason = reason_for(&decision, token_failure);
    let rule = decision.rule.and_then(|id| policy.rule_name(id)).map_or("default".to_owned(), |r| r.to_string());
    let effect = if reason.admits() { "allow" } else { "deny" };
    println!("decision: {effect} ({} {})", reason.status(), reason.code());
    println!("rule:     {rule}");
    println!("why:      {}", why(reason, &rule));
    let groups: Vec<&str> = policy.group_names(&caller.groups).collect();
    match &args.email {
        Some(email) => {
            let through = via.and_then(|id| policy.caller_definition(id)).map_or(String::new(), |c| format!(", via {}", c.via));
            println!("caller:   {email} (domain {}, policy groups [{}]{through})", domain.as_deref().unwrap_or("-"), groups.join(", "));
        }
        None => println!("caller:   anonymous"),
    }
    if policy.dry_run && !reason.admits() {
        println!("dry-run:  the policy is in dry-run: the filter lets this through and logs would_deny={}", reason.code());
    }
    if let Some((effect, rule)) = decision.dry_run {
        let name = rule.and_then(|id| policy.rule_name(id)).map_or("default".to_owned(), |r| r.to_string());
        println!("dry-run:  rule `{name}` would make it {}", effect.name());
    }
    Ok(())
}

fn explain_token(args: &ExplainArgs, token: &str, mut gate: Gate) -> Result<(), String> {
    let request = RequestSnapshot::new(&args.method, &args.host, &args.path).with_header("authorization", format!("Bearer {token}"));
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let verdict = gate.decide(&request, now_ms);
    let rule = verdict.rule.as_ref().map_or("default".to_owned(), |r| r.name.to_string());
    let effect = if verdict.reason.admits() { "allow" } else { "deny" };
    println!("decision: {effect} ({} {})", verdict.reason.status(), verdict.reason.code());
    println!("rule:     {rule}");
    println!("why:      {}", why(verdict.reason, &rule));
    if let Some(line) = &verdict.log_line {
        println!("log:      {line}");
    }
    Ok(())
}

fn why(reason: Reason, rule: &str) -> String {
    match reason {
        Reason::Allowed | Reason::PublicPath => format!("rule `{rule}` admits this caller"),
        Reason::DeniedByRule => format!("deny rule `{rule}` matches, and a deny always wins"),
        Reason::NotAllowed => "no rule admits this caller, and the default is deny".to_owned(),
        Reason::MissingToken => "no rule admits anonymous callers here: a token is needed".to_owned(),
        other => other.description().to_owned(),
    }
}

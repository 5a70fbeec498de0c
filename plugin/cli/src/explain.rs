//! `wsgate explain`: what the policy decides for one request and caller, and why.

use crate::document::load;
use clap::Args;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};
use wsgate_core::Gate;
use wsgate_core::document::Document;
use wsgate_core::explain::{Decision, Explanation, Question, RequestLine, explain as explain_policy, explain_token};

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
    let request = RequestLine { method: &args.method, host: &args.host, path: &args.path };
    match (&args.token, document) {
        (Some(token), Document::Config(settings)) => {
            let answer = explain_token(&mut Gate::new(*settings), token, &request, unix_now_ms()).map_err(|e| e.to_string())?;
            print_decision(&answer.decision);
            if let Some(line) = &answer.log {
                println!("log:      {line}");
            }
            Ok(())
        }
        (Some(_), Document::Policy(_)) => Err("--token needs a whole plugin configuration (with `providers`) to verify it".to_owned()),
        (None, document) => {
            let question = Question { email: args.email.as_deref(), groups: &args.groups, domain: args.domain.as_deref(), via: args.via.as_deref(), provider: args.provider.as_deref(), request };
            print_explanation(&explain_policy(document.policy(), &question).map_err(|e| e.to_string())?);
            Ok(())
        }
    }
}

fn print_explanation(answer: &Explanation) {
    print_decision(&answer.decision);
    match &answer.caller {
        Some(caller) => {
            let through = caller.via.as_ref().map_or(String::new(), |via| format!(", via {via}"));
            println!("caller:   {} (domain {}, policy groups [{}]{through})", caller.email, caller.domain.as_deref().unwrap_or("-"), caller.groups.join(", "));
        }
        None => println!("caller:   anonymous"),
    }
    println!("matched:  {} {}", answer.decision.host, answer.decision.path);
    for line in &answer.dry_run {
        println!("dry-run:  {line}");
    }
}

fn print_decision(decision: &Decision) {
    println!("decision: {} ({} {})", decision.effect, decision.status, decision.code);
    println!("rule:     {}", decision.rule.as_deref().unwrap_or("default"));
    println!("why:      {}", decision.why);
}

fn unix_now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

//! Checks a policy document and compiles it once, at configure time: rules sorted by
//! name and indexed, referenced groups numbered, the directory flattened.
//!
//! Every problem names its field path (`rules[3].match.paths[0].template: template has
//! an unclosed '{'`), and all problems are reported together.

use crate::diagnostics::Diagnostics;
use crate::header_syntax::header_name;
use crate::policy::groups::{Directory, DirectoryError, GroupTable};
use crate::policy::callers::{CallerDefinition, CallerId, DIRECT, ViaSet, compile_callers};
use crate::policy::index::RuleIndex;
use crate::policy::pattern::{HostPattern, Method, MethodSet, PathPattern};
use crate::policy::rule::Rule;
use crate::policy::names::{AccountPattern, canonical_domain, canonical_email, valid_name};
use crate::policy::subjects::Subjects;
use crate::policy::{Policy, lint};
use crate::policy_config::{Effect, PathConfig, PolicyConfig, RuleConfig, SubjectsConfig};
use std::collections::HashSet;
use std::rc::Rc;

/// Compiles `config`; `base` prefixes every field path (`"policy."` inside a plugin
/// configuration, `""` for a policy file). Errors refuse the policy; warnings are for
/// `wsgate validate` and the load log.
pub fn compile(config: &PolicyConfig, base: &str) -> (Option<Policy>, Diagnostics) {
    let mut compiler = Compiler { diagnostics: Diagnostics::under(base), groups: GroupTable::default(), callers: Vec::new() };
    compiler.callers = compile_callers(&config.callers, &mut compiler.diagnostics);
    let mut rules = compiler.shorthand_rules(config);
    for (index, rule) in config.rules.iter().enumerate() {
        if let Some(rule) = compiler.rule(&format!("rules[{index}]"), rule) {
            rules.push(rule);
        }
    }
    compiler.unique_names(&rules);
    let directory = compiler.directory(config);
    let explain_header = config.explain_header.as_deref().and_then(|h| compiler.parsed("explain_header", header_name(h)));
    let Compiler { mut diagnostics, groups, callers } = compiler;
    if !diagnostics.errors.is_empty() {
        return (None, diagnostics);
    }
    rules.sort_by(|a, b| a.name.cmp(&b.name));
    lint::warn(&rules, config.default, &mut diagnostics);
    let mixed_case_patterns = rules.iter().flat_map(|rule| &rule.paths).any(PathPattern::has_upper_case);
    let policy = Policy {
        mixed_case_patterns,
        index: RuleIndex::build(&rules),
        rules,
        default: config.default,
        dry_run: config.dry_run,
        groups,
        directory: directory.unwrap_or_default(),
        explain_header,
        callers,
    };
    (Some(policy), diagnostics)
}

struct Compiler {
    diagnostics: Diagnostics,
    groups: GroupTable,
    callers: Vec<CallerDefinition>,
}

/// The pattern a path entry (`{"prefix": "/admin"}`) describes; on error, the field
/// at fault (`.prefix`, or empty for the entry) and why.
pub fn path_pattern(config: &PathConfig) -> Result<PathPattern, (&'static str, String)> {
    match (&config.exact, &config.prefix, &config.template) {
        (Some(p), None, None) => PathPattern::exact(p).map_err(|m| (".exact", m)),
        (None, Some(p), None) => PathPattern::prefix(p).map_err(|m| (".prefix", m)),
        (None, None, Some(p)) => PathPattern::template(p).map_err(|m| (".template", m)),
        _ => Err(("", "set exactly one of `exact`, `prefix`, `template`".to_owned())),
    }
}

impl Compiler {
    fn error(&mut self, path: &str, message: impl Into<String>) {
        self.diagnostics.error(path, message);
    }

    /// `public_paths` and `allow`, the first policy format, as ordinary rules.
    fn shorthand_rules(&mut self, config: &PolicyConfig) -> Vec<Rule> {
        let mut rules = Vec::new();
        if !config.public_paths.is_empty() {
            let paths = config
                .public_paths
                .iter()
                .enumerate()
                .filter_map(|(i, p)| self.parsed(&format!("public_paths[{i}]"), PathPattern::prefix(p)))
                .collect();
            let subjects = Subjects { anonymous: true, ..Subjects::default() };
            rules.push(Rule { name: "public_paths".into(), effect: Effect::Allow, dry_run: false, hosts: vec![], paths, methods: MethodSet::default(), via: ViaSet::default(), providers: vec![], subjects });
        }
        if let Some(allow) = &config.allow {
            let subjects = self.subjects("allow", allow);
            rules.push(Rule { name: "allow".into(), effect: Effect::Allow, dry_run: false, hosts: vec![], paths: vec![], methods: MethodSet::default(), via: ViaSet::default(), providers: vec![], subjects });
        }
        if rules.is_empty() && config.rules.is_empty() && config.default == Effect::Deny {
            self.error("", "admits nobody: add `rules` (or `allow`), or set `default: allow`");
        }
        rules
    }

    fn rule(&mut self, path: &str, config: &RuleConfig) -> Option<Rule> {
        if !valid_name(&config.name) {
            self.error(&format!("{path}.name"), format!("`{}` must be letters, digits, `.`, `_` or `-`: rule names appear in metric names", config.name));
        }
        let hosts = config
            .matches
            .hosts
            .iter()
            .enumerate()
            .filter_map(|(i, h)| self.parsed(&format!("{path}.match.hosts[{i}]"), HostPattern::parse(h)))
            .collect();
        let paths = config
            .matches
            .paths
            .iter()
            .enumerate()
            .filter_map(|(i, p)| self.path(&format!("{path}.match.paths[{i}]"), p))
            .collect();
        let methods = self.methods(&format!("{path}.match.methods"), &config.matches.methods);
        let via = self.via(&format!("{path}.match.callers"), &config.matches.callers);
        let subjects = self.subjects(&format!("{path}.subjects"), &config.subjects);
        self.non_blank(&format!("{path}.match.providers"), &config.matches.providers);
        let providers = config.matches.providers.iter().map(|name| Rc::from(name.as_str())).collect();
        Some(Rule { name: Rc::from(config.name.as_str()), effect: config.effect, dry_run: config.dry_run, hosts, paths, methods, via, providers, subjects })
    }

    /// Caller names, resolved against `callers`.
    fn via(&mut self, path: &str, names: &[String]) -> ViaSet {
        let mut via = ViaSet::default();
        for (i, name) in names.iter().enumerate() {
            match self.callers.iter().position(|c| *c.name == **name) {
                _ if name == DIRECT => via.direct = true,
                Some(id) => via.callers.push(id as CallerId),
                None => self.error(&format!("{path}[{i}]"), format!("`{name}` is not in `callers` (nor `{DIRECT}`)")),
            }
        }
        via
    }

    fn path(&mut self, path: &str, config: &PathConfig) -> Option<PathPattern> {
        path_pattern(config).map_err(|(field, message)| self.error(&format!("{path}{field}"), message)).ok()
    }

    /// What `result` holds, or its error reported at `path`.
    fn parsed<T>(&mut self, path: &str, result: Result<T, String>) -> Option<T> {
        result.map_err(|message| self.error(path, message)).ok()
    }

    fn methods(&mut self, path: &str, names: &[String]) -> MethodSet {
        let mut set = MethodSet::default();
        for (i, name) in names.iter().enumerate() {
            match Method::from_name(name) {
                Some(method) => set.insert(method),
                None => self.error(&format!("{path}[{i}]"), format!("`{name}` is not a method (use upper case: GET, POST, …)")),
            }
        }
        set
    }

    fn subjects(&mut self, path: &str, config: &SubjectsConfig) -> Subjects {
        let mut subjects = Subjects {
            users: config.users.iter().map(|u| canonical_email(u)).collect::<HashSet<_>>(),
            domains: config.domains.iter().map(|d| canonical_domain(d)).collect::<HashSet<_>>(),
            groups: config.groups.iter().map(|g| self.groups.intern(g)).collect(),
            authenticated: config.authenticated,
            anonymous: config.anonymous,
            ..Subjects::default()
        };
        for (field, list) in [("users", &config.users), ("groups", &config.groups)] {
            for (i, email) in list.iter().enumerate() {
                if !email.contains('@') || email.contains('*') {
                    self.error(&format!("{path}.{field}[{i}]"), format!("`{email}` is not an email address"));
                }
            }
        }
        self.non_blank(&format!("{path}.domains"), &config.domains);
        for (i, account) in config.service_accounts.iter().enumerate() {
            match self.parsed(&format!("{path}.service_accounts[{i}]"), AccountPattern::parse(account)) {
                Some(AccountPattern::Suffix(suffix)) => subjects.service_account_suffixes.push(suffix),
                Some(AccountPattern::Exact(email)) => {
                    subjects.service_accounts.insert(email);
                }
                None => {}
            }
        }
        let lists = [&config.users, &config.groups, &config.domains, &config.service_accounts];
        if lists.iter().all(|list| list.is_empty()) && !config.authenticated && !config.anonymous {
            self.error(path, "names nobody: list users, groups, domains or service_accounts, or set authenticated or anonymous");
        }
        subjects
    }

    fn non_blank(&mut self, path: &str, list: &[String]) {
        for (i, entry) in list.iter().enumerate() {
            if entry.trim().is_empty() {
                self.error(&format!("{path}[{i}]"), "must not be empty");
            }
        }
    }

    fn unique_names(&mut self, rules: &[Rule]) {
        let mut seen = HashSet::new();
        for rule in rules {
            if !seen.insert(rule.name.clone()) {
                self.error("rules", format!("rule name `{}` is used twice (`public_paths` and `allow` are taken by the shorthands)", rule.name));
            }
        }
    }

    fn directory(&mut self, config: &PolicyConfig) -> Option<Directory> {
        for (group, members) in &config.directory {
            if !group.contains('@') {
                self.error(&format!("directory.{group}"), "groups are keyed by their email address");
            }
            for (i, member) in members.iter().enumerate() {
                if member.email().trim().is_empty() {
                    self.error(&format!("directory.{group}[{i}]"), "member has no email");
                }
            }
        }
        match Directory::build(&config.directory, &self.groups) {
            Ok(directory) => Some(directory),
            Err(DirectoryError::Cycle(chain)) => {
                let first = chain.first().cloned().unwrap_or_default();
                self.error(&format!("directory.{first}"), format!("membership cycle: {}", chain.join(" → ")));
                None
            }
            Err(DirectoryError::TooDeep(chain)) => {
                let first = chain.first().cloned().unwrap_or_default();
                self.error(&format!("directory.{first}"), format!("groups nested more than {} deep", chain.len()));
                None
            }
        }
    }
}

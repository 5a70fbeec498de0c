//! Requests that show a policy at work: for each rule, a request it is about (one per
//! host, path and method it names), as the playground's matrix columns.

use crate::policy::Policy;
use serde::Serialize;

/// A request by its method, host and path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SampleRequest {
    pub method: String,
    pub host: String,
    pub path: String,
}

/// At most this many requests per rule: a rule with many hosts, paths and methods
/// is shown by a few of them.
const PER_RULE: usize = 8;

/// A request for each host × path × method a rule names (up to [`PER_RULE`] per
/// rule), without repeats, in rule order. A rule naming no host is shown on the
/// first host another rule names (or `localhost`); no path, at `/`; no method, as GET.
pub fn sample_requests(policy: &Policy) -> Vec<SampleRequest> {
    let fallback_host = policy.rules().iter().flat_map(|rule| rule.hosts.first()).next().map_or("localhost".to_owned(), |host| host.example());
    let mut samples: Vec<SampleRequest> = Vec::new();
    for rule in policy.rules() {
        let hosts: Vec<String> = if rule.hosts.is_empty() { vec![fallback_host.clone()] } else { rule.hosts.iter().map(|h| h.example()).collect() };
        let paths: Vec<String> = if rule.paths.is_empty() { vec!["/".to_owned()] } else { rule.paths.iter().map(|p| p.example()).collect() };
        let mut methods: Vec<&str> = rule.methods.names().collect();
        if methods.is_empty() {
            methods.push("GET");
        }
        let methods = &methods;
        let paths = &paths;
        let combinations = hosts.iter().flat_map(|host| paths.iter().flat_map(move |path| methods.iter().map(move |method| (host, path, *method))));
        for (host, path, method) in combinations.take(PER_RULE) {
            let sample = SampleRequest { method: method.to_owned(), host: host.clone(), path: path.clone() };
            if !samples.contains(&sample) {
                samples.push(sample);
            }
        }
    }
    samples
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::load;
    use crate::session::setup::no_environment;

    #[test]
    fn every_rule_is_shown_by_a_request_it_is_about() {
        let policy = br#"{"rules": [
            {"name": "a", "effect": "allow", "match": {"hosts": ["*.example.com"], "paths": [{"template": "/users/{id}/mail"}], "methods": ["PUT", "GET"]}, "subjects": {"authenticated": true}},
            {"name": "b", "effect": "deny", "match": {"paths": [{"prefix": "/admin/"}]}, "subjects": {"authenticated": true}}
        ]}"#;
        let (document, _) = load(policy, &no_environment).unwrap();
        let shown: Vec<String> = sample_requests(document.policy()).iter().map(|s| format!("{} {} {}", s.method, s.host, s.path)).collect();
        assert_eq!(shown, ["GET app.example.com /users/1/mail", "PUT app.example.com /users/1/mail", "GET app.example.com /admin"]);
    }
}

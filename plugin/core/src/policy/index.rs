//! Rules indexed by host and first path segment, so a request only looks at the rules
//! that could be about it: a 1,000-rule policy costs about what a 10-rule one does.

use crate::policy::pattern::{HostPattern, first_segment};
use crate::policy::rule::Rule;
use std::collections::HashMap;

/// A rule's position in the policy; rules are sorted by name, so the lowest id among
/// matching rules is the lowest name.
pub type RuleId = usize;

#[derive(Debug, Default)]
struct Buckets {
    by_segment: HashMap<String, Vec<RuleId>>,
    any_path: Vec<RuleId>,
}

impl Buckets {
    fn add(&mut self, id: RuleId, rule: &Rule) {
        let keys: Vec<Option<&str>> = if rule.paths.is_empty() { vec![None] } else { rule.paths.iter().map(|p| p.index_key()).collect() };
        for key in keys {
            let list = match key {
                Some(segment) => self.by_segment.entry(segment.to_ascii_lowercase()).or_default(),
                None => &mut self.any_path,
            };
            if list.last() != Some(&id) {
                list.push(id);
            }
        }
    }

    /// `segment` is lower case: keys are, so that case-folded readings find their rules.
    fn visit(&self, segment: &str, f: &mut impl FnMut(RuleId)) {
        for id in self.by_segment.get(segment).into_iter().flatten().chain(&self.any_path) {
            f(*id);
        }
    }
}

#[derive(Debug, Default)]
pub struct RuleIndex {
    exact_host: HashMap<String, Buckets>,
    subdomain: HashMap<String, Buckets>,
    /// The longest `*.suffix` key: longer suffixes of a host are not looked up, so a
    /// host of many dots costs no more than a short one.
    longest_subdomain: usize,
    any_host: Buckets,
}

/// The rule buckets a host selects, found once per request and visited per reading.
pub struct HostCandidates<'a> {
    buckets: Vec<&'a Buckets>,
}

impl HostCandidates<'_> {
    /// Calls `f` with every rule that might apply to a request for this host and
    /// `path` (possibly more than once); callers still check each rule. Allocates only
    /// for a first segment with upper case in it.
    pub fn for_each(&self, path: &str, mut f: impl FnMut(RuleId)) {
        let segment = first_segment(path);
        let lowered;
        let segment = if segment.bytes().any(|b| b.is_ascii_uppercase()) {
            lowered = segment.to_ascii_lowercase();
            lowered.as_str()
        } else {
            segment
        };
        for buckets in &self.buckets {
            buckets.visit(segment, &mut f);
        }
    }
}

impl RuleIndex {
    pub fn build(rules: &[Rule]) -> Self {
        let mut index = RuleIndex::default();
        for (id, rule) in rules.iter().enumerate() {
            if rule.hosts.is_empty() {
                index.any_host.add(id, rule);
            }
            for host in &rule.hosts {
                let buckets = match host {
                    HostPattern::Exact(h) => index.exact_host.entry(h.clone()).or_default(),
                    HostPattern::Subdomain(s) => {
                        index.longest_subdomain = index.longest_subdomain.max(s.len());
                        index.subdomain.entry(s.clone()).or_default()
                    }
                };
                buckets.add(id, rule);
            }
        }
        index
    }

    /// The buckets of the rules that might be about `host`: its exact entry, its
    /// `*.suffix` entries (only suffixes no longer than the longest key), any host.
    pub fn host_candidates(&self, host: &str) -> HostCandidates<'_> {
        let mut buckets: Vec<&Buckets> = self.exact_host.get(host).into_iter().collect();
        if !self.subdomain.is_empty() {
            let shortest_start = host.len().saturating_sub(self.longest_subdomain + 1);
            for (at, _) in host.match_indices('.').filter(|(at, _)| *at >= shortest_start) {
                buckets.extend(self.subdomain.get(&host[at + 1..]));
            }
        }
        buckets.push(&self.any_host);
        HostCandidates { buckets }
    }
}

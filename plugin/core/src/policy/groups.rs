//! Workspace groups as the policy sees them: only the groups rules reference get a
//! number, a caller's memberships are a bit set over those numbers, and the directory
//! snapshot is flattened at load time (nested groups included) so a request never
//! walks it.

use crate::policy::names::canonical_email;
use crate::policy_config::MemberConfig;
use std::collections::{BTreeMap, HashMap};

/// The index of a group that some rule references.
pub type GroupId = usize;

/// A set of referenced groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupSet(Vec<u64>);

impl GroupSet {
    /// Heap bytes held.
    pub fn footprint(&self) -> usize {
        self.0.len() * std::mem::size_of::<u64>()
    }

    pub fn insert(&mut self, id: GroupId) {
        let word = id / 64;
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        self.0[word] |= 1 << (id % 64);
    }

    pub fn contains(&self, id: GroupId) -> bool {
        self.0.get(id / 64).is_some_and(|word| word & (1 << (id % 64)) != 0)
    }

    pub fn union_with(&mut self, other: &GroupSet) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (mine, theirs) in self.0.iter_mut().zip(&other.0) {
            *mine |= theirs;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|word| *word == 0)
    }

    pub fn iter(&self) -> impl Iterator<Item = GroupId> + '_ {
        self.0.iter().enumerate().flat_map(|(w, word)| (0..64).filter(move |b| word & (1 << b) != 0).map(move |b| w * 64 + b))
    }
}

/// Names of the referenced groups, by id.
#[derive(Debug, Default)]
pub struct GroupTable {
    names: Vec<String>,
    ids: HashMap<String, GroupId>,
}

impl GroupTable {
    /// The id of `email` (lower-cased), allocating one on first sight.
    pub fn intern(&mut self, email: &str) -> GroupId {
        let email = canonical_email(email);
        if let Some(id) = self.ids.get(&email) {
            return *id;
        }
        self.names.push(email.clone());
        self.ids.insert(email, self.names.len() - 1);
        self.names.len() - 1
    }

    pub fn id(&self, email: &str) -> Option<GroupId> {
        self.ids.get(email).copied()
    }

    pub fn name(&self, id: GroupId) -> &str {
        self.names.get(id).map_or("", String::as_str)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// The snapshot, flattened: for every member email, and separately for every group
/// of the snapshot, the referenced groups it belongs to, directly or through nesting.
/// The two are kept apart so that a token claiming membership of "group"
/// `alice@example.com` gains nothing: a claimed group expands only as a group.
#[derive(Debug, Default)]
pub struct Directory {
    memberships: HashMap<String, GroupSet>,
    groups: HashMap<String, GroupSet>,
}

/// Why a snapshot cannot be flattened, with the chain of group emails involved.
#[derive(Debug, PartialEq, Eq)]
pub enum DirectoryError {
    /// A group that (transitively) contains itself.
    Cycle(Vec<String>),
    /// Nesting deeper than [`MAX_NESTING`]: surely a mistake, and recursion must stay
    /// bounded inside a wasm VM.
    TooDeep(Vec<String>),
}

pub const MAX_NESTING: usize = 64;

/// member email → the groups listing it directly.
type Parents = HashMap<String, Vec<String>>;

impl Directory {
    /// Flattens `snapshot` (group email → members). A member that is itself a key of
    /// the snapshot is a nested group. Fails on the first membership cycle.
    pub fn build(snapshot: &BTreeMap<String, Vec<MemberConfig>>, groups: &GroupTable) -> Result<Directory, DirectoryError> {
        let graph: BTreeMap<String, Vec<String>> = snapshot
            .iter()
            .map(|(group, members)| {
                (canonical_email(group), members.iter().map(|m| canonical_email(m.email())).collect())
            })
            .collect();
        // Members declared as groups (`"type": "GROUP"` in a gcloud membership) are
        // groups even when the snapshot does not list their own members.
        let declared_groups: Vec<String> = snapshot
            .values()
            .flatten()
            .filter(|m| matches!(m, MemberConfig::Membership(ms) if ms.kind.as_deref() == Some("GROUP")))
            .map(|m| canonical_email(m.email()))
            .collect();
        let mut parents = Parents::new();
        for (group, members) in &graph {
            for member in members {
                parents.entry(member.clone()).or_default().push(group.clone());
            }
        }
        let mut closures: HashMap<String, GroupSet> = HashMap::new();
        for group in graph.keys().chain(&declared_groups) {
            closure_of(group, &parents, groups, &mut closures, &mut Vec::new())?;
        }
        // A member's groups: the closure of every group that lists it directly.
        let mut memberships: HashMap<String, GroupSet> = HashMap::new();
        for (group, members) in &graph {
            let Some(closure) = closures.get(group).filter(|c| !c.is_empty()) else { continue };
            // Nested groups (members that are keys) are in `groups`, not here.
            for member in members.iter().filter(|m| !graph.contains_key(*m) && !declared_groups.contains(m)) {
                memberships.entry(member.clone()).or_default().union_with(closure);
            }
        }
        // A group named in a token claim counts with everything it is nested in.
        let groups = closures.into_iter().filter(|(_, closure)| !closure.is_empty()).collect();
        Ok(Directory { memberships, groups })
    }

    /// The referenced groups member `email` (a user or service account) belongs to.
    pub fn groups_of(&self, email: &str) -> Option<&GroupSet> {
        self.memberships.get(email)
    }

    /// The members (users and service accounts) of the snapshot that belong to some
    /// referenced group, sorted.
    pub fn members(&self) -> Vec<&str> {
        let mut members: Vec<&str> = self.memberships.keys().map(String::as_str).collect();
        members.sort_unstable();
        members
    }

    /// The referenced groups that group `email` of the snapshot is, itself included:
    /// what a token's claim of membership in it grants.
    pub fn groups_of_group(&self, email: &str) -> Option<&GroupSet> {
        self.groups.get(email)
    }
}

/// The referenced groups `group` is (transitively) inside of, itself included:
/// depth-first over "is a member of" edges, memoised, with the path kept to name a cycle.
fn closure_of(
    group: &str,
    parents: &Parents,
    groups: &GroupTable,
    done: &mut HashMap<String, GroupSet>,
    path: &mut Vec<String>,
) -> Result<GroupSet, DirectoryError> {
    if let Some(closure) = done.get(group) {
        return Ok(closure.clone());
    }
    if let Some(start) = path.iter().position(|g| g == group) {
        let mut cycle = path[start..].to_vec();
        cycle.push(group.to_owned());
        return Err(DirectoryError::Cycle(cycle));
    }
    if path.len() >= MAX_NESTING {
        return Err(DirectoryError::TooDeep(path.clone()));
    }
    path.push(group.to_owned());
    let mut closure = GroupSet::default();
    if let Some(id) = groups.id(group) {
        closure.insert(id);
    }
    for parent in parents.get(group).into_iter().flatten() {
        closure.union_with(&closure_of(parent, parents, groups, done, path)?);
    }
    path.pop();
    done.insert(group.to_owned(), closure.clone());
    Ok(closure)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(entries: &[(&str, &[&str])]) -> BTreeMap<String, Vec<MemberConfig>> {
        entries
            .iter()
            .map(|(g, ms)| (g.to_string(), ms.iter().map(|m| MemberConfig::Email(m.to_string())).collect()))
            .collect()
    }

    #[test]
    fn nested_membership_is_resolved_transitively() {
        let mut table = GroupTable::default();
        let eng = table.intern("eng@example.com");
        let everyone = table.intern("all@example.com");
        let directory = Directory::build(
            &snapshot(&[
                ("all@example.com", &["eng@example.com"]),
                ("eng@example.com", &["backend@example.com"]),
                ("backend@example.com", &["Alice@Example.com"]),
            ]),
            &table,
        )
        .unwrap();
        let alice = directory.groups_of("alice@example.com").unwrap();
        assert!(alice.contains(eng) && alice.contains(everyone));
        // Unreferenced groups get no id, but still carry membership through them.
        assert!(directory.groups_of_group("backend@example.com").unwrap().contains(everyone));
        assert!(directory.groups_of("bob@example.com").is_none());
        // Members and groups are looked up apart: a user is not a group, nor the reverse.
        assert!(directory.groups_of_group("alice@example.com").is_none());
        assert!(directory.groups_of("backend@example.com").is_none());
    }

    #[test]
    fn a_cycle_is_refused_and_named() {
        let table = GroupTable::default();
        let error = Directory::build(&snapshot(&[("a@x", &["b@x"]), ("b@x", &["c@x"]), ("c@x", &["a@x"])]), &table).unwrap_err();
        let DirectoryError::Cycle(chain) = error else { panic!("expected a cycle, got {error:?}") };
        assert_eq!(chain.first(), chain.last());
        assert_eq!(chain.len(), 4, "{chain:?}");
    }

    #[test]
    fn nesting_deeper_than_the_bound_is_refused() {
        // g001 ⊂ g002 ⊂ … : the first key visited is the deepest member.
        let names: Vec<String> = (0..=MAX_NESTING + 1).map(|i| format!("g{i:03}@x")).collect();
        let chain: Vec<(&str, Vec<&str>)> = names.windows(2).map(|w| (w[1].as_str(), vec![w[0].as_str()])).collect();
        let entries: Vec<(&str, &[&str])> = chain.iter().map(|(g, m)| (*g, m.as_slice())).collect();
        let error = Directory::build(&snapshot(&entries), &GroupTable::default()).unwrap_err();
        assert!(matches!(error, DirectoryError::TooDeep(_)), "{error:?}");
    }

    #[test]
    fn group_sets_grow_as_needed() {
        let mut set = GroupSet::default();
        set.insert(130);
        assert!(set.contains(130) && !set.contains(2) && !set.contains(4000));
        assert_eq!(set.iter().collect::<Vec<_>>(), [130]);
    }
}

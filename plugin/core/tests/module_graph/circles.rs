//! Import circles: modules that reach one another through imports. Within each group
//! of such modules (a strongly connected component of the graph), the shortest circle
//! through each member is reported, so one run shows every module to untangle.

use crate::graph::{Module, ModuleGraph};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// A circle of modules, first = last, starting at its smallest module.
pub type Circle = Vec<Module>;

/// The distinct circles of `graph`: the shortest through each module that is in one.
pub fn circles(graph: &ModuleGraph) -> Vec<Circle> {
    let next = successors(graph);
    let mut found = BTreeSet::new();
    for members in components(&next).into_iter().filter(|members| members.len() > 1) {
        found.extend(members.iter().filter_map(|start| shortest_circle(&next, &members, start)).map(rotated));
    }
    found.into_iter().collect()
}

/// The same circle, started at its smallest module.
fn rotated(circle: Circle) -> Circle {
    let ring = &circle[..circle.len() - 1];
    let start = ring.iter().enumerate().min_by_key(|&(_, m)| m).map_or(0, |(i, _)| i);
    let mut out: Circle = ring[start..].iter().chain(&ring[..start]).cloned().collect();
    out.push(out[0].clone());
    out
}

/// `crate::a → crate::b → crate::a`, then where each step is imported.
pub fn describe(graph: &ModuleGraph, circle: &Circle) -> String {
    let names: Vec<String> = circle.iter().map(|m| m.join("::")).collect();
    let mut text = format!("import circle: {}", names.join(" → "));
    for step in circle.windows(2) {
        if let Some(site) = graph.edges.get(&(step[0].clone(), step[1].clone())) {
            text.push_str(&format!("\n  {}:{}: {} uses {}", site.file, site.line, step[0].join("::"), step[1].join("::")));
        }
    }
    text
}

type Successors<'a> = BTreeMap<&'a Module, Vec<&'a Module>>;

fn successors(graph: &ModuleGraph) -> Successors<'_> {
    let mut next: Successors<'_> = graph.modules.iter().map(|m| (m, Vec::new())).collect();
    for (from, to) in graph.edges.keys() {
        next.entry(from).or_default().push(to);
    }
    next
}

/// Tarjan's strongly connected components.
fn components(next: &Successors<'_>) -> Vec<BTreeSet<Module>> {
    let mut tarjan = Tarjan { next, index: BTreeMap::new(), low: BTreeMap::new(), stack: Vec::new(), on_stack: BTreeSet::new(), found: Vec::new() };
    for module in next.keys() {
        if !tarjan.index.contains_key(module) {
            tarjan.visit(module);
        }
    }
    tarjan.found
}

struct Tarjan<'g, 'a> {
    next: &'g Successors<'a>,
    index: BTreeMap<&'a Module, usize>,
    low: BTreeMap<&'a Module, usize>,
    stack: Vec<&'a Module>,
    on_stack: BTreeSet<&'a Module>,
    found: Vec<BTreeSet<Module>>,
}

impl<'a> Tarjan<'_, 'a> {
    fn visit(&mut self, module: &'a Module) {
        let index = self.index.len();
        self.index.insert(module, index);
        self.low.insert(module, index);
        self.stack.push(module);
        self.on_stack.insert(module);
        for &to in self.next.get(module).into_iter().flatten() {
            if !self.index.contains_key(to) {
                self.visit(to);
                self.lower(module, self.low[to]);
            } else if self.on_stack.contains(to) {
                self.lower(module, self.index[to]);
            }
        }
        if self.low[module] == index {
            self.pop_component(module);
        }
    }

    fn lower(&mut self, module: &'a Module, to: usize) {
        if let Some(low) = self.low.get_mut(module) {
            *low = (*low).min(to);
        }
    }

    fn pop_component(&mut self, root: &Module) {
        let mut members = BTreeSet::new();
        while let Some(member) = self.stack.pop() {
            self.on_stack.remove(member);
            members.insert(member.clone());
            if member == root {
                break;
            }
        }
        self.found.push(members);
    }
}

/// The shortest circle through `start` within `members`, found breadth first.
fn shortest_circle(next: &Successors<'_>, members: &BTreeSet<Module>, start: &Module) -> Option<Circle> {
    let mut came_from: BTreeMap<&Module, &Module> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(module) = queue.pop_front() {
        for &to in next.get(module).into_iter().flatten().filter(|to| members.contains(**to)) {
            if to == start {
                return Some(walk_back(&came_from, module, start));
            }
            if !came_from.contains_key(to) {
                came_from.insert(to, module);
                queue.push_back(to);
            }
        }
    }
    None
}

/// `start → … → last → start`, from the breadth-first search's trail.
fn walk_back(came_from: &BTreeMap<&Module, &Module>, last: &Module, start: &Module) -> Circle {
    let mut circle = vec![start.clone(), last.clone()];
    let mut at = last;
    while let Some(&previous) = came_from.get(at).filter(|_| at != start) {
        circle.push(previous.clone());
        at = previous;
    }
    circle.reverse();
    circle
}

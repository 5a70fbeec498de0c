//! No module imports, through any chain of imports, a module that imports it back:
//! checked over the `src/` of `wsgate-core` and `wsgate-signatures`. The checker is a
//! plain function of a source directory ([`graph::module_graph`]), so other crates
//! can be added with one line each.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests: a failed unwrap is a failed test

mod circles;
mod graph;
mod lexer;
mod proofs;

use std::path::Path;

/// Fails naming every circle in the crate whose sources are at `src` (relative to
/// this crate's directory).
fn assert_no_circle(src: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(src);
    let graph = graph::module_graph(&dir).unwrap();
    assert!(graph.modules.len() > 1 && !graph.edges.is_empty(), "found no modules or no imports under {}", dir.display());
    let found: Vec<String> = circles::circles(&graph).iter().map(|circle| circles::describe(&graph, circle)).collect();
    assert!(found.is_empty(), "{}:\n{}", dir.display(), found.join("\n"));
}

#[test]
fn wsgate_core_has_no_import_circle() {
    assert_no_circle("src");
}

#[test]
fn wsgate_signatures_has_no_import_circle() {
    assert_no_circle("../signatures/src");
}

#[test]
fn wsgate_filter_has_no_import_circle() {
    assert_no_circle("../filter/src");
}


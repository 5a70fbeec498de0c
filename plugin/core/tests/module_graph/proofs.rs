//! The checker on small made-up crates: it finds the circles it must find, and sees
//! none where there is none.

use crate::circles::{circles, describe};
use crate::graph::{SourceFile, graph_of};

/// Each circle in the crate made of `(file, text)` pairs (file names as under `src/`),
/// described in full.
fn crate_of(files: &[(&str, &str)]) -> Vec<String> {
    let sources: Vec<SourceFile> = files
        .iter()
        .map(|(name, text)| {
            let stem = name.trim_end_matches(".rs");
            let mut module = vec!["crate".to_owned()];
            module.extend(stem.split('/').filter(|part| !["lib", "mod"].contains(part)).map(str::to_owned));
            SourceFile { name: (*name).to_owned(), module, text: (*text).to_owned() }
        })
        .collect();
    let graph = graph_of(&sources);
    circles(&graph).iter().map(|circle| describe(&graph, circle)).collect()
}

/// Only the first line of each: `import circle: crate::a → crate::b → crate::a`.
fn circles_in(files: &[(&str, &str)]) -> Vec<String> {
    crate_of(files).iter().map(|text| text.lines().next().unwrap_or_default().to_owned()).collect()
}

const NONE: [&str; 0] = [];

#[test]
fn two_modules_that_use_each_others_items_are_a_circle_shown_with_where_each_import_is() {
    let found = crate_of(&[
        ("lib.rs", "pub mod a;\npub mod b;"),
        ("a.rs", "use crate::b::B;\npub struct A;"),
        ("b.rs", "pub struct B;\nfn f() -> crate::a::A { crate::a::A }"),
    ]);
    assert_eq!(found, ["import circle: crate::a → crate::b → crate::a\n  a.rs:1: crate::a uses crate::b\n  b.rs:2: crate::b uses crate::a"]);
}

#[test]
fn a_circle_through_three_modules_and_a_use_group_is_found() {
    let files = [
        ("lib.rs", "pub mod a; pub mod b; pub mod c;"),
        ("a.rs", "use crate::{b::{self, B as Bee}, x};"),
        ("b.rs", "use crate::c::*;"),
        ("c.rs", "use super::a::A;"),
    ];
    assert_eq!(circles_in(&files), ["import circle: crate::a → crate::b → crate::c → crate::a"]);
}

#[test]
fn a_parent_using_its_childs_items_while_the_child_uses_the_parents_is_a_circle() {
    let files = [
        ("lib.rs", "pub mod policy;"),
        ("policy/mod.rs", "pub mod rule;\nuse rule::Rule;\npub struct Policy;"),
        ("policy/rule.rs", "use super::Policy;\npub struct Rule;"),
    ];
    assert_eq!(circles_in(&files), ["import circle: crate::policy → crate::policy::rule → crate::policy"]);
}

#[test]
fn the_crate_root_re_exporting_a_module_that_uses_a_root_re_export_is_a_circle() {
    let files = [("lib.rs", "pub mod a;\npub mod b;\npub use a::A;\npub use b::B;"), ("a.rs", "use crate::B;")];
    assert_eq!(circles_in(&files), ["import circle: crate → crate::a → crate"]);
}

#[test]
fn declaring_a_child_module_is_not_using_it() {
    let files = [
        ("lib.rs", "pub mod policy;"),
        ("policy/mod.rs", "pub mod rule;\npub mod lint;\npub struct Policy;"),
        ("policy/rule.rs", "use crate::policy::Policy;"),
        ("policy/lint.rs", "use super::rule;\nfn f() { rule::check(); }"),
    ];
    assert_eq!(circles_in(&files), NONE);
}

#[test]
fn paths_in_comments_strings_and_after_other_paths_are_not_imports() {
    let b = "/// See [`crate::a`].\n// crate::a::A\nconst S: &str = \"crate::a::A\";\nfn f() { std::crate::a::x(); other::a::y(); }";
    assert_eq!(circles_in(&[("lib.rs", "pub mod a;\npub mod b;"), ("a.rs", "use crate::b::B;"), ("b.rs", b)]), NONE);
}

/// `b`'s tests are a module of their own, which `b` does not use.
#[test]
fn super_in_an_inline_tests_module_names_its_own_file() {
    let a = "use crate::b::B;\n#[cfg(test)]\nmod tests {\n    use super::*;\n}";
    let b = "pub struct B;\n#[cfg(test)]\nmod tests {\n    use crate::a::*;\n}";
    assert_eq!(circles_in(&[("lib.rs", "pub mod a;\npub mod b;"), ("a.rs", a), ("b.rs", b)]), NONE);
}

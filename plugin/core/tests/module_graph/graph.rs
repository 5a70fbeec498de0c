//! The module-to-module import graph of a crate, read from the `.rs` files of its
//! `src/`. An edge A → B means code in A names B or an item of B: a `use` of it, a
//! `crate::b::…`, `self::…` or `super::…` path anywhere in code, or a path through a
//! child module (`child::Item`). A parent's `mod child;` is not an edge: declaring a
//! module is not using it. Doc comments and strings are not code.

use crate::lexer::{Token, tokens};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;

/// A module's path, `crate` first.
pub type Module = Vec<String>;

/// Where an edge was first seen.
#[derive(Debug, Clone)]
pub struct Site {
    pub file: String,
    pub line: usize,
}

#[derive(Debug, Default)]
pub struct ModuleGraph {
    pub modules: BTreeSet<Module>,
    /// `(from, to)` → the first place `from` names `to`.
    pub edges: BTreeMap<(Module, Module), Site>,
}

/// One source file: its module, its text, and the name messages give it.
pub struct SourceFile {
    pub name: String,
    pub module: Module,
    pub text: String,
}

/// The graph of the crate whose sources are under `src` (`lib.rs` or `main.rs` is
/// the crate root, `a/mod.rs` and `a.rs` are `crate::a`).
pub fn module_graph(src: &Path) -> io::Result<ModuleGraph> {
    let mut files = Vec::new();
    read_sources(src, Path::new(""), &mut files)?;
    Ok(graph_of(&files))
}

fn read_sources(src: &Path, under: &Path, files: &mut Vec<SourceFile>) -> io::Result<()> {
    let mut entries = std::fs::read_dir(src.join(under))?.collect::<io::Result<Vec<_>>>()?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let relative = under.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            read_sources(src, &relative, files)?;
        } else if relative.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(entry.path())?;
            files.push(SourceFile { name: relative.display().to_string(), module: module_of(&relative), text });
        }
    }
    Ok(())
}

fn module_of(relative: &Path) -> Module {
    let names: Vec<String> = relative.with_extension("").iter().map(|c| c.to_string_lossy().into_owned()).collect();
    let is_root = |i: usize, name: &str| name == "mod" || (i == 0 && (name == "lib" || name == "main"));
    let mut module = vec!["crate".to_owned()];
    module.extend(names.iter().enumerate().filter(|&(i, name)| !(i + 1 == names.len() && is_root(i, name))).map(|(_, name)| name.clone()));
    module
}

/// The graph of `files`, which together make one crate.
pub fn graph_of(files: &[SourceFile]) -> ModuleGraph {
    let lexed: Vec<Lexed<'_>> = files.iter().map(Lexed::new).collect();
    let mut modules: BTreeSet<Module> = lexed.iter().flat_map(|l| l.scopes.iter().cloned()).collect();
    modules.extend(files.iter().map(|file| file.module.clone()));
    let mut graph = ModuleGraph { modules, edges: BTreeMap::new() };
    for file in &lexed {
        add_edges(&mut graph, file);
    }
    graph
}

/// A file's tokens, and the module each of them is in.
struct Lexed<'a> {
    file: &'a SourceFile,
    tokens: Vec<(Token, usize)>,
    scopes: Vec<Module>,
}

impl<'a> Lexed<'a> {
    fn new(file: &'a SourceFile) -> Self {
        let tokens = tokens(&file.text);
        let scopes = scopes(&file.module, &tokens);
        Lexed { file, tokens, scopes }
    }
}

/// The module each token is in: the file's, or an inline `mod name { … }` within it.
fn scopes(file_module: &Module, tokens: &[(Token, usize)]) -> Vec<Module> {
    let mut open: Vec<usize> = Vec::new();
    let mut depth: usize = 0;
    let mut current = file_module.clone();
    let mut out = Vec::with_capacity(tokens.len());
    for (i, (token, _)) in tokens.iter().enumerate() {
        match token {
            Token::Open => {
                depth += 1;
                if let Some(name) = inline_module_name(tokens, i) {
                    open.push(depth);
                    current.push(name.to_owned());
                }
            }
            Token::Close => {
                if open.last() == Some(&depth) {
                    open.pop();
                    current.pop();
                }
                // Saturating: a stray `}` must not stop the check with an overflow.
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
        out.push(current.clone());
    }
    out
}

/// `mod name` right before the `{` at `open`.
fn inline_module_name(tokens: &[(Token, usize)], open: usize) -> Option<&str> {
    match (tokens.get(open.checked_sub(2)?), tokens.get(open - 1)) {
        (Some((Token::Ident(keyword), _)), Some((Token::Ident(name), _))) if keyword == "mod" => Some(name),
        _ => None,
    }
}

fn add_edges(graph: &mut ModuleGraph, lexed: &Lexed<'_>) {
    let (tokens, scopes) = (&lexed.tokens, &lexed.scopes);
    let mut i = 0;
    while i < tokens.len() {
        if !starts_path(tokens, i) {
            i += 1;
            continue;
        }
        let mut paths = Vec::new();
        let next = path_tree(tokens, i, Vec::new(), &mut paths);
        for path in paths {
            let Some(target) = resolve(&scopes[i], &path, &graph.modules) else { continue };
            if target != scopes[i] {
                let site = Site { file: lexed.file.name.clone(), line: tokens[i].1 };
                graph.edges.entry((scopes[i].clone(), target)).or_insert(site);
            }
        }
        i = next.max(i + 1);
    }
}

/// A name followed by `::` that does not itself follow `::`.
fn starts_path(tokens: &[(Token, usize)], i: usize) -> bool {
    let after_separator = i > 0 && tokens[i - 1].0 == Token::PathSep;
    matches!(tokens[i].0, Token::Ident(_)) && tokens.get(i + 1).is_some_and(|(t, _)| *t == Token::PathSep) && !after_separator
}

/// The paths written from `i` on, `use` groups (`a::{b, c::d}`) expanded, each after
/// `prefix`; returns where the tree ends.
fn path_tree(tokens: &[(Token, usize)], mut i: usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let mut path = prefix;
    loop {
        match tokens.get(i).map(|(t, _)| t) {
            Some(Token::Ident(name)) => path.push(name.clone()),
            Some(Token::Open) => return group(tokens, i + 1, &path, out),
            Some(Token::Punct('*')) => {
                out.push(path);
                return i + 1;
            }
            _ => {
                out.push(path);
                return i;
            }
        }
        i += 1;
        if tokens.get(i).map(|(t, _)| t) != Some(&Token::PathSep) {
            out.push(path);
            return i;
        }
        i += 1;
    }
}

/// The items of a `{ … }` group, `i` just past the `{`; returns past its `}`.
fn group(tokens: &[(Token, usize)], mut i: usize, prefix: &[String], out: &mut Vec<Vec<String>>) -> usize {
    while let Some((token, _)) = tokens.get(i) {
        match token {
            Token::Close => return i + 1,
            Token::Ident(name) if name == "as" => i += 2,
            Token::Ident(_) | Token::Open | Token::Punct('*') => i = path_tree(tokens, i, prefix.to_vec(), out),
            _ => i += 1,
        }
    }
    i
}

/// The module `path`, written in `current`, names (itself or through an item), if it
/// is a module of this crate.
fn resolve(current: &Module, path: &[String], modules: &BTreeSet<Module>) -> Option<Module> {
    let first = path.first()?.as_str();
    let mut absolute: Module = match first {
        "crate" => path.to_vec(),
        "self" => [current.as_slice(), &path[1..]].concat(),
        "super" => {
            let ups = path.iter().take_while(|s| *s == "super").count();
            let base = current.get(..current.len().checked_sub(ups).filter(|&n| n > 0)?)?;
            [base, &path[ups..]].concat()
        }
        child if modules.contains(&[current.as_slice(), &[child.to_owned()]].concat()) => [current.as_slice(), path].concat(),
        _ => return None,
    };
    while absolute.last().is_some_and(|s| s == "self") {
        absolute.pop();
    }
    (1..=absolute.len()).rev().map(|n| absolute[..n].to_vec()).find(|m| modules.contains(m))
}

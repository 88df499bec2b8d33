//! The modules of `src/` are layers: each file may use only modules of lower layers, or files
//! of its own module, and no files form a circle. Read from the source text, so a `use` that
//! climbs a layer fails here before it turns the core into a knot again.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules, bottom to top (the order `src/lib.rs` documents).
const LAYERS: &[(&str, u8)] = &[
    ("secret", 0),
    ("request", 0),
    ("redact", 1),
    ("logging", 2),
    ("metrics", 2),
    ("args", 2),
    ("schema", 2),
    ("serving", 2),
    ("store", 2),
    ("keychain", 2),
    ("mounted", 2),
    ("operation", 3),
    ("spec", 4),
    ("providers", 5),
    ("sandbox", 6),
    ("upstream", 6),
    ("intake", 6),
    ("error", 7),
    ("engine", 8),
    ("surfaces", 9),
    ("transport", 10),
    ("cli", 11),
];

type Module = Vec<String>;

/// Every source file of the library, by module path (`src/a/b.rs` and `src/a/b/mod.rs` are
/// `a::b`).
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    fn walk(dir: &Path, prefix: &Module, out: &mut BTreeMap<Module, PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            let mut here = prefix.clone();
            if path.is_dir() {
                here.push(name);
                walk(&path, &here, out);
            } else if let Some(stem) = name.strip_suffix(".rs") {
                if stem != "mod" && stem != "lib" && stem != "main" {
                    here.push(stem.to_string());
                }
                if stem != "main" {
                    out.insert(here, path);
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(src, &Vec::new(), &mut out);
    out
}

/// Code without comments (doc links are not uses).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parses a use tree after `crate::`/`super::`: `a::b::C`, `a::{b, c::D}`.
fn paths(text: &str, start: usize, prefix: Module, out: &mut Vec<Module>) -> usize {
    let bytes = text.as_bytes();
    let mut i = start;
    let mut path = prefix;
    loop {
        if bytes.get(i) == Some(&b'{') {
            i += 1;
            loop {
                while bytes
                    .get(i)
                    .is_some_and(|b| b.is_ascii_whitespace() || *b == b',')
                {
                    i += 1;
                }
                if bytes.get(i) == Some(&b'}') || i >= bytes.len() {
                    return i + 1;
                }
                i = paths(text, i, path.clone(), out);
            }
        }
        let ident_end = text[i..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(text.len(), |n| i + n);
        let ident = &text[i..ident_end];
        if ident.is_empty() {
            out.push(path);
            return i;
        }
        path.push(ident.to_string());
        i = ident_end;
        if text[i..].starts_with("::") {
            i += 2;
        } else {
            out.push(path);
            return i;
        }
    }
}

/// The modules a file refers to through `crate::` and `super::` paths.
fn uses(module: &Module, is_mod_rs: bool, text: &str) -> Vec<Module> {
    let text = code(text);
    let mut out = Vec::new();
    for (needle, base) in [
        ("crate::", Vec::new()),
        ("super::", {
            // `super` of `a::b` in a/b.rs is `a`; in a/b/mod.rs it is `a` too.
            let mut m = module.clone();
            m.pop();
            m
        }),
    ] {
        // Inside an inline test module `super` is the file itself, not its parent.
        let scope = match (needle, text.find("#[cfg(test)]")) {
            ("super::", Some(tests)) => &text[..tests],
            _ => &text[..],
        };
        let mut from = 0;
        while let Some(at) = scope[from..].find(needle) {
            let start = from + at + needle.len();
            let preceded = text[..from + at]
                .chars()
                .last()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
            if !preceded {
                paths(scope, start, base.clone(), &mut out);
            }
            from = start;
        }
    }
    // A parent's `use child::…`.
    if is_mod_rs || module.is_empty() {
        for line in text.lines() {
            let line = line.trim_start().trim_start_matches("pub ");
            if let Some(rest) = line.strip_prefix("use ") {
                let first = rest.split("::").next().unwrap_or("");
                if !["crate", "super", "std", "self"].contains(&first) {
                    let mut m = module.clone();
                    m.push(first.to_string());
                    out.push(m);
                }
            }
        }
    }
    out
}

/// The longest prefix of `path` that is a file of the crate.
fn resolve(path: &Module, files: &BTreeMap<Module, PathBuf>) -> Option<Module> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|m| files.contains_key(m))
}

fn layer(module: &Module) -> u8 {
    let top = module.first().map(String::as_str).unwrap_or("");
    LAYERS
        .iter()
        .find(|(name, _)| *name == top)
        .unwrap_or_else(|| panic!("`{top}` is in no layer: add it to LAYERS and to src/lib.rs"))
        .1
}

#[test]
fn every_use_points_down_the_layers_and_no_files_form_a_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = modules(&src);
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    let mut wrong = Vec::new();
    for (module, path) in &files {
        if module.is_empty() {
            continue; // lib.rs declares the layers
        }
        let text = std::fs::read_to_string(path).unwrap();
        let is_mod_rs = path.file_name().is_some_and(|n| n == "mod.rs");
        for used in uses(module, is_mod_rs, &text) {
            let Some(target) = resolve(&used, &files) else {
                continue;
            };
            if target == *module || target.is_empty() {
                continue;
            }
            let same_module = target.first() == module.first();
            if !same_module && layer(&target) >= layer(module) {
                wrong.push(format!(
                    "{} (layer {}) uses {} (layer {})",
                    module.join("::"),
                    layer(module),
                    used.join("::"),
                    layer(&target)
                ));
            }
            edges.entry(module.clone()).or_default().insert(target);
        }
    }
    assert!(
        wrong.is_empty(),
        "uses that climb a layer:\n{}",
        wrong.join("\n")
    );

    // No circle among files: depth-first search with colours.
    fn visit(
        m: &Module,
        edges: &BTreeMap<Module, BTreeSet<Module>>,
        state: &mut BTreeMap<Module, u8>,
        stack: &mut Vec<Module>,
    ) {
        match state.get(m) {
            Some(2) => return,
            Some(1) => {
                let at = stack.iter().position(|s| s == m).unwrap();
                let circle: Vec<String> = stack[at..].iter().map(|s| s.join("::")).collect();
                panic!(
                    "files form a circle: {} -> {}",
                    circle.join(" -> "),
                    m.join("::")
                );
            }
            _ => {}
        }
        state.insert(m.clone(), 1);
        stack.push(m.clone());
        for next in edges.get(m).into_iter().flatten() {
            visit(next, edges, state, stack);
        }
        stack.pop();
        state.insert(m.clone(), 2);
    }
    let mut state = BTreeMap::new();
    for m in files.keys() {
        visit(m, &edges, &mut state, &mut Vec::new());
    }
}

#[test]
fn the_checker_sees_uses() {
    let m = |s: &str| s.split("::").map(str::to_string).collect::<Vec<_>>();
    let found = uses(
        &m("upstream::auth"),
        false,
        "use super::{client::Upstream, request::{A, B}};\nuse crate::spec::X; // crate::cli::no\nfn f() { crate::redact::mask(); }",
    );
    assert_eq!(
        found,
        [
            m("spec::X"),
            m("redact::mask"),
            m("upstream::client::Upstream"),
            m("upstream::request::A"),
            m("upstream::request::B"),
        ]
    );
}

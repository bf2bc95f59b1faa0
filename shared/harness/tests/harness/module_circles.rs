//! No import circle between the files of one crate: a module that uses another (through
//! `crate::`, `super::` or `self::` paths) is never, directly or through others, used by
//! it. A module using its own ancestors (a child reading its parent's items) does not
//! count; a parent using its children does.
//!
//! The check reads the sources as text: each file is a module, named by its path; a path
//! names the longest module it starts with; code after `#[cfg(test)] mod tests {` is left
//! out (tests may reach anywhere).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module name (`a::b`, `` for the root) → its file.
type Modules = BTreeMap<String, PathBuf>;

/// Module name → the modules it uses.
type Uses = BTreeMap<String, BTreeSet<String>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn modules(src: &Path) -> Modules {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut modules = Modules::new();
    for file in files {
        let relative = file.strip_prefix(src).expect("under src");
        let mut parts: Vec<String> = relative
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.first().is_some_and(|p| p == "bin") {
            continue;
        }
        if parts
            .last()
            .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
        {
            parts.pop();
        }
        modules.insert(parts.join("::"), file);
    }
    modules
}

/// The paths a file names: `crate::a::b`, `super::c`, and each head of a `{…}` group.
fn paths(text: &str) -> Vec<String> {
    let code = text
        .find("#[cfg(test)]\nmod tests {")
        .map_or(text, |at| &text[..at]);
    let path_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut found = Vec::new();
    for start in ["crate::", "super::", "self::"] {
        for (at, _) in code.match_indices(start) {
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let rest = &code[at..];
            let end = rest.find(|c: char| !path_char(c)).unwrap_or(rest.len());
            let path = rest[..end].trim_end_matches(':');
            found.push(path.to_owned());
            if rest[end..].starts_with('{') && rest[..end].ends_with("::") {
                let group = &rest[end + 1..rest[end..].find('}').map_or(end + 1, |i| end + i)];
                for item in group.split(',') {
                    let head = item.trim().split("::").next().unwrap_or("");
                    let head = head.split_whitespace().next().unwrap_or("");
                    if !head.is_empty() && head != "self" {
                        found.push(format!("{path}::{head}"));
                    }
                }
            }
        }
    }
    found
}

/// The module `path`, written in module `from`, names.
fn resolve(modules: &Modules, from: &str, path: &str) -> Option<String> {
    let mut parts: Vec<&str> = path.split("::").collect();
    let mut base: Vec<&str> = if from.is_empty() {
        Vec::new()
    } else {
        from.split("::").collect()
    };
    match parts.first().copied() {
        Some("crate") => {
            base.clear();
            parts.remove(0);
        }
        Some("self") => {
            parts.remove(0);
        }
        Some("super") => {
            while parts.first() == Some(&"super") {
                base.pop();
                parts.remove(0);
            }
        }
        _ => return None,
    }
    (0..=parts.len()).rev().find_map(|take| {
        let name = base
            .iter()
            .chain(&parts[..take])
            .copied()
            .collect::<Vec<_>>()
            .join("::");
        modules.contains_key(&name).then_some(name)
    })
}

fn uses(modules: &Modules) -> Uses {
    let mut uses = Uses::new();
    for (name, file) in modules {
        let text = std::fs::read_to_string(file).expect("a source file");
        let targets = uses.entry(name.clone()).or_default();
        for path in paths(&text) {
            if let Some(target) = resolve(modules, name, &path) {
                let ancestor = target.is_empty() || name.starts_with(&format!("{target}::"));
                if target != *name && !ancestor {
                    targets.insert(target);
                }
            }
        }
    }
    uses
}

/// The circles among `uses`: each strongly connected set of two or more modules.
fn circles(uses: &Uses) -> Vec<Vec<String>> {
    struct Search<'a> {
        uses: &'a Uses,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    impl<'a> Search<'a> {
        fn visit(&mut self, module: &'a str) {
            let n = self.index.len();
            self.index.insert(module, n);
            self.low.insert(module, n);
            self.stack.push(module);
            self.on_stack.insert(module);
            for next in self.uses.get(module).into_iter().flatten() {
                let next = next.as_str();
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[module].min(self.low[next]);
                    self.low.insert(module, low);
                } else if self.on_stack.contains(next) {
                    let low = self.low[module].min(self.index[next]);
                    self.low.insert(module, low);
                }
            }
            if self.low[module] == self.index[module] {
                let mut circle = Vec::new();
                while let Some(top) = self.stack.pop() {
                    self.on_stack.remove(top);
                    circle.push(top.to_owned());
                    if top == module {
                        break;
                    }
                }
                if circle.len() > 1 {
                    circle.sort();
                    self.found.push(circle);
                }
            }
        }
    }
    let mut search = Search {
        uses,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for module in uses.keys() {
        if !search.index.contains_key(module.as_str()) {
            search.visit(module);
        }
    }
    search.found
}

#[test]
fn no_crate_has_an_import_circle_between_its_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut checked = 0;
    let mut found = Vec::new();
    for group in ["functions", "shared", "tools"] {
        let Ok(crates) = std::fs::read_dir(root.join(group)) else {
            continue;
        };
        for krate in crates.flatten() {
            let src = krate.path().join("src");
            if !src.is_dir() {
                continue;
            }
            checked += 1;
            for circle in circles(&uses(&modules(&src))) {
                found.push(format!("{}: {}", src.display(), circle.join(" <-> ")));
            }
        }
    }
    assert!(
        checked >= 10,
        "only {checked} crates found under {}",
        root.display()
    );
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

#[test]
fn a_circle_is_found_and_a_child_reading_its_parent_is_not_one() {
    let modules: Modules = ["", "a", "a::child", "b"]
        .into_iter()
        .map(|m| (m.to_owned(), PathBuf::new()))
        .collect();
    assert_eq!(
        resolve(&modules, "a::child", "super::Thing").as_deref(),
        Some("a")
    );
    assert_eq!(
        resolve(&modules, "b", "crate::a::child::f").as_deref(),
        Some("a::child")
    );
    let uses: Uses = [
        ("a", vec!["b"]),
        ("b", vec!["a"]),
        ("a::child", vec![]),
        ("", vec![]),
    ]
    .into_iter()
    .map(|(m, to)| (m.to_owned(), to.into_iter().map(str::to_owned).collect()))
    .collect();
    assert_eq!(circles(&uses), [vec!["a".to_owned(), "b".to_owned()]]);
    assert_eq!(
        paths("use crate::x::{y, z::W};\nfn f() { super::g(); }"),
        ["crate::x", "crate::x::y", "crate::x::z", "super::g"]
    );
}

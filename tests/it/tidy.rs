//! The architecture's absences, enforced: the domain does no IO and reads no clock, and
//! every source file says what it owns in a `//!` line.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn domain_does_no_io_and_reads_no_clock() {
    let forbidden = [
        "tokio",
        "axum",
        "rusqlite",
        "std::fs",
        "std::net",
        "File::",
        "Local::now",
        "Utc::now",
        "SystemTime",
        "Instant::now",
        "crate::store",
        "crate::http",
        "crate::app",
    ];
    let files = rust_files(&root().join("src/domain"));
    assert!(files.len() >= 3, "src/domain has its modules");
    let mut offences = Vec::new();
    for file in files {
        for (n, line) in std::fs::read_to_string(&file).unwrap().lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in forbidden {
                if code.contains(word) {
                    offences.push(format!("{}:{}: {word}", file.display(), n + 1));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "the domain must stay pure:\n{}",
        offences.join("\n")
    );
}

#[test]
fn every_source_file_opens_with_a_module_doc_line() {
    let mut missing = Vec::new();
    for dir in ["src", "tests", "benches"] {
        for file in rust_files(&root().join(dir)) {
            let text = std::fs::read_to_string(&file).unwrap();
            if !text.trim_start().starts_with("//!") {
                missing.push(file.display().to_string());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "files without a //! line:\n{}",
        missing.join("\n")
    );
}

#[test]
fn only_the_store_speaks_sql_and_only_http_imports_axum() {
    let mut offences = Vec::new();
    for file in rust_files(&root().join("src")) {
        let rel = file.strip_prefix(root()).unwrap().display().to_string();
        let text = std::fs::read_to_string(&file).unwrap();
        if text.contains("rusqlite") && !rel.starts_with("src/store/") && rel != "src/http/error.rs"
        {
            offences.push(format!("{rel} uses rusqlite"));
        }
        if text.contains("use axum") && !rel.starts_with("src/http/") && rel != "src/cli.rs" {
            offences.push(format!("{rel} imports axum"));
        }
    }
    assert!(offences.is_empty(), "{}", offences.join("\n"));
}

// ---------------------------------------------------------------------------------------
// The layers: which top-level module of `src/` may import which, held against the table
// in ARCHITECTURE.md's `## Layers`.
//
// Every `crate::X` path counts, in `use` lines and in expressions, and so does every
// `super::`/`self::` path, resolved against the module it is written in (the file's module
// and any inline `mod … {` around it). Comments are left out, and doc comments with them:
// an intra-doc link or a doc test names a module without making the code depend on it.
// `#[cfg(test)]` modules are read like the rest: a unit test that reaches into a higher
// layer couples the module to it as surely as the code does.

use std::collections::{BTreeMap, BTreeSet};

/// One path from a top-level module of `src/` to another: where it is written and what it
/// names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Import {
    from: String,
    to: String,
    file: String,
    line: usize,
    path: String,
}

/// The module path a file under `src/` defines (`app/views.rs` is `app::views`,
/// `app/mod.rs` is `app`, `lib.rs` the crate root); `None` for a file of another crate
/// (`main.rs`, the binary, imports the library by its name, not by `crate::`).
fn module_path_of(relative_to_src: &str) -> Option<Vec<String>> {
    let without = relative_to_src.strip_suffix(".rs")?;
    if without == "main" {
        return None;
    }
    let mut parts: Vec<String> = without.split('/').map(str::to_owned).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    Some(parts)
}

/// The source with comments and the contents of string and character literals blanked
/// (newlines kept, so that lines still count), leaving only code to look for paths in.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (i == 0 || !is_ident(chars[i - 1]) || chars[i - 1] == 'b')
            && matches!(next, Some('"' | '#'))
            && {
                let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
                chars.get(i + 1 + hashes) == Some(&'"')
            }
        {
            // A raw string: r"…", r#"…"#, br##"…"##.
            let hashes = chars[i + 1..].iter().take_while(|&&h| h == '#').count();
            out.push('r');
            i += 1;
            for _ in 0..=hashes {
                out.push(' ');
                i += 1;
            }
            let closing: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            while i < chars.len() && !chars[i..].starts_with(&closing) {
                out.push(blank(chars[i]));
                i += 1;
            }
            for _ in 0..closing.len().min(chars.len() - i) {
                out.push(' ');
                i += 1;
            }
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                let skip = if chars[i] == '\\' { 2 } else { 1 };
                for _ in 0..skip.min(chars.len() - i) {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' {
            // A character literal ('a', '\n', '\u{1F600}'), or else a lifetime ('a) left as is.
            let end = if next == Some('\\') {
                chars[i + 2..]
                    .iter()
                    .position(|&q| q == '\'')
                    .map(|p| i + 2 + p)
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(end) => {
                    for _ in i..=end {
                        out.push(' ');
                    }
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    PathSep,
    Open,
    Close,
    Comma,
    Other(char),
}

/// Identifiers, `::`, braces and commas of code (see [`code_only`]), each with its line.
fn tokens(code: &str) -> Vec<(Token, usize)> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((Token::Ident(chars[start..i].iter().collect()), line));
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push((Token::PathSep, line));
            i += 2;
        } else {
            out.push((
                match c {
                    '{' => Token::Open,
                    '}' => Token::Close,
                    ',' => Token::Comma,
                    other => Token::Other(other),
                },
                line,
            ));
            i += 1;
        }
    }
    out
}

/// Every path in one file of `src/` (`file`, relative to `src/`) that names another of the
/// top-level `modules`.
fn imports_in(file: &str, text: &str, modules: &BTreeSet<String>) -> Vec<Import> {
    let Some(file_module) = module_path_of(file) else {
        return Vec::new();
    };
    let Some(from) = file_module.first().cloned() else {
        return Vec::new(); // the crate root only declares the modules
    };
    let toks = tokens(&code_only(text));
    let ident = |k: usize| match toks.get(k) {
        Some((Token::Ident(name), _)) => Some(name.as_str()),
        _ => None,
    };
    let is = |k: usize, t: &Token| toks.get(k).is_some_and(|(tok, _)| tok == t);
    let mut imports = Vec::new();
    let mut push = |to: &str, line: usize, path: String| {
        if to != from && modules.contains(to) {
            imports.push(Import {
                from: from.clone(),
                to: to.to_owned(),
                file: format!("src/{file}"),
                line,
                path,
            });
        }
    };
    // Inline modules (`mod tests {`) open at a brace depth; `super` inside one is the file's.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut pending_mod: Option<String> = None;
    let mut depth = 0;
    for k in 0..toks.len() {
        let (tok, line) = &toks[k];
        match tok {
            Token::Open => {
                depth += 1;
                if let Some(name) = pending_mod.take() {
                    inline.push((name, depth));
                }
            }
            Token::Close => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth -= 1;
            }
            Token::Ident(word) if word == "mod" => {
                pending_mod = ident(k + 1)
                    .filter(|_| is(k + 2, &Token::Open))
                    .map(str::to_owned);
            }
            Token::Ident(word)
                if matches!(word.as_str(), "crate" | "super" | "self")
                    && is(k + 1, &Token::PathSep)
                    && !(k > 0
                        && (is(k - 1, &Token::PathSep) || is(k - 1, &Token::Other('$')))) =>
            {
                let mut base: Vec<String> = match word.as_str() {
                    "crate" => Vec::new(),
                    _ => file_module
                        .iter()
                        .cloned()
                        .chain(inline.iter().map(|(name, _)| name.clone()))
                        .collect(),
                };
                let mut written = format!("{word}::");
                let mut j = k + 2;
                if word == "super" && base.pop().is_none() {
                    continue; // above the crate root: not ours to judge (it will not compile)
                }
                while ident(j) == Some("super") && is(j + 1, &Token::PathSep) {
                    if base.pop().is_none() {
                        break;
                    }
                    written.push_str("super::");
                    j += 2;
                }
                if let Some(top) = base.first() {
                    push(top, *line, written);
                } else if let Some(name) = ident(j) {
                    push(name, *line, format!("{written}{name}"));
                } else if is(j, &Token::Open) {
                    // A group at the crate root: the first name of each element.
                    let mut level = 0;
                    let mut element_starts = true;
                    for (t, at) in &toks[j..] {
                        match t {
                            Token::Open => {
                                level += 1;
                                element_starts = level == 1;
                            }
                            Token::Close => {
                                level -= 1;
                                if level == 0 {
                                    break;
                                }
                            }
                            Token::Comma => element_starts = level == 1,
                            Token::Ident(name) if element_starts => {
                                push(name, *at, format!("{written}{{{name}…}}"));
                                element_starts = false;
                            }
                            _ => element_starts = false,
                        }
                    }
                }
            }
            _ => {}
        }
    }
    imports
}

/// The `## Layers` table of ARCHITECTURE.md: each module and the modules it may import.
fn layers_table(architecture: &str) -> Result<BTreeMap<String, BTreeSet<String>>, String> {
    let section: Vec<(usize, &str)> = architecture
        .lines()
        .enumerate()
        .skip_while(|(_, l)| l.trim() != "## Layers")
        .skip(1)
        .take_while(|(_, l)| !l.starts_with("## "))
        .collect();
    if section.is_empty() {
        return Err("ARCHITECTURE.md has no `## Layers` section".into());
    }
    let names = |cell: &str| -> Vec<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .map(|name| name.trim().to_owned())
            .collect()
    };
    let mut table = BTreeMap::new();
    for (n, line) in section {
        let line = line.trim();
        if !line.starts_with('|') || line.starts_with("|-") || line.starts_with("| -") {
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').collect();
        let [module, may_import] = cells[..] else {
            return Err(format!(
                "ARCHITECTURE.md:{}: a row of `## Layers` has two cells",
                n + 1
            ));
        };
        let module = match names(module)[..] {
            [ref one] => one.clone(),
            _ if module.trim() == "module" => continue, // the header
            _ => {
                return Err(format!(
                    "ARCHITECTURE.md:{}: `{}` names no one module in backquotes",
                    n + 1,
                    module.trim()
                ));
            }
        };
        let allowed = names(may_import).into_iter().collect();
        if table.insert(module.clone(), allowed).is_some() {
            return Err(format!(
                "ARCHITECTURE.md:{}: `{module}` has two rows",
                n + 1
            ));
        }
    }
    Ok(table)
}

/// A cycle among the table's allowed imports, as `a -> b -> a`, if there is one.
fn cycle_in(table: &BTreeMap<String, BTreeSet<String>>) -> Option<String> {
    fn visit<'t>(
        module: &'t str,
        table: &'t BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'t str>,
        done: &mut BTreeSet<&'t str>,
    ) -> Option<String> {
        if let Some(at) = path.iter().position(|m| *m == module) {
            let mut cycle = path[at..].to_vec();
            cycle.push(module);
            return Some(cycle.join(" -> "));
        }
        if !done.insert(module) {
            return None;
        }
        path.push(module);
        for next in table.get(module).into_iter().flatten() {
            if let Some(cycle) = visit(next, table, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    table
        .keys()
        .find_map(|m| visit(m, table, &mut Vec::new(), &mut done))
}

/// What is wrong between the modules of `src/`, the table and the imports: modules the
/// table misses or names without their existing, a cycle in it, and each import it does
/// not allow (file, line, edge).
fn layer_problems(
    modules: &BTreeSet<String>,
    table: &BTreeMap<String, BTreeSet<String>>,
    imports: &[Import],
) -> Vec<String> {
    let mut problems = Vec::new();
    for (module, allowed) in table {
        for name in std::iter::once(module).chain(allowed) {
            if !modules.contains(name) {
                problems.push(format!(
                    "the `## Layers` table names `{name}`, which is no module of src/"
                ));
            }
        }
    }
    for module in modules {
        if !table.contains_key(module) {
            problems.push(format!("`{module}` has no row in the `## Layers` table"));
        }
    }
    if let Some(cycle) = cycle_in(table) {
        problems.push(format!("the `## Layers` table has a cycle: {cycle}"));
    }
    for import in imports {
        if !table
            .get(&import.from)
            .is_some_and(|allowed| allowed.contains(&import.to))
        {
            problems.push(format!(
                "{}:{}: {} -> {} (`{}`) is not in the `## Layers` table",
                import.file, import.line, import.from, import.to, import.path
            ));
        }
    }
    problems
}

/// The top-level modules `src/lib.rs` declares.
fn top_level_modules() -> BTreeSet<String> {
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).unwrap();
    let toks = tokens(&code_only(&lib));
    toks.windows(3)
        .filter_map(|w| match w {
            [
                (Token::Ident(m), _),
                (Token::Ident(name), _),
                (Token::Other(';'), _),
            ] if m == "mod" => Some(name.clone()),
            _ => None,
        })
        .collect()
}

/// Every import between top-level modules in `src/`.
fn imports_of_src(modules: &BTreeSet<String>) -> Vec<Import> {
    let src = root().join("src");
    rust_files(&src)
        .iter()
        .flat_map(|file| {
            let relative = file
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            imports_in(&relative, &std::fs::read_to_string(file).unwrap(), modules)
        })
        .collect()
}

#[test]
fn modules_import_only_what_the_layers_table_allows() {
    let modules = top_level_modules();
    assert!(modules.len() >= 10, "src/lib.rs declares {modules:?}");
    let architecture = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let table = layers_table(&architecture).unwrap_or_else(|e| panic!("{e}"));
    let imports = imports_of_src(&modules);
    let problems = layer_problems(&modules, &table, &imports);
    assert!(
        problems.is_empty(),
        "the layering of ARCHITECTURE.md's `## Layers` is broken:\n{}",
        problems.join("\n")
    );
}

/// The checker on a small made-up crate: it must find each forbidden edge, however the
/// path is written, name its file and line, and see no edge where there is none.
#[test]
fn the_layers_check_finds_forbidden_imports_cycles_and_unknown_modules() {
    let modules: BTreeSet<String> = ["app", "store", "domain", "jobs"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    let table: BTreeMap<String, BTreeSet<String>> = [
        ("app", &["store", "domain"][..]),
        ("store", &["domain"]),
        ("domain", &[]),
        ("jobs", &["app"]),
    ]
    .into_iter()
    .map(|(m, allowed)| {
        (
            m.to_owned(),
            allowed.iter().map(|a| (*a).to_owned()).collect(),
        )
    })
    .collect();
    let files = [
        // `super::` in a file of a directory module is that module (`app`): no edge; in its
        // `mod.rs` it is the crate root, so `super::jobs` is an edge to `jobs`.
        (
            "app/use_cases.rs",
            "//! Use cases.\nuse super::App;\nuse crate::store::Db;\n\nfn f() {\n    let _ = crate::jobs::NAME;\n}\n",
        ),
        (
            "app/mod.rs",
            "//! The app.\nmod use_cases;\nuse super::jobs::Job;\n// crate::jobs in a comment is no import\nconst S: &str = \"crate::jobs::X\";\n",
        ),
        // A group at the crate root, `super::` three times from a file two deep (the crate
        // root), and inside an inline module, where the first `super` is the file's module.
        (
            "store/deep/rows.rs",
            "//! Rows.\nuse crate::{domain::Class, jobs::Job};\nuse super::super::super::app::App;\nmod tests {\n    use super::super::super::app::Other;\n    use super::super::super::super::jobs::Job;\n}\n",
        ),
        (
            "domain/mod.rs",
            "//! Pure.\npub(super) fn f<'a>(x: &'a str) -> char { 'x' }\n",
        ),
    ];
    let imports: Vec<Import> = files
        .iter()
        .flat_map(|(file, text)| imports_in(file, text, &modules))
        .collect();
    let edges: Vec<String> = imports
        .iter()
        .map(|i| format!("{}:{} {} -> {}", i.file, i.line, i.from, i.to))
        .collect();
    assert_eq!(
        edges,
        [
            "src/app/use_cases.rs:3 app -> store",
            "src/app/use_cases.rs:6 app -> jobs",
            "src/app/mod.rs:3 app -> jobs",
            "src/store/deep/rows.rs:2 store -> domain",
            "src/store/deep/rows.rs:2 store -> jobs",
            "src/store/deep/rows.rs:3 store -> app",
            "src/store/deep/rows.rs:6 store -> jobs",
        ]
    );
    let problems = layer_problems(&modules, &table, &imports);
    assert_eq!(
        problems,
        [
            "src/app/use_cases.rs:6: app -> jobs (`crate::jobs`) is not in the `## Layers` table",
            "src/app/mod.rs:3: app -> jobs (`super::jobs`) is not in the `## Layers` table",
            "src/store/deep/rows.rs:2: store -> jobs (`crate::{jobs…}`) is not in the `## Layers` table",
            "src/store/deep/rows.rs:3: store -> app (`super::super::super::app`) is not in the `## Layers` table",
            "src/store/deep/rows.rs:6: store -> jobs (`super::super::super::super::jobs`) is not in the `## Layers` table",
        ]
    );

    // A table with a cycle, a module that does not exist, and a module left out.
    let bad = layers_table(
        "# A\n## Layers\n\n| module | may import |\n|---|---|\n| `app` | `store`, `domain` |\n| `store` | `app`, `cache` |\n| `domain` | |\n## Next\n| `jobs` | `app` |\n",
    )
    .unwrap();
    let problems = layer_problems(&modules, &bad, &[]);
    assert_eq!(
        problems,
        [
            "the `## Layers` table names `cache`, which is no module of src/",
            "`jobs` has no row in the `## Layers` table",
            "the `## Layers` table has a cycle: app -> store -> app",
        ]
    );
    assert!(layers_table("# No layers here\n").is_err());
}

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

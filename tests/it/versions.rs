//! One version, Cargo.toml's, wherever the server or a package states one: the binary
//! (`--version`, serverInfo), the MCP Bundle manifest, the MCP Registry entry (each package,
//! the image's tag) and, for PyPI, the README's registry proof. The npm and PyPI packages hold
//! no version of their own: `packaging/pack.py` writes it from Cargo.toml at pack time (and
//! `.ci/package` checks the packed files), so no file under `packaging/` or `.github/` may
//! write one down.

use std::path::Path;

use crate::support::*;
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json(path: &str) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `[package] version` as Cargo.toml writes it (read from the file, not from the build).
fn cargo_version() -> String {
    let toml = read("Cargo.toml");
    let package = toml.split("\n[").next().unwrap();
    let line = package
        .lines()
        .find(|l| l.starts_with("version = \""))
        .expect("Cargo.toml has a version");
    line.trim_start_matches("version = \"")
        .trim_end_matches('"')
        .to_string()
}

#[test]
fn the_version_is_one_string_every_registry_accepts() {
    let version = cargo_version();
    let parts: Vec<&str> = version.split('.').collect();
    assert!(
        parts.len() == 3 && parts.iter().all(|p| p.parse::<u32>().is_ok()),
        "{version}: X.Y.Z is a valid Cargo, npm, PyPI and image-tag version alike"
    );
}

#[test]
fn the_bundle_and_the_registry_entry_carry_cargos_version() {
    let version = cargo_version();
    assert_eq!(json("deploy/mcpb/manifest.json")["version"], version);
    let entry = json("deploy/registry/server.json");
    assert_eq!(entry["version"], version);
    let packages = entry["packages"].as_array().unwrap();
    let kinds: Vec<&str> = packages
        .iter()
        .map(|p| p["registryType"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["npm", "pypi", "oci"]);
    for p in packages {
        match p["registryType"].as_str().unwrap() {
            "oci" => {
                let id = p["identifier"].as_str().unwrap();
                assert!(id.ends_with(&format!(":{version}")), "{id}");
                assert!(
                    p.get("version").is_none(),
                    "the registry refuses it for oci"
                );
            }
            _ => assert_eq!(p["version"], version, "{}", p["identifier"]),
        }
    }
}

#[test]
fn the_readme_carries_the_pypi_registry_proof() {
    let name = json("deploy/registry/server.json")["name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        read("README.md").contains(&format!("<!-- mcp-name: {name} -->")),
        "PyPI shows the README: the registry finds `mcp-name: {name}` there"
    );
}

#[test]
fn no_packaging_file_writes_a_version_down() {
    let version = cargo_version();
    let mut files = Vec::new();
    for dir in ["packaging", ".github/workflows"] {
        let mut stack = vec![root().join(dir)];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    files.push(path);
                }
            }
        }
    }
    assert!(files.len() >= 5, "{files:?}");
    let numeric = |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit() || c == '.');
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for (at, _) in text.match_indices(&version) {
            let before = text[..at].chars().next_back();
            let after = text[at + version.len()..].chars().next();
            assert!(
                numeric(before) || numeric(after),
                "{}: writes down {version}; take it from Cargo.toml at pack time",
                path.display()
            );
        }
    }
}

#[tokio::test]
async fn the_binary_says_cargos_version() {
    let version = cargo_version();
    let out = std::process::Command::new(binary())
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("datasource-mcp {version}")
    );
    let (stdout, _, status) = run_stdio(&[], &[], &handshake()).await;
    assert!(status.success());
    let init: Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(init["result"]["serverInfo"]["version"], version);
}

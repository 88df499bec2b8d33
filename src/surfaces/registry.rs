//! The MCP Registry entry (`server.json`), generated from the providers' table like the MCP
//! Bundle manifest: the packages a client can install the server from (npm, PyPI, an OCI
//! image, and at release time one MCP Bundle per platform), each with every variable a
//! provider reads (secret or not; none required, since every provider is optional).
//!
//! Names come from Cargo.toml: the version from `version`, the server name, the image and the
//! bundles' download URLs from `repository` (`https://github.com/OWNER/REPO` →
//! `io.github.OWNER/REPO`, the namespace the registry grants to the GitHub owner).
//!
//! `deploy/registry/server.json` is the checked-in copy (`datasource-mcp generate`). A bundle's
//! `fileSha256` is only known once the release has built it, so the file published with a
//! release is this one plus its bundles: `datasource-mcp server-json --bundles SHA256SUMS`.

use serde_json::{Value, json};

use crate::providers;

/// The `server.json` schema this file follows (the registry's published one).
pub const SCHEMA: &str =
    "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json";

/// The npm package (`npx -y datasource-mcp`); its platform packages are `@OWNER/<platform>`.
pub const NPM_PACKAGE: &str = "datasource-mcp";

/// The PyPI project: `datasource-mcp` is taken on PyPI by an unrelated project. Its wheel
/// installs both `datasource-mcp` and `datasource-mcp-server`.
pub const PYPI_PACKAGE: &str = "datasource-mcp-server";

/// Under 100 characters, the registry's limit (Cargo's description is longer).
pub const DESCRIPTION: &str =
    "Manage data sources and connectors on BigID, Pentaho Data Catalog, Bigdata.com and DataBrain";

/// The repository, from Cargo.toml: `https://github.com/OWNER/REPO`.
pub const REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");

/// `(OWNER, REPO)` of the GitHub repository.
fn github() -> (&'static str, &'static str) {
    let path = REPOSITORY
        .strip_prefix("https://github.com/")
        .expect("Cargo.toml's repository is a https://github.com/OWNER/REPO URL");
    path.split_once('/')
        .expect("Cargo.toml's repository names OWNER/REPO")
}

/// `io.github.OWNER/REPO`: the name the registry lets the repository's GitHub owner publish.
pub fn server_name() -> String {
    let (owner, repo) = github();
    format!("io.github.{owner}/{repo}")
}

/// The release image, without a tag: `ghcr.io/owner/repo`.
pub fn image() -> String {
    let (owner, repo) = github();
    format!("ghcr.io/{owner}/{repo}").to_ascii_lowercase()
}

/// Where a release's asset is downloaded from.
pub fn release_asset_url(file: &str) -> String {
    format!(
        "{REPOSITORY}/releases/download/v{}/{file}",
        env!("CARGO_PKG_VERSION")
    )
}

/// Every variable the server reads from the environment for its providers, plus read-only.
fn environment_variables() -> Vec<Value> {
    let mut vars = Vec::new();
    for spec in providers::VENDORS {
        for var in spec.env {
            let help = match var.help.strip_suffix(" (required)") {
                Some(help) => format!("{help} (required to use {})", spec.title),
                None => var.help.to_string(),
            };
            vars.push(json!({
                "name": var.name,
                "description": format!("{}: {help}", spec.title),
                "isRequired": false,
                "isSecret": var.secret,
                "format": "string",
            }));
        }
    }
    vars.push(json!({
        "name": "DATASOURCE_MCP_READ_ONLY",
        "description": "Offer only tools that change nothing (no create, update, delete or sync)",
        "isRequired": false,
        "isSecret": false,
        "format": "boolean",
        "default": "false",
    }));
    vars
}

/// The entry, with one `mcpb` package per bundle given as `(file name, sha256)`.
pub fn server_json(bundles: &[(String, String)]) -> Value {
    let version = env!("CARGO_PKG_VERSION");
    let stdio = json!({"type": "stdio"});
    let env = environment_variables();
    let mut packages = vec![
        json!({
            "registryType": "npm",
            "identifier": NPM_PACKAGE,
            "version": version,
            "runtimeHint": "npx",
            "transport": stdio,
            "environmentVariables": env,
        }),
        json!({
            "registryType": "pypi",
            "identifier": PYPI_PACKAGE,
            "version": version,
            "runtimeHint": "uvx",
            "transport": stdio,
            "environmentVariables": env,
        }),
        // The registry takes an image's version from its tag (and refuses a `version` field).
        json!({
            "registryType": "oci",
            "identifier": format!("{}:{version}", image()),
            "runtimeHint": "docker",
            "transport": stdio,
            "environmentVariables": env,
        }),
    ];
    for (file, sha256) in bundles {
        packages.push(json!({
            "registryType": "mcpb",
            "identifier": release_asset_url(file),
            "version": version,
            "fileSha256": sha256,
            "transport": stdio,
        }));
    }
    let titles: Vec<&str> = providers::VENDORS.iter().map(|p| p.title).collect();
    json!({
        "$schema": SCHEMA,
        "name": server_name(),
        "title": format!("Data sources ({})", titles.join(", ")),
        "description": DESCRIPTION,
        "version": version,
        "repository": {"url": REPOSITORY, "source": "github"},
        "websiteUrl": format!("{REPOSITORY}#readme"),
        "packages": packages,
    })
}

/// The bundles of a `SHA256SUMS` file (`<sha256>  <file>` lines, as `sha256sum` writes them):
/// every `.mcpb` of this version. A bundle of another version is an error (a stale file in
/// the release directory would be published with the wrong URL).
pub fn bundles_from_sums(sums: &str) -> Result<Vec<(String, String)>, String> {
    let prefix = format!("datasource-mcp-{}-", env!("CARGO_PKG_VERSION"));
    let mut bundles = Vec::new();
    for line in sums.lines().filter(|l| !l.trim().is_empty()) {
        let (sha, file) = line
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("not a `<sha256>  <file>` line: {line}"))?;
        let file = file.trim_start().trim_start_matches('*');
        if !file.ends_with(".mcpb") {
            continue;
        }
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("{file}: not a sha256: {sha}"));
        }
        if !file.starts_with(&prefix) || file.contains('/') {
            return Err(format!("{file}: not a bundle of this version ({prefix}…)"));
        }
        bundles.push((file.to_string(), sha.to_ascii_lowercase()));
    }
    if bundles.is_empty() {
        return Err("no .mcpb in the checksums".into());
    }
    Ok(bundles)
}

/// The checked-in form (no bundles).
pub fn server_json_text() -> String {
    text(&server_json(&[]))
}

/// Pretty JSON with a final newline.
pub fn text(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_variable_is_offered_and_credentials_are_secret() {
        let entry = server_json(&[]);
        for package in entry["packages"].as_array().unwrap() {
            let vars = package["environmentVariables"].as_array().unwrap();
            for spec in providers::VENDORS {
                for var in spec.env {
                    let v = vars.iter().find(|v| v["name"] == var.name).unwrap();
                    assert_eq!(v["isSecret"], var.secret, "{}", var.name);
                    assert_eq!(v["isRequired"], false, "{}", var.name);
                }
            }
        }
        assert_eq!(entry["name"], "io.github.datasource-mcp/datasource-mcp");
        assert!(DESCRIPTION.len() <= 100, "the registry's limit");
    }

    #[test]
    fn bundles_come_from_the_checksums_of_this_version() {
        let v = env!("CARGO_PKG_VERSION");
        let sha = "ab".repeat(32);
        let sums = format!(
            "{sha}  datasource-mcp-{v}-x86_64-unknown-linux-gnu.tar.gz\n\
             {sha}  datasource-mcp-{v}-linux-x86_64.mcpb\n\
             {sha} *datasource-mcp-{v}-win32-x86_64.mcpb\n"
        );
        let bundles = bundles_from_sums(&sums).unwrap();
        assert_eq!(
            bundles,
            vec![
                (format!("datasource-mcp-{v}-linux-x86_64.mcpb"), sha.clone()),
                (format!("datasource-mcp-{v}-win32-x86_64.mcpb"), sha.clone()),
            ]
        );
        let entry = server_json(&bundles);
        let mcpb = &entry["packages"][3];
        assert_eq!(mcpb["registryType"], "mcpb");
        assert_eq!(
            mcpb["identifier"],
            format!(
                "https://github.com/datasource-mcp/datasource-mcp/releases/download/v{v}/datasource-mcp-{v}-linux-x86_64.mcpb"
            )
        );
        assert_eq!(mcpb["fileSha256"], sha);
        let stale = format!("{sha}  datasource-mcp-0.0.1-linux-x86_64.mcpb\n");
        assert!(bundles_from_sums(&stale).is_err());
        assert!(bundles_from_sums("").is_err());
    }
}

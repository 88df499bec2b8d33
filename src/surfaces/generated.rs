//! The checked-in files generated from the table: one JSON definition per tool under
//! `tool-schemas/`, the tool table in `README.md`, the MCP Bundle manifest
//! `deploy/mcpb/manifest.json`, the MCP Registry entry `deploy/registry/server.json`, and the
//! ledger of vendor facts `VENDORS.md`. `datasource-mcp generate` writes them; a test fails when one
//! is stale, so a change to a row shows up in review wherever it is visible.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{bundle, definition, reference, registry};
use crate::operation::{Fact, OperationSpec};
use crate::providers;

/// Where the tool definitions go, relative to the repository root.
pub const SCHEMAS_DIR: &str = "tool-schemas";
pub const README: &str = "README.md";
pub const MANIFEST: &str = "deploy/mcpb/manifest.json";
pub const SERVER_JSON: &str = "deploy/registry/server.json";
pub const VENDORS: &str = "VENDORS.md";

const TABLE_BEGIN: &str = "<!-- generated: tool table (datasource-mcp generate) -->";
const TABLE_END: &str = "<!-- end of generated tool table -->";

/// The checked-in form of one tool definition.
pub fn schema_file_text(op: &OperationSpec) -> String {
    let mut text = serde_json::to_string_pretty(&definition::snapshot(op)).unwrap_or_default();
    text.push('\n');
    text
}

/// The README's tool table: every row, its request and what it may do.
pub fn tool_table() -> String {
    let mut out = String::from("| tool | request | access | what it does |\n|---|---|---|---|\n");
    for op in providers::operations() {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            op.name,
            reference::request_text(op),
            reference::access(op),
            op.description.replace('|', "\\|")
        ));
    }
    out
}

/// The ledger of vendor facts: what the code relies on about each vendor, where it comes
/// from, and how sure we are.
pub fn vendors_markdown() -> String {
    let mut out = String::from(
        "# Vendor facts\n\n\
Every fact about a vendor's API that this server relies on (paths, bodies, statuses, error \
shapes, values, login flows), with its public source and how sure we are of it, strongest \
first: **vendor docs** (the vendor's own documentation), **vendor code** (the vendor's own \
SDK, CLI, MCP server or samples), **community client** (a client that runs against real \
instances), **assumed** (no evidence found: what the code does, and why). Each row of the \
code carries its facts (`src/providers/<vendor>.rs`); this file is generated from them \
(`datasource-mcp generate`).\n\n\
When a vendor refuses a request whose shape is assumed, the error's hint says so. If your \
vendor answers differently from what is written here, run the server with \
`--trace-vendor FILE` and attach the file (it is masked like every other output) to a report.\n\n\
`datasource-mcp verify` checks every assumed fact below against your own tenant (read-only; \
`--write` also makes, changes and deletes a throwaway source) and writes a report you can \
attach: each fact's line under \"Still assumed\" says how it is checked, or why it cannot be \
checked safely.\n",
    );
    let row = |f: &Fact| {
        format!(
            "| {} | {} | {} | {} |\n",
            f.about.as_str(),
            f.claim.replace('|', "\\|"),
            f.source.reference().replace('|', "\\|"),
            f.source.confidence()
        )
    };
    const HEAD: &str = "| about | fact | source | confidence |\n|---|---|---|---|\n";
    for spec in providers::VENDORS {
        out.push_str(&format!("\n## {}\n\n{HEAD}", spec.title));
        spec.facts.iter().for_each(|f| out.push_str(&row(f)));
        for op in spec.operations {
            out.push_str(&format!("\n### `{}`\n\n{HEAD}", op.name));
            op.facts.iter().for_each(|f| out.push_str(&row(f)));
        }
    }
    out.push_str("\n## Still assumed\n\n");
    for spec in providers::VENDORS {
        let provider = spec.facts.iter().map(|f| (spec.title.to_string(), f));
        let rows = spec
            .operations
            .iter()
            .flat_map(|op| op.facts.iter().map(move |f| (format!("`{}`", op.name), f)));
        for (whose, f) in provider.chain(rows).filter(|(_, f)| f.source.is_assumed()) {
            let refused = f
                .if_refused
                .map(|what| format!(" — when refused: {what}"))
                .unwrap_or_default();
            let checked = match (f.verify.read.is_some(), f.verify.write.is_some()) {
                (true, true) => "verify: read-only probe, and `--write`".to_string(),
                (true, false) => "verify: read-only probe".to_string(),
                (false, true) => "verify: `--write`".to_string(),
                (false, false) => format!(
                    "verify cannot check it: {}",
                    f.verify.cannot.unwrap_or("no check is declared")
                ),
            };
            out.push_str(&format!(
                "- {whose}: {} ({}){refused} [{checked}]\n",
                f.claim,
                f.source.reference()
            ));
        }
    }
    out
}

/// `readme` with its generated table replaced by the current one.
fn readme_with_table(readme: &str) -> Result<String, String> {
    let begin = readme
        .find(TABLE_BEGIN)
        .ok_or_else(|| format!("{README} has no `{TABLE_BEGIN}` marker"))?;
    let end = readme
        .find(TABLE_END)
        .filter(|end| *end > begin)
        .ok_or_else(|| format!("{README} has no `{TABLE_END}` marker after the first"))?;
    Ok(format!(
        "{}{TABLE_BEGIN}\n{}{}",
        &readme[..begin],
        tool_table(),
        &readme[end..]
    ))
}

/// Every generated file under `root`, with its expected content.
fn expected(root: &Path) -> Result<Vec<(PathBuf, String)>, String> {
    let mut files: Vec<(PathBuf, String)> = providers::operations()
        .map(|op| {
            (
                Path::new(SCHEMAS_DIR).join(format!("{}.json", op.name)),
                schema_file_text(op),
            )
        })
        .collect();
    files.push((PathBuf::from(MANIFEST), bundle::manifest_text()));
    files.push((PathBuf::from(SERVER_JSON), registry::server_json_text()));
    files.push((PathBuf::from(VENDORS), vendors_markdown()));
    let readme =
        std::fs::read_to_string(root.join(README)).map_err(|e| format!("{README}: {e}"))?;
    files.push((PathBuf::from(README), readme_with_table(&readme)?));
    Ok(files)
}

/// What differs between `root` and the generated files; with `write`, rewrites them (and
/// removes tool definitions no row has any more). Returns what differed before writing.
pub fn sync(root: &Path, write: bool) -> Result<Vec<String>, String> {
    let io = |path: &Path, e: std::io::Error| format!("{}: {e}", path.display());
    let mut diffs = Vec::new();
    let files = expected(root)?;
    let mut known = BTreeSet::new();
    for (relative, text) in &files {
        known.insert(relative.clone());
        let path = root.join(relative);
        match std::fs::read_to_string(&path) {
            Ok(current) if current == *text => continue,
            Ok(_) => diffs.push(format!("changed: {}", relative.display())),
            Err(_) => diffs.push(format!("missing: {}", relative.display())),
        }
        if write {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
            }
            std::fs::write(&path, text).map_err(|e| io(&path, e))?;
        }
    }
    if let Ok(entries) = std::fs::read_dir(root.join(SCHEMAS_DIR)) {
        for entry in entries.flatten() {
            let relative = Path::new(SCHEMAS_DIR).join(entry.file_name());
            let is_json = relative.extension().is_some_and(|e| e == "json");
            if is_json && !known.contains(&relative) {
                diffs.push(format!("not in the table: {}", relative.display()));
                if write {
                    std::fs::remove_file(entry.path()).map_err(|e| io(&entry.path(), e))?;
                }
            }
        }
    }
    Ok(diffs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_replaces_only_what_is_between_the_markers() {
        let readme = format!("# x\n\n{TABLE_BEGIN}\nstale-row-7f3a\n{TABLE_END}\n\nafter\n");
        let out = readme_with_table(&readme).unwrap();
        assert!(out.starts_with(&format!("# x\n\n{TABLE_BEGIN}\n| tool | request |")));
        assert!(out.ends_with(&format!("|\n{TABLE_END}\n\nafter\n")));
        assert!(!out.contains("stale-row-7f3a"));
        assert_eq!(readme_with_table(&out).unwrap(), out, "stable");
        assert!(readme_with_table("no markers").is_err());
    }
}

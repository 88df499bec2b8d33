//! Agent Skill export (`datasource-mcp skill --out DIR`): a `SKILL.md` with what an agent
//! needs to drive the `datasource-mcp` command safely, and `reference/<provider>.md` with one
//! section per tool (purpose, arguments, example call), all generated from the operation table
//! so the skill cannot drift from what the tools accept.

use std::path::PathBuf;

use super::{prompts, reference};
use crate::operation::{OperationSpec, Provider};
use crate::providers;

/// The skill's name (front matter): lowercase letters, digits and hyphens.
pub const NAME: &str = "datasource-mcp";

/// When an agent should use the skill (front matter; at most 1,024 characters), naming every
/// provider of the table.
pub fn description() -> String {
    let titles: Vec<&str> = providers::VENDORS.iter().map(|p| p.title).collect();
    format!(
        "Manage data-source and connector connections on {} with the datasource-mcp command (list \
and inspect data sources, read connector templates, test connections, create, update, delete and \
sync sources). Use when asked to connect, onboard, audit, fix or remove a data source or connector \
on one of these platforms.",
        titles.join(", ")
    )
}

/// The files of the skill, relative to its folder, for the given tools (in table order).
pub fn files(ops: &[&'static OperationSpec], read_only: bool) -> Vec<(PathBuf, String)> {
    let mut files = vec![(PathBuf::from("SKILL.md"), skill_md(ops, read_only))];
    for provider in providers_of(ops) {
        let spec = provider.spec();
        let mut page = format!(
            "# {} tools (`{}`)\n\nConfigured by: {}.\n\n{}\n",
            spec.title, spec.id, spec.setup, spec.guide.instructions
        );
        let can_onboard = spec
            .guide
            .onboard_tools
            .iter()
            .all(|t| ops.iter().any(|op| op.name == *t));
        if can_onboard {
            page.push_str(&format!(
                "\n## Onboarding\n\n{}\n",
                spec.guide.onboard_steps
            ));
        }
        if ops.iter().any(|op| op.name == spec.guide.audit_tool) {
            page.push_str(&format!("\n## Audit\n\n{}\n", spec.guide.audit_step));
        }
        for op in ops.iter().filter(|op| op.provider == provider) {
            page.push('\n');
            page.push_str(&reference::tool_section(op, 2));
        }
        files.push((PathBuf::from(format!("reference/{}.md", spec.id)), page));
    }
    files
}

fn providers_of(ops: &[&'static OperationSpec]) -> Vec<Provider> {
    prompts::Tools(ops).toolsets()
}

fn skill_md(ops: &[&'static OperationSpec], read_only: bool) -> String {
    let mut out = format!("---\nname: {NAME}\ndescription: {}\n---\n\n", description());
    out.push_str(
        "# Data sources and connectors with datasource-mcp\n\n\
Every vendor operation is one command:\n\n\
```sh\n\
datasource-mcp call <tool> --args '<JSON object>'\n\
datasource-mcp call <tool> key=value ...        # same; a dotted key nests: ds_connection.name=Orders\n\
```\n\n\
It validates the arguments before sending anything, calls the vendor and prints the result as \
JSON on stdout (a list comes as `{\"items\": [...]}`). Exit codes: `0` success; `1` the tool \
failed, with `{\"error\": {\"provider\", \"status\", \"code\", \"message\", \"hint\"}}` on stdout \
(invalid arguments also name the `field`) — follow the `hint`; `2` the command could not run \
(unknown tool, provider not configured, malformed `--args`), with the reason on stderr.\n\n\
## Before you start\n\n\
- `datasource-mcp doctor` shows which providers are configured, reachable and accept their \
credentials. Credentials come only from the environment; never ask for them in the \
conversation or put them on a command line.\n\
- `datasource-mcp tools` lists the tools this environment enables.\n\
- No vendor account, or just practising? Add `--sandbox` to any command: simulated vendor APIs \
with seeded data, fresh on every run, nothing reaches a real vendor.\n\n\
## Safe use\n\n\
1. **Read before you write**: list or get what exists, fetch the connector template, test the \
connection, and only then create.\n\
2. **Dry run first**: every tool that changes something takes `\"dry_run\": true`, which prints \
the exact request (method, URL, body, credential masked) and sends nothing. Show it to the user \
and get a yes before running it without `dry_run`.\n\
3. **No passwords in commands**: give a database password or cloud key as a secret reference, \
`\"password\": \"${secret:ORDERS_DB_PASSWORD}\"`; the command reads it from \
`DATASOURCE_MCP_SECRET_ORDERS_DB_PASSWORD` in its environment, a file `ORDERS_DB_PASSWORD` in \
`DATASOURCE_MCP_SECRETS_DIR`, or the OS keychain. A dry run asks for nothing; when the call that \
makes the change finds no value, it prints a one-time link on stderr where the user types it, and \
waits. Never ask for the value yourself.\n\
4. **Read-only when only looking**: `datasource-mcp --read-only call ...` refuses every tool that \
changes something; use it for audits and questions.\n\
5. **Destructive tools** (deletes, and updates marked destructive below) need the user's explicit \
confirmation naming the source.\n\
6. **Never retry a write blindly**: a create or change is sent exactly once. `NOT_CREATED` means \
nothing happened and it is safe to call again; `OUTCOME_UNKNOWN` means check with the tool the \
hint names before calling again.\n\n\
## Workflows\n\n\
- **Onboard a source**: follow the provider's onboarding steps in its reference page: check \
what exists → read what the type requires → test the connection where the vendor can → create \
with `dry_run`, get a yes, create → get it back to verify.\n\
- **Audit**: with `--read-only`, list the sources of every configured provider and report those \
disabled, failing their connection test, archived or never synced.\n",
    );
    if read_only {
        out.push_str(
            "\nThis skill was exported in read-only mode: it lists only tools that change nothing.\n",
        );
    }
    out.push_str("\n## Tools\n\n");
    for provider in providers_of(ops) {
        let spec = provider.spec();
        out.push_str(&format!(
            "### {} — arguments and examples in [reference/{}.md](reference/{}.md)\n\n| tool | access | what it does |\n|---|---|---|\n",
            spec.title, spec.id, spec.id
        ));
        for op in ops.iter().filter(|op| op.provider == provider) {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                op.name,
                reference::access(op),
                first_sentence(op.description).replace('|', "\\|")
            ));
        }
        out.push('\n');
    }
    out.pop();
    out
}

/// Up to the first full stop that ends a sentence (not the one of "e.g." or "i.e.").
fn first_sentence(text: &str) -> &str {
    let mut from = 0;
    while let Some(i) = text[from..].find(". ").map(|i| i + from) {
        if !(text[..i].ends_with("e.g") || text[..i].ends_with("i.e")) {
            return &text[..=i];
        }
        from = i + 2;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::providers;

    fn all() -> Vec<&'static OperationSpec> {
        providers::operations().collect()
    }

    #[test]
    fn the_front_matter_follows_the_agent_skills_rules() {
        let files = files(&all(), false);
        let skill = &files[0].1;
        let front = skill
            .strip_prefix("---\n")
            .and_then(|rest| rest.split_once("\n---\n"))
            .map(|(front, _)| front)
            .expect("front matter");
        let lines: Vec<&str> = front.lines().collect();
        assert_eq!(
            lines,
            [
                format!("name: {NAME}"),
                format!("description: {}", description())
            ]
        );
        assert!(NAME.len() <= 64);
        assert!(
            NAME.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
        let d = description();
        assert!(d.len() <= 1024 && !d.contains(": "));
    }

    /// The reference matches the table: every tool exactly once, on its provider's page, with
    /// its description, request and the example call from its row.
    #[test]
    fn the_reference_has_every_tool_of_the_table_once() {
        let files = files(&all(), false);
        for op in providers::operations() {
            let page = format!("reference/{}.md", op.provider.id());
            let mut found = 0;
            for (path, text) in &files {
                let count = text.matches(&format!("\n## {}\n", op.name)).count();
                if count > 0 {
                    assert_eq!(path.to_str().unwrap(), page, "{}", op.name);
                    assert!(text.contains(op.description), "{}", op.name);
                    assert!(
                        text.contains(&format!("- Request: {}", reference::request_text(op))),
                        "{}",
                        op.name
                    );
                    assert!(
                        text.contains(&reference::example_command(op)),
                        "{}",
                        op.name
                    );
                }
                found += count;
            }
            assert_eq!(found, 1, "{}", op.name);
            assert!(
                files[0]
                    .1
                    .contains(&format!("| `{}` | {} |", op.name, reference::access(op))),
                "SKILL.md lists {}",
                op.name
            );
            assert!(
                !op.example.contains('\''),
                "{}: the example must be shell-quotable",
                op.name
            );
        }
        let pages: Vec<String> = files[1..]
            .iter()
            .map(|(p, _)| p.to_str().unwrap().to_string())
            .collect();
        let expected: Vec<String> = providers::ALL
            .iter()
            .map(|p| format!("reference/{}.md", p.id))
            .collect();
        assert_eq!(pages, expected);
    }

    #[test]
    fn a_read_only_export_lists_only_reads() {
        let reads: Vec<&'static OperationSpec> = providers::operations()
            .filter(|op| op.hints.read_only)
            .collect();
        let files = files(&reads, true);
        let everything: String = files.iter().map(|(_, t)| t.as_str()).collect();
        assert!(everything.contains("exported in read-only mode"));
        for op in providers::operations() {
            assert_eq!(
                everything.contains(&format!("`{}`", op.name)),
                op.hints.read_only,
                "{}",
                op.name
            );
        }
    }
}

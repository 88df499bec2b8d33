//! Reference documentation generated from the operation table: one markdown page per tool
//! (purpose, request, access, every argument, an example `datasource-mcp call`) and an
//! overview. Served as MCP resources and written by the skill export, so the docs can never
//! drift from what the tools accept.

use serde_json::{Map, Value};

use super::definition;
use crate::operation::OperationSpec;
use crate::providers;

/// What a tool may do, in words.
pub fn access(op: &OperationSpec) -> &'static str {
    match (op.hints.read_only, op.hints.destructive) {
        (true, _) => "read-only",
        (false, true) => "destructive",
        (false, false) => "write",
    }
}

/// The overview page: every given tool, by provider.
pub fn catalog_markdown(ops: &[&OperationSpec]) -> String {
    let mut out = String::from("# datasource-mcp tools\n");
    let mut provider = None;
    for op in ops {
        if provider != Some(op.provider) {
            provider = Some(op.provider);
            let spec = op.provider.spec();
            out.push_str(&format!("\n## {} (`{}`)\n\n", spec.title, spec.id));
        }
        out.push_str(&format!(
            "- `{}` ({}): {}\n",
            op.name,
            access(op),
            op.description
        ));
    }
    out
}

/// One tool's page.
pub fn tool_markdown(op: &OperationSpec) -> String {
    tool_section(op, 1)
}

/// One tool's reference under a heading of `level` (1 for `#`), its parts one level below.
pub fn tool_section(op: &OperationSpec, level: usize) -> String {
    let (h, sub) = ("#".repeat(level), "#".repeat(level + 1));
    let mut out = format!("{h} {}\n\n{}\n\n{}\n\n", op.name, op.title, op.description);
    out.push_str(&format!(
        "- Provider: {} (toolset `{}`)\n- Request: {}\n- Access: {}{}\n",
        op.provider.spec().title,
        op.provider.id(),
        request_text(op),
        access(op),
        if op.hints.idempotent && !op.hints.read_only {
            ", idempotent"
        } else {
            ""
        }
    ));
    if op.mutates() {
        out.push_str("- Takes `dry_run: true` to show the request without sending it\n");
    }
    out.push_str(&format!("\n{sub} Arguments\n\n"));
    let mut rows = Vec::new();
    argument_rows(&definition::input_schema(op, false), "", &mut rows);
    if rows.is_empty() {
        out.push_str("None.\n");
    } else {
        out.push_str("| argument | type | required | description |\n|---|---|---|---|\n");
        for (name, kind, required, description) in rows {
            out.push_str(&format!(
                "| `{name}` | {kind} | {} | {} |\n",
                if required { "yes" } else { "no" },
                description.replace('|', "\\|")
            ));
        }
    }
    out.push_str(&format!(
        "\n{sub} Example\n\n```sh\n{}\n```\n",
        example_command(op)
    ));
    out
}

/// The example call of a tool, as a shell command.
pub fn example_command(op: &OperationSpec) -> String {
    format!("datasource-mcp call {} --args '{}'", op.name, op.example)
}

type Row = (String, String, bool, String);

/// Flattens a schema's properties into rows, nested objects as `parent.child`.
fn argument_rows(schema: &Map<String, Value>, prefix: &str, rows: &mut Vec<Row>) {
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, prop) in props {
        let full = format!("{prefix}{name}");
        let description = prop
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        rows.push((
            full.clone(),
            type_text(prop),
            required.contains(&name.as_str()),
            description,
        ));
        if let Some(obj) = prop.as_object() {
            argument_rows(obj, &format!("{full}."), rows);
            if let Some(Value::Array(shapes)) = obj.get("anyOf") {
                for shape in shapes.iter().filter_map(Value::as_object) {
                    let title = shape.get("title").and_then(Value::as_str).unwrap_or("");
                    let mut nested = Vec::new();
                    argument_rows(shape, &format!("{full}."), &mut nested);
                    for (n, k, r, d) in nested {
                        rows.push((n, k, r, format!("({title}) {d}")));
                    }
                }
            }
        }
    }
}

fn type_text(prop: &Value) -> String {
    if let Some(values) = prop.get("enum").and_then(Value::as_array) {
        let names: Vec<String> = values
            .iter()
            .map(|v| format!("`{}`", v.as_str().unwrap_or("")))
            .collect();
        return format!("one of {}", names.join(", "));
    }
    let kind = prop.get("type").and_then(Value::as_str).unwrap_or("any");
    match kind {
        "array" => {
            let item = prop
                .get("items")
                .map(type_text)
                .unwrap_or_else(|| "any".into());
            format!("list of {item}")
        }
        other => other.to_string(),
    }
}

/// A row's request(s), in words.
pub fn request_text(op: &OperationSpec) -> String {
    if op.flow.fan_out {
        let lists: Vec<String> = crate::providers::VENDORS
            .iter()
            .filter_map(|v| v.inventory.as_ref())
            .map(|i| format!("`{}`", i.tool))
            .collect();
        let lists = lists.join(", ");
        return match op.path {
            "/apply" => format!(
                "each platform's list at once ({lists}) to check the plan still holds, then each change through its own tool"
            ),
            "/test" => format!(
                "each platform's list at once ({lists}), then each matching source's stored-source test"
            ),
            _ => format!("each configured platform's list at once: {lists}"),
        };
    }
    let mut text = format!("`{} {}`", op.method.as_str(), op.path);
    if let Some(read) = op.flow.read_first {
        text = format!("reads `GET {}`, then {text}", read.path);
    }
    if let Some(fallback) = op.flow.fallback {
        match fallback.path {
            Some(second) => text.push_str(&format!(" (if rejected: `{second}`)")),
            None => text.push_str(" (if rejected: once more in its alternative form)"),
        }
    }
    if let Some(poll) = op.flow.then_poll {
        match poll.status_path {
            Some(status) => text.push_str(&format!(" (with `wait`: `GET {status}` until done)")),
            None => text.push_str(" (with `wait`: read again until done)"),
        }
    }
    text
}

/// The desired-state file's format (the `datasource-mcp://state` resource, and the README's
/// section), from each platform's state spec: nothing here can disagree with the planner.
pub fn state_markdown() -> String {
    let mut out = String::from(
        "# Desired-state file\n\n\
         YAML or JSON. Each platform's sources are listed under its id, in the vendor's own field \
         names: an entry is what the platform's create tool takes, and is checked against that \
         tool's arguments (every error names file, line and field) before anything is sent.\n\n\
         - `version: 1` (optional).\n\
         - Credentials only as `${secret:NAME}` references; a literal password, key or token in \
         the file is refused, naming its line. A plan or export never holds a credential.\n\
         - `managed: true` under a platform: a source it holds that the file does not list is \
         deleted (only there; otherwise it is left alone).\n\
         - An entry is matched to a source by its key (case-insensitive). A source listed but \
         not compared (the vendor shows no settings) is `kept`.\n\n\
         | platform | list key | matched by | created with | updated with | deleted with |\n\
         |---|---|---|---|---|---|\n",
    );
    for spec in providers::VENDORS {
        let Some(state) = providers::state(spec.provider) else {
            continue;
        };
        out.push_str(&format!(
            "| `{}` | `{}` | `{}` | `{}` | {} | {} |\n",
            spec.id,
            state.section,
            state.key,
            state.create.0,
            state
                .update
                .map_or("not compared".to_string(), |(tool, _)| format!("`{tool}`")),
            state.delete.map_or(
                "not offered: the plan says so".to_string(),
                |(tool, _)| format!("`{tool}`")
            ),
        ));
    }
    out.push_str(
        "\nExample:\n\n```yaml\nversion: 1\nbigid:\n  data_sources:\n    - name: Orders MySQL\n      type: rdb-mysql\n      rdb_url: mysql.orders.example:3306\n      rdb_name: orders\n      username: bigid_scan\n      password: ${secret:ORDERS_MYSQL_PASSWORD}\n      enabled: \"yes\"\npdc:\n  data_sources:\n    - resourceName: orders-replica\n      databaseType: POSTGRES\n      host: pg.example.com\n      port: \"5432\"\n      databaseName: orders\n      userName: pdc\n      password: ${secret:PDC_ORDERS_PASSWORD}\nbigdata:\n  managed: true\n  connectors:\n    - type: email\n      label: Research inbox\n      config:\n        allowed_emails: [desk@broker.example]\ndatabrain:\n  datasources:\n    - datasourceType: postgres\n      credentials:\n        name: analytics-pg\n        host: pg.example.com\n        port: 5432\n        username: databrain\n        password: ${secret:ANALYTICS_PG_PASSWORD}\n        database: analytics\n        schema: public\n```\n\n\
         Plan it (`inventory_plan_changes`, or `datasource-mcp plan FILE --out PLAN`): per source \
         create, update (field by field), unchanged, kept or delete; a change the plan cannot \
         make is marked and says why. Apply the plan (`inventory_apply_plan` with its plan_id \
         after the user's yes, or `datasource-mcp apply PLAN`) within the hour: it is refused if \
         what the vendors hold changed since. `inventory_export_state` / `datasource-mcp state` \
         write what the vendors hold in this format.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_lists_every_argument_and_an_example() {
        let op = crate::providers::operation("bigdata_create_connector").unwrap();
        let page = tool_markdown(op);
        for needle in [
            "# bigdata_create_connector",
            "- Request: `POST /contents/v1/connectors`",
            "- Access: write",
            "| `type` | one of `email`, `investment_research`, `sharepoint` | yes |",
            "| `label` | string | yes |",
            "| `config.allowed_emails` | list of string | yes | (email) Allowed senders. |",
            "| `dry_run` | boolean | no |",
            "datasource-mcp call bigdata_create_connector --args '{\"type\": \"email\"",
        ] {
            assert!(page.contains(needle), "missing {needle:?} in\n{page}");
        }
    }
}

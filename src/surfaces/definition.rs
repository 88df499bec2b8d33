//! The MCP definition of a row: its tool (name, title, description, annotations, input and
//! output schemas), as every surface lists it, and the snapshot form checked in under
//! `tool-schemas/`.

use std::sync::Arc;

use rmcp::model::{Tool, ToolAnnotations};
use serde_json::{Map, Value, json};

use crate::operation::{DEFAULT_PAGE, MAX_LOCAL_PAGE, OperationSpec, Paging};

/// The `dry_run` argument every tool that changes something accepts.
fn dry_run_property() -> Value {
    json!({
        "type": "boolean",
        "description": "Show the request(s) without sending anything."
    })
}

/// The MCP definition of one operation.
pub fn tool(op: &OperationSpec) -> Tool {
    let mut input = (op.args.schema)();
    // A row whose type takes no arguments has no `properties`; list and dry-run arguments
    // still need declaring, or a client that checks against the schema refuses them.
    if op.mutates() || op.listing.is_some() {
        input
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if let Some(Value::Object(props)) = input.get_mut("properties") {
        if op.mutates() {
            props.insert("dry_run".into(), dry_run_property());
        }
        if let Some(listing) = op.listing {
            list_properties(props, listing.paging);
        }
    }
    let annotations = ToolAnnotations::new()
        .read_only(op.hints.read_only)
        .destructive(op.hints.destructive)
        .idempotent(op.hints.idempotent)
        .open_world(op.hints.open_world);
    let mut tool = Tool::new(op.name, op.description, Arc::new(input))
        .with_title(op.title)
        .with_annotations(annotations);
    if let Some(output) = op.output.schema {
        tool = tool.with_raw_output_schema(Arc::new(output()));
    }
    tool
}

/// The arguments every list tool shares (the engine takes them; the row's type never sees
/// them): the shape of the items and, where the server pages, the page.
fn list_properties(props: &mut Map<String, Value>, paging: Paging) {
    props.insert(
        "detail".into(),
        json!({"type": "string", "enum": ["compact", "full"],
            "description": "compact (default): the fields to pick the next call by; full: the vendor's whole objects."}),
    );
    props.insert(
        "fields".into(),
        json!({"type": "array", "items": {"type": "string"}, "minItems": 1,
            "description": "Only these fields of each item, by dotted path (e.g. connectionStatusTest.is_success)."}),
    );
    if paging == Paging::Local {
        props.insert(
            "skip".into(),
            json!({"type": "integer", "minimum": 0, "description": "Items to skip (paging; next gives the next page's arguments)."}),
        );
        props.insert(
            "limit".into(),
            json!({"type": "integer", "minimum": 1, "maximum": MAX_LOCAL_PAGE,
                "description": format!("Most items (default {DEFAULT_PAGE}).")}),
        );
    }
}

/// A tool definition as written to `tool-schemas/<name>.json`: stable key order.
pub fn snapshot(op: &OperationSpec) -> Value {
    let tool = tool(op);
    let mut out = Map::new();
    out.insert("name".into(), json!(tool.name));
    out.insert("title".into(), json!(tool.title));
    out.insert("description".into(), json!(tool.description));
    out.insert(
        "annotations".into(),
        json!({
            "readOnlyHint": op.hints.read_only,
            "destructiveHint": op.hints.destructive,
            "idempotentHint": op.hints.idempotent,
            "openWorldHint": op.hints.open_world,
        }),
    );
    out.insert(
        "inputSchema".into(),
        Value::Object((*tool.input_schema).clone()),
    );
    if let Some(output) = &tool.output_schema {
        out.insert("outputSchema".into(), Value::Object((**output).clone()));
    }
    sort_keys(Value::Object(out))
}

/// Recursively sorts object keys, so snapshots diff cleanly.
pub fn sort_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sort_keys(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

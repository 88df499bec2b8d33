//! The MCP definition of a row: its tool (name, title, description, annotations, input and
//! output schemas), as every surface lists it, and the snapshot form checked in under
//! `tool-schemas/`.

use std::sync::Arc;

use rmcp::model::{Tool, ToolAnnotations};
use serde_json::{Map, Value, json};

use crate::engine::secret_refs::secret_belongs;
use crate::operation::{MAX_LOCAL_PAGE, OperationSpec, Paging};

/// The `dry_run` argument every tool that changes something accepts.
fn dry_run_property() -> Value {
    // What it does is said once, in the instructions.
    json!({"type": "boolean"})
}

/// What every credential field tells the model: the value never passes through the chat.
const SECRET_REFERENCE: &str = "${secret:NAME}.";

/// The MCP definition of one operation.
pub fn tool(op: &OperationSpec) -> Tool {
    let input = input_schema(op, true);
    let annotations = ToolAnnotations::new()
        .read_only(op.hints.read_only)
        .destructive(op.hints.destructive)
        .idempotent(op.hints.idempotent)
        .open_world(op.hints.open_world);
    // A change's confirmation (dry run first, then the user's yes) is said once, in the
    // instructions; the annotations tell the host it changes something.
    let description = op.description.to_string();
    let mut tool = Tool::new(op.name, description, Arc::new(input))
        .with_title(op.title)
        .with_annotations(annotations);
    if let Some(output) = op.output.schema {
        let mut output = output();
        unwrap_lines(&mut output);
        if crate::providers::checks(op.provider).is_some_and(|c| c.answers.contains(&op.name))
            && let Some(Value::Object(props)) = output.get_mut("properties")
        {
            props.insert(
                "connection".into(),
                json!({"type": "string", "description": "works, fails: why, or unknown: why"}),
            );
        }
        tool = tool.with_raw_output_schema(Arc::new(output));
    }
    tool
}

/// A row's input schema: as the model sees it in the tools list (`brief`: an object marked
/// `x-in-reference` shown by its description), or in full, as the reference resource shows it.
pub fn input_schema(op: &OperationSpec, brief: bool) -> Map<String, Value> {
    let mut input = (op.args.schema)();
    unwrap_lines(&mut input);
    if brief {
        fields_in_reference(&mut input);
    } else {
        unmark(&mut input);
    }
    point_credentials_to_references(&mut input, op.provider.spec().credential_keys);
    // The server refuses an unknown argument, naming it; the model need not read it here.
    input.remove("additionalProperties");
    drop_any_properties(&mut input);
    // A flag is off unless given: no `default: false` to read.
    if let Some(Value::Object(props)) = input.get_mut("properties") {
        for prop in props.values_mut().filter_map(Value::as_object_mut) {
            if prop.get("default") == Some(&Value::Bool(false)) {
                prop.remove("default");
            }
        }
    }
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
            list_properties(props, listing.paging, listing.fields);
            // A platform's data-source list takes the inventory's `name` pattern (said once,
            // in the instructions).
            if op
                .provider
                .spec()
                .inventory
                .as_ref()
                .is_some_and(|i| i.tool == op.name)
            {
                props.insert("name".into(), json!({"type": "string"}));
            }
        }
    }
    input
}

/// An object argument whose many fields (or long prose) the model reads in the tool's
/// reference resource, not in every session's tools list: marked `x-in-reference` with the
/// short description the model sees instead. The server still checks each field against the
/// type, naming it.
fn fields_in_reference(schema: &mut Map<String, Value>) {
    let Some(Value::Object(props)) = schema.get_mut("properties") else {
        return;
    };
    for prop in props.values_mut() {
        let Value::Object(fields) = prop else {
            continue;
        };
        if let Some(Value::String(short)) = fields.get("x-in-reference") {
            let mut brief = Map::new();
            let kind = match fields.get("type") {
                Some(Value::String(kind)) => kind.clone(),
                _ => "object".into(),
            };
            brief.insert("type".into(), json!(kind));
            brief.insert("description".into(), json!(short));
            if let Some(marker) = fields.remove("x-holds-no-secret") {
                brief.insert("x-holds-no-secret".into(), marker);
            }
            *fields = brief;
        }
    }
}

/// `additionalProperties: true` (any further field) is what a schema says without it.
fn drop_any_properties(schema: &mut Map<String, Value>) {
    if schema.get("additionalProperties") == Some(&json!(true)) {
        schema.remove("additionalProperties");
    }
    for value in schema.values_mut() {
        match value {
            Value::Object(inner) => drop_any_properties(inner),
            Value::Array(items) => items
                .iter_mut()
                .filter_map(Value::as_object_mut)
                .for_each(drop_any_properties),
            _ => {}
        }
    }
}

/// The marker dropped, every field kept.
fn unmark(schema: &mut Map<String, Value>) {
    schema.remove("x-in-reference");
    for value in schema.values_mut() {
        match value {
            Value::Object(inner) => unmark(inner),
            Value::Array(items) => items
                .iter_mut()
                .filter_map(Value::as_object_mut)
                .for_each(unmark),
            _ => {}
        }
    }
}

/// Descriptions come from doc comments, wrapped at the source's line width: one line each for
/// the model.
fn unwrap_lines(schema: &mut Map<String, Value>) {
    for (key, value) in schema.iter_mut() {
        match value {
            Value::String(text) if key == "description" && text.contains('\n') => {
                *text = text
                    .split('\n')
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join(" ");
            }
            Value::Object(inner) => unwrap_lines(inner),
            Value::Array(items) => {
                for item in items.iter_mut().filter_map(Value::as_object_mut) {
                    unwrap_lines(item);
                }
            }
            _ => {}
        }
    }
}

/// Every field a credential goes in (by its key, as the engine decides where a secret
/// reference may go) and every free-form object or list of them (a template's fields, a type's
/// credentials) says how to pass a secret. A free-form object that the vendor's docs show
/// holds no secret is marked so by its argument type (`x-holds-no-secret`, removed here).
fn point_credentials_to_references(schema: &mut Map<String, Value>, credential_keys: &[&str]) {
    fn free_form(schema: &Map<String, Value>) -> bool {
        schema.get("type") == Some(&json!("object"))
            && schema.get("additionalProperties") != Some(&Value::Bool(false))
    }
    for branch in ["anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = schema.get_mut(branch) {
            for b in branches.iter_mut().filter_map(Value::as_object_mut) {
                point_credentials_to_references(b, credential_keys);
            }
        }
    }
    let Some(Value::Object(props)) = schema.get_mut("properties") else {
        return;
    };
    for (key, prop) in props.iter_mut() {
        let Value::Object(prop) = prop else { continue };
        let no_secret = prop.remove("x-holds-no-secret") == Some(Value::Bool(true));
        let secret = secret_belongs(key, credential_keys);
        let holds_secrets = !no_secret
            && (secret
                || free_form(prop)
                || prop
                    .get("items")
                    .and_then(Value::as_object)
                    .is_some_and(free_form));
        if holds_secrets {
            let said = match prop.get("description").and_then(Value::as_str) {
                Some(d) => format!("{d} {SECRET_REFERENCE}"),
                None => SECRET_REFERENCE.to_string(),
            };
            prop.insert("description".into(), json!(said));
        }
        // What an object says covers everything in it.
        if !holds_secrets {
            point_credentials_to_references(prop, credential_keys);
            if let Some(Value::Object(items)) = prop.get_mut("items") {
                point_credentials_to_references(items, credential_keys);
            }
        }
    }
}

/// The arguments every list tool shares (the engine takes them; the row's type never sees
/// them): the shape of the items and, where the server pages, the page.
fn list_properties(props: &mut Map<String, Value>, paging: Paging, paths: &str) {
    // What detail, fields and next do is said once, in the instructions; `fields` names the
    // paths this list's items have.
    props.insert("detail".into(), json!({"enum": ["compact", "full"]}));
    props.insert(
        "fields".into(),
        json!({"type": "array", "items": {"type": "string"},
            "description": format!("Paths: {paths}")}),
    );
    if paging == Paging::Local {
        props.insert("skip".into(), json!({"type": "integer"}));
        props.insert(
            "limit".into(),
            json!({"type": "integer", "maximum": MAX_LOCAL_PAGE}),
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

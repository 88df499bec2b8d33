//! The files generated from the table are checked in (`tool-schemas/`, the README's tool
//! table, the MCP Bundle manifest): a change to a name, description, annotation or schema
//! shows up in review. Regenerate with `cargo run -- generate`.

use std::path::Path;

#[test]
fn checked_in_generated_files_match_the_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let diffs = datasource_mcp::surfaces::generated::sync(root, false).unwrap();
    assert!(
        diffs.is_empty(),
        "generated files are stale ({diffs:?}): run `cargo run -- generate`"
    );
}

/// Every byte of a definition is read by the model: a property's description says more than
/// its name (units, format, where the value comes from, which type uses it), and a property
/// its name explains has none. No property is nullable.
#[test]
fn descriptions_say_more_than_the_name_and_no_nullable_types() {
    fn letters(text: &str) -> String {
        text.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect()
    }
    fn walk(schema: &serde_json::Value, path: &str) {
        if let Some(props) = schema.get("properties").and_then(|p| p.as_object()) {
            for (name, prop) in props {
                let here = format!("{path}.{name}");
                if let Some(description) = prop.get("description") {
                    let text = description.as_str().unwrap_or_default();
                    assert!(!text.trim().is_empty(), "{here}: empty description");
                    assert_ne!(
                        letters(text),
                        letters(name),
                        "{here}: the description only repeats the name"
                    );
                }
                walk(prop, &here);
            }
        }
        if let Some(items) = schema.get("items") {
            walk(items, &format!("{path}[]"));
        }
        assert!(
            !schema.get("type").is_some_and(|t| t.is_array()),
            "{path}: type array"
        );
        assert!(schema.get("$ref").is_none(), "{path}: $ref");
    }
    for op in datasource_mcp::providers::operations() {
        let tool = datasource_mcp::surfaces::definition::tool(op);
        walk(
            &serde_json::Value::Object((*tool.input_schema).clone()),
            op.name,
        );
        assert_eq!(tool.input_schema["type"], "object", "{}", op.name);
    }
}

/// Every list tool declares the arguments the server takes for it (`detail`, `fields`, and
/// `skip`/`limit`), so a client that checks arguments against the schema can send them, and
/// can send back what `next` says.
#[test]
fn regression_every_list_tool_declares_its_list_arguments() {
    for op in datasource_mcp::providers::operations().filter(|op| op.listing.is_some()) {
        let tool = datasource_mcp::surfaces::definition::tool(op);
        let props = tool
            .input_schema
            .get("properties")
            .and_then(|p| p.as_object());
        for name in ["detail", "fields", "skip", "limit"] {
            assert!(
                props.is_some_and(|p| p.contains_key(name)),
                "{}: {name} is not declared",
                op.name
            );
        }
    }
}

/// Output schemas have no `type` arrays either: a client's portability check (the MCP
/// Inspector's) flags them. A field the server leaves out when absent is not nullable.
#[test]
fn output_schemas_have_no_type_arrays() {
    fn walk(schema: &serde_json::Value, path: &str) {
        assert!(
            !schema.get("type").is_some_and(|t| t.is_array()),
            "{path}: type array"
        );
        for (name, prop) in schema
            .get("properties")
            .and_then(|p| p.as_object())
            .into_iter()
            .flatten()
        {
            walk(prop, &format!("{path}.{name}"));
        }
        if let Some(items) = schema.get("items") {
            walk(items, &format!("{path}[]"));
        }
    }
    for op in datasource_mcp::providers::operations() {
        let tool = datasource_mcp::surfaces::definition::tool(op);
        if let Some(output) = &tool.output_schema {
            walk(&serde_json::Value::Object((**output).clone()), op.name);
        }
    }
}

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

#[test]
fn every_property_is_described_and_no_nullable_types() {
    fn walk(schema: &serde_json::Value, path: &str) {
        if let Some(props) = schema.get("properties").and_then(|p| p.as_object()) {
            for (name, prop) in props {
                let here = format!("{path}.{name}");
                assert!(
                    prop.get("description")
                        .and_then(|d| d.as_str())
                        .is_some_and(|d| !d.is_empty()),
                    "{here} has no description"
                );
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

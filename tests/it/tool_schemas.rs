//! `tool-schemas/` is a checked-in snapshot of every tool definition: a change to a name,
//! description, annotation or schema shows up in review. Regenerate with
//! `cargo run -- schemas --out tool-schemas`.

use std::path::Path;

#[test]
fn checked_in_tool_schemas_match_the_code() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tool-schemas");
    let diffs = datasource_mcp::cli::schema_files_diff(&dir, false).unwrap();
    assert!(
        diffs.is_empty(),
        "tool-schemas/ is stale ({diffs:?}): run `cargo run -- schemas --out tool-schemas`"
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
    for op in datasource_mcp::operation::all() {
        let tool = datasource_mcp::schema::tool(op);
        walk(
            &serde_json::Value::Object((*tool.input_schema).clone()),
            op.name,
        );
        assert_eq!(tool.input_schema["type"], "object", "{}", op.name);
    }
}

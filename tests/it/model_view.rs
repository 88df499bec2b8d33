//! The server as a model sees it: the instructions and the tools list (name, description,
//! input schema), read through an MCP client with every provider configured. The rules an
//! agent needs to finish a task the first time must stay in what it sees: a change is
//! confirmed with a dry run and the user's yes; a credential is passed as a secret reference;
//! an id argument says where the id comes from.

use crate::support::*;
use datasource_mcp::operation::Provider;
use datasource_mcp::redact::is_secret_key;
use datasource_mcp::sandbox::Sandbox;
use serde_json::{Map, Value};

/// The instructions and tools a model is shown by a server with every provider configured
/// (the sandbox's four).
async fn seen() -> (String, Vec<Value>) {
    let sb = Sandbox::start(([127, 0, 0, 1], 0).into()).await.unwrap();
    let client = client_with(&sb.env(), fast_settings()).await;
    let instructions = client
        .peer_info()
        .and_then(|info| info.instructions.clone())
        .unwrap_or_default();
    let tools = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| serde_json::to_value(t).unwrap())
        .collect();
    (instructions, tools)
}

fn description(schema: &Map<String, Value>) -> &str {
    schema
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("")
}

#[tokio::test]
async fn the_instructions_carry_the_rules() {
    let (instructions, tools) = seen().await;
    for rule in [
        "dry_run: true",
        "after they say yes",
        "${secret:NAME}",
        "never ask for a password",
        "come from list rows",
        "say so instead of guessing",
    ] {
        assert!(
            instructions.to_lowercase().contains(&rule.to_lowercase()),
            "the instructions do not say {rule:?}: {instructions}"
        );
    }
    assert_eq!(tools.len(), tool_count(|_| true));
    // Descriptions come from wrapped doc comments: the model gets each on one line.
    for tool in &tools {
        let text = serde_json::to_string(tool).unwrap();
        assert!(
            !text.contains("\\n"),
            "a line break in {}: {text}",
            tool["name"]
        );
    }
}

#[tokio::test]
async fn every_tool_that_changes_something_asks_for_a_confirmed_dry_run() {
    let (_, tools) = seen().await;
    let mut changing = 0;
    for tool in &tools {
        if tool["annotations"]["readOnlyHint"] == Value::Bool(true) {
            continue;
        }
        // The rule (dry run, then the user's yes) is said once, in the instructions (checked
        // above); each such tool takes the flag and says it changes something.
        changing += 1;
        assert_eq!(tool["annotations"]["readOnlyHint"], Value::Bool(false));
        assert!(
            tool["inputSchema"]["properties"]["dry_run"].is_object(),
            "{}",
            tool["name"]
        );
    }
    assert_eq!(changing, tool_count(|op| op.mutates()));
}

/// A field a credential goes in: a key that names a secret, or a provider's credential key
/// (an access key id), or a free-form object whose description lists a secret field.
#[tokio::test]
async fn every_credential_field_says_to_write_a_secret_reference() {
    let (_, tools) = seen().await;
    fn walk(tool: &str, keys: &[&str], schema: &Map<String, Value>, checked: &mut Vec<String>) {
        for branch in ["anyOf", "oneOf"] {
            for b in schema
                .get(branch)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                walk(tool, keys, b.as_object().unwrap(), checked);
            }
        }
        let Some(props) = schema.get("properties").and_then(Value::as_object) else {
            return;
        };
        for (key, prop) in props {
            let prop = prop.as_object().unwrap();
            let text = description(prop).to_lowercase();
            let lists_a_secret = ["password", "secret", "token", "private key", "key id"]
                .iter()
                .any(|s| text.contains(s));
            let object_like = prop.get("type") == Some(&Value::from("object"))
                || prop.get("type") == Some(&Value::from("array"));
            let credential = is_secret_key(key)
                || keys.contains(&key.as_str())
                || (object_like && lists_a_secret);
            if credential {
                assert!(
                    description(prop).contains("${secret:NAME}"),
                    "{tool}: {key} holds a credential but does not say how to pass one: {:?}",
                    description(prop)
                );
                checked.push(format!("{tool}.{key}"));
                continue;
            }
            walk(tool, keys, prop, checked);
            if let Some(items) = prop.get("items").and_then(Value::as_object) {
                walk(tool, keys, items, checked);
            }
        }
    }
    let mut checked = Vec::new();
    for tool in &tools {
        let name = tool["name"].as_str().unwrap();
        let keys = provider_of(name).spec().credential_keys;
        walk(
            name,
            keys,
            tool["inputSchema"].as_object().unwrap(),
            &mut checked,
        );
    }
    // Every vendor with a create tool has credential fields, and each was checked.
    for prefix in ["bigid_", "pdc_", "bigdata_", "databrain_"] {
        assert!(
            checked.iter().any(|c| c.starts_with(prefix)),
            "no credential field found for {prefix}: {checked:?}"
        );
    }
}

/// An argument that names an existing resource by an id (or a name used as one) says where
/// the agent gets it: a tool that returns it, or the vendor page it is copied from.
#[tokio::test]
async fn every_id_argument_says_where_the_id_comes_from() {
    let (_, tools) = seen().await;
    let names: Vec<String> = tools
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    let mut checked = 0;
    for tool in &tools {
        let name = tool["name"].as_str().unwrap();
        // A create names what it makes; a list's arguments filter.
        if name.contains("_create_") || name.contains("_list_") || name.contains("_filter_") {
            continue;
        }
        let props = tool["inputSchema"]["properties"].as_object().unwrap();
        for (key, prop) in props {
            let is_id = key == "id" || key == "ids" || key.ends_with("_id") || key == "name";
            if !is_id {
                continue;
            }
            let text = description(prop.as_object().unwrap());
            // The inventory's name is a pattern that filters: it names nothing.
            if name.starts_with("inventory_") && key == "name" {
                continue;
            }
            let names_a_source = names.iter().any(|n| n != name && text.contains(n.as_str()))
                || text.contains("page URL");
            assert!(
                names_a_source,
                "{name}.{key} does not say where it comes from: {text:?}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "{checked} id arguments");
}

fn provider_of(tool: &str) -> Provider {
    datasource_mcp::providers::operation(tool).unwrap().provider
}

/// Every property and item declares what it holds: the 2025-11-25 wire schema refuses a bare
/// `true` there, and clients' schema linters (the Inspector's `untyped-schema`) warn on an
/// object that constrains nothing, such as `{}` or a description alone. Only
/// `additionalProperties` may be a boolean.
#[tokio::test]
async fn every_subschema_declares_what_it_holds() {
    const CONSTRAINING: &[&str] = &[
        "type",
        "enum",
        "const",
        "multipleOf",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        "maxLength",
        "minLength",
        "pattern",
        "format",
        "maxItems",
        "minItems",
        "uniqueItems",
        "maxProperties",
        "minProperties",
        "required",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "items",
        "prefixItems",
        "contains",
        "properties",
        "patternProperties",
        "additionalProperties",
        "propertyNames",
        "$ref",
    ];
    fn walk(schema: &Value, at: &str, boolean_allowed: bool) {
        let map = match schema {
            Value::Bool(_) if boolean_allowed => return,
            Value::Object(map) => map,
            _ => panic!("{at} is {schema}, not a schema object"),
        };
        assert!(
            map.keys().any(|k| CONSTRAINING.contains(&k.as_str())),
            "{at} constrains nothing: {schema}"
        );
        for key in ["items", "not", "if", "then", "else"] {
            if let Some(sub) = map.get(key) {
                walk(sub, &format!("{at}.{key}"), false);
            }
        }
        if let Some(sub) = map.get("additionalProperties") {
            walk(sub, &format!("{at}.additionalProperties"), true);
        }
        for key in ["properties", "patternProperties"] {
            for (name, sub) in map
                .get(key)
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                walk(sub, &format!("{at}.{name}"), false);
            }
        }
        for key in ["anyOf", "oneOf", "allOf", "prefixItems"] {
            for (i, sub) in map
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                walk(sub, &format!("{at}.{key}[{i}]"), false);
            }
        }
    }
    let (_, tools) = seen().await;
    for tool in &tools {
        let name = tool["name"].as_str().unwrap();
        walk(&tool["inputSchema"], &format!("{name} input"), false);
        if let Some(output) = tool.get("outputSchema") {
            walk(output, &format!("{name} output"), false);
        }
    }
}

/// What every session pays before its first call, with every tool offered: each tool's name,
/// description and input schema as compact JSON (what a host passes to the model) at most
/// 16,000 characters (about 4,000 tokens), the instructions at most 2,000. The next tool added
/// has to pay its way. Output schemas are metadata the host keeps (clients validate results
/// with them): counted and shown, not budgeted.
#[tokio::test]
async fn the_tools_list_fits_its_budget() {
    const TOOLS_BUDGET: usize = 16_000;
    const INSTRUCTIONS_BUDGET: usize = 2_000;
    let (instructions, tools) = seen().await;
    let chars = |v: &Value| serde_json::to_string(v).unwrap().chars().count();
    let mut total = 0;
    let mut outputs = 0;
    let mut by_toolset: std::collections::BTreeMap<String, usize> = Default::default();
    for tool in &tools {
        let name = tool["name"].as_str().unwrap();
        let seen = serde_json::json!({"name": name, "description": tool["description"],
            "inputSchema": tool["inputSchema"]});
        let size = chars(&seen);
        total += size;
        *by_toolset
            .entry(name.split('_').next().unwrap().to_string())
            .or_default() += size;
        outputs += tool.get("outputSchema").map_or(0, chars);
    }
    eprintln!(
        "{} tools: {total} chars seen by the model {by_toolset:?}; output schemas {outputs} chars; instructions {} chars",
        tools.len(),
        instructions.chars().count()
    );
    assert!(
        total <= TOOLS_BUDGET,
        "the tools list is {total} characters, over its budget of {TOOLS_BUDGET}: {by_toolset:?}"
    );
    assert!(
        instructions.chars().count() <= INSTRUCTIONS_BUDGET,
        "the instructions are {} characters, over {INSTRUCTIONS_BUDGET}",
        instructions.chars().count()
    );
}

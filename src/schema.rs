//! JSON schemas generated from Rust types: what an argument type accepts and what a result
//! type returns.
//!
//! Schemas are normalised once here so clients see plain JSON Schema: no `$schema`, no
//! `$ref` (subschemas inlined), optional fields are simply not required (never
//! `["string","null"]`), and no non-standard integer `format`s.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

/// Inputs drop `null` from types (optional means "not required"); outputs keep it, because a
/// vendor does answer `null`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Input,
    Output,
}

fn generate<T: JsonSchema>(settings: SchemaSettings, side: Side) -> Map<String, Value> {
    let settings = settings.with(|s| {
        s.meta_schema = None;
        s.inline_subschemas = true;
    });
    let schema = settings.into_generator().into_root_schema_for::<T>();
    let mut object = match serde_json::to_value(schema) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    // The tool's own description says what the arguments are for; a type's doc comment or
    // name at the root would only repeat it.
    object.remove("title");
    object.remove("description");
    object.remove("$defs");
    normalise(&mut object, side);
    object
}

/// Input schema of an argument type (what it accepts).
pub fn input_schema<T: JsonSchema>() -> Map<String, Value> {
    generate::<T>(
        SchemaSettings::draft2020_12().for_deserialize(),
        Side::Input,
    )
}

/// Output schema of a result type (what the tool returns).
pub fn output_schema<T: JsonSchema>() -> Map<String, Value> {
    let mut schema = generate::<T>(SchemaSettings::draft2020_12().for_serialize(), Side::Output);
    // Vendors add fields and omit optional ones: a result must still conform.
    strip_required(&mut schema);
    schema
}

fn strip_required(schema: &mut Map<String, Value>) {
    schema.remove("required");
    for key in ["properties"] {
        if let Some(Value::Object(props)) = schema.get_mut(key) {
            for v in props.values_mut() {
                if let Value::Object(m) = v {
                    strip_required(m);
                }
            }
        }
    }
    if let Some(Value::Object(items)) = schema.get_mut("items") {
        strip_required(items);
    }
}

const NON_STANDARD_FORMATS: &[&str] = &[
    "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "int",
    "float", "double",
];

fn normalise(schema: &mut Map<String, Value>, side: Side) {
    if side == Side::Input {
        strip_null(schema);
    }
    if let Some(Value::String(f)) = schema.get("format")
        && NON_STANDARD_FORMATS.contains(&f.as_str())
    {
        schema.remove("format");
    }
    let mut visit = |v: &mut Value| {
        if let Value::Object(m) = v {
            normalise(m, side);
        }
    };
    for key in ["items", "additionalProperties", "not", "if", "then", "else"] {
        if let Some(v) = schema.get_mut(key) {
            visit(v);
        }
    }
    for key in ["properties", "patternProperties"] {
        if let Some(Value::Object(props)) = schema.get_mut(key) {
            props.values_mut().for_each(&mut visit);
        }
    }
    for key in ["anyOf", "oneOf", "allOf", "prefixItems"] {
        if let Some(Value::Array(list)) = schema.get_mut(key) {
            list.iter_mut().for_each(&mut visit);
        }
    }
}

/// Optional means "not required", not "nullable": `["integer", "null"]` → `"integer"`,
/// `anyOf: [S, {type: null}]` → S, no `default: null`, no `null` in an enum.
fn strip_null(schema: &mut Map<String, Value>) {
    if let Some(Value::Array(types)) = schema.get("type") {
        let non_null: Vec<Value> = types
            .iter()
            .filter(|t| t.as_str() != Some("null"))
            .cloned()
            .collect();
        if non_null.len() == 1 {
            schema.insert("type".into(), non_null[0].clone());
        }
    }
    // `anyOf: [S, {type: null}]` → S (keeping this level's description).
    if let Some(Value::Array(variants)) = schema.get("anyOf") {
        let non_null: Vec<&Value> = variants
            .iter()
            .filter(|v| v.get("type").and_then(Value::as_str) != Some("null"))
            .collect();
        if non_null.len() == 1
            && variants.len() == 2
            && let Value::Object(inner) = non_null[0].clone()
        {
            schema.remove("anyOf");
            for (k, v) in inner {
                schema.entry(k).or_insert(v);
            }
        }
    }
    if schema.get("default") == Some(&Value::Null) {
        schema.remove("default");
    }
    if let Some(Value::Array(values)) = schema.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
}

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

/// Any JSON value, each kind named: for a result field that holds the vendor's answer as it
/// came. (A bare `true` is refused by the 2025-11-25 wire schema where a property is expected,
/// and `{}` is an untyped schema clients warn about.) Used with `#[schemars(schema_with)]`.
pub fn any_value(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"anyOf": [{"type": "object"}, {"type": "array"}, {"type": "string"},
        {"type": "number"}, {"type": "boolean"}, {"type": "null"}]})
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

/// Where `value` breaks `schema` (the subset our output schemas use: `type`, `properties`,
/// `items`, `enum`, `anyOf`), as `field: problem`; `None` when it conforms.
pub fn violation(value: &Value, schema: &Map<String, Value>) -> Option<String> {
    check(value, schema, &mut String::new())
}

fn check(value: &Value, schema: &Map<String, Value>, path: &mut String) -> Option<String> {
    let here = |p: &str| {
        if p.is_empty() {
            "the result".to_string()
        } else {
            format!("`{p}`")
        }
    };
    if let Some(types) = schema.get("type") {
        let allowed: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let actual = json_type(value);
        let fits = allowed
            .iter()
            .any(|t| *t == actual || (*t == "number" && actual == "integer"));
        if !allowed.is_empty() && !fits {
            return Some(format!(
                "{} is {actual}, expected {}",
                here(path),
                allowed.join(" or ")
            ));
        }
    }
    if let Some(Value::Array(options)) = schema.get("enum")
        && !options.contains(value)
    {
        return Some(format!("{} is not one of the declared values", here(path)));
    }
    if let Some(Value::Array(variants)) = schema.get("anyOf") {
        let any = variants
            .iter()
            .filter_map(Value::as_object)
            .any(|v| check(value, v, &mut path.clone()).is_none());
        if !any {
            return Some(format!(
                "{} matches none of the declared shapes",
                here(path)
            ));
        }
    }
    match value {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object)?;
            for (key, sub) in props {
                let (Some(v), Some(sub)) = (map.get(key), sub.as_object()) else {
                    continue;
                };
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                if let Some(problem) = check(v, sub, path) {
                    return Some(problem);
                }
                path.truncate(len);
            }
            None
        }
        Value::Array(items) => {
            let sub = schema.get("items").and_then(Value::as_object)?;
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                if let Some(problem) = check(item, sub, path) {
                    return Some(problem);
                }
                path.truncate(len);
            }
            None
        }
        _ => None,
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn violations_name_the_field() {
        let schema = json!({"type": "object", "properties": {
            "data": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
            "count": {"type": "number"}, "maybe": {"type": ["string", "null"]}}});
        let schema = schema.as_object().unwrap();
        assert_eq!(
            violation(
                &json!({"data": [{"name": "a"}], "count": 3, "maybe": null, "extra": 1}),
                schema
            ),
            None
        );
        assert_eq!(
            violation(&json!({"data": [{"name": "a"}, {"name": 5}]}), schema).unwrap(),
            "`data[1].name` is integer, expected string"
        );
        assert_eq!(
            violation(&json!({"data": {"name": "a"}}), schema).unwrap(),
            "`data` is object, expected array"
        );
        assert_eq!(
            violation(&json!([1]), schema).unwrap(),
            "the result is array, expected object"
        );
    }
}

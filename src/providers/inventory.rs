//! The inventory: one list over every configured vendor. It sends no request of its own: the
//! engine runs each vendor's inventory listing (its `ProviderSpec::inventory`) at once, tags the
//! rows with the vendor, filters them here and pages the merged list.
//!
//! Its rows are the vendors' compact rows, which share their keys for this purpose:
//! `{provider, id, name, type, status, host, port, database}`; the vendor's own object is
//! under `detail`.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::args::{InvalidArgument, ToolArgs, check};
use crate::operation::{
    ArgsSpec, Flow, Hints, Listing, Method, OperationSpec, Output, Paging, Provider, RequestParts,
};
use crate::spec::{Guide, Probe, ProviderSpec, supports_every_tool};

pub static SPEC: ProviderSpec = ProviderSpec {
    provider: Provider::Inventory,
    id: "inventory",
    title: "Inventory",
    base_url_var: "",
    default_base_url: None,
    env: &[],
    // Configured when any vendor is: nothing of its own to read.
    credential: |_| Ok(None),
    setup: "any vendor's variables (`datasource-mcp doctor` lists them)",
    credential_hint: "",
    hint: |_, _, _| None,
    not_found: None,
    refusal: None,
    unsupported: supports_every_tool,
    probe: Probe {
        tool: "inventory_list_data_sources",
        args: r#"{}"#,
    },
    credential_keys: &[],
    guide: Guide {
        instructions: "inventory_list_data_sources lists every platform's sources at once.",
        onboard_tools: &[],
        onboard_steps: "",
        audit_tool: "inventory_list_data_sources",
        audit_step: "Every platform at once: call inventory_list_data_sources (with status: \"fails\", then \"disabled\", \"archived\", \"untested\" to see the problems first) and report any platform listed in `errors`.",
    },
    facts: &[],
    inventory: None,
    operations: OPERATIONS,
};

static OPERATIONS: &[OperationSpec] = &[
    OperationSpec {
        name: "inventory_list_data_sources",
        provider: Provider::Inventory,
        title: "List data sources on every platform",
        description: "Every platform's data sources in one call; a platform that fails is named in errors.",
        // No request of its own: each vendor's inventory listing is sent instead.
        method: Method::Get,
        path: "/",
        hints: Hints::READ,
        args: ArgsSpec::of::<InventoryFilter>(),
        output: Output::typed::<InventoryPage>(),
        flow: Flow::FAN_OUT,
        example: r#"{"name": "*orders*", "status": "failing"}"#,
        reconcile: None,
        progress: false,
        facts: &[],
        listing: Some(Listing {
            items: &["/items"],
            total: None,
            row: inventory_row,
            paging: Paging::Local,
            fields: "provider, id, name, type, status, host, port, database, detail.<vendor field>",
            completion: None,
        }),
    },
    OperationSpec {
        name: "inventory_plan_changes",
        provider: Provider::Inventory,
        title: "Plan the changes a desired-state file makes",
        description: "Plan a desired state (datasource-mcp://state) against the vendors: per source create, update, unchanged or delete; changes nothing. Its plan_id is for inventory_apply_plan.",
        // No request of its own: the engine reads every named platform (`path` names the flow).
        method: Method::Get,
        path: "/plan",
        hints: Hints::READ,
        args: ArgsSpec::of::<PlanArgs>(),
        output: Output::PASSTHROUGH,
        flow: Flow::FAN_OUT,
        example: r#"{"desired": {"bigdata": {"connectors": [{"type": "email", "label": "Research inbox", "config": {"allowed_emails": ["desk@broker.example"]}}]}}}"#,
        reconcile: None,
        progress: false,
        facts: &[],
        listing: None,
    },
    OperationSpec {
        name: "inventory_apply_plan",
        provider: Provider::Inventory,
        title: "Apply a plan",
        description: "Make a plan's changes (refused if the vendors changed since): done, failed or skipped per source.",
        method: Method::Post,
        path: "/apply",
        hints: Hints {
            read_only: false,
            destructive: true,
            idempotent: false,
            open_world: false,
        },
        args: ArgsSpec::of::<ApplyArgs>(),
        output: Output::PASSTHROUGH,
        flow: Flow::FAN_OUT,
        example: r#"{"plan_id": "plan-0123456789abcdef0123456789abcdef"}"#,
        reconcile: None,
        progress: true,
        facts: &[],
        listing: None,
    },
    OperationSpec {
        name: "inventory_export_state",
        provider: Provider::Inventory,
        title: "Export the current state",
        description: "Export every platform's sources as a desired state, credentials as ${secret:NAME}.",
        method: Method::Get,
        path: "/export",
        hints: Hints::READ,
        args: ArgsSpec::of::<ExportArgs>(),
        output: Output::PASSTHROUGH,
        flow: Flow::FAN_OUT,
        example: r#"{"providers": ["bigid"]}"#,
        reconcile: None,
        progress: false,
        facts: &[],
        listing: None,
    },
    OperationSpec {
        name: "inventory_test_data_sources",
        provider: Provider::Inventory,
        title: "Test many stored sources' connections",
        description: "Test every matching stored source's connection in one call: works, fails (why) or not testable.",
        method: Method::Post,
        path: "/test",
        hints: Hints::PROBE,
        args: ArgsSpec::of::<TestMany>(),
        output: Output::PASSTHROUGH,
        flow: Flow::FAN_OUT,
        example: r#"{"providers": ["pdc"], "type": "POSTGRES", "name": "prod-*", "dry_run": true}"#,
        reconcile: None,
        progress: true,
        facts: &[],
        listing: None,
    },
];

/// A desired state to plan.
fn desired_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"anyOf": [{"type": "object"}, {"type": "string"}]})
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanArgs {
    #[schemars(schema_with = "desired_schema")]
    pub desired: Value,
}

impl ToolArgs for PlanArgs {
    fn validate(&self) -> Result<(), InvalidArgument> {
        match &self.desired {
            Value::Object(_) | Value::String(_) => Ok(()),
            _ => Err(InvalidArgument::new(
                "desired",
                "must be an object of platforms, or its YAML/JSON text",
            )),
        }
    }

    fn into_request(self) -> RequestParts {
        RequestParts::new().body(self.desired)
    }
}

/// A plan to apply.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyArgs {
    /// From inventory_plan_changes.
    pub plan_id: String,
    /// Default stop.
    #[serde(default)]
    pub on_failure: Option<OnFailureArg>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnFailureArg {
    Stop,
    Continue,
}

impl ToolArgs for ApplyArgs {
    fn validate(&self) -> Result<(), InvalidArgument> {
        check::not_blank("plan_id", &self.plan_id)?;
        let ok = self.plan_id.len() <= 64
            && self
                .plan_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(InvalidArgument::new("plan_id", "is not a plan id"));
        }
        Ok(())
    }

    fn into_request(self) -> RequestParts {
        RequestParts::new().body(json!({"plan_id": self.plan_id, "on_failure": self.on_failure}))
    }
}

/// Which platforms to export.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportArgs {
    #[serde(default)]
    #[schemars(schema_with = "platforms_schema")]
    pub providers: Option<Vec<String>>,
}

impl ToolArgs for ExportArgs {
    fn validate(&self) -> Result<(), InvalidArgument> {
        InventoryFilter {
            providers: self.providers.clone(),
            ..InventoryFilter::default()
        }
        .validate()
    }

    fn into_request(self) -> RequestParts {
        RequestParts::new().body(json!({"providers": self.providers}))
    }
}

/// Which stored sources to test.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestMany {
    #[serde(default)]
    #[schemars(schema_with = "platforms_schema")]
    pub providers: Option<Vec<String>>,
    #[serde(default)]
    pub name: Option<String>,
    /// As listed.
    #[serde(default)]
    pub r#type: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
}

impl ToolArgs for TestMany {
    fn validate(&self) -> Result<(), InvalidArgument> {
        InventoryFilter {
            providers: self.providers.clone(),
            name: self.name.clone(),
            r#type: self.r#type.clone(),
            ..InventoryFilter::default()
        }
        .validate()
    }

    fn into_request(self) -> RequestParts {
        RequestParts::new().body(json!({"providers": self.providers, "name": self.name,
            "type": self.r#type, "dry_run": self.dry_run}))
    }
}

/// The keys every inventory row may have, in order.
pub const ROW_KEYS: [&str; 11] = [
    "provider",
    "id",
    "name",
    "type",
    "status",
    "error",
    "remedy",
    "tested_at",
    "host",
    "port",
    "database",
];

/// A merged row without the vendor's object.
fn inventory_row(item: &Value) -> Value {
    let mut row = Map::new();
    for key in ROW_KEYS {
        if let Some(v) = item.get(key).filter(|v| !v.is_null()) {
            row.insert(key.into(), v.clone());
        }
    }
    Value::Object(row)
}

/// `providers`: the vendors' ids, from the registry.
fn platforms_schema(_: &mut SchemaGenerator) -> Schema {
    let ids: Vec<&str> = super::VENDORS.iter().map(|v| v.id).collect();
    json_schema!({
        "type": "array",
        "items": {"type": "string", "enum": ids},
    })
}

/// Which rows the inventory keeps.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InventoryFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "platforms_schema")]
    pub providers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    /// works, fails, untested, testing, syncing, disabled, archived or unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count_by: Option<CountBy>,
}

// What the inventory can count sources by (a plain comment: the schema's list says it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CountBy {
    Provider,
    Type,
    Status,
    Host,
    Database,
}

impl CountBy {
    pub fn key(self) -> &'static str {
        match self {
            CountBy::Provider => "provider",
            CountBy::Type => "type",
            CountBy::Status => "status",
            CountBy::Host => "host",
            CountBy::Database => "database",
        }
    }
}

impl ToolArgs for InventoryFilter {
    fn validate(&self) -> Result<(), InvalidArgument> {
        if let Some(ids) = &self.providers {
            check::non_empty_list("providers", ids)?;
            for (i, id) in ids.iter().enumerate() {
                if !Provider::from_id(id).is_some_and(Provider::is_vendor) {
                    let known: Vec<&str> = super::VENDORS.iter().map(|v| v.id).collect();
                    return Err(InvalidArgument::new(
                        format!("providers[{i}]"),
                        format!("unknown platform `{id}` (one of {})", known.join(", ")),
                    ));
                }
            }
        }
        for (field, value) in [
            ("name", &self.name),
            ("type", &self.r#type),
            ("status", &self.status),
            ("host", &self.host),
            ("database", &self.database),
        ] {
            if let Some(v) = value {
                check::not_blank(field, v)?;
                check::no_control_chars(field, v)?;
                if v.len() > 200 {
                    return Err(InvalidArgument::new(
                        field,
                        "must be at most 200 characters",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The filter travels to the engine as the body: nothing is sent to a vendor as is.
    fn into_request(self) -> RequestParts {
        RequestParts::new().body(json!(self))
    }
}

impl InventoryFilter {
    /// The filter a validated call carries.
    pub fn of(parts: &RequestParts) -> InventoryFilter {
        parts
            .body
            .clone()
            .and_then(|b| serde_json::from_value(b).ok())
            .unwrap_or_default()
    }

    /// Whether the filter asks for this platform at all.
    pub fn wants(&self, provider: Provider) -> bool {
        self.providers
            .as_ref()
            .is_none_or(|ids| ids.iter().any(|id| id == provider.id()))
    }

    /// Whether a merged (and masked) row passes the filter. A value that masking touched
    /// matches nothing: a filter that matched part of it would tell the caller that part.
    pub fn keeps(&self, row: &Value) -> bool {
        let text = |key: &str| match &row[key] {
            Value::String(s) if s.contains(crate::redact::MASK) => "\u{0}masked".to_string(),
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        self.name.as_deref().is_none_or(|p| glob(p, &text("name")))
            && self.host.as_deref().is_none_or(|p| glob(p, &text("host")))
            && self
                .database
                .as_deref()
                .is_none_or(|p| glob(p, &text("database")))
            && self
                .r#type
                .as_deref()
                .is_none_or(|t| t.eq_ignore_ascii_case(&text("type")))
            && self
                .status
                .as_deref()
                .is_none_or(|s| status_word(s).eq_ignore_ascii_case(&text("status")))
    }
}

/// A status filter in the words rows carry; the words rows carried before (ok, failing,
/// never synced), which an agent may still write, mean the same.
fn status_word(asked: &str) -> &str {
    match asked.to_ascii_lowercase().as_str() {
        "ok" | "working" => "works",
        "failing" | "failed" | "fail" => "fails",
        "never synced" => "untested",
        _ => asked,
    }
}

/// Longest part of a name a pattern is matched against: a vendor's megabyte-long name costs
/// no more than a real one.
const MAX_MATCHED_CHARS: usize = 4096;

/// `*` matches any run of characters, case-insensitively; nothing else is special.
pub fn glob(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.to_lowercase().chars().collect();
    let text: Vec<char> = text
        .chars()
        .take(MAX_MATCHED_CHARS)
        .flat_map(char::to_lowercase)
        .collect();
    // Greedy match with backtracking to the last star: linear in practice, no regex.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] != '*' && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// What the inventory returns (its outputSchema).
#[derive(Serialize, JsonSchema)]
pub struct InventoryPage {
    /// `{provider, id, name, type, status, host, port, database}` rows (the vendor's object
    /// under `detail` with detail: "full").
    pub items: Vec<Map<String, Value>>,
    /// The platforms that could not be listed; the rows of the others are still in `items`.
    pub errors: Vec<PlatformError>,
    /// With count_by: how many matching sources have each value (`items` is then empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "std::collections::BTreeMap<String, u64>")]
    pub counts: Option<std::collections::BTreeMap<String, u64>>,
}

/// Why a platform's rows are missing: its list tool's error (`status`, `code`, `message`,
/// `hint` as the vendor's answer gives them), or TIMEOUT, NOT_CONFIGURED or INCOMPLETE.
#[derive(Serialize, JsonSchema)]
pub struct PlatformError {
    pub provider: String,
    pub message: String,
    // Left out rather than null when absent: the schema says so (no `null` in its types, which
    // some clients cannot read).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "u16")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub hint: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_stars_only() {
        for (p, t, want) in [
            ("prod-*", "PROD-orders", true),
            ("*orders*", "eu-orders-db", true),
            ("*orders", "eu-orders-db", false),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXcYb", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
            ("*", "", true),
            ("a.c", "abc", false),
            ("?", "a", false),
        ] {
            assert_eq!(glob(p, t), want, "{p} ~ {t}");
        }
    }

    #[test]
    fn filter_checks_name_the_field() {
        let op = &OPERATIONS[0];
        for (args, field) in [
            (json!({"providers": ["bigid", "snowflake"]}), "providers[1]"),
            (json!({"providers": ["inventory"]}), "providers[0]"),
            (json!({"providers": []}), "providers"),
            (json!({"name": " "}), "name"),
            (json!({"type": "x".repeat(201)}), "type"),
            (json!({"status": "ok\u{0}"}), "status"),
            (json!({"colour": "red"}), "colour"),
        ] {
            let e = op.prepare(args.clone()).unwrap_err();
            assert_eq!(e.field, field, "{args}");
        }
    }

    #[test]
    fn filter_keeps_matching_rows() {
        let parts = OPERATIONS[0]
            .prepare(json!({"providers": ["pdc"], "name": "*ORD*", "type": "postgresql"}))
            .unwrap();
        let f = InventoryFilter::of(&parts);
        assert!(f.wants(Provider::Pdc) && !f.wants(Provider::BigId));
        assert!(f.keeps(&json!({"name": "orders", "type": "POSTGRESQL"})));
        assert!(!f.keeps(&json!({"name": "orders", "type": "MYSQL"})));
        assert!(!f.keeps(&json!({"name": "users", "type": "POSTGRESQL"})));
        assert!(
            !f.keeps(&json!({"type": "POSTGRESQL"})),
            "no name, no match"
        );
    }
}

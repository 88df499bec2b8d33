//! Reading a desired-state file (every error naming file, line and field, before anything is
//! sent) and planning it against what the vendors hold now.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::document::{self, Document};
use crate::operation::Provider;
use crate::providers;
use crate::redact;
use crate::secret::{REFERENCE_OPEN, is_reference};
use crate::spec::StateSpec;

/// How long a plan may be applied after it was made.
pub const PLAN_LIFETIME_MS: u64 = 60 * 60 * 1000;

/// A problem with the file, where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileError {
    pub file: String,
    pub line: Option<usize>,
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(
                f,
                "{}:{line}: `{}`: {}",
                self.file, self.field, self.message
            ),
            None => write!(f, "{}: `{}`: {}", self.file, self.field, self.message),
        }
    }
}

/// The file, read and checked.
#[derive(Debug, Clone)]
pub struct Desired {
    pub platforms: Vec<DesiredPlatform>,
}

#[derive(Debug, Clone)]
pub struct DesiredPlatform {
    pub provider: Provider,
    /// Sources at the vendor that the file does not list are deleted.
    pub managed: bool,
    pub entries: Vec<DesiredEntry>,
}

#[derive(Debug, Clone)]
pub struct DesiredEntry {
    pub key: String,
    pub value: Value,
    /// Where it is in the file (`bigid.data_sources[0]`).
    pub path: String,
    /// The entry gives its name alone (as an export of a platform that shows no settings
    /// writes it): it keeps a source that exists, and cannot create one.
    pub name_only: bool,
}

/// The state spec of a provider, if it has one.
pub fn spec_of(provider: Provider) -> Option<&'static StateSpec> {
    providers::state(provider)
}

/// Reads a desired-state file (YAML or JSON). `file` names it in errors.
pub fn read(text: &str, file: &str) -> Result<Desired, Vec<FileError>> {
    let doc = document::parse(text).map_err(|e| {
        vec![FileError {
            file: file.into(),
            line: Some(e.line),
            field: "(syntax)".into(),
            message: e.message,
        }]
    })?;
    check(&doc, file)
}

/// Checks a document already read (an MCP call's `desired` object has no lines).
pub fn check(doc: &Document, file: &str) -> Result<Desired, Vec<FileError>> {
    let mut errors = Vec::new();
    let err = |errors: &mut Vec<FileError>, path: &str, message: String| {
        errors.push(FileError {
            file: file.into(),
            line: doc.line_of(path),
            field: path.into(),
            message,
        })
    };
    let Value::Object(root) = &doc.value else {
        err(
            &mut errors,
            "",
            "must be a mapping of platforms (bigid, pdc, bigdata, databrain)".into(),
        );
        return Err(errors);
    };
    let mut platforms = Vec::new();
    for (name, section) in root {
        if name == "version" {
            if section != &json!(1) {
                err(&mut errors, "version", "must be 1".into());
            }
            continue;
        }
        let Some(provider) = Provider::from_id(name).filter(|p| spec_of(*p).is_some()) else {
            err(
                &mut errors,
                name,
                "is not a platform (bigid, pdc, bigdata, databrain) or `version`".into(),
            );
            continue;
        };
        let spec = spec_of(provider).expect("checked");
        let Value::Object(section) = section else {
            err(
                &mut errors,
                name,
                format!("must be a mapping with `{}` (and `managed`)", spec.section),
            );
            continue;
        };
        let mut managed = false;
        let mut entries = Vec::new();
        for (key, value) in section {
            let path = format!("{name}.{key}");
            if key == "managed" {
                match value {
                    Value::Bool(b) => managed = *b,
                    _ => err(&mut errors, &path, "must be true or false".into()),
                }
            } else if key == spec.section {
                match value {
                    Value::Array(items) => {
                        for (i, item) in items.iter().enumerate() {
                            let at = format!("{path}[{i}]");
                            match entry(provider, spec, item, &at) {
                                Ok(e) => entries.push(e),
                                Err((field, message)) => err(&mut errors, &field, message),
                            }
                        }
                    }
                    _ => err(
                        &mut errors,
                        &path,
                        format!("must be a list of {}s", spec.noun),
                    ),
                }
            } else {
                err(
                    &mut errors,
                    &path,
                    format!("is not `{}` or `managed`", spec.section),
                );
            }
        }
        let mut seen = BTreeSet::new();
        for e in &entries {
            if !seen.insert(e.key.to_ascii_lowercase()) {
                err(
                    &mut errors,
                    &format!("{}.{}", e.path, spec.key),
                    format!("{:?} is listed twice", e.key),
                );
            }
        }
        platforms.push(DesiredPlatform {
            provider,
            managed,
            entries,
        });
    }
    if errors.is_empty() {
        Ok(Desired { platforms })
    } else {
        errors.sort_by_key(|e| e.line);
        Err(errors)
    }
}

/// One entry, checked: its key, no literal credential, and what the create tool's argument type
/// says of it.
fn entry(
    provider: Provider,
    spec: &StateSpec,
    item: &Value,
    at: &str,
) -> Result<DesiredEntry, (String, String)> {
    if !item.is_object() {
        return Err((at.into(), format!("must be a mapping (one {})", spec.noun)));
    }
    let credential_keys = provider.spec().credential_keys;
    literal_credentials(item, at, false, credential_keys)?;
    let key = pointer(item, spec.key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            (
                format!("{at}.{}", spec.key),
                "is required: it names the source".to_string(),
            )
        })?
        .to_string();
    // Where the vendor shows names only, an entry may be a name alone (what an export writes).
    let name_only = !spec.compares && holds_only(item, spec.key);
    let (tool, args) = spec.create;
    let op = providers::operation(tool).ok_or_else(|| (at.to_string(), "no create tool".into()))?;
    if name_only {
        return Ok(DesiredEntry {
            key,
            value: item.clone(),
            path: at.into(),
            name_only,
        });
    }
    if let Err(e) = op.prepare(args(item)) {
        let inner = e
            .field
            .strip_prefix(spec.create_at)
            .map(|rest| rest.trim_start_matches('.'))
            .unwrap_or(&e.field);
        let field = if inner.is_empty() {
            at.to_string()
        } else if inner.starts_with('[') {
            format!("{at}{inner}")
        } else {
            format!("{at}.{inner}")
        };
        return Err((field, e.reason));
    }
    Ok(DesiredEntry {
        key,
        value: item.clone(),
        path: at.into(),
        name_only,
    })
}

/// A value where a credential goes that is not a `${secret:NAME}` reference, or a password
/// written in a URL or connection string: refused (the file is kept, shared and committed).
fn literal_credentials(
    value: &Value,
    path: &str,
    secret: bool,
    credential_keys: &[&str],
) -> Result<(), (String, String)> {
    let refuse = || {
        Err((
            path.to_string(),
            "holds a literal credential: write a reference such as ${secret:ORDERS_DB_PASSWORD} and keep the value where secrets live".to_string(),
        ))
    };
    match value {
        Value::String(s) if secret && !s.is_empty() && !is_reference(s) => refuse(),
        Value::String(s) if !s.contains(REFERENCE_OPEN) && redact::mask_patterns(s) != *s => {
            refuse()
        }
        Value::Number(_) if secret => refuse(),
        Value::Object(map) => {
            for (k, v) in map {
                let inner = secret
                    || redact::is_secret_key(k)
                    || credential_keys.contains(&k.as_str())
                    || (redact::is_secret_text_key(k) && v.is_string());
                literal_credentials(v, &format!("{path}.{k}"), inner, credential_keys)?;
            }
            Ok(())
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                literal_credentials(v, &format!("{path}[{i}]"), secret, credential_keys)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Whether `value` holds nothing but the dotted path (`{credentials: {name: …}}`).
fn holds_only(value: &Value, dotted: &str) -> bool {
    dotted
        .split('.')
        .try_fold(value, |v, key| match v.as_object() {
            Some(map) if map.len() == 1 => map.get(key),
            _ => None,
        })
        .is_some_and(Value::is_string)
}

/// A dotted path into a value.
pub fn pointer<'a>(value: &'a Value, dotted: &str) -> Option<&'a Value> {
    dotted.split('.').try_fold(value, |v, key| v.get(key))
}

// ---- the plan ----------------------------------------------------------------------------------

/// What a plan does to one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Unchanged,
    Delete,
    /// At the vendor, listed in the file, but not compared (the vendor shows no settings).
    Kept,
}

/// One field a plan changes (credentials never: they are shown as references, and a stored
/// one is never read back).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub from: Value,
    pub to: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub provider: String,
    pub key: String,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
    /// The tool and arguments that make it (none for unchanged sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Value>,
    /// Why a change cannot be made, or what the plan leaves as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A plan: the changes, the state they were computed from (a fingerprint per source), and
/// until when it may be applied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub id: String,
    pub created_ms: u64,
    pub expires_ms: u64,
    pub changes: Vec<Change>,
    /// `provider:key` → the SHA-256 of what the vendor held (as the file would write it), or
    /// `absent`.
    pub fingerprints: BTreeMap<String, String>,
    /// Platforms whose current state could not be read (nothing is planned for them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Value>,
}

impl Plan {
    /// Whether applying it would change anything.
    pub fn changes_anything(&self) -> bool {
        self.changes.iter().any(|c| {
            matches!(c.action, Action::Create | Action::Update | Action::Delete) && c.tool.is_some()
        })
    }

    /// Counts by action, for a summary.
    pub fn summary(&self) -> Value {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for c in &self.changes {
            let name = match c.action {
                // A change the plan cannot make (its note says why) is not counted as one.
                Action::Create | Action::Update | Action::Delete if c.tool.is_none() => {
                    "cannot_make"
                }
                Action::Create => "create",
                Action::Update => "update",
                Action::Unchanged => "unchanged",
                Action::Delete => "delete",
                Action::Kept => "kept",
            };
            *counts.entry(name).or_default() += 1;
        }
        json!(counts)
    }
}

/// The vendor's object in the file's terms, with credentials as references named after the
/// source and field (`ORDERS_MYSQL_PASSWORD`).
pub fn exported(spec: &StateSpec, provider: Provider, current: &Value) -> Value {
    let key = current_key(spec, current).unwrap_or_default();
    // The source's name in letters, digits and `_`; a name that loses more than punctuation
    // that way (another script), or is long, also gets a digest of itself, so two sources never
    // share a reference by accident.
    let mut part = squeeze(&key);
    if part.len() > MAX_REFERENCE_PART || !key.is_ascii() || part.is_empty() {
        let sum = ring::digest::digest(&ring::digest::SHA256, key.as_bytes());
        let short: String = sum.as_ref()[..4]
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        part.truncate(MAX_REFERENCE_PART);
        part = format!("{}_{short}", part.trim_end_matches('_'));
    }
    let reference = |field: &str| {
        let name = squeeze(&format!("{}_{}_{field}", provider.id(), part));
        format!("${{secret:{}}}", name.trim_matches('_'))
    };
    (spec.export)(current, &reference)
}

/// Longest part of a reference name taken from a source's name.
const MAX_REFERENCE_PART: usize = 48;

/// Upper-case letters and digits, every other run of characters one `_`.
fn squeeze(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_uppercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out
}

pub fn current_key(spec: &StateSpec, current: &Value) -> Option<String> {
    current
        .pointer(spec.current_key)
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The fingerprint of what the vendor holds for a source: what a plan compared.
pub fn fingerprint(exported: &Value) -> String {
    let text = canonical(exported);
    let sum = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    sum.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::from(k.as_str()), canonical(&map[k])))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => {
            format!(
                "[{}]",
                items.iter().map(canonical).collect::<Vec<_>>().join(",")
            )
        }
        other => other.to_string(),
    }
}

/// The fields of `desired` whose values differ from `current` (both in the file's terms),
/// credentials left out: by top-level field, with each differing leaf.
pub fn differences(desired: &Value, current: &Value) -> (Map<String, Value>, Vec<FieldChange>) {
    let mut top = Map::new();
    let mut leaves = Vec::new();
    let Value::Object(fields) = desired else {
        return (top, leaves);
    };
    for (k, want) in fields {
        if redact::is_secret_key(k) || redact::is_secret_text_key(k) {
            continue;
        }
        let mut changed = Vec::new();
        diff(
            want,
            current.get(k).unwrap_or(&Value::Null),
            k,
            &mut changed,
        );
        if !changed.is_empty() {
            top.insert(k.clone(), want.clone());
            leaves.extend(changed);
        }
    }
    (top, leaves)
}

fn diff(want: &Value, have: &Value, path: &str, out: &mut Vec<FieldChange>) {
    match (want, have) {
        (Value::Object(w), Value::Object(h)) => {
            for (k, v) in w {
                if redact::is_secret_key(k) || (redact::is_secret_text_key(k) && v.is_string()) {
                    continue;
                }
                diff(
                    v,
                    h.get(k).unwrap_or(&Value::Null),
                    &format!("{path}.{k}"),
                    out,
                );
            }
        }
        // A reference stands for a value the vendor never shows: not compared.
        (Value::String(s), _) if s.contains(REFERENCE_OPEN) => {}
        (w, h) if same(w, h) => {}
        (w, h) => out.push(FieldChange {
            field: path.into(),
            from: h.clone(),
            to: w.clone(),
        }),
    }
}

/// Equal, with a number and its text taken as the same (vendors write ports either way).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(n), Value::String(s)) | (Value::String(s), Value::Number(n)) => {
            n.to_string() == *s
        }
        _ => a == b,
    }
}

/// The plan of `desired` against what each platform holds now (`current`: the vendor's
/// objects, or the error that kept them from being read).
pub fn plan(
    desired: &Desired,
    current: &BTreeMap<Provider, Result<Vec<Value>, Value>>,
    id: String,
    now_ms: u64,
) -> Plan {
    let mut changes = Vec::new();
    let mut fingerprints = BTreeMap::new();
    let mut errors = Vec::new();
    for platform in &desired.platforms {
        let provider = platform.provider;
        let Some(spec) = spec_of(provider) else {
            continue;
        };
        let objects = match current.get(&provider) {
            Some(Ok(objects)) => objects,
            Some(Err(error)) => {
                errors.push(error.clone());
                continue;
            }
            None => {
                errors.push(json!({"provider": provider.id(), "code": "NOT_CONFIGURED",
                    "message": format!("{} is not configured here (set {})", provider.spec().title, provider.spec().setup)}));
                continue;
            }
        };
        let mut by_key: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
        for object in objects {
            if let Some(key) = current_key(spec, object) {
                by_key
                    .entry(key.to_ascii_lowercase())
                    .or_default()
                    .push(object);
            }
        }
        let id = |key: &str| format!("{}:{}", provider.id(), key.to_ascii_lowercase());
        let mut listed = BTreeSet::new();
        for entry in &platform.entries {
            listed.insert(entry.key.to_ascii_lowercase());
            let here = by_key.get(&entry.key.to_ascii_lowercase());
            let change = match here.map(Vec::as_slice) {
                None | Some([]) => {
                    fingerprints.insert(id(&entry.key), "absent".into());
                    let (tool, args) = spec.create;
                    let made = !entry.name_only;
                    Change {
                        provider: provider.id().into(),
                        key: entry.key.clone(),
                        action: Action::Create,
                        fields: Vec::new(),
                        tool: made.then(|| tool.into()),
                        args: made.then(|| args(&entry.value)),
                        note: (!made).then(|| format!(
                            "the file gives only its name ({} shows no settings to export): write its fields as {tool} takes them to create it",
                            provider.spec().title
                        )),
                    }
                }
                Some([object]) => {
                    let now = exported(spec, provider, object);
                    fingerprints.insert(id(&entry.key), fingerprint(&now));
                    if !spec.compares {
                        Change {
                            provider: provider.id().into(),
                            key: entry.key.clone(),
                            action: Action::Kept,
                            fields: Vec::new(),
                            tool: None,
                            args: None,
                            note: Some(format!(
                                "exists; {} shows no settings of a {}, so it is not compared",
                                provider.spec().title,
                                spec.noun
                            )),
                        }
                    } else {
                        let (top, fields) = differences(&entry.value, &now);
                        match (fields.is_empty(), spec.update) {
                            (true, _) => Change {
                                provider: provider.id().into(),
                                key: entry.key.clone(),
                                action: Action::Unchanged,
                                fields,
                                tool: None,
                                args: None,
                                note: None,
                            },
                            (false, Some((tool, args))) => {
                                let args = args(object, &top);
                                // What the update tool cannot change is said now, not at apply.
                                let refused = providers::operation(tool)
                                    .map(|op| op.prepare(args.clone()))
                                    .and_then(Result::err);
                                Change {
                                    provider: provider.id().into(),
                                    key: entry.key.clone(),
                                    action: Action::Update,
                                    fields,
                                    tool: refused.is_none().then(|| tool.into()),
                                    args: refused.is_none().then_some(args),
                                    note: refused
                                        .map(|e| format!("{tool} cannot make this change: {e}")),
                                }
                            }
                            (false, None) => Change {
                                provider: provider.id().into(),
                                key: entry.key.clone(),
                                action: Action::Update,
                                fields,
                                tool: None,
                                args: None,
                                note: Some(spec.limits.into()),
                            },
                        }
                    }
                }
                Some(many) => {
                    for (n, object) in many.iter().enumerate() {
                        let now = exported(spec, provider, object);
                        let at = match n {
                            0 => id(&entry.key),
                            n => format!("{}#{n}", id(&entry.key)),
                        };
                        fingerprints.insert(at, fingerprint(&now));
                    }
                    Change {
                        provider: provider.id().into(),
                        key: entry.key.clone(),
                        action: Action::Unchanged,
                        fields: Vec::new(),
                        tool: None,
                        args: None,
                        note: Some(format!(
                            "{} {}s are named so at the vendor: left as they are (rename all but one there)",
                            many.len(),
                            spec.noun
                        )),
                    }
                }
            };
            changes.push(change);
        }
        if platform.managed {
            for (key, objects) in &by_key {
                if listed.contains(key) {
                    continue;
                }
                for object in objects {
                    let shown = current_key(spec, object).unwrap_or_default();
                    let now = exported(spec, provider, object);
                    fingerprints.insert(id(&shown), fingerprint(&now));
                    let (tool, args, note) = match spec.delete {
                        Some((tool, args)) => (Some(tool.to_string()), Some(args(object)), None),
                        None => (None, None, Some(spec.limits.to_string())),
                    };
                    changes.push(Change {
                        provider: provider.id().into(),
                        key: shown,
                        action: Action::Delete,
                        fields: Vec::new(),
                        tool,
                        args,
                        note,
                    });
                }
            }
        }
    }
    // Masked like every other output: a plan is shown and kept.
    let mut changes_value = serde_json::to_value(&changes).unwrap_or(Value::Null);
    redact::clean_json(&mut changes_value, None);
    let changes = serde_json::from_value(changes_value).unwrap_or(changes);
    Plan {
        id,
        created_ms: now_ms,
        expires_ms: now_ms + PLAN_LIFETIME_MS,
        changes,
        fingerprints,
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_ok(text: &str) -> Desired {
        read(text, "d.yaml").unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn errors(text: &str) -> Vec<String> {
        read(text, "d.yaml")
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn every_error_names_file_line_and_field_before_anything_is_sent() {
        let text = "version: 1\nbigid:\n  data_sources:\n    - name: Orders\n      type: rdb-mysql\n      password: hunter2\n    - type: rdb-mysql\npdc:\n  data_sources:\n    - resourceName: a\n      databaseType: S3\noracle: {}\n";
        assert_eq!(
            errors(text),
            [
                "d.yaml:6: `bigid.data_sources[0].password`: holds a literal credential: write a reference such as ${secret:ORDERS_DB_PASSWORD} and keep the value where secrets live",
                "d.yaml:7: `bigid.data_sources[1].name`: is required: it names the source",
                "d.yaml:11: `pdc.data_sources[0].databaseType`: use AWS for S3 and S3-compatible stores (PDC does not take S3 or AWS_S3)",
                "d.yaml:12: `oracle`: is not a platform (bigid, pdc, bigdata, databrain) or `version`",
            ]
        );
    }

    #[test]
    fn a_credential_is_a_reference_wherever_it_hides() {
        for (entry, field) in [
            // A password in a connection URL.
            (
                "{name: a, type: rdb-mysql, rdb_url: \"mysql://u:pw1@h:3306/db\"}",
                "rdb_url",
            ),
            // A key-like field of any name.
            (
                "{name: a, type: s3-v2, aws_secret_key: AKIA1234567890}",
                "aws_secret_key",
            ),
            // A number where a secret goes.
            ("{name: a, type: rdb-mysql, password: 1234}", "password"),
        ] {
            let text = format!("bigid:\n  data_sources:\n    - {entry}\n");
            let e = errors(&text);
            assert_eq!(e.len(), 1, "{e:?}");
            assert!(
                e[0].starts_with(&format!(
                    "d.yaml:3: `bigid.data_sources[0].{field}`: holds a literal credential"
                )),
                "{e:?}"
            );
        }
        let ok = read_ok(
            "bigid:\n  data_sources:\n    - {name: a, type: rdb-mysql, password: \"${secret:A_PW}\"}\n",
        );
        assert_eq!(ok.platforms[0].entries[0].key, "a");
    }

    #[test]
    fn exported_references_are_named_after_source_and_field() {
        let spec = spec_of(Provider::BigId).unwrap();
        let name = |key: &str| {
            exported(
                spec,
                Provider::BigId,
                &json!({"name": key, "type": "rdb-mysql", "password": "***"}),
            )["password"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(
            name("Legacy CRM (EU): archive"),
            "${secret:BIGID_LEGACY_CRM_EU_ARCHIVE_PASSWORD}"
        );
        // Another script, or a long name: a digest keeps two sources apart.
        let (a, b) = (name("データ"), name("データ2"));
        assert!(a.starts_with("${secret:BIGID_") && a != b, "{a} {b}");
        assert!(is_reference(&a) && is_reference(&b));
        let long = name(&"x".repeat(500));
        assert!(is_reference(&long) && long.len() < 90, "{long}");
    }

    #[test]
    fn a_source_listed_twice_is_refused() {
        let e = errors(
            "bigdata:\n  connectors:\n    - {type: email, label: Inbox, config: {allowed_emails: [a@x.example]}}\n    - {type: email, label: inbox, config: {allowed_emails: [a@x.example]}}\n",
        );
        assert_eq!(
            e,
            ["d.yaml:4: `bigdata.connectors[1].label`: \"inbox\" is listed twice"]
        );
    }

    fn current(objects: &[(Provider, Value)]) -> BTreeMap<Provider, Result<Vec<Value>, Value>> {
        let mut map: BTreeMap<Provider, Result<Vec<Value>, Value>> = BTreeMap::new();
        for (p, o) in objects {
            map.entry(*p)
                .or_insert_with(|| Ok(Vec::new()))
                .as_mut()
                .unwrap()
                .push(o.clone());
        }
        map
    }

    const C1: &str = "0b16da7a-5eed-4000-8000-000000000001";
    const C2: &str = "0b16da7a-5eed-4000-8000-000000000002";
    const C3: &str = "0b16da7a-5eed-4000-8000-000000000003";

    #[test]
    fn create_update_unchanged_and_delete_only_where_managed() {
        let desired = read_ok(
            "bigdata:\n  managed: true\n  connectors:\n    - {type: email, label: New, config: {allowed_emails: [a@x.example]}}\n    - {type: email, label: Same, config: {allowed_emails: [s@x.example]}}\n    - {type: email, label: Moved, config: {allowed_emails: [new@x.example]}}\nbigid:\n  data_sources:\n    - {name: Kept, type: rdb-mysql, rdb_url: \"h:3306\", password: \"${secret:PW}\"}\n",
        );
        let connector = |id: &str, label: &str, email: &str| {
            json!({"connector_id": id, "type": "email", "label": label,
                "config": {"allowed_emails": [email]}, "archived": false})
        };
        let now = current(&[
            (Provider::Bigdata, connector(C1, "Same", "s@x.example")),
            (Provider::Bigdata, connector(C2, "Moved", "old@x.example")),
            (Provider::Bigdata, connector(C3, "Gone", "g@x.example")),
            (
                Provider::BigId,
                json!({"name": "Kept", "type": "rdb-mysql", "rdb_url": "h:3306", "password": "********"}),
            ),
            (
                Provider::BigId,
                json!({"name": "Other", "type": "rdb-mysql"}),
            ),
        ]);
        let p = plan(&desired, &now, "plan-1".into(), 1_000);
        assert_eq!(p.changes[2].note, None);
        let shown: Vec<(String, Action, Option<String>)> = p
            .changes
            .iter()
            .map(|c| (c.key.clone(), c.action, c.tool.clone()))
            .collect();
        assert_eq!(
            shown,
            [
                (
                    "New".into(),
                    Action::Create,
                    Some("bigdata_create_connector".into())
                ),
                ("Same".into(), Action::Unchanged, None),
                (
                    "Moved".into(),
                    Action::Update,
                    Some("bigdata_update_connector".into())
                ),
                (
                    "Gone".into(),
                    Action::Delete,
                    Some("bigdata_delete_connector".into())
                ),
                // A reference is never compared; a source the file does not list is left alone
                // where the platform is not managed.
                ("Kept".into(), Action::Unchanged, None),
            ]
        );
        let moved = &p.changes[2];
        assert_eq!(moved.note, None);
        assert_eq!(
            moved.fields,
            [FieldChange {
                field: "config.allowed_emails".into(),
                from: json!(["old@x.example"]),
                to: json!(["new@x.example"]),
            }]
        );
        assert_eq!(
            moved.args,
            Some(json!({"connector_id": C2, "config": {"allowed_emails": ["new@x.example"]}}))
        );
        assert_eq!(p.changes[3].args, Some(json!({"connector_id": C3})));
        assert_eq!(p.expires_ms, 1_000 + PLAN_LIFETIME_MS);
        assert_eq!(p.fingerprints["bigdata:new"], "absent");
        assert_eq!(p.fingerprints.len(), 5, "{:?}", p.fingerprints);
        assert!(p.changes_anything());
        assert_eq!(
            p.summary(),
            json!({"create": 1, "delete": 1, "unchanged": 2, "update": 1})
        );
    }

    #[test]
    fn a_platform_that_cannot_be_read_is_planned_for_nothing() {
        let desired =
            read_ok("pdc:\n  data_sources:\n    - {resourceName: a, databaseType: POSTGRES}\n");
        let mut now = BTreeMap::new();
        now.insert(
            Provider::Pdc,
            Err(json!({"provider": "pdc", "code": "AUTH_FAILED"})),
        );
        let p = plan(&desired, &now, "plan-2".into(), 0);
        assert!(p.changes.is_empty());
        assert_eq!(
            p.errors,
            [json!({"provider": "pdc", "code": "AUTH_FAILED"})]
        );
        assert!(!p.changes_anything());
    }

    #[test]
    fn a_platform_without_a_delete_says_so_instead() {
        let desired = read_ok("pdc:\n  managed: true\n  data_sources: []\n");
        let now = current(&[(
            Provider::Pdc,
            json!({"_id": "1", "resourceName": "old", "databaseType": "AWS"}),
        )]);
        let p = plan(&desired, &now, "plan-3".into(), 0);
        assert_eq!(p.changes.len(), 1);
        assert_eq!(p.changes[0].action, Action::Delete);
        assert_eq!(p.changes[0].tool, None);
        assert!(
            p.changes[0]
                .note
                .as_deref()
                .unwrap()
                .contains("delete it in PDC")
        );
        assert_eq!(p.summary(), json!({"cannot_make": 1}));
        assert!(!p.changes_anything());
    }

    #[test]
    fn a_name_alone_keeps_a_datasource_and_cannot_create_one() {
        let desired = read_ok(
            "databrain:\n  datasources:\n    - credentials: {name: here}\n    - credentials: {name: elsewhere}\n",
        );
        let now = current(&[(Provider::DataBrain, json!({"name": "here"}))]);
        let p = plan(&desired, &now, "plan-4".into(), 0);
        assert_eq!(p.changes[0].action, Action::Kept);
        assert_eq!(p.changes[1].action, Action::Create);
        assert_eq!(p.changes[1].tool, None);
        assert!(
            p.changes[1]
                .note
                .as_deref()
                .unwrap()
                .starts_with("the file gives only its name")
        );
        // A full entry is checked as a create.
        let e = errors("databrain:\n  datasources:\n    - credentials: {name: x, host: h}\n");
        assert_eq!(
            e,
            ["d.yaml:3: `databrain.datasources[0].datasourceType`: is required"]
        );
    }
}

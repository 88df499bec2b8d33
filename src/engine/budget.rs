//! A budget for every result sent to a client: a model's context is finite, and a result is
//! what a call costs it. A result over the budget keeps whole items of its largest list, as
//! many as fit, and says so in a `truncated` object (shown, total, where, and how to get the
//! rest); a result with no list to cut is an error that says how to ask for less.

use std::io::Write;

use serde_json::{Map, Value, json};

/// The default budget: 64 KiB of compact JSON, some 16,000 tokens.
pub const DEFAULT_MAX_RESULT_BYTES: usize = 64 * 1024;

/// Room kept for the `truncated` object itself.
const NOTICE_BYTES: usize = 400;

/// A result that cannot be cut to fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverBudget {
    pub size: usize,
    pub budget: usize,
}

/// Compact JSON size of a value, without building the text.
pub fn size_of(value: &Value) -> usize {
    struct Count(usize);
    impl Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// Makes `value` fit `budget` bytes, cutting its largest list if it must; `hint` says how to
/// get the rest (the next page's arguments, a filter); `reserve` is room kept, after a cut,
/// for what the caller adds then (a page's `next`). Returns where it cut and how many items
/// it kept, if it cut.
pub fn fit(
    value: &mut Value,
    budget: usize,
    reserve: usize,
    hint: &str,
) -> Result<Option<Cut>, OverBudget> {
    let size = size_of(value);
    if size <= budget {
        return Ok(None);
    }
    let over = OverBudget { size, budget };
    let Some((path, list_size)) = largest_list(value) else {
        return Err(over);
    };
    let Some(Value::Array(items)) = value.pointer_mut(&pointer(&path)) else {
        return Err(over);
    };
    let total = items.len();
    // The list may take what the rest of the result leaves of the budget.
    let allowance = (budget + list_size).saturating_sub(size + NOTICE_BYTES + reserve);
    let mut used = 2; // the brackets
    let mut keep = 0;
    for item in items.iter() {
        let next = used + size_of(item) + usize::from(keep > 0);
        if next > allowance {
            break;
        }
        used = next;
        keep += 1;
    }
    if keep == 0 {
        return Err(over);
    }
    items.truncate(keep);
    let notice = json!({
        "shown": keep,
        "total": total,
        "at": path.join("."),
        "message": format!(
            "only the first {keep} of {total} items fit the {budget}-byte result budget"
        ),
        "rest": hint,
    });
    match value {
        Value::Object(map) => {
            map.insert("truncated".into(), notice);
        }
        _ => return Err(over),
    }
    match size_of(value) {
        n if n + reserve <= budget => Ok(Some(Cut {
            at: path.join("."),
            kept: keep,
        })),
        n => Err(OverBudget { size: n, budget }),
    }
}

/// Longest text of an error envelope's field (a vendor's message may be any size; what the
/// model needs of it is its start).
const MAX_ERROR_TEXT: usize = 1_000;

/// Keeps an error envelope small: every text field at most [`MAX_ERROR_TEXT`] characters,
/// then, if the envelope is still over `budget` bytes (a very small budget), its longest texts
/// shortened until it fits. Applied after masking, so a cut never keeps part of a secret.
pub fn fit_error(envelope: &mut Value, budget: usize) {
    let Some(error) = envelope.get_mut("error").and_then(Value::as_object_mut) else {
        return;
    };
    for value in error.values_mut() {
        if let Value::String(text) = value {
            cut_text(text, MAX_ERROR_TEXT);
        }
    }
    // The longest texts shrink first; the code and the provider stay whole.
    let mut keys: Vec<(usize, String)> = error
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "code" | "provider"))
        .filter_map(|(k, v)| v.as_str().map(|s| (s.len(), k.clone())))
        .collect();
    keys.sort_by(|a, b| b.cmp(a));
    for (_, key) in keys {
        let over = size_of(envelope).saturating_sub(budget);
        if over == 0 {
            return;
        }
        if let Some(Value::String(text)) = envelope.pointer_mut(&format!("/error/{key}")) {
            // A character is one byte or more: cutting as many characters as bytes are over
            // is always enough, with room for the ellipsis (three bytes).
            let keep = text.chars().count().saturating_sub(over + 3);
            cut_text(text, keep);
        }
    }
}

/// `text` cut to `max` characters, with an ellipsis when cut.
fn cut_text(text: &mut String, max: usize) {
    if let Some((at, _)) = text.char_indices().nth(max) {
        text.truncate(at);
        text.push('…');
    }
}

/// Where a result was cut, and how many items of that list it kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cut {
    pub at: String,
    pub kept: usize,
}

/// The path and size of the list with the most bytes, anywhere in `value`.
fn largest_list(value: &Value) -> Option<(Vec<String>, usize)> {
    fn walk(v: &Value, path: &mut Vec<String>, best: &mut Option<(Vec<String>, usize)>) {
        match v {
            Value::Array(items) => {
                let size = size_of(v);
                if best.as_ref().is_none_or(|(_, s)| size > *s) {
                    *best = Some((path.clone(), size));
                }
                for (i, item) in items.iter().enumerate() {
                    path.push(i.to_string());
                    walk(item, path, best);
                    path.pop();
                }
            }
            Value::Object(map) => walk_map(map, path, best),
            _ => {}
        }
    }
    fn walk_map(
        map: &Map<String, Value>,
        path: &mut Vec<String>,
        best: &mut Option<(Vec<String>, usize)>,
    ) {
        for (k, v) in map {
            path.push(k.clone());
            walk(v, path, best);
            path.pop();
        }
    }
    let mut best = None;
    walk(value, &mut Vec::new(), &mut best);
    best
}

/// A JSON pointer from path segments.
fn pointer(path: &[String]) -> String {
    path.iter()
        .map(|p| format!("/{}", p.replace('~', "~0").replace('/', "~1")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_over_budget_keeps_whole_items_and_says_so() {
        let items: Vec<Value> = (0..100)
            .map(|i| json!({"name": format!("source-{i:03}"), "type": "rdb-mysql"}))
            .collect();
        let mut v = json!({"data": {"ds_connections": items, "totalCount": 100}});
        let cut = fit(&mut v, 2_000, 0, "call again with skip=…")
            .unwrap()
            .unwrap();
        assert_eq!(cut.at, "data.ds_connections");
        assert!(size_of(&v) <= 2_000, "{}", size_of(&v));
        let kept = v["data"]["ds_connections"].as_array().unwrap();
        assert!(!kept.is_empty() && kept.len() < 100);
        assert_eq!(kept[0]["name"], "source-000");
        assert_eq!(v["truncated"]["shown"], kept.len());
        assert_eq!(v["truncated"]["total"], 100);
        assert_eq!(v["truncated"]["at"], "data.ds_connections");
        assert_eq!(v["truncated"]["rest"], "call again with skip=…");
        assert_eq!(v["data"]["totalCount"], 100, "the rest is kept");
    }

    #[test]
    fn an_error_stays_within_the_budget() {
        let mut e = json!({"error": {"code": "VENDOR_ERROR", "message": "m".repeat(300_000),
            "hint": "check it", "vendor_request_id": "r".repeat(5_000)}});
        fit_error(&mut e, DEFAULT_MAX_RESULT_BYTES);
        assert_eq!(
            e["error"]["message"].as_str().unwrap().chars().count(),
            1_001
        );
        assert_eq!(
            e["error"]["vendor_request_id"]
                .as_str()
                .unwrap()
                .chars()
                .count(),
            1_001
        );
        assert_eq!(e["error"]["hint"], "check it");
        fit_error(&mut e, 600);
        assert!(size_of(&e) <= 600, "{}", size_of(&e));
        assert_eq!(e["error"]["code"], "VENDOR_ERROR");
    }

    #[test]
    fn what_fits_is_untouched_and_what_cannot_be_cut_is_an_error() {
        let mut small = json!({"a": [1, 2, 3]});
        assert_eq!(fit(&mut small, 100, 0, "").unwrap(), None);
        assert_eq!(small, json!({"a": [1, 2, 3]}));
        let mut one = json!({"blob": "x".repeat(5_000)});
        assert_eq!(
            fit(&mut one, 1_000, 0, ""),
            Err(OverBudget {
                size: 5_011,
                budget: 1_000
            })
        );
        let mut huge_item = json!({"items": ["x".repeat(5_000)]});
        assert!(fit(&mut huge_item, 1_000, 0, "").is_err());
    }
}

//! List tools: a page read with the size of its text block, and the result budget's cut of a
//! page checked exactly.

use serde_json::{Value, json};

use super::{Client, call_raw};

/// The default result budget: 64 KiB of JSON text.
pub const BUDGET: usize = 64 * 1024;

/// Calls a list tool that must succeed; returns its result and the length of its text block
/// (which must carry the same JSON).
pub async fn call_page(client: &Client, tool: &str, args: Value) -> (Value, usize) {
    let raw = call_raw(client, tool, args.clone())
        .await
        .expect("tools/call answered");
    let result = raw.structured_content.clone().expect("structuredContent");
    assert_eq!(raw.is_error, Some(false), "{tool} {args}: {result}");
    let text = &raw.content[0].as_text().expect("a text block").text;
    assert_eq!(
        serde_json::from_str::<Value>(text).unwrap(),
        result,
        "text block mirrors structuredContent"
    );
    (result, text.len())
}

/// A page the result budget cut, as it must be: its text within the budget; the first items
/// of `page` (what the page would hold uncut), whole and in order; `truncated` saying how many
/// of them were shown and where; `total` as given; and `next` the call's own arguments
/// (`called`) moved to right after the last item kept. Returns how many items were kept.
pub fn assert_cut(
    result: &Value,
    text_len: usize,
    page: &[Value],
    total: Option<u64>,
    called: &Value,
    skip: u64,
    limit: u64,
) -> usize {
    assert!(text_len <= BUDGET, "{text_len} bytes");
    let kept = result["items"].as_array().expect("items").len();
    assert!(
        kept > 0 && kept < page.len(),
        "{kept} of {} kept",
        page.len()
    );
    // Whole items only, and as many as fit: the next one would not have.
    assert_eq!(result["items"].as_array().unwrap()[..], page[..kept]);
    let next_item = serde_json::to_string(&page[kept]).unwrap().len();
    assert!(
        text_len + next_item > BUDGET - 1024,
        "{text_len} bytes with {kept} items: another of {next_item} bytes would fit"
    );
    assert_eq!(
        result["truncated"],
        json!({"shown": kept, "total": page.len(), "at": "items",
            "message": format!("only the first {kept} of {} items fit the {BUDGET}-byte result budget", page.len()),
            "rest": "call again with the arguments in `next`"})
    );
    let mut next = called.clone();
    next["skip"] = json!(skip + kept as u64);
    next["limit"] = json!(limit);
    assert_eq!(result["next"], next);
    let mut expected_keys = vec!["items", "next", "truncated"];
    match total {
        Some(total) => {
            assert_eq!(result["total"], total);
            expected_keys.push("total");
        }
        None => assert!(result.get("total").is_none(), "{}", result["total"]),
    }
    let mut keys: Vec<&str> = result
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    expected_keys.sort_unstable();
    assert_eq!(keys, expected_keys);
    kept
}

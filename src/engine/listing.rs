//! List tools: one page of compact rows unless asked otherwise. The vendor's answer becomes `{items, total, next}`: `next` holds the exact arguments of
//! the next page.

use serde_json::{Map, Value, json};

use crate::error::ToolError;
use crate::operation::{ListArgs, Listing, OperationSpec, Paging, RowCompletion};
use crate::redact;

/// The page a list call returns: the vendor's items shaped (compact, full or the named
/// fields), cut to the page where the server pages, with `total` and `next`.
pub fn page(
    listing: &Listing,
    args: &ListArgs,
    answer: Value,
    called_with: &Value,
) -> Result<Value, ToolError> {
    let mut answer = answer;
    let items = take_items(listing, &mut answer)?;
    let vendor_total = listing
        .total
        .and_then(|p| answer.pointer(p))
        .and_then(Value::as_u64);
    let (items, total) = match listing.paging {
        Paging::Local => {
            let total = items.len() as u64;
            let page: Vec<Value> = items
                .into_iter()
                .skip(args.skip as usize)
                .take(args.limit as usize)
                .collect();
            (page, Some(total))
        }
        Paging::Vendor => (items, vendor_total),
    };
    let shown = items.len() as u64;
    let items: Vec<Value> = items
        .iter()
        .map(|item| match (&args.fields, args.full) {
            (Some(fields), _) => pick(item, fields),
            (None, true) => item.clone(),
            (None, false) => (listing.row)(item),
        })
        .collect();
    let mut out = json!({ "items": items });
    if let Some(total) = total {
        out["total"] = json!(total);
    }
    let more = match total {
        Some(total) => args.skip + shown < total,
        // No total: a full page may have more after it.
        None => shown > 0 && shown >= args.limit,
    };
    if more {
        out["next"] = next_args(called_with, args.skip + shown, args.limit);
    }
    Ok(out)
}

/// The vendor's items, taken out of its answer (the first of the listing's pointers that names
/// a list). An answer with no list where the vendor puts it is not an empty list: it is an
/// answer this server does not understand, said so with its shape.
pub fn take_items(listing: &Listing, answer: &mut Value) -> Result<Vec<Value>, ToolError> {
    let found = listing
        .items
        .iter()
        .find_map(|p| match answer.pointer_mut(answer_pointer(p)) {
            Some(Value::Array(items)) => Some(std::mem::take(items)),
            _ => None,
        });
    found.ok_or_else(|| not_understood(listing.items, answer, "list"))
}

/// The error for an answer that does not hold what the ledger says, where it says: the
/// places looked at, and the shape that came (keys and kinds, never a value).
pub fn not_understood(places: &[&str], answer: &Value, what: &str) -> ToolError {
    let places: Vec<String> = places
        .iter()
        .map(|p| {
            if p.is_empty() {
                "the answer itself".to_string()
            } else {
                format!("`{p}`")
            }
        })
        .collect();
    ToolError::UnexpectedAnswer {
        status: None,
        what: format!(
            "no {what} at {}, but {}",
            places.join(" or "),
            shape_of(answer, 2)
        ),
    }
}

/// What a value looks like, `depth` levels down: objects by their keys (at most 12), lists by
/// their length, scalars by their kind.
pub fn shape_of(value: &Value, depth: usize) -> String {
    match value {
        Value::Object(map) if depth == 0 => format!("an object of {} keys", map.len()),
        Value::Object(map) => {
            let mut parts: Vec<String> = map
                .iter()
                .take(12)
                .map(|(k, v)| {
                    let key: String = redact::sanitize_text(k).chars().take(40).collect();
                    format!("{key}: {}", shape_of(v, depth - 1))
                })
                .collect();
            if map.len() > 12 {
                parts.push(format!("… {} more", map.len() - 12));
            }
            format!("{{{}}}", parts.join(", "))
        }
        Value::Array(items) => format!("[{} items]", items.len()),
        Value::String(_) => "text".into(),
        Value::Number(_) => "number".into(),
        Value::Bool(_) => "true/false".into(),
        Value::Null => "null".into(),
    }
}

/// Most rows one list call completes with a read each (PDC: its last test's job), and how
/// many such reads run at once: a page of 50 costs 50 small reads, never thousands.
pub const MAX_COMPLETED_ROWS: usize = 100;
const COMPLETING_AT_ONCE: usize = 4;

impl super::Engine {
    /// Completes compact rows whose vendor keeps the last test's outcome elsewhere: one
    /// read-only call per row (at most MAX_COMPLETED_ROWS), a few at a time. A read that fails
    /// leaves its row as it was (its status stays `unknown`).
    /// A compact page's rows completed (see complete_rows); a page of fields or full objects
    /// shows the vendor's own.
    pub(super) async fn complete_page(
        &self,
        provider: &crate::upstream::ProviderClient,
        listing: &Listing,
        list_args: &ListArgs,
        value: &mut Value,
    ) {
        let compact = !list_args.full && list_args.fields.is_none();
        if let (Some(completion), true, Some(Value::Array(rows))) =
            (&listing.completion, compact, value.get_mut("items"))
        {
            self.complete_rows(provider, completion, rows).await;
        }
    }

    pub(super) async fn complete_rows(
        &self,
        provider: &crate::upstream::ProviderClient,
        completion: &RowCompletion,
        rows: &mut [Value],
    ) {
        use futures_util::StreamExt;
        let Some(op) = crate::providers::operation(completion.tool) else {
            return;
        };
        let wanted: Vec<(usize, Value)> = rows
            .iter()
            .enumerate()
            .filter_map(|(i, row)| Some((i, (completion.args)(row)?)))
            .take(MAX_COMPLETED_ROWS)
            .collect();
        let read = |args: Value| async move {
            let parts = op.prepare(args).ok()?;
            let secrets = redact::CallSecrets::default();
            let status = std::sync::atomic::AtomicU16::new(0);
            Some(
                self.run(op, provider, parts, &secrets, &status, Default::default())
                    .await,
            )
        };
        let answers: Vec<(usize, Option<Result<Value, ToolError>>)> =
            futures_util::stream::iter(wanted)
                .map(|(i, args)| async move { (i, read(args).await) })
                .buffered(COMPLETING_AT_ONCE)
                .collect()
                .await;
        for (i, answer) in answers {
            match answer {
                Some(Ok(mut answer)) => {
                    redact::clean_json(&mut answer, None);
                    (completion.apply)(&mut rows[i], &answer, false);
                }
                _ => (completion.apply)(&mut rows[i], &Value::Null, true),
            }
        }
    }
}

/// Most closest names a not-found answer names.
const MAX_CLOSEST: usize = 3;

impl super::Engine {
    /// The existing names closest to one that found nothing: the same but for case, spaces or
    /// punctuation first, then those within a few edits, then those that contain it or that it
    /// contains. Masked names are never offered; a vendor that cannot list gives none.
    pub(super) async fn closest_names(
        &self,
        provider: &crate::upstream::ProviderClient,
        asked: &str,
        cx: &super::CallContext,
    ) -> Vec<String> {
        let Ok((rows, _)) = self.list_pages(provider, false, cx).await else {
            return Vec::new();
        };
        let squeeze = super::plan::squeezed;
        let wanted = squeeze(asked);
        let most_edits = (wanted.chars().count() / 3).clamp(1, 4);
        let mut ranked: Vec<(usize, String)> = rows
            .iter()
            .filter_map(|row| row["name"].as_str())
            .filter(|name| !name.contains(redact::MASK) && *name != asked)
            .filter_map(|name| {
                let have = squeeze(name);
                let rank = if have == wanted {
                    0
                } else if have.contains(&wanted) || (!have.is_empty() && wanted.contains(&have)) {
                    most_edits + 1
                } else {
                    match edits(&have, &wanted, most_edits) {
                        Some(n) => n,
                        None => return None,
                    }
                };
                Some((rank, name.to_string()))
            })
            .collect();
        ranked.sort();
        ranked.dedup_by(|a, b| a.1 == b.1);
        ranked
            .into_iter()
            .take(MAX_CLOSEST)
            .map(|(_, n)| n)
            .collect()
    }
}

/// Edits (insert, delete, replace) from `a` to `b`, when at most `most`; long names are cut
/// first, so a vendor's megabyte name costs no more than a real one.
fn edits(a: &str, b: &str, most: usize) -> Option<usize> {
    let a: Vec<char> = a.chars().take(200).collect();
    let b: Vec<char> = b.chars().take(200).collect();
    if a.len().abs_diff(b.len()) > most {
        return None;
    }
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(here + 1);
            previous = here;
        }
    }
    let n = row[b.len()];
    (n <= most).then_some(n)
}

/// Most pages and items a `name` filter reads from a vendor that pages.
const MAX_NAME_PAGES: u64 = 100;

impl super::Engine {
    /// A list call with a `name` pattern: every item the vendor lists (page by page where it
    /// pages), those whose row name matches (`*` wildcards, case-insensitive), paged here.
    pub(super) async fn list_by_name(
        &self,
        op: &'static OperationSpec,
        provider: &crate::upstream::ProviderClient,
        list_args: &ListArgs,
        pattern: &str,
        args: Value,
        called_with: &Value,
    ) -> Result<Value, ToolError> {
        let listing = &op.listing.ok_or(ToolError::Internal)?;
        let secrets = redact::CallSecrets::default();
        let status = std::sync::atomic::AtomicU16::new(0);
        let page_size = provider.spec.inventory.as_ref().map_or(100, |i| i.page);
        let mut items = Vec::new();
        let mut skip = 0;
        for _ in 0..MAX_NAME_PAGES {
            let mut args = args.clone();
            if listing.paging == Paging::Vendor {
                args["skip"] = json!(skip);
                args["limit"] = json!(page_size);
            }
            let parts = op.prepare(args)?;
            let mut answer = self
                .run(op, provider, parts, &secrets, &status, Default::default())
                .await?;
            let page = take_items(listing, &mut answer)?;
            let got = page.len() as u64;
            items.extend(page.into_iter().filter(|item| {
                let mut row = (listing.row)(item);
                redact::clean_json(&mut row, None);
                row["name"].as_str().is_some_and(|name| {
                    !name.contains(redact::MASK) && crate::providers::inventory::glob(pattern, name)
                })
            }));
            if listing.paging == Paging::Local || got < page_size {
                break;
            }
            skip += got;
        }
        let local = Listing {
            items: &["/items"],
            total: None,
            paging: Paging::Local,
            ..*listing
        };
        page(&local, list_args, json!({ "items": items }), called_with)
    }
}

/// A bare-list answer reaches a listing as the result object `{"items": [...]}` (see
/// `result_object`), so the row's `""` (the answer itself) is found under `/items`.
fn answer_pointer(row_pointer: &str) -> &str {
    if row_pointer.is_empty() {
        super::flows::BARE_LIST_POINTER
    } else {
        row_pointer
    }
}

/// The arguments of the page that starts at `skip`: the call's own, moved on.
pub fn next_args(called_with: &Value, skip: u64, limit: u64) -> Value {
    let mut next = called_with.clone();
    if let Some(map) = next.as_object_mut() {
        map.insert("skip".into(), json!(skip));
        map.insert("limit".into(), json!(limit));
    }
    next
}

/// The named fields of an item, by dotted path (`connectionStatusTest.is_success`); a field
/// the item does not have is left out.
fn pick(item: &Value, fields: &[String]) -> Value {
    let mut out = Map::new();
    for field in fields {
        let pointer: String = field.split('.').map(|p| format!("/{p}")).collect();
        if let Some(v) = item.pointer(&pointer) {
            out.insert(field.clone(), v.clone());
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(item: &Value) -> Value {
        json!({"id": item["n"], "name": item["n"]})
    }

    #[test]
    fn local_pages_shape_and_point_to_the_next_page() {
        let listing = Listing {
            items: &["/results"],
            total: None,
            row,
            paging: Paging::Local,
            fields: "",
            completion: None,
        };
        let answer = json!({"results": (0..5).map(|n| json!({"n": n, "big": "x".repeat(10)})).collect::<Vec<_>>()});
        let mut args = json!({"limit": 2, "skip": 1, "detail": "compact"});
        let list = ListArgs::take(&mut args, Paging::Local).unwrap();
        assert_eq!(args, json!({}), "the row's type never sees them");
        let called = json!({"limit": 2, "skip": 1});
        assert_eq!(
            page(&listing, &list, answer.clone(), &called).unwrap(),
            json!({"items": [{"id": 1, "name": 1}, {"id": 2, "name": 2}], "total": 5,
                "next": {"skip": 3, "limit": 2}})
        );
        let mut args = json!({"fields": ["n", "big", "missing.deep"], "skip": 4});
        let list = ListArgs::take(&mut args, Paging::Local).unwrap();
        assert_eq!(
            page(
                &listing,
                &list,
                answer,
                &json!({"fields": ["n"], "skip": 4})
            )
            .unwrap(),
            json!({"items": [{"n": 4, "big": "xxxxxxxxxx"}], "total": 5})
        );
    }

    #[test]
    fn vendor_pages_keep_their_arguments_and_report_the_vendors_total() {
        let listing = Listing {
            items: &["/data/list"],
            total: Some("/data/totalCount"),
            row,
            paging: Paging::Vendor,
            fields: "",
            completion: None,
        };
        let mut args = json!({"limit": 2, "filter": "a"});
        let list = ListArgs::take(&mut args, Paging::Vendor).unwrap();
        assert_eq!(args, json!({"limit": 2, "filter": "a"}), "the vendor pages");
        let answer = json!({"data": {"list": [{"n": 0}, {"n": 1}], "totalCount": 3}});
        assert_eq!(
            page(&listing, &list, answer, &json!({"limit": 2, "filter": "a"})).unwrap(),
            json!({"items": [{"id": 0, "name": 0}, {"id": 1, "name": 1}], "total": 3,
                "next": {"limit": 2, "filter": "a", "skip": 2}})
        );
    }

    #[test]
    fn shared_arguments_are_checked() {
        for (args, field) in [
            (json!({"detail": "all"}), "detail"),
            (json!({"fields": []}), "fields"),
            (json!({"fields": ["ok", 3]}), "fields[1]"),
            (json!({"limit": 0}), "limit"),
            (json!({"limit": 5000}), "limit"),
            (json!({"skip": -1}), "skip"),
        ] {
            let mut a = args.clone();
            let e = ListArgs::take(&mut a, Paging::Local).unwrap_err();
            assert_eq!(e.field, field, "{args}");
        }
    }
}

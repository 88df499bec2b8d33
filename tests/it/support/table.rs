//! The operation table, for tests that count or list tools: they follow the table as tools
//! are added, instead of a number to update.

use datasource_mcp::operation::{OperationSpec, Provider};
use datasource_mcp::providers;

/// The tools `keep` selects, in table order (the order tools are listed).
pub fn tool_names(keep: impl Fn(&OperationSpec) -> bool) -> Vec<&'static str> {
    providers::operations()
        .filter(|op| keep(op))
        .map(|op| op.name)
        .collect()
}

/// How many tools `keep` selects.
pub fn tool_count(keep: impl Fn(&OperationSpec) -> bool) -> usize {
    providers::operations().filter(|op| keep(op)).count()
}

/// The tools a server with only `provider` configured offers: its own, and those over every
/// configured platform (the inventory).
pub fn offered_with_only(provider: Provider) -> impl Fn(&OperationSpec) -> bool {
    move |op| op.provider.served_by(std::iter::once(provider))
}

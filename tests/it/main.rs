//! The integration tests, as one crate: one build and one link for all of them, one copy of
//! the harness (`support`), and every test's full path (`wire::bigid::…`) to filter on.
//!
//! All tests share one process, so a credential the library registers for masking in one test
//! is masked in every other test's output too: no test may expect another test's credential
//! in a result.

mod support;

/// Each vendor against the recording fake: the exact request sent and the exact result.
mod wire {
    mod bigdata;
    mod bigid;
    mod databrain;
    mod pdc;
}

/// The sandbox: each simulation over HTTP, and agent flows through an MCP client.
mod sandbox {
    mod agent_tasks;
    mod answers;
    mod bigdata;
    mod bigid;
    mod databrain;
    mod flows;
    mod inventory;
    mod pdc;
    mod users;
}

mod cli;
mod configuration;
mod dry_run_plan;
mod hardening;
mod hardening_ii;
mod hostile_input;
mod http;
mod http_hardening;
mod intake;
mod inventory;
mod keychain;
mod layers;
mod model_view;
mod mounted;
mod oauth;
mod ops;
mod prompts_resources;
mod reliability;
mod safety;
mod state;
mod stdio_binary;
mod stdio_hardening;
mod store;
mod tasks;
mod teams;
mod tool_schemas;
mod trace;
mod verify;
mod versions;

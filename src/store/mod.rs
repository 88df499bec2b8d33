//! Where state that outlives one request lives: MCP tasks today (and what replicas must
//! share). One small interface, two homes: memory, for one process, and Redis, which every
//! replica behind a load balancer reads (`--store redis://…`). Values are bytes with a time to
//! live; a compare-and-swap lets several processes update one record without losing a write.
//!
//! Knows nothing of what it stores.

mod api;
mod memory;
mod redis;
pub mod sealed;

pub use api::{Store, StoreError, StoreResult, shown};
pub use memory::MemoryStore;
pub use redis::RedisStore;

/// The store a `--store` value names: `memory` (the default), or a `redis://` /
/// `redis+unix://` URL.
pub async fn open(spec: &str) -> Result<std::sync::Arc<dyn Store>, String> {
    let spec = spec.trim();
    if spec.is_empty() || spec == "memory" {
        return Ok(std::sync::Arc::new(MemoryStore::default()));
    }
    if spec.starts_with("redis://")
        || spec.starts_with("redis+unix://")
        || spec.starts_with("unix://")
    {
        return RedisStore::connect(spec)
            .await
            .map(|s| std::sync::Arc::new(s) as std::sync::Arc<dyn Store>)
            .map_err(|e| e.to_string());
    }
    Err("--store must be `memory` or a redis:// URL".into())
}

//! The interface every store offers.

use std::time::Duration;

use futures_util::future::BoxFuture;

/// Why the store could not be used. The message names the store, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the shared store ({where_}) failed: {why}")]
pub struct StoreError {
    pub where_: String,
    pub why: String,
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A key-value store with expiry. Keys are plain text; every operation is atomic.
pub trait Store: Send + Sync + std::fmt::Debug {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, StoreResult<Option<Vec<u8>>>>;

    /// Sets `key` whatever it held, for `ttl`.
    fn put<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, StoreResult<()>>;

    /// Sets `key` for `ttl` only if it holds nothing; whether it did.
    fn put_new<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, StoreResult<bool>>;

    /// Sets `key` to `new` for `ttl` only if it holds exactly `expected`; whether it did.
    fn swap<'a>(
        &'a self,
        key: &'a str,
        expected: &'a [u8],
        new: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, StoreResult<bool>>;

    /// Removes `key` and returns what it held (once: a second take finds nothing).
    fn take<'a>(&'a self, key: &'a str) -> BoxFuture<'a, StoreResult<Option<Vec<u8>>>>;

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, StoreResult<()>>;

    /// Every live key starting with `prefix`.
    fn keys<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, StoreResult<Vec<String>>>;
}

/// The part of a store URL that may be shown (scheme, host, port, path; never a password).
pub fn shown(spec: &str) -> String {
    match url::Url::parse(spec) {
        Ok(mut url) => {
            let _ = url.set_password(None);
            let _ = url.set_username("");
            url.to_string()
        }
        Err(_) => "memory".into(),
    }
}

//! The store replicas share: Redis, through one reconnecting connection. Compare-and-swap is a
//! server-side script (atomic on the server; a WATCH transaction could interleave on the
//! shared connection).

use std::time::Duration;

use futures_util::future::BoxFuture;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use super::api::{Store, StoreError, StoreResult, shown};

/// How long one command may take before the call that needs it fails (a stopped Redis must
/// give a clear error, not a hang).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

const SWAP: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 else return 0 end";

pub struct RedisStore {
    connection: ConnectionManager,
    /// The URL without its password, for messages.
    shown: String,
    swap: redis::Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RedisStore({})", self.shown)
    }
}

impl RedisStore {
    pub async fn connect(url: &str) -> StoreResult<RedisStore> {
        let shown = shown(url);
        let fail = |why: String| StoreError {
            where_: shown.clone(),
            why,
        };
        let client = redis::Client::open(url).map_err(|e| fail(e.to_string()))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(2);
        let connection = tokio::time::timeout(
            COMMAND_TIMEOUT * 2,
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| fail("no answer".into()))?
        .map_err(|e| fail(e.to_string()))?;
        Ok(RedisStore {
            connection,
            shown,
            swap: redis::Script::new(SWAP),
        })
    }

    fn fail(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError {
            where_: self.shown.clone(),
            why: e.to_string(),
        }
    }

    async fn run<T>(
        &self,
        f: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> StoreResult<T> {
        match tokio::time::timeout(COMMAND_TIMEOUT, f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.fail(e)),
            Err(_) => Err(self.fail("no answer within 5 s")),
        }
    }
}

fn millis(ttl: Duration) -> u64 {
    (ttl.as_millis() as u64).max(1)
}

impl Store for RedisStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, StoreResult<Option<Vec<u8>>>> {
        let mut c = self.connection.clone();
        Box::pin(async move { self.run(async move { c.get(key).await }).await })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, StoreResult<()>> {
        let mut c = self.connection.clone();
        Box::pin(async move {
            self.run(async move { c.pset_ex(key, value, millis(ttl)).await })
                .await
        })
    }

    fn put_new<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        let mut c = self.connection.clone();
        Box::pin(async move {
            let opts = redis::SetOptions::default()
                .conditional_set(redis::ExistenceCheck::NX)
                .with_expiration(redis::SetExpiry::PX(millis(ttl)));
            let set: Option<String> = self
                .run(async move { c.set_options(key, value, opts).await })
                .await?;
            Ok(set.is_some())
        })
    }

    fn swap<'a>(
        &'a self,
        key: &'a str,
        expected: &'a [u8],
        new: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        let mut c = self.connection.clone();
        Box::pin(async move {
            let done: i64 = self
                .run(async move {
                    self.swap
                        .key(key)
                        .arg(expected)
                        .arg(new)
                        .arg(millis(ttl))
                        .invoke_async(&mut c)
                        .await
                })
                .await?;
            Ok(done == 1)
        })
    }

    fn take<'a>(&'a self, key: &'a str) -> BoxFuture<'a, StoreResult<Option<Vec<u8>>>> {
        let mut c = self.connection.clone();
        Box::pin(async move { self.run(async move { c.get_del(key).await }).await })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, StoreResult<()>> {
        let mut c = self.connection.clone();
        Box::pin(async move { self.run(async move { c.del(key).await }).await })
    }

    fn keys<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, StoreResult<Vec<String>>> {
        let mut c = self.connection.clone();
        Box::pin(async move {
            let pattern = format!("{}*", escape_glob(prefix));
            let mut keys: Vec<String> = self
                .run(async move {
                    let mut out = Vec::new();
                    let mut iter = c.scan_match::<_, String>(&pattern).await?;
                    while let Some(key) = iter.next_item().await {
                        out.push(key?);
                    }
                    Ok(out)
                })
                .await?;
            keys.sort();
            keys.dedup();
            Ok(keys)
        })
    }
}

/// A prefix as a literal in a Redis glob.
fn escape_glob(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len());
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

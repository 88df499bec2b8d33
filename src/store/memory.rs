//! The store of one process: a map under a lock, entries dropped when they expire.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;

use super::api::{Store, StoreResult};

/// Entries kept at most, expired ones dropped first: a store in memory cannot grow without
/// bound whatever writes it.
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<String, (Vec<u8>, Instant)>>,
}

impl MemoryStore {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, (Vec<u8>, Instant)>) -> T) -> T {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (_, until)| *until > now);
        }
        f(&mut entries)
    }

    fn live(entry: Option<&(Vec<u8>, Instant)>) -> Option<&Vec<u8>> {
        entry
            .filter(|(_, until)| *until > Instant::now())
            .map(|(v, _)| v)
    }
}

impl Store for MemoryStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, StoreResult<Option<Vec<u8>>>> {
        let value = self.with(|e| Self::live(e.get(key)).cloned());
        Box::pin(async move { Ok(value) })
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, StoreResult<()>> {
        self.with(|e| e.insert(key.to_string(), (value.to_vec(), Instant::now() + ttl)));
        Box::pin(async { Ok(()) })
    }

    fn put_new<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        let set = self.with(|e| {
            if Self::live(e.get(key)).is_some() {
                return false;
            }
            e.insert(key.to_string(), (value.to_vec(), Instant::now() + ttl));
            true
        });
        Box::pin(async move { Ok(set) })
    }

    fn swap<'a>(
        &'a self,
        key: &'a str,
        expected: &'a [u8],
        new: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, StoreResult<bool>> {
        let set = self.with(|e| {
            if Self::live(e.get(key)).map(Vec::as_slice) != Some(expected) {
                return false;
            }
            e.insert(key.to_string(), (new.to_vec(), Instant::now() + ttl));
            true
        });
        Box::pin(async move { Ok(set) })
    }

    fn take<'a>(&'a self, key: &'a str) -> BoxFuture<'a, StoreResult<Option<Vec<u8>>>> {
        let value = self.with(|e| {
            e.remove(key)
                .filter(|(_, until)| *until > Instant::now())
                .map(|(v, _)| v)
        });
        Box::pin(async move { Ok(value) })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, StoreResult<()>> {
        self.with(|e| e.remove(key));
        Box::pin(async { Ok(()) })
    }

    fn keys<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, StoreResult<Vec<String>>> {
        let now = Instant::now();
        let mut keys: Vec<String> = self.with(|e| {
            e.iter()
                .filter(|(k, (_, until))| k.starts_with(prefix) && *until > now)
                .map(|(k, _)| k.clone())
                .collect()
        });
        keys.sort();
        Box::pin(async move { Ok(keys) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_operation_and_expiry() {
        let s = MemoryStore::default();
        let ttl = Duration::from_secs(60);
        assert_eq!(s.get("a").await.unwrap(), None);
        assert!(s.put_new("a", b"1", ttl).await.unwrap());
        assert!(!s.put_new("a", b"2", ttl).await.unwrap());
        assert!(!s.swap("a", b"2", b"3", ttl).await.unwrap());
        assert!(s.swap("a", b"1", b"3", ttl).await.unwrap());
        assert_eq!(s.get("a").await.unwrap(), Some(b"3".to_vec()));
        s.put("b", b"x", Duration::from_millis(1)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(s.get("b").await.unwrap(), None);
        assert_eq!(s.keys("").await.unwrap(), ["a"]);
        assert_eq!(s.take("a").await.unwrap(), Some(b"3".to_vec()));
        assert_eq!(s.take("a").await.unwrap(), None);
    }
}

//! The store every process of a deployment shares: the same contract in memory and in a real
//! Redis (started by the test), and a Redis that stops is a clear error, never a hang.

use std::sync::Arc;
use std::time::Duration;

use crate::support::*;
use datasource_mcp::store::{MemoryStore, RedisStore, Store};

async fn contract(s: Arc<dyn Store>) {
    let ttl = Duration::from_secs(60);
    let k = format!("test:{}", datasource_mcp::secret::random_token(""));
    assert_eq!(s.get(&k).await.unwrap(), None);
    assert!(s.put_new(&k, b"one", ttl).await.unwrap());
    assert!(!s.put_new(&k, b"two", ttl).await.unwrap(), "only if absent");
    assert!(
        !s.swap(&k, b"two", b"three", ttl).await.unwrap(),
        "not what it holds"
    );
    assert!(s.swap(&k, b"one", b"three", ttl).await.unwrap());
    assert_eq!(s.get(&k).await.unwrap(), Some(b"three".to_vec()));
    // Binary values survive.
    let bytes: Vec<u8> = (0..=255).collect();
    s.put(&format!("{k}:bin"), &bytes, ttl).await.unwrap();
    assert_eq!(s.get(&format!("{k}:bin")).await.unwrap(), Some(bytes));
    // Expiry.
    s.put(&format!("{k}:short"), b"x", Duration::from_millis(50))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(s.get(&format!("{k}:short")).await.unwrap(), None);
    // Prefixes are literal (a `*` in one matches only itself).
    s.put(&format!("{k}*x"), b"y", ttl).await.unwrap();
    assert_eq!(
        s.keys(&k).await.unwrap(),
        [k.clone(), format!("{k}*x"), format!("{k}:bin")]
    );
    assert_eq!(s.keys(&format!("{k}*")).await.unwrap(), [format!("{k}*x")]);
    // Take is once.
    assert_eq!(s.take(&k).await.unwrap(), Some(b"three".to_vec()));
    assert_eq!(s.take(&k).await.unwrap(), None);
    s.delete(&format!("{k}:bin")).await.unwrap();
    assert_eq!(s.get(&format!("{k}:bin")).await.unwrap(), None);
    // Concurrent compare-and-swaps: every increment lands once.
    s.put(&format!("{k}:n"), b"0", ttl).await.unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let s = s.clone();
            let key = format!("{k}:n");
            tokio::spawn(async move {
                loop {
                    let old = s.get(&key).await.unwrap().unwrap();
                    let n: u32 = String::from_utf8(old.clone()).unwrap().parse().unwrap();
                    if s.swap(&key, &old, (n + 1).to_string().as_bytes(), ttl)
                        .await
                        .unwrap()
                    {
                        break;
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        s.get(&format!("{k}:n")).await.unwrap(),
        Some(b"20".to_vec())
    );
}

#[tokio::test]
async fn memory_keeps_the_contract() {
    contract(Arc::new(MemoryStore::default())).await;
}

#[tokio::test]
async fn redis_keeps_the_contract_and_a_stopped_redis_is_a_clear_error() {
    let Some(mut redis) = TestRedis::start().await else {
        return;
    };
    let store = Arc::new(RedisStore::connect(&redis.url).await.unwrap());
    contract(store.clone()).await;
    redis.stop();
    let started = std::time::Instant::now();
    let err = store.get("anything").await.unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "the shared store (redis://127.0.0.1:{}/0) failed: ",
            redis.port
        )),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

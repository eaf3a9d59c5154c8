//! A cluster's namespace on the machine's shared engines (Redis on 127.0.0.1:6379, NATS with
//! JetStream on 127.0.0.1:4222): a random `[cluster] name`, so runs never share keys or
//! subjects, whose Redis keys are deleted when the test lets go of it.

/// The shared engines (overridable for other machines).
pub fn redis_url() -> String {
    std::env::var("REELAY_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned())
}

pub fn nats_url() -> String {
    std::env::var("REELAY_TEST_NATS").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

#[derive(Debug)]
pub struct Namespace {
    pub name: String,
    redis: String,
}

impl Namespace {
    pub fn new() -> Self {
        Self {
            name: reelay::random::id("t").expect("random"),
            redis: redis_url(),
        }
    }

    /// The `[cluster]` section of a node of this cluster on the shared engines.
    pub fn config(&self) -> String {
        format!(
            "[cluster]\nname = \"{}\"\nredis = \"{}\"\nnats = \"{}\"\n",
            self.name,
            self.redis,
            nats_url()
        )
    }

    /// The keys this cluster has in Redis.
    pub fn keys(&self) -> Vec<String> {
        let mut conn = redis::Client::open(self.redis.as_str())
            .and_then(|c| c.get_connection())
            .unwrap_or_else(|e| panic!("Redis is unreachable at {} ({e})", self.redis));
        redis::cmd("KEYS")
            .arg(format!("{}:*", self.name))
            .query(&mut conn)
            .expect("KEYS")
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let keys = self.keys();
        if keys.is_empty() {
            return;
        }
        if let Ok(mut conn) =
            redis::Client::open(self.redis.as_str()).and_then(|c| c.get_connection())
        {
            let _: Result<(), _> = redis::cmd("DEL").arg(keys).query(&mut conn);
        }
    }
}

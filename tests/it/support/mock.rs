//! A mock provider for engine tests: `mock_thing` resources whose actions can be delayed or made
//! to fail, and which record the order and concurrency of calls.

use async_trait::async_trait;
use standby_provider_sdk::{
    AttrType, Attribute, CreateRequest, CreateResponse, DeleteRequest, Provider, ProviderError,
    ProviderSchema, ReadRequest, ReadResponse, Schema, UpdateRequest, UpgradeRequest, Value,
};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Records what happened.
#[derive(Default)]
pub struct Mock {
    /// `create NAME`, `update NAME`, `delete NAME`, in completion order.
    pub log: std::sync::Arc<Mutex<Vec<String>>>,
    running: AtomicUsize,
    /// The most actions seen running at once.
    pub max_running: AtomicUsize,
    /// Actions on resources whose name starts with this prefix fail (before their effect).
    pub fail_prefix: std::sync::Arc<Mutex<Option<String>>>,
    /// The version of `mock_thing`'s schema; an upgrade from an older one prefixes `id` with
    /// `vN:` and is logged as `upgrade NAME from V`.
    pub schema_version: std::sync::atomic::AtomicU64,
    /// Every call of upgrade, equal versions included.
    pub upgrades: AtomicUsize,
}

impl Mock {
    /// A mock that writes into a log shared with other test providers.
    pub fn with_log(log: std::sync::Arc<Mutex<Vec<String>>>) -> Self {
        Mock {
            log,
            ..Mock::default()
        }
    }

    async fn act(&self, verb: &str, v: &Value) -> Result<(), ProviderError> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(now, Ordering::SeqCst);
        let ms = v.get("delay_ms").and_then(Value::as_f64).unwrap_or(0.0);
        tokio::time::sleep(Duration::from_millis(ms as u64)).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        let name = v
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string();
        let told = self
            .fail_prefix
            .lock()
            .expect("fail prefix")
            .as_deref()
            .is_some_and(|p| name.starts_with(p));
        if told || v.get("fail").and_then(Value::as_bool) == Some(true) {
            return Err(ProviderError::new(
                "mock failure",
                format!("{name} was told to fail"),
            ));
        }
        self.log.lock().expect("log").push(format!("{verb} {name}"));
        Ok(())
    }

    /// The log so far.
    pub fn entries(&self) -> Vec<String> {
        self.log.lock().expect("log").clone()
    }
}

#[async_trait]
impl Provider for Mock {
    fn name(&self) -> &'static str {
        "mock"
    }

    fn schema(&self) -> ProviderSchema {
        let s = Schema::new([
            ("name", Attribute::required(AttrType::String)),
            ("value", Attribute::optional(AttrType::Any)),
            ("delay_ms", Attribute::optional(AttrType::Number)),
            ("fail", Attribute::optional(AttrType::Bool)),
            ("id", Attribute::computed(AttrType::String)),
        ]);
        ProviderSchema {
            provider: Schema::default(),
            resources: BTreeMap::from([("mock_thing".to_string(), s)]),
            data_sources: BTreeMap::new(),
        }
    }

    async fn create(&self, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        self.act("create", &req.planned).await?;
        let mut m = match req.planned {
            Value::Map(m) => m,
            _ => BTreeMap::new(),
        };
        let id = format!(
            "id-{}",
            m.get("name").and_then(Value::as_str).unwrap_or("?")
        );
        m.insert("id".into(), Value::string(id));
        Ok(CreateResponse {
            state: Value::Map(m),
            ..Default::default()
        })
    }

    fn schema_version(&self, _type_name: &str) -> u64 {
        self.schema_version.load(Ordering::SeqCst)
    }

    async fn upgrade(&self, req: UpgradeRequest) -> Result<Value, ProviderError> {
        let current = self.schema_version.load(Ordering::SeqCst);
        self.upgrades.fetch_add(1, Ordering::SeqCst);
        let mut m = match req.state {
            Value::Map(m) => m,
            _ => BTreeMap::new(),
        };
        if req.version == current {
            return Ok(Value::Map(m));
        }
        let name = m.get("name").and_then(Value::as_str).unwrap_or("?");
        self.log
            .lock()
            .expect("log")
            .push(format!("upgrade {name} from {}", req.version));
        let id = m
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        m.insert("id".into(), Value::string(format!("v{current}:{id}")));
        Ok(Value::Map(m))
    }

    async fn read(&self, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        Ok(ReadResponse {
            state: Some(req.state),
            ..Default::default()
        })
    }

    async fn update(&self, req: UpdateRequest) -> Result<CreateResponse, ProviderError> {
        self.act("update", &req.planned).await?;
        let mut m = match req.planned {
            Value::Map(m) => m,
            _ => BTreeMap::new(),
        };
        m.insert(
            "id".into(),
            req.prior.get("id").cloned().unwrap_or(Value::Null),
        );
        Ok(CreateResponse {
            state: Value::Map(m),
            ..Default::default()
        })
    }

    async fn delete(&self, req: DeleteRequest) -> Result<(), ProviderError> {
        self.act("delete", &req.state).await
    }
}

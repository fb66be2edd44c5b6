//! The providers this build knows, registered in-process, with their schemas cached.

use crate::builtin::StandbyProvider;
use standby_provider_local::LocalProvider;
use standby_provider_sdk::{Provider, ProviderSchema, Schema};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Providers by name.
#[derive(Clone, Default)]
pub struct Registry {
    providers: BTreeMap<String, (Arc<dyn Provider>, Arc<ProviderSchema>)>,
}

impl Registry {
    /// An empty registry, for tests that register their own providers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every provider that ships with standby.
    pub fn standard() -> Self {
        let mut r = Self::new();
        r.register(Arc::new(StandbyProvider));
        r.register(Arc::new(LocalProvider::new()));
        r.register(Arc::new(standby_provider_postgres::PostgresProvider::new()));
        r.register(Arc::new(standby_provider_dns::DnsProvider));
        r.register(Arc::new(standby_provider_haproxy::HaproxyProvider));
        r
    }

    /// Adds a provider.
    pub fn register(&mut self, p: Arc<dyn Provider>) {
        let schema = Arc::new(p.schema());
        self.providers.insert(p.name().to_string(), (p, schema));
    }

    /// A provider by name.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Provider>> {
        self.providers.get(name).map(|(p, _)| p)
    }

    /// A provider's schema.
    pub fn schema(&self, name: &str) -> Option<&ProviderSchema> {
        self.providers.get(name).map(|(_, s)| s.as_ref())
    }

    /// The schema of a resource or data source type.
    pub fn type_schema(&self, type_name: &str, data: bool) -> Option<&Schema> {
        let s = self.schema(self.provider_for(type_name, data)?)?;
        if data {
            s.data_sources.get(type_name)
        } else {
            s.resources.get(type_name)
        }
    }

    /// The provider that offers a type: the one named by the type's prefix (`local_file` ->
    /// `local`) when it has the type, else any provider that declares it (`sqlite_database`).
    pub fn provider_for(&self, type_name: &str, data: bool) -> Option<&str> {
        let has = |schema: &ProviderSchema| {
            if data {
                schema.data_sources.contains_key(type_name)
            } else {
                schema.resources.contains_key(type_name)
            }
        };
        let prefix = type_name.split_once('_').map_or(type_name, |(p, _)| p);
        if let Some((name, (_, s))) = self.providers.get_key_value(prefix) {
            if has(s) {
                return Some(name.as_str());
            }
        }
        self.providers
            .iter()
            .find(|(_, (_, s))| has(s))
            .map(|(n, _)| n.as_str())
    }

    /// Stops every provider's process (external providers); built-in ones have none.
    pub async fn shutdown(&self) {
        for (p, _) in self.providers.values() {
            p.shutdown().await;
        }
    }

    /// Every registered provider name.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.providers.keys().map(String::as_str)
    }

    /// Every type of every provider, for "did you mean".
    pub fn all_types(&self, data: bool) -> Vec<&str> {
        self.providers
            .values()
            .flat_map(|(_, s)| {
                if data {
                    s.data_sources.keys()
                } else {
                    s.resources.keys()
                }
            })
            .map(String::as_str)
            .collect()
    }
}

//! `dns_record`.

use crate::wire::{lookup, replace, rtype, Key};
use async_trait::async_trait;
use standby_provider_sdk::{
    AttrType, Attribute, CreateRequest, CreateResponse, DeleteRequest, Provider, ProviderError,
    ProviderSchema, ReadRequest, ReadResponse, Schema, UpdateRequest, Value,
};
use std::collections::BTreeMap;

/// The DNS provider.
#[derive(Debug, Default, Clone, Copy)]
pub struct DnsProvider;

fn schema() -> Schema {
    Schema::new([
        (
            "server",
            Attribute::required(AttrType::String).describe("host:port of the primary DNS server"),
        ),
        ("zone", Attribute::required(AttrType::String).force_new()),
        (
            "name",
            Attribute::required(AttrType::String)
                .force_new()
                .describe("the record's name: full (db.dr.test), or relative to the zone (db; @ for the apex), as Terraform's dns provider takes it"),
        ),
        (
            "type",
            Attribute::required(AttrType::String)
                .force_new()
                .describe("A, AAAA, CNAME, TXT or SRV"),
        ),
        ("ttl", Attribute::optional(AttrType::Number)),
        (
            "records",
            Attribute::required(AttrType::List(Box::new(AttrType::String))),
        ),
        ("id", Attribute::computed(AttrType::String)),
    ])
    .with_block(
        "key",
        Schema::new([
            ("name", Attribute::required(AttrType::String)),
            ("algorithm", Attribute::optional(AttrType::String)),
            ("secret", Attribute::required(AttrType::String).sensitive()),
        ]),
    )
}

struct Rec {
    server: String,
    zone: String,
    name: String,
    kind: String,
    ttl: u32,
    records: Vec<String>,
    key: Key,
}

fn rec(v: &Value) -> Result<Rec, ProviderError> {
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_default()
    };
    let key = v.get("key").ok_or_else(|| {
        ProviderError::new(
            "dns_record needs a key block",
            "add key { name = ..., algorithm = \"hmac-sha256\", secret = ... }",
        )
    })?;
    let ks = |k: &str| key.get(k).and_then(Value::as_str).map(str::to_string);
    let mut records: Vec<String> = match v.get("records") {
        Some(Value::List(l)) => l
            .iter()
            .filter_map(|x| x.as_str().map(|s| s.trim_end_matches('.').to_string()))
            .collect(),
        _ => Vec::new(),
    };
    records.sort();
    let zone = s("zone");
    Ok(Rec {
        server: s("server"),
        name: full_name(&s("name"), &zone),
        zone,
        kind: s("type").to_ascii_uppercase(),
        ttl: v.get("ttl").and_then(Value::as_f64).unwrap_or(300.0) as u32,
        records,
        key: Key {
            name: ks("name").unwrap_or_default(),
            algorithm: ks("algorithm").unwrap_or_else(|| "hmac-sha256".into()),
            secret: ks("secret").unwrap_or_default(),
        },
    })
}

fn state(planned: Value, r: &Rec) -> Value {
    let mut m = match planned {
        Value::Map(m) => m,
        _ => BTreeMap::new(),
    };
    m.insert(
        "id".into(),
        Value::string(format!(
            "{}/{}/{}",
            r.zone.trim_end_matches('.'),
            r.name.trim_end_matches('.'),
            r.kind
        )),
    );
    m.insert(
        "records".into(),
        Value::List(r.records.iter().map(|x| Value::string(x.clone())).collect()),
    );
    Value::Map(m)
}

#[async_trait]
impl Provider for DnsProvider {
    fn name(&self) -> &'static str {
        "dns"
    }

    fn schema(&self) -> ProviderSchema {
        ProviderSchema {
            provider: Schema::default(),
            resources: BTreeMap::from([("dns_record".to_string(), schema())]),
            data_sources: BTreeMap::new(),
        }
    }

    async fn plan(
        &self,
        req: standby_provider_sdk::PlanRequest,
    ) -> Result<standby_provider_sdk::PlanResponse, ProviderError> {
        let mut resp =
            standby_provider_sdk::plan_with_schema(&schema(), req.prior.as_ref(), &req.config);
        // Records compare as a set: keep them sorted like the server returns them.
        if let Value::Map(m) = &mut resp.planned {
            if let Some(Value::List(l)) = m.get_mut("records") {
                if l.iter().all(|x| x.as_str().is_some()) {
                    l.sort_by_key(|x| {
                        x.as_str()
                            .unwrap_or_default()
                            .trim_end_matches('.')
                            .to_string()
                    });
                    for x in l.iter_mut() {
                        if let Some(s) = x.as_str() {
                            *x = Value::string(s.trim_end_matches('.'));
                        }
                    }
                }
            }
            // "db" and "db.dr.test" name one record: rewriting one form as the other is no
            // change, and certainly no replacement (which would delete the record it made).
            if let Some(prior) = &req.prior {
                let full = |v: &Value| {
                    Some(full_name(
                        v.get("name")?.as_str()?,
                        v.get("zone")?.as_str()?,
                    ))
                };
                let same = full(prior).is_some() && full(prior) == full(&req.config);
                if same {
                    if let Some(n) = prior.get("name").cloned() {
                        m.insert("name".into(), n);
                    }
                    resp.requires_replace.retain(|p| p != "name");
                }
            }
            if resp.requires_replace.is_empty() {
                if let Some(prior) = &req.prior {
                    m.insert(
                        "id".into(),
                        prior.get("id").cloned().unwrap_or(Value::Unknown),
                    );
                }
            }
        }
        Ok(resp)
    }

    async fn validate(
        &self,
        req: standby_provider_sdk::ValidateRequest,
    ) -> Result<standby_provider_sdk::ValidateResponse, ProviderError> {
        let mut issues = Vec::new();
        if let (Some(name), Some(zone)) = (
            req.config.get("name").and_then(Value::as_str),
            req.config.get("zone").and_then(Value::as_str),
        ) {
            if name.ends_with('.')
                && !in_zone(name.trim_end_matches('.'), zone.trim_end_matches('.'))
            {
                issues.push(standby_provider_sdk::ValidationIssue {
                    attribute: Some("name".into()),
                    summary: format!("{name} is not in zone {zone}"),
                    detail: "A name with a trailing dot is fully qualified and must be inside the zone; without the dot it is relative to the zone.".into(),
                });
            }
        }
        if let Some(t) = req.config.get("type").and_then(Value::as_str) {
            if let Err(e) = rtype(&t.to_ascii_uppercase()) {
                issues.push(standby_provider_sdk::ValidationIssue {
                    attribute: Some("type".into()),
                    summary: e.summary,
                    detail: e.detail,
                });
            }
        }
        Ok(standby_provider_sdk::ValidateResponse {
            issues,
            ..Default::default()
        })
    }

    async fn create(&self, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        let r = rec(&req.planned)?;
        replace(
            &r.server,
            &r.zone,
            &r.name,
            rtype(&r.kind)?,
            r.ttl,
            &r.records,
            &r.key,
        )
        .await?;
        Ok(CreateResponse {
            state: state(req.planned, &r),
            ..Default::default()
        })
    }

    async fn read(&self, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        let r = rec(&req.state)?;
        let Some((ttl, values)) = lookup(&r.server, &r.name, rtype(&r.kind)?).await? else {
            return Ok(ReadResponse {
                state: None,
                ..Default::default()
            });
        };
        let mut m = match req.state {
            Value::Map(m) => m,
            _ => BTreeMap::new(),
        };
        m.insert(
            "records".into(),
            Value::List(values.into_iter().map(Value::String).collect()),
        );
        m.insert("ttl".into(), Value::int(i64::from(ttl)));
        Ok(ReadResponse {
            state: Some(Value::Map(m)),
            ..Default::default()
        })
    }

    async fn update(&self, req: UpdateRequest) -> Result<CreateResponse, ProviderError> {
        self.create(CreateRequest {
            type_name: req.type_name,
            planned: req.planned,
        })
        .await
    }

    async fn delete(&self, req: DeleteRequest) -> Result<(), ProviderError> {
        let r = rec(&req.state)?;
        replace(
            &r.server,
            &r.zone,
            &r.name,
            rtype(&r.kind)?,
            r.ttl,
            &[],
            &r.key,
        )
        .await
    }
}

/// The record's full name: `name` as given when it is inside the zone (`db.dr.test`), else
/// relative to it as Terraform's dns provider takes it (`db` in `dr.test`; `@` or nothing is
/// the zone's apex). A name with a trailing dot is fully qualified and is never extended
/// (validation refuses one outside the zone).
pub fn full_name(name: &str, zone: &str) -> String {
    let qualified = name.ends_with('.');
    let name = name.trim_end_matches('.');
    let zone = zone.trim_end_matches('.');
    if name.is_empty() || name == "@" {
        zone.to_string()
    } else if qualified || in_zone(name, zone) {
        name.to_string()
    } else {
        format!("{name}.{zone}")
    }
}

fn in_zone(name: &str, zone: &str) -> bool {
    let (lower, zone_lower) = (name.to_ascii_lowercase(), zone.to_ascii_lowercase());
    lower == zone_lower || lower.ends_with(&format!(".{zone_lower}"))
}

#[cfg(test)]
mod name_tests {
    use super::full_name;

    #[test]
    fn names_are_full_or_relative_to_the_zone() {
        assert_eq!(full_name("db.dr.test", "dr.test"), "db.dr.test");
        assert_eq!(full_name("db.dr.test.", "dr.test."), "db.dr.test");
        assert_eq!(full_name("db", "dr.test"), "db.dr.test");
        assert_eq!(full_name("@", "dr.test"), "dr.test");
        assert_eq!(full_name("DB.DR.TEST", "dr.test"), "DB.DR.TEST");
        // A trailing dot is fully qualified: never extended.
        assert_eq!(full_name("db.other.test.", "dr.test"), "db.other.test");
    }
}

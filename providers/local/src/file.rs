//! `local_file`, `local_sensitive_file` and the `local_file` data source.

use async_trait::async_trait;
use base64::Engine as _;
use sha2::Digest as _;
use standby_provider_sdk::{
    import_by_reading, AttrType, Attribute, ConfigureRequest, CreateRequest, CreateResponse,
    DeleteRequest, ImportRequest, PlanRequest, PlanResponse, Provider, ProviderError,
    ProviderSchema, ReadDataRequest, ReadRequest, ReadResponse, Schema, UpdateRequest,
    ValidateRequest, ValidateResponse, ValidationIssue, Value,
};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

const HASHES: [&str; 5] = [
    "id",
    "content_md5",
    "content_sha1",
    "content_sha256",
    "content_base64sha256",
];

/// The local provider. Register it once; it is configured with the topology's root directory.
#[derive(Debug, Default)]
pub struct LocalProvider {
    root: RwLock<PathBuf>,
}

impl LocalProvider {
    /// A provider whose relative paths resolve against the process's working directory until
    /// it is configured.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn resolve(&self, filename: &str) -> PathBuf {
        let p = Path::new(filename);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.root
                .read()
                .map(|r| r.join(p))
                .unwrap_or_else(|_| p.to_path_buf())
        }
    }
}

fn file_schema(sensitive: bool) -> Schema {
    let mut content = Attribute::optional(AttrType::String).describe("the file's content");
    if sensitive {
        content = content.sensitive();
    }
    let mut attrs = vec![
        (
            "filename",
            Attribute::required(AttrType::String)
                .force_new()
                .describe("path of the file; relative paths resolve against the topology root"),
        ),
        ("content", content),
        ("content_base64", {
            let a = Attribute::optional(AttrType::String).describe("the content, base64-encoded");
            if sensitive {
                a.sensitive()
            } else {
                a
            }
        }),
        (
            "source",
            Attribute::optional(AttrType::String).describe("path of a file to copy"),
        ),
        (
            "file_permission",
            Attribute::optional(AttrType::String)
                .also_computed()
                .describe("octal mode of the file"),
        ),
        (
            "directory_permission",
            Attribute::optional(AttrType::String)
                .also_computed()
                .force_new()
                .describe("octal mode of created parent directories"),
        ),
    ];
    for h in HASHES {
        // A digest of a secret confirms a guess at it (a short token, a known password), so a
        // sensitive file's digests, and its id (the SHA-1), are sensitive too. Terraform's local
        // provider shows them; standby does not.
        let a = Attribute::computed(AttrType::String);
        attrs.push((h, if sensitive { a.sensitive() } else { a }));
    }
    Schema::new(attrs)
}

fn data_schema() -> Schema {
    let mut attrs = vec![
        ("filename", Attribute::required(AttrType::String)),
        ("content", Attribute::computed(AttrType::String)),
        ("content_base64", Attribute::computed(AttrType::String)),
    ];
    for h in HASHES {
        attrs.push((h, Attribute::computed(AttrType::String)));
    }
    Schema::new(attrs)
}

fn default_mode(type_name: &str) -> &'static str {
    if type_name == "local_sensitive_file" {
        "0700"
    } else {
        "0777"
    }
}

fn hashes(bytes: &[u8]) -> BTreeMap<String, Value> {
    let sha1 = hex::encode(sha1::Sha1::digest(bytes));
    let sha256 = sha2::Sha256::digest(bytes);
    BTreeMap::from([
        ("id".to_string(), Value::string(sha1.clone())),
        ("content_sha1".to_string(), Value::string(sha1)),
        (
            "content_md5".to_string(),
            Value::string(hex::encode(md5::Md5::digest(bytes))),
        ),
        (
            "content_sha256".to_string(),
            Value::string(hex::encode(sha256)),
        ),
        (
            "content_base64sha256".to_string(),
            Value::string(base64::engine::general_purpose::STANDARD.encode(sha256)),
        ),
    ])
}

fn perr(summary: &str, e: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(summary, e.to_string())
}

fn parse_mode(s: &str) -> Result<u32, ProviderError> {
    u32::from_str_radix(s, 8).map_err(|_| {
        ProviderError::new(
            "invalid permission",
            format!("{s:?} is not an octal mode; write it as a string such as \"0644\""),
        )
    })
}

impl LocalProvider {
    /// The bytes the configuration asks for, if they are known.
    fn desired_bytes(&self, config: &Value) -> Result<Option<Vec<u8>>, ProviderError> {
        if let Some(c) = config.get("content").filter(|v| !v.is_null()) {
            return Ok(c.as_str().map(|s| s.as_bytes().to_vec()));
        }
        if let Some(c) = config.get("content_base64").filter(|v| !v.is_null()) {
            return match c.as_str() {
                Some(s) => base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map(Some)
                    .map_err(|e| perr("content_base64 is not valid base64", e)),
                None => Ok(None),
            };
        }
        if let Some(src) = config.get("source").filter(|v| !v.is_null()) {
            return match src.as_str() {
                Some(s) => crate::atomic::read_regular(&self.resolve(s))
                    .map(Some)
                    .map_err(|e| perr(&format!("cannot read source {s}"), e)),
                None => Ok(None),
            };
        }
        Ok(Some(Vec::new()))
    }

    fn write(&self, type_name: &str, planned: &Value) -> Result<Value, ProviderError> {
        let filename = planned
            .get("filename")
            .and_then(Value::as_str)
            .ok_or_else(|| ProviderError::new("filename is not known", "it must be a string"))?;
        let bytes = self
            .desired_bytes(planned)?
            .ok_or_else(|| ProviderError::new("content is not known at apply", filename))?;
        let path = self.resolve(filename);
        let fmode = planned
            .get("file_permission")
            .and_then(Value::as_str)
            .unwrap_or(default_mode(type_name))
            .to_string();
        let dmode = planned
            .get("directory_permission")
            .and_then(Value::as_str)
            .unwrap_or(default_mode(type_name))
            .to_string();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            if !parent.exists() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| perr(&format!("cannot create {}", parent.display()), e))?;
                std::fs::set_permissions(
                    parent,
                    std::fs::Permissions::from_mode(parse_mode(&dmode)? & !crate::atomic::umask()),
                )
                .map_err(|e| perr("cannot set directory permission", e))?;
            }
        }
        crate::atomic::write(&path, &bytes, parse_mode(&fmode)?)?;
        let mut state = match planned {
            Value::Map(m) => m.clone(),
            _ => BTreeMap::new(),
        };
        state.extend(hashes(&bytes));
        state.insert("file_permission".into(), Value::string(fmode));
        state.insert("directory_permission".into(), Value::string(dmode));
        Ok(Value::Map(state))
    }
}

#[async_trait]
impl Provider for LocalProvider {
    fn name(&self) -> &'static str {
        "local"
    }

    fn schema(&self) -> ProviderSchema {
        ProviderSchema {
            provider: Schema::default(),
            resources: BTreeMap::from([
                ("local_file".to_string(), file_schema(false)),
                ("local_sensitive_file".to_string(), file_schema(true)),
                (
                    "sqlite_database".to_string(),
                    crate::member::sqlite_schema(),
                ),
            ]),
            data_sources: BTreeMap::from([("local_file".to_string(), data_schema())]),
        }
    }

    async fn configure(&self, req: ConfigureRequest) -> Result<(), ProviderError> {
        if let Ok(mut r) = self.root.write() {
            *r = req.root_dir;
        }
        Ok(())
    }

    async fn validate(&self, req: ValidateRequest) -> Result<ValidateResponse, ProviderError> {
        let mut issues = Vec::new();
        if req.type_name == "local_file" || req.type_name == "local_sensitive_file" {
            let set: Vec<&str> = ["content", "content_base64", "source"]
                .into_iter()
                .filter(|k| req.config.get(k).is_some_and(|v| !v.is_null()))
                .collect();
            if set.len() > 1 {
                issues.push(ValidationIssue {
                    attribute: Some(set[1].to_string()),
                    summary: "conflicting content attributes".into(),
                    detail: format!(
                        "set only one of content, content_base64 and source; found {}",
                        set.join(", ")
                    ),
                });
            }
            for k in ["file_permission", "directory_permission"] {
                if let Some(s) = req.config.get(k).and_then(Value::as_str) {
                    if parse_mode(s).is_err() || s.len() != 4 {
                        issues.push(ValidationIssue {
                            attribute: Some(k.to_string()),
                            summary: format!("invalid {k}"),
                            detail: format!("{s:?} must be four octal digits, such as \"0644\""),
                        });
                    }
                }
            }
        }
        Ok(ValidateResponse {
            issues,
            ..Default::default()
        })
    }

    async fn plan(&self, req: PlanRequest) -> Result<PlanResponse, ProviderError> {
        if req.type_name == "sqlite_database" {
            return Ok(crate::member::plan(&req));
        }
        let schema = file_schema(req.type_name == "local_sensitive_file");
        let mut resp =
            standby_provider_sdk::plan_with_schema(&schema, req.prior.as_ref(), &req.config);
        let Value::Map(planned) = &mut resp.planned else {
            return Ok(resp);
        };
        for k in ["file_permission", "directory_permission"] {
            if planned.get(k).is_none_or(|v| v.is_unknown() || v.is_null()) {
                planned.insert(k.to_string(), Value::string(default_mode(&req.type_name)));
            }
        }
        // Hashes are known at plan time whenever the content is, so reviewers see them.
        match self.desired_bytes(&req.config) {
            Ok(Some(bytes)) => planned.extend(hashes(&bytes)),
            Ok(None) => {
                for h in HASHES {
                    planned.insert(h.to_string(), Value::Unknown);
                }
            }
            Err(e) => return Err(e),
        }
        let old_mode = req
            .prior
            .as_ref()
            .and_then(|p| p.get("directory_permission"))
            .cloned();
        if old_mode.is_some_and(|o| !o.same_as(&planned["directory_permission"]))
            && !resp
                .requires_replace
                .contains(&"directory_permission".to_string())
        {
            resp.requires_replace.push("directory_permission".into());
        }
        Ok(resp)
    }

    async fn create(&self, req: CreateRequest) -> Result<CreateResponse, ProviderError> {
        if req.type_name == "sqlite_database" {
            return crate::member::create(self, req).await;
        }
        let state = self.write(&req.type_name, &req.planned)?;
        Ok(CreateResponse {
            state,
            ..Default::default()
        })
    }

    async fn read(&self, req: ReadRequest) -> Result<ReadResponse, ProviderError> {
        if req.type_name == "sqlite_database" {
            return crate::member::read(self, req).await;
        }
        let Some(filename) = req.state.get("filename").and_then(Value::as_str) else {
            return Ok(ReadResponse {
                state: None,
                ..Default::default()
            });
        };
        let path = self.resolve(filename);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(ReadResponse {
                    state: None,
                    ..Default::default()
                })
            }
            Err(e) => return Err(perr(&format!("cannot read {}", path.display()), e)),
        };
        let mut state = match &req.state {
            Value::Map(m) => m.clone(),
            _ => BTreeMap::new(),
        };
        let recorded = state.get("content_sha256").cloned();
        let fresh = hashes(&bytes);
        if recorded.as_ref() != fresh.get("content_sha256") {
            // Drift: record what is really there, so the plan shows an update back.
            if state.get("content").is_some_and(|c| !c.is_null()) {
                state.insert(
                    "content".into(),
                    Value::string(String::from_utf8_lossy(&bytes)),
                );
            }
            if state.get("content_base64").is_some_and(|c| !c.is_null()) {
                state.insert(
                    "content_base64".into(),
                    Value::string(base64::engine::general_purpose::STANDARD.encode(&bytes)),
                );
            }
            state.extend(fresh);
        }
        if let Ok(meta) = std::fs::metadata(&path) {
            let actual = meta.permissions().mode() & 0o7777;
            // The recorded mode is "before umask": it still holds when the umask explains
            // the difference.
            let recorded = state
                .get("file_permission")
                .and_then(Value::as_str)
                .and_then(|m| u32::from_str_radix(m, 8).ok());
            if recorded.is_none_or(|r| r & !crate::atomic::umask() != actual) {
                state.insert(
                    "file_permission".into(),
                    Value::string(format!("{actual:04o}")),
                );
            }
        }
        Ok(ReadResponse {
            state: Some(Value::Map(state)),
            ..Default::default()
        })
    }

    async fn update(&self, req: UpdateRequest) -> Result<CreateResponse, ProviderError> {
        if req.type_name == "sqlite_database" {
            return crate::member::create(
                self,
                CreateRequest {
                    type_name: req.type_name,
                    planned: req.planned,
                },
            )
            .await;
        }
        let state = self.write(&req.type_name, &req.planned)?;
        Ok(CreateResponse {
            state,
            ..Default::default()
        })
    }

    async fn delete(&self, req: DeleteRequest) -> Result<(), ProviderError> {
        if req.type_name == "sqlite_database" {
            return crate::member::delete(self, req).await;
        }
        let Some(filename) = req.state.get("filename").and_then(Value::as_str) else {
            return Ok(());
        };
        let path = self.resolve(filename);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(perr(&format!("cannot delete {}", path.display()), e)),
        }
    }

    fn replication(&self) -> Option<&dyn standby_provider_sdk::Replication> {
        Some(self)
    }

    fn drill_target(&self) -> Option<&dyn standby_provider_sdk::DrillTarget> {
        Some(self)
    }

    async fn import(&self, req: ImportRequest) -> Result<CreateResponse, ProviderError> {
        if req.type_name == "sqlite_database" {
            // Only a SQLite database is adopted: a file of another kind at that path is not
            // this resource's object, and managing it would delete it on destroy.
            let path = self.resolve(&req.id);
            // Metadata first: opening a FIFO or a device to read its header could block.
            let meta = std::fs::symlink_metadata(&path).ok();
            let is_db = match &meta {
                // An empty file is an empty database to SQLite.
                Some(m) if m.is_file() && m.len() == 0 => true,
                Some(m) if m.is_file() => {
                    let mut head = [0u8; 16];
                    std::fs::File::open(&path)
                        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
                        .is_ok()
                        && &head == b"SQLite format 3\0"
                }
                _ => false,
            };
            if meta.is_some() && !is_db {
                return Err(ProviderError::new(
                    format!("cannot import {}", req.id),
                    "the file there is not a SQLite database.",
                ));
            }
            // The id is the database's path; the schema is what the configuration says.
            let mut state = match req.config {
                Value::Map(m) => m,
                _ => Default::default(),
            };
            for k in ["path", "id", "address"] {
                state.insert(k.into(), Value::string(req.id.clone()));
            }
            let missing = ProviderError::new(
                format!("cannot import {}", req.id),
                "there is no database at that path.",
            );
            return import_by_reading(self, &req.type_name, Value::Map(state), missing).await;
        }
        // The configuration's settings, with the id as the file name; reading then puts in
        // what the file really holds, as a refresh would.
        let mut state = match req.config {
            Value::Map(m) => m,
            _ => BTreeMap::new(),
        };
        state.retain(|_, v| !v.is_unknown());
        state.insert("filename".into(), Value::string(req.id.clone()));
        for k in ["file_permission", "directory_permission"] {
            if state.get(k).is_none_or(Value::is_null) {
                state.insert(k.into(), Value::string(default_mode(&req.type_name)));
            }
        }
        if state.get("content_base64").is_none_or(Value::is_null) {
            state.insert("content".into(), Value::string(""));
        }
        let missing = ProviderError::new(
            format!("cannot import {}", req.id),
            "there is no file at that path.",
        );
        import_by_reading(self, &req.type_name, Value::Map(state), missing).await
    }

    async fn read_data(&self, req: ReadDataRequest) -> Result<CreateResponse, ProviderError> {
        let filename = req
            .config
            .get("filename")
            .and_then(Value::as_str)
            .ok_or_else(|| ProviderError::new("filename is required", "set filename to a path"))?;
        let path = self.resolve(filename);
        let bytes = crate::atomic::read_regular(&path).map_err(|e| {
            ProviderError::new(
                format!("cannot read {}", path.display()),
                format!("{e}; the data source local_file needs the file to exist at plan time"),
            )
        })?;
        let mut state = hashes(&bytes);
        state.insert("filename".into(), Value::string(filename));
        state.insert(
            "content".into(),
            Value::string(String::from_utf8_lossy(&bytes)),
        );
        state.insert(
            "content_base64".into(),
            Value::string(base64::engine::general_purpose::STANDARD.encode(&bytes)),
        );
        Ok(CreateResponse {
            state: Value::Map(state),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Value {
        Value::object(pairs.iter().map(|(k, v)| (*k, Value::from(*v))))
    }

    #[tokio::test]
    async fn content_change_is_update_filename_change_is_replace() {
        let p = LocalProvider::new();
        let dir = tempfile::tempdir().unwrap();
        p.configure(ConfigureRequest {
            config: Value::Null,
            root_dir: dir.path().into(),
        })
        .await
        .unwrap();
        let c1 = cfg(&[("filename", "a.txt"), ("content", "one")]);
        let planned = p
            .plan(PlanRequest {
                type_name: "local_file".into(),
                prior: None,
                config: c1,
                prior_private: Vec::new(),
            })
            .await
            .unwrap();
        let st = p
            .create(CreateRequest {
                type_name: "local_file".into(),
                planned: planned.planned,
            })
            .await
            .unwrap()
            .state;
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
            "one"
        );
        let c2 = cfg(&[("filename", "a.txt"), ("content", "two")]);
        let r = p
            .plan(PlanRequest {
                type_name: "local_file".into(),
                prior: Some(st.clone()),
                config: c2,
                prior_private: Vec::new(),
            })
            .await
            .unwrap();
        assert!(r.requires_replace.is_empty());
        let c3 = cfg(&[("filename", "b.txt"), ("content", "one")]);
        let r = p
            .plan(PlanRequest {
                type_name: "local_file".into(),
                prior: Some(st.clone()),
                config: c3,
                prior_private: Vec::new(),
            })
            .await
            .unwrap();
        assert_eq!(r.requires_replace, vec!["filename".to_string()]);
    }

    #[tokio::test]
    async fn read_detects_edit_and_removal() {
        let p = LocalProvider::new();
        let dir = tempfile::tempdir().unwrap();
        p.configure(ConfigureRequest {
            config: Value::Null,
            root_dir: dir.path().into(),
        })
        .await
        .unwrap();
        let planned = p
            .plan(PlanRequest {
                type_name: "local_file".into(),
                prior: None,
                config: cfg(&[("filename", "a"), ("content", "x")]),
                prior_private: Vec::new(),
            })
            .await
            .unwrap();
        let st = p
            .create(CreateRequest {
                type_name: "local_file".into(),
                planned: planned.planned,
            })
            .await
            .unwrap()
            .state;
        std::fs::write(dir.path().join("a"), "edited").unwrap();
        let read = p
            .read(ReadRequest {
                type_name: "local_file".into(),
                state: st.clone(),
                private: Vec::new(),
            })
            .await
            .unwrap();
        assert_eq!(
            read.state.unwrap().get("content").unwrap().as_str(),
            Some("edited")
        );
        std::fs::remove_file(dir.path().join("a")).unwrap();
        let read = p
            .read(ReadRequest {
                type_name: "local_file".into(),
                state: st,
                private: Vec::new(),
            })
            .await
            .unwrap();
        assert!(read.state.is_none());
    }
}

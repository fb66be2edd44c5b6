//! `standby/testing`: a protocol 6 provider that manages files, for standby's plugin tests.
//!
//! What it exercises, each observable from outside:
//! - nested attributes (`owner`, a single object; `rules`, a list of objects), a set
//!   (`tags`), a sensitive attribute (`secret`, written into the file);
//! - unknowns: `id`, `digest` and `writes` are computed at apply;
//! - private data: the number of writes is kept in the instance's private data; a read
//!   without private data is an error, so a state that lost it cannot refresh;
//! - schema versions: release 0.1.x has schema version 1, where `digest` is upper-case hex;
//!   from 0.2.0 it is version 2, `sha256:` and lower-case hex. tf-provider 0.2.2 answers
//!   UpgradeResourceState itself when the recorded version is the current one, and otherwise
//!   calls `Resource::upgrade`, whose argument type (`RawValue`) the crate does not export: no
//!   provider built with it can implement an upgrade, so the default's diagnostic ("Upgrade is
//!   not supported") is what a state of version 1 meets here;
//! - diagnostics: `content` containing "forbidden" is refused with the attribute's path, and an
//!   `owner` without `email` gets a warning;
//! - import by path, drift (the file changed or removed outside), and a data source;
//! - nested blocks: `mount` repeats (list nesting), `label "KEY"` is labelled (map nesting);
//!   `blocks_seen` says what arrived; `backup` is optional (at most one);
//! - warnings: a tag "old" at plan, content containing "slow" at apply;
//! - a create that fails after writing the file (content containing "fail after write"),
//!   returning the new state with its error.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, NestedBlock, Schema,
};
use tf_provider::value::{Value, ValueEmpty, ValueNumber, ValueString};
use tf_provider::{map, serve, AttributePath, Diagnostics, Provider, Resource};

type Text = ValueString<'static>;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
struct Owner {
    name: Text,
    email: Text,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
struct Rule {
    port: ValueNumber,
    proto: Text,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
struct Mount {
    target: Text,
    options: Text,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
struct Label {
    value: Text,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
struct File {
    path: Text,
    content: Text,
    secret: Text,
    tags: Value<BTreeSet<Text>>,
    owner: Value<Owner>,
    rules: Value<Vec<Value<Rule>>>,
    id: Text,
    digest: Text,
    writes: ValueNumber,
    mount: Value<Vec<Value<Mount>>>,
    backup: Value<Vec<Value<Label>>>,
    label: Value<BTreeMap<String, Value<Label>>>,
    blocks_seen: Text,
}

/// What the provider received of the repeated (`mount`) and labelled (`label`) nested blocks,
/// in order: `mount=/a,/b label=x:1,y:2`; unknown while any of it is.
fn blocks_seen(f: &File) -> Text {
    let mut mounts = Vec::new();
    for m in f.mount.iter().flatten() {
        match m {
            Value::Value(m) if m.target.is_value() => mounts.push(m.target.as_str().to_string()),
            Value::Value(_) | Value::Unknown => return Value::Unknown,
            Value::Null => {}
        }
    }
    let mut labels = Vec::new();
    for (k, l) in f.label.iter().flatten() {
        match l {
            Value::Value(l) if l.value.is_value() => labels.push(format!("{k}:{}", l.value.as_str())),
            Value::Value(_) | Value::Unknown => return Value::Unknown,
            Value::Null => {}
        }
    }
    if f.mount.is_unknown() || f.label.is_unknown() {
        return Value::Unknown;
    }
    text(&format!("mount={} label={}", mounts.join(","), labels.join(",")))
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
struct Private {
    writes: i64,
}

/// The schema version of this release, from the name it was installed under
/// (`terraform-provider-testing_v0.1.0` has version 1).
fn version() -> i64 {
    let exe = std::env::current_exe().unwrap_or_default();
    let name = exe.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.contains("_v0.1.") {
        1
    } else {
        2
    }
}

fn digest(content: &str, version: i64) -> String {
    let hex: String = Sha256::digest(content.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if version == 1 {
        hex.to_uppercase()
    } else {
        format!("sha256:{hex}")
    }
}

fn text(s: &str) -> Text {
    Value::Value(Cow::Owned(s.to_string()))
}

fn attr(t: AttributeType, c: AttributeConstraint, sensitive: bool) -> Attribute {
    Attribute {
        attr_type: t,
        description: Description::plain(""),
        constraint: c,
        sensitive,
        ..Default::default()
    }
}

/// What the file holds: the content, then the secret on a line of its own when set.
fn body(f: &File) -> String {
    match f.secret.as_ref_option() {
        Some(s) => format!("{}\nsecret={s}\n", f.content.as_str()),
        None => f.content.as_str().to_string(),
    }
}

/// The content of a file written by [`body`].
fn content_of(raw: &str) -> (String, Option<String>) {
    match raw.split_once("\nsecret=") {
        Some((c, s)) => (c.to_string(), Some(s.trim_end_matches('\n').to_string())),
        None => (raw.to_string(), None),
    }
}

struct FileResource;

/// A plan-time warning at the attribute: a tag named "old" is deprecated.
fn deprecated_tags(diags: &mut Diagnostics, f: &File) {
    if f.tags.iter().flatten().any(|t| t.as_ref_option().is_some_and(|t| t == "old")) {
        diags.warning(
            "Deprecated tag",
            "The tag \"old\" will not be accepted by the next release.",
            AttributePath::new("tags"),
        );
    }
}

impl FileResource {
    fn write(&self, diags: &mut Diagnostics, f: &mut File, writes: i64) -> Option<()> {
        if let Err(e) = std::fs::write(f.path.as_str(), body(f)) {
            diags.error(
                "Cannot write the file",
                format!("{}: {e}", f.path.as_str()),
                AttributePath::new("path"),
            );
            return None;
        }
        f.digest = text(&digest(f.content.as_str(), version()));
        f.writes = Value::Value(writes);
        Some(())
    }
}

#[async_trait]
impl Resource for FileResource {
    type State<'a> = Value<File>;
    type PrivateState<'a> = Value<Private>;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        use AttributeConstraint::{Computed, Optional, Required};
        let owner = map! {
            "name" => attr(AttributeType::String, Required, false),
            "email" => attr(AttributeType::String, Optional, false),
        };
        let rule = map! {
            "port" => attr(AttributeType::Number, Required, false),
            "proto" => attr(AttributeType::String, Optional, false),
        };
        Some(Schema {
            version: version(),
            block: Block {
                attributes: map! {
                    "path" => attr(AttributeType::String, Required, false),
                    "content" => attr(AttributeType::String, Required, false),
                    "secret" => attr(AttributeType::String, Optional, true),
                    "tags" => attr(AttributeType::Set(Box::new(AttributeType::String)), Optional, false),
                    "owner" => attr(AttributeType::AttributeSingle(owner), Optional, false),
                    "rules" => attr(AttributeType::AttributeList(rule), Optional, false),
                    "id" => attr(AttributeType::String, Computed, false),
                    "digest" => attr(AttributeType::String, Computed, false),
                    "writes" => attr(AttributeType::Number, Computed, false),
                    "blocks_seen" => attr(AttributeType::String, Computed, false),
                },
                blocks: map! {
                    "mount" => NestedBlock::List(Block {
                        attributes: map! {
                            "target" => attr(AttributeType::String, Required, false),
                            "options" => attr(AttributeType::String, Optional, false),
                        },
                        ..Default::default()
                    }),
                    // At most one (min 0, max 1), though its argument is required.
                    "backup" => NestedBlock::Optional(Block {
                        attributes: map! {
                            "value" => attr(AttributeType::String, Required, false),
                        },
                        ..Default::default()
                    }),
                    "label" => NestedBlock::Map(Block {
                        attributes: map! {
                            "value" => attr(AttributeType::String, Required, false),
                        },
                        ..Default::default()
                    }),
                },
                ..Default::default()
            },
        })
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::State<'a>) -> Option<()> {
        let Value::Value(f) = config else {
            return Some(());
        };
        if f.content.as_ref_option().is_some_and(|c| c.contains("forbidden")) {
            diags.error(
                "Forbidden content",
                "The content may not contain the word \"forbidden\".",
                AttributePath::new("content"),
            );
        }
        if let Value::Value(o) = &f.owner {
            if o.email.is_null() {
                diags.warning(
                    "Owner without email",
                    "Nobody can be told when this file changes.",
                    AttributePath::new("owner").attribute("email"),
                );
            }
        }
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let Value::Value(mut f) = state else {
            return Some((state, private));
        };
        if private.is_null() {
            diags.root_error(
                "Private data lost",
                format!(
                    "{} was recorded without the provider's private data.",
                    f.path.as_str()
                ),
            );
            return None;
        }
        match std::fs::read_to_string(f.path.as_str()) {
            Ok(raw) => {
                let (content, secret) = content_of(&raw);
                f.content = text(&content);
                f.secret = secret.map_or(Value::Null, |s| text(&s));
                f.digest = text(&digest(&content, version()));
                Some((Value::Value(f), private))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some((Value::Null, private)),
            Err(e) => {
                diags.root_error("Cannot read the file", format!("{}: {e}", f.path.as_str()));
                None
            }
        }
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        proposed: Self::State<'a>,
        _config: Self::State<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let mut f = proposed.unwrap_or_default();
        deprecated_tags(diags, &f);
        f.id = Value::Unknown;
        f.digest = Value::Unknown;
        f.writes = Value::Unknown;
        f.blocks_seen = blocks_seen(&f);
        Some((Value::Value(f), Value::Null))
    }

    async fn plan_update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: Self::State<'a>,
        proposed: Self::State<'a>,
        _config: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>, Vec<AttributePath>)> {
        let prior = prior.unwrap_or_default();
        let mut f = proposed.unwrap_or_default();
        deprecated_tags(diags, &f);
        let mut replace = vec![];
        f.blocks_seen = blocks_seen(&f);
        if f.path != prior.path {
            replace.push(AttributePath::new("path"));
        }
        if body(&f) != body(&prior) || f.path != prior.path {
            f.digest = match &f.content {
                Value::Value(c) => text(&digest(c, version())),
                _ => Value::Unknown,
            };
            f.writes = Value::Unknown;
        }
        Some((Value::Value(f), private, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<Self::PrivateState<'a>> {
        Some(private)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: Self::State<'a>,
        _config: Self::State<'a>,
        _private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let mut f = planned.unwrap_or_default();
        f.id = text(&format!("file:{}", f.path.as_str()));
        f.blocks_seen = blocks_seen(&f);
        self.write(diags, &mut f, 1)?;
        if f.content.as_str().contains("slow") {
            diags.root_warning("The write was slow", "The disk took its time.");
        }
        // A create that fails after its effect: the file exists, and the provider says so
        // with its error, as providers do when a resource is made but not ready.
        if f.content.as_str().contains("fail after write") {
            diags.root_error(
                "The file was written but failed its check",
                format!("{} exists now.", f.path.as_str()),
            );
        }
        Some((Value::Value(f), Value::Value(Private { writes: 1 })))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        _prior: Self::State<'a>,
        planned: Self::State<'a>,
        _config: Self::State<'a>,
        private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let Value::Value(p) = private else {
            diags.root_error_short("Private data lost before an update");
            return None;
        };
        let mut f = planned.unwrap_or_default();
        let writes = p.writes + 1;
        self.write(diags, &mut f, writes)?;
        Some((Value::Value(f), Value::Value(Private { writes })))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        state: Self::State<'a>,
        _private: Self::PrivateState<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<()> {
        let f = state.unwrap_or_default();
        match std::fs::remove_file(f.path.as_str()) {
            Ok(()) => Some(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(()),
            Err(e) => {
                diags.root_error("Cannot delete the file", e.to_string());
                None
            }
        }
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>)> {
        let raw = match std::fs::read_to_string(&id) {
            Ok(raw) => raw,
            Err(e) => {
                diags.root_error("Cannot import the file", format!("{id}: {e}"));
                return None;
            }
        };
        let (content, secret) = content_of(&raw);
        let f = File {
            path: text(&id),
            content: text(&content),
            secret: secret.map_or(Value::Null, |s| text(&s)),
            id: text(&format!("file:{id}")),
            digest: text(&digest(&content, version())),
            writes: Value::Value(0),
            mount: Value::Value(Vec::new()),
            backup: Value::Value(Vec::new()),
            label: Value::Value(BTreeMap::new()),
            blocks_seen: text("mount= label="),
            ..Default::default()
        };
        Some((Value::Value(f), Value::Value(Private { writes: 0 })))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
struct FileData {
    path: Text,
    content: Text,
    digest: Text,
}

struct FileDataSource;

#[async_trait]
impl tf_provider::DataSource for FileDataSource {
    type State<'a> = FileData;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        use AttributeConstraint::{Computed, Required};
        Some(Schema {
            version: 1,
            block: Block {
                attributes: map! {
                    "path" => attr(AttributeType::String, Required, false),
                    "content" => attr(AttributeType::String, Computed, false),
                    "digest" => attr(AttributeType::String, Computed, false),
                },
                ..Default::default()
            },
        })
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        mut config: Self::State<'a>,
        _meta: Self::ProviderMetaState<'a>,
    ) -> Option<Self::State<'a>> {
        match std::fs::read_to_string(config.path.as_str()) {
            Ok(raw) => {
                let (content, _) = content_of(&raw);
                config.digest = text(&digest(&content, version()));
                config.content = text(&content);
                Some(config)
            }
            Err(e) => {
                diags.error(
                    "Cannot read the file",
                    format!("{}: {e}", config.path.as_str()),
                    AttributePath::new("path"),
                );
                None
            }
        }
    }
}

struct Testing;

#[async_trait]
impl Provider for Testing {
    type Config<'a> = ValueEmpty;
    type MetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(Schema {
            version: 1,
            block: Block::default(),
        })
    }

    async fn validate<'a>(&self, _diags: &mut Diagnostics, _config: Self::Config<'a>) -> Option<()> {
        Some(())
    }

    async fn configure<'a>(
        &self,
        _diags: &mut Diagnostics,
        _terraform_version: String,
        _config: Self::Config<'a>,
    ) -> Option<()> {
        Some(())
    }

    fn get_resources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn tf_provider::DynamicResource>>> {
        Some(map! { "file" => FileResource })
    }

    fn get_data_sources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn tf_provider::DynamicDataSource>>> {
        Some(map! { "file" => FileDataSource })
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    serve("testing", Testing).await
}

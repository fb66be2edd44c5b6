//! The real hashicorp/null provider, through the plugin protocol.

use standby_provider_plugin::PluginProvider;
use standby_provider_sdk::{CreateRequest, PlanRequest, Provider, ReadRequest, Value};
use std::sync::Arc;

fn null_binary() -> std::path::PathBuf {
    let p = std::env::var_os("STANDBY_NULL_PROVIDER").map(Into::into).unwrap_or_else(|| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../target/tools/mirror/registry.terraform.io/hashicorp/null/2.1.2/linux_amd64/terraform-provider-null_v2.1.2_x4")
    });
    assert!(
        p.exists(),
        "{} is missing: ./scripts/test installs it",
        p.display()
    );
    p
}

#[tokio::test(flavor = "multi_thread")]
async fn null_resource_lifecycle() {
    let logs = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let l = logs.clone();
    let p = PluginProvider::start(
        "null",
        &null_binary(),
        Arc::new(move |_, line: &str| l.lock().unwrap().push(line.to_string())),
    )
    .await
    .unwrap();
    assert_eq!(p.protocol, 5);
    assert!(p.tls, "AutoMTLS");
    let s = p.schema();
    assert!(
        s.resources.contains_key("null_resource"),
        "{:?}",
        s.resources.keys()
    );
    assert!(s.data_sources.contains_key("null_data_source"));
    p.configure(standby_provider_sdk::ConfigureRequest {
        config: Value::Null,
        root_dir: ".".into(),
    })
    .await
    .unwrap();
    let config = Value::object([
        ("triggers", Value::object([("a", Value::string("1"))])),
        ("id", Value::Null),
    ]);
    let plan = p
        .plan(PlanRequest {
            type_name: "null_resource".into(),
            prior: None,
            config: config.clone(),
            prior_private: Vec::new(),
        })
        .await
        .unwrap();
    assert_eq!(
        plan.planned.get("id"),
        Some(&Value::Unknown),
        "{:?}",
        plan.planned
    );
    let created = p
        .create(CreateRequest {
            type_name: "null_resource".into(),
            planned: plan.planned,
        })
        .await
        .unwrap();
    let id = created
        .state
        .get("id")
        .and_then(Value::as_str)
        .unwrap()
        .to_string();
    assert!(!id.is_empty());
    let read = p
        .read(ReadRequest {
            type_name: "null_resource".into(),
            state: created.state.clone(),
            private: created.private.clone(),
        })
        .await
        .unwrap();
    assert_eq!(read.state, Some(created.state.clone()));
    let changed = Value::object([
        ("triggers", Value::object([("a", Value::string("2"))])),
        ("id", Value::Null),
    ]);
    let replan = p
        .plan(PlanRequest {
            type_name: "null_resource".into(),
            prior: Some(created.state.clone()),
            config: changed,
            prior_private: created.private.clone(),
        })
        .await
        .unwrap();
    assert!(
        replan.requires_replace.contains(&"triggers".to_string()),
        "{:?}",
        replan.requires_replace
    );
    p.stop().await;
    assert!(!logs.lock().unwrap().is_empty());
}

/// Terraform 1.0.3's `terraform init -plugin-dir` wrote this hash for the same package.
#[test]
fn the_h1_hash_matches_terraforms() {
    let dir = null_binary().parent().unwrap().to_path_buf();
    assert_eq!(
        standby_provider_plugin::install::h1(&dir).unwrap(),
        "h1:CFnENdqQu4g3LJNevA32aDxcUz2qGkRGQpFfkI8TCdE="
    );
}

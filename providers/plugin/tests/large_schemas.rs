//! The schemas of real, large providers decode without error: LXD 1.5.0 and vSphere 2.0.2
//! (GetProviderSchema only; no server is needed). `./scripts/test` installs them.

use standby_provider_plugin::schema::Nesting;
use standby_provider_plugin::PluginProvider;
use std::path::PathBuf;
use std::sync::Arc;

fn exe(source: &str, version: &str, name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/tools/mirror/registry.terraform.io")
        .join(source)
        .join(version)
        .join("linux_amd64")
        .join(name);
    assert!(
        p.exists(),
        "{} is missing: ./scripts/test installs it",
        p.display()
    );
    p
}

async fn start(source: &str, version: &str, name: &str) -> PluginProvider {
    let local = source.rsplit('/').next().unwrap();
    PluginProvider::start(
        local,
        &exe(source, version, name),
        Arc::new(|_: &str, _: &str| {}),
    )
    .await
    .unwrap_or_else(|e| panic!("{source}: {e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_vsphere_providers_schema_decodes_with_its_nested_blocks() {
    let p = start(
        "hashicorp/vsphere",
        "2.0.2",
        "terraform-provider-vsphere_v2.0.2_x5",
    )
    .await;
    let s = p.schemas();
    assert!(
        s.resources.len() >= 39,
        "{} resource types",
        s.resources.len()
    );
    assert!(
        s.data_sources.len() >= 20,
        "{} data sources",
        s.data_sources.len()
    );
    let vm = &s.resources["vsphere_virtual_machine"].block;
    let disk = &vm.blocks["disk"];
    assert_eq!(disk.nesting, Nesting::List);
    assert!(disk.block.attributes.contains_key("size"));
    assert!(vm.attributes["name"].required);
    // Sensitive attributes keep their flag.
    let sensitive: Vec<&String> = s
        .resources
        .values()
        .chain(s.data_sources.values())
        .chain([&s.provider])
        .flat_map(|x| x.block.attributes.iter())
        .filter(|(_, a)| a.sensitive)
        .map(|(k, _)| k)
        .collect();
    assert!(!sensitive.is_empty(), "no sensitive attribute decoded");
    assert!(s.provider.block.attributes.contains_key("password"));
    // Every schema implies a type; the SDK view covers every type.
    let sdk = standby_provider_sdk::Provider::schema(&p);
    assert_eq!(sdk.resources.len(), s.resources.len());
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lxd_providers_schema_decodes() {
    let p = start(
        "terraform-lxd/lxd",
        "1.5.0",
        "terraform-provider-lxd_v1.5.0",
    )
    .await;
    let s = p.schemas();
    assert!(
        s.resources.contains_key("lxd_container"),
        "{:?}",
        s.resources.keys()
    );
    let c = &s.resources["lxd_container"].block;
    assert!(c
        .blocks
        .values()
        .any(|b| b.nesting == Nesting::Set || b.nesting == Nesting::List));
    for (name, r) in &s.resources {
        let _ = r.block.implied_type();
        assert!(
            !r.block.attributes.is_empty() || !r.block.blocks.is_empty(),
            "{name} is empty"
        );
    }
    p.stop().await;
}

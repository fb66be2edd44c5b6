//! Unmodified Terraform providers: the real hashicorp/null 2.1.2 (a Go program speaking plugin
//! protocol 5 over go-plugin's automatic mutual TLS), installed by `standby init` from a
//! filesystem mirror in Terraform's layout (`./scripts/test` unpacks it into
//! `target/tools/mirror`), pinned in `.standby.lock.hcl`, and driven through plan and apply.

use crate::support::Test;
use std::path::PathBuf;

fn mirror() -> PathBuf {
    let m = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tools/mirror");
    assert!(
        m.join("registry.terraform.io/hashicorp/null/2.1.2/linux_amd64/terraform-provider-null_v2.1.2_x4").exists(),
        "{} has no hashicorp/null 2.1.2: ./scripts/test installs it",
        m.display()
    );
    m
}

const NULL: &str = r#"
terraform {
  required_providers {
    null = {
      source  = "hashicorp/null"
      version = "~> 2.1"
    }
  }
}

variable "v" {
  default = "1"
}

resource "null_resource" "a" {
  triggers = {
    v = var.v
  }
}

data "null_data_source" "d" {
  inputs = {
    x = null_resource.a.id
  }
}

output "id" {
  value = null_resource.a.id
}

output "d" {
  value = data.null_data_source.d.outputs["x"]
}
"#;

fn initialized() -> Test {
    let t = Test::new().file("main.hcl", NULL);
    let m = mirror();
    t.run(&["init", "-plugin-dir", m.to_str().unwrap()])
        .code(0)
        .stdout_has("- null: registry.terraform.io/hashicorp/null v2.1.2 from ");
    t
}

fn output(t: &Test, name: &str) -> String {
    let r = t.run(&["output", "-raw", name]);
    r.code(0);
    r.stdout.clone()
}

#[test]
fn a_null_resource_is_created_left_alone_replaced_on_a_trigger_change_and_destroyed() {
    let t = initialized();
    t.run(&["apply", "-auto-approve"])
        .code(0)
        .stderr_has("null_resource.a: Creation complete")
        .stdout_has("Resources: 1 added, 0 changed, 0 destroyed.");
    let first = output(&t, "id");
    assert!(first.parse::<u64>().is_ok(), "the provider's id: {first:?}");
    // The data source read the resource's id after it was created.
    assert_eq!(output(&t, "d"), first);
    t.run(&["plan", "-detailed-exitcode"])
        .code(0)
        .stdout_has("No changes.");
    t.run(&["plan", "-var", "v=2"])
        .code(0)
        .stdout_has("null_resource.a must be replaced")
        .stdout_has("(replace because \"triggers\" cannot be updated in place)")
        .stdout_lacks("\"id\" cannot");
    t.run(&["apply", "-auto-approve", "-var", "v=2"])
        .code(0)
        .stderr_has("null_resource.a: Replacement complete")
        .stdout_has("Resources: 1 added, 0 changed, 1 destroyed.");
    // null 2.1.2 draws ids from Go's unseeded math/rand: a fresh process may repeat one.
    let second = output(&t, "id");
    assert_eq!(output(&t, "d"), second);
    t.run(&["plan", "-detailed-exitcode", "-var", "v=2"])
        .code(0)
        .stdout_has("No changes.");
    t.run(&["destroy", "-auto-approve", "-var", "v=2"])
        .code(0)
        .stderr_has("null_resource.a: Destruction complete");
    t.run(&["state", "list"])
        .code(0)
        .stdout_lacks("null_resource");
}

/// null 2.1.2 cannot import (its null_resource has no importer); the provider's own
/// diagnostic reaches the user and nothing is recorded.
#[test]
fn an_import_the_provider_refuses_shows_its_diagnostic_and_changes_nothing() {
    let t = initialized();
    t.run(&["import", "null_resource.a", "1234"])
        .code(1)
        .stderr_has(
            "Cannot import \"1234\" as null_resource.a: the provider null reported an error",
        )
        .stderr_has("resource null_resource doesn't support import");
    t.run(&["state", "list"])
        .code(0)
        .stdout_lacks("null_resource");
}

#[test]
fn the_lock_file_pins_terraforms_hash_and_a_changed_package_is_refused() {
    let t = initialized();
    let lock = t.read(".standby.lock.hcl");
    // The hash Terraform 1.0.3's `terraform init -plugin-dir` records for the same package.
    assert!(
        lock.contains("provider \"registry.terraform.io/hashicorp/null\" {\n  version     = \"2.1.2\"\n  constraints = \"~> 2.1\"\n  hashes = [\n    \"h1:CFnENdqQu4g3LJNevA32aDxcUz2qGkRGQpFfkI8TCdE=\",\n  ]\n}"),
        "{lock}"
    );
    t.run(&["plan"]).code(0);
    // Someone swaps the installed program.
    let exe = t.join(".standby/providers/registry.terraform.io/hashicorp/null/2.1.2/linux_amd64/terraform-provider-null_v2.1.2_x4");
    let mut bytes = std::fs::read(&exe).unwrap();
    bytes.push(0);
    std::fs::write(&exe, bytes).unwrap();
    t.run(&["plan"])
        .code(1)
        .stderr_has("The installed package of registry.terraform.io/hashicorp/null 2.1.2 does not match .standby.lock.hcl")
        .stderr_has("standby refuses to run it");
    // A mirror whose package changed is refused by init too: the lock file selects 2.1.2.
    let bad = tempfile::tempdir().unwrap();
    let dir = bad
        .path()
        .join("registry.terraform.io/hashicorp/null/2.1.2/linux_amd64");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&exe, dir.join("terraform-provider-null_v2.1.2_x4")).unwrap();
    t.run(&["init", "-plugin-dir", bad.path().to_str().unwrap()])
        .code(1)
        .stderr_has("does not match .standby.lock.hcl");
    // The real package installs again, and runs.
    t.run(&["init", "-plugin-dir", mirror().to_str().unwrap()])
        .code(0);
    t.run(&["plan"]).code(0);
}

/// Terraform's packed layout: `HOST/NAMESPACE/TYPE/terraform-provider-TYPE_VERSION_OS_ARCH.zip`
/// (`./scripts/test` zips the null provider). The archive is unpacked into `.standby/providers`
/// with its mode, locked with both hashes: `h1:` of its files (the same as the unpacked
/// package's, which Terraform 1.0.3 computed) and `zh:` of the archive; an archive whose
/// contents changed is refused against the lock.
#[test]
fn a_packed_mirror_is_unpacked_and_locked_with_its_h1_and_zh_hashes() {
    use sha2::Digest as _;
    let tools = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tools");
    let packed = tools.join("packed-mirror");
    let zip = packed
        .join("registry.terraform.io/hashicorp/null/terraform-provider-null_2.1.2_linux_amd64.zip");
    assert!(zip.exists(), "{}: ./scripts/test makes it", zip.display());
    let zh = format!(
        "zh:{}",
        hex::encode(sha2::Sha256::digest(std::fs::read(&zip).unwrap()))
    );
    let t = Test::new().file("main.hcl", NULL);
    t.run(&["init", "-plugin-dir", packed.to_str().unwrap()])
        .code(0)
        .stdout_has("terraform-provider-null_2.1.2_linux_amd64.zip");
    let lock = t.read(".standby.lock.hcl");
    assert!(
        lock.contains(&format!("  hashes = [\n    \"h1:CFnENdqQu4g3LJNevA32aDxcUz2qGkRGQpFfkI8TCdE=\",\n    \"{zh}\",\n  ]")),
        "{lock}"
    );
    let exe = t.join(".standby/providers/registry.terraform.io/hashicorp/null/2.1.2/linux_amd64/terraform-provider-null_v2.1.2_x4");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&exe).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert!(!std::fs::read_dir(t.join(".standby/providers"))
        .unwrap()
        .any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".unpacking")));
    t.run(&["apply", "-auto-approve"])
        .code(0)
        .stdout_has("Resources: 1 added");
    let tampered = tools.join("packed-tampered");
    t.run(&["init", "-plugin-dir", tampered.to_str().unwrap()])
        .code(1)
        .stderr_has("does not match .standby.lock.hcl");
    // The refused archive left the installed package as it was.
    t.run(&["plan", "-detailed-exitcode"]).code(0);
}

#[test]
fn a_missing_provider_names_the_constraint_and_every_directory_searched() {
    let t = Test::new().file("main.hcl", &NULL.replace("~> 2.1", "~> 3.0"));
    let m = mirror();
    t.run(&["init", "-plugin-dir", m.to_str().unwrap()])
        .code(1)
        .stderr_has("No version of registry.terraform.io/hashicorp/null for provider \"null\" matches \"~> 3.0\"")
        .stderr_has(&m.display().to_string())
        .stderr_has("found 2.1.2, which the constraints exclude");
    // Before init, a run says what to do instead of failing on an unknown type.
    t.run(&["plan"])
        .code(1)
        .stderr_has("Provider registry.terraform.io/hashicorp/null is not installed")
        .stderr_has("standby init");
}

#[test]
fn init_finds_the_mirror_of_a_cli_configuration_file() {
    let t = Test::new().file("main.hcl", NULL);
    let rc = t.join("standbyrc");
    std::fs::write(
        &rc,
        format!(
            "provider_installation {{\n  filesystem_mirror {{\n    path = {:?}\n  }}\n}}\n",
            mirror().display().to_string()
        ),
    )
    .unwrap();
    t.run_env(&["init"], "STANDBY_CLI_CONFIG_FILE", rc.to_str().unwrap())
        .code(0)
        .stdout_has("- null: registry.terraform.io/hashicorp/null v2.1.2");
    t.run(&["apply", "-auto-approve"]).code(0);
}

/// As in Terraform: a mirror's `exclude` keeps a provider out, and a `provider_installation`
/// block replaces the implied directories, so the copy in the topology's
/// `terraform.d/plugins` is not used; without the block it is.
#[test]
fn provider_installation_excludes_and_replaces_the_implied_directories() {
    let t = Test::new().file("main.hcl", NULL);
    let pkg = "registry.terraform.io/hashicorp/null/2.1.2/linux_amd64";
    let implied = t.join("terraform.d/plugins").join(pkg);
    std::fs::create_dir_all(&implied).unwrap();
    std::fs::copy(
        mirror().join(pkg).join("terraform-provider-null_v2.1.2_x4"),
        implied.join("terraform-provider-null_v2.1.2_x4"),
    )
    .unwrap();
    let rc = t.join("standbyrc");
    std::fs::write(
        &rc,
        format!(
            "provider_installation {{\n  filesystem_mirror {{\n    path    = {:?}\n    exclude = [\"hashicorp/null\"]\n  }}\n}}\n",
            mirror().display().to_string()
        ),
    )
    .unwrap();
    t.run_env(&["init"], "STANDBY_CLI_CONFIG_FILE", rc.to_str().unwrap())
        .code(1)
        .stderr_has("matches \"~> 2.1\"")
        .stderr_lacks("terraform.d/plugins");
    let none = t.join("no-such-rc");
    t.run_env(&["init"], "STANDBY_CLI_CONFIG_FILE", none.to_str().unwrap())
        .code(0)
        .stdout_has("terraform.d/plugins");
}

/// A Terraform resource on the traffic path of a failover group (here a null_resource standing
/// in for a DNS record) follows the active member: the switch repoints it after promotion.
#[test]
fn a_terraform_resource_on_the_traffic_path_follows_the_switch() {
    let t = Test::plan("quickstart").file(
        "traffic_null.hcl",
        r#"
terraform {
  required_providers {
    null = {
      source  = "hashicorp/null"
      version = "~> 2.1"
    }
  }
}

resource "null_resource" "dns" {
  triggers = {
    target = failover.orders.active_member.address
  }
}
"#,
    );
    t.run(&["init", "-plugin-dir", mirror().to_str().unwrap()])
        .code(0);
    t.run(&["apply", "-e", "dev", "-auto-approve"]).code(0);
    t.run(&["state", "show", "-e", "dev", "null_resource.dns"])
        .code(0)
        .stdout_has("east/orders.db");
    t.run(&[
        "switchover",
        "orders",
        "--to",
        "west",
        "-e",
        "dev",
        "-auto-approve",
    ])
    .code(0)
    .stdout_has("null_resource.dns must be replaced");
    t.run(&["state", "show", "-e", "dev", "null_resource.dns"])
        .code(0)
        .stdout_has("west/orders.db");
    t.run(&["plan", "-e", "dev", "-detailed-exitcode"])
        .code(0)
        .stdout_has("No changes.");
}

/// `alias` gives an external provider a second configuration (its own process), which a
/// resource chooses with `provider = NAME.ALIAS`; a missing one is a located error, and a
/// built-in provider refuses an alias.
#[test]
fn a_provider_alias_is_a_second_configuration_that_resources_choose() {
    let t = Test::new().file(
        "main.hcl",
        r#"
terraform {
  required_providers {
    null = { source = "hashicorp/null" }
  }
}

provider "null" {
  alias = "other"
}

resource "null_resource" "a" {}

resource "null_resource" "b" {
  provider = null.other
}
"#,
    );
    t.run(&["init", "-plugin-dir", mirror().to_str().unwrap()])
        .code(0);
    t.run(&["apply", "-auto-approve"])
        .code(0)
        .stdout_has("Resources: 2 added");
    let state = t.read(".standby/state/default.json");
    assert_eq!(
        state.matches("\"provider\": \"null.other\"").count(),
        1,
        "{state}"
    );
    t.run(&["plan", "-detailed-exitcode"]).code(0);
    t.write(
        "more.hcl",
        "resource \"null_resource\" \"c\" {\n  provider = null.nope\n}\n\nprovider \"local\" {\n  alias = \"x\"\n}\n",
    );
    t.run(&["plan"])
        .code(1)
        .stderr_has("null_resource.c uses provider null.nope, which has no configuration")
        .stderr_has("provider \"null\" { alias = \"nope\" }")
        .stderr_has("Provider \"local\" cannot have an alias here");
}

/// A provider whose configuration fails is not called again (Terraform stops there; the
/// vSphere provider panics when read unconfigured), and an argument its schema does not have
/// is refused.
#[test]
fn a_provider_that_cannot_be_configured_is_not_called_and_unknown_arguments_are_refused() {
    let t = Test::new().file(
        "main.hcl",
        r#"
terraform {
  required_providers {
    vsphere = { source = "hashicorp/vsphere", version = "2.0.2" }
  }
}

provider "vsphere" {
  vsphere_server       = "127.0.0.1:1"
  user                 = "u"
  password             = "p"
  allow_unverified_ssl = true
}

data "vsphere_datacenter" "dc" {
  name = "dc1"
}
"#,
    );
    t.run(&["init", "-plugin-dir", mirror().to_str().unwrap()])
        .code(0);
    let r = t.run(&["plan"]);
    r.code(1).stderr_lacks("panic").stderr_lacks("goroutine");
    assert!(
        r.stderr.contains("127.0.0.1:1") || r.stderr.contains("not configured"),
        "{}",
        r.stderr
    );
    let n = Test::new().file(
        "main.hcl",
        &format!("{NULL}\nprovider \"null\" {{\n  foo = \"bar\"\n}}\n"),
    );
    n.run(&["init", "-plugin-dir", mirror().to_str().unwrap()])
        .code(0);
    n.run(&["plan"])
        .code(1)
        .stderr_has("Unsupported argument \"foo\" in provider \"null\"");
}

/// The provider processes die with standby, even when standby is killed: go-plugin servers
/// ignore SIGINT, and a killed standby cannot ask them to stop. The provider here never
/// completes its handshake and never writes, so nothing but the parent's death ends it.
#[test]
fn provider_processes_die_with_a_killed_standby() {
    use std::os::unix::fs::PermissionsExt as _;
    let t = Test::new().file(
        "main.hcl",
        "terraform {\n  required_providers {\n    hang = { source = \"example/hang\" }\n  }\n}\n\nresource \"hang_thing\" \"a\" {}\n",
    );
    let mirror = tempfile::tempdir().unwrap();
    let dir = mirror
        .path()
        .join("registry.terraform.io/example/hang/1.0.0/linux_amd64");
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("terraform-provider-hang_v1.0.0");
    std::fs::write(&exe, "#!/bin/sh\nexec sleep 300\n").unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    t.run(&["init", "-plugin-dir", mirror.path().to_str().unwrap()])
        .code(0);
    let mut child = t
        .command(&["plan"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let parent = child.id();
    let plugin = (0..200)
        .find_map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            children_named(parent, "sleep").into_iter().next()
        })
        .expect("standby started the provider");
    child.kill().unwrap();
    child.wait().unwrap();
    let gone = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::fs::read_to_string(format!("/proc/{plugin}/stat")).map_or(true, |s| {
            s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        })
    });
    if !gone {
        // SAFETY: kill(2) on the stray process this test started.
        unsafe { libc::kill(plugin as i32, libc::SIGKILL) };
    }
    assert!(
        gone,
        "provider process {plugin} outlived the killed standby"
    );
}

/// The processes whose parent is `pid` and whose name starts with `name`.
fn children_named(pid: u32, name: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let p: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            let (comm, rest) = stat.split_once(' ')?.1.rsplit_once(')')?;
            let ppid: u32 = rest.split_whitespace().nth(1)?.parse().ok()?;
            (ppid == pid && comm.trim_start_matches('(').starts_with(name)).then_some(p)
        })
        .collect()
}

/// standby's provider local names are shared by every module (Terraform scopes them to one):
/// the same name required with two sources is refused, naming both, before anything runs.
#[test]
fn one_local_name_required_with_two_sources_is_refused() {
    let t = Test::new()
        .file("main.hcl", &format!("{NULL}\nmodule \"m\" {{\n  source = \"./m\"\n}}\n"))
        .file(
            "m/main.hcl",
            "terraform {\n  required_providers {\n    null = {\n      source = \"acme/null\"\n    }\n  }\n}\n",
        );
    let m = mirror();
    t.run(&["init", "-plugin-dir", m.to_str().unwrap()])
        .code(1)
        .stderr_has("Provider \"null\" is required with two sources")
        .stderr_has("\"hashicorp/null\" and \"acme/null\"");
    assert!(!t.join(".standby.lock.hcl").exists());
}

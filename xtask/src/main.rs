//! `cargo xtask <task>`: the project's chores, in Rust so they run the same
//! on every machine (the alias lives in `.cargo/config.toml`).
//!
//! Plugins compile only for `wasm32-wasip2` and each enables exactly one
//! world feature of `hamgam-sdk`. Cargo unifies features across every package
//! in one invocation, so plugins are built, linted and tested one cargo
//! invocation each; that is why `build-plugins` and `ci` loop over them
//! instead of passing `--workspace`.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use std::{env, fs};

mod contract;
mod dev;
mod layers;
mod vendor;
mod vocabulary;

use anyhow::{Context, Result, bail, ensure};
use clap::{Parser, Subcommand, ValueEnum};
use serde::Deserialize;

const WASM_TARGET: &str = "wasm32-wasip2";
/// The cargo profile plugins ship with (root `Cargo.toml`).
const PLUGIN_PROFILE: &str = "plugin";

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Hamgam project chores")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Build plugins for wasm32-wasip2 (profile `plugin`), one cargo run
    /// each, and stage them as `target/plugins/<id>.wasm` with their
    /// `plugin.toml` embedded in a `hamgam:manifest` custom section.
    BuildPlugins {
        /// Plugins to build, by directory name or manifest id; all when empty.
        names: Vec<String>,
    },
    /// Scaffold `plugins/<name>/` with a minimal working plugin of one world.
    NewPlugin {
        /// Lowercase letters and digits in dash-separated words, e.g. `sms-gateway`.
        name: String,
        /// Which world the plugin implements.
        #[arg(long, value_enum)]
        kind: Kind,
    },
    /// Serve one plugin under development in a real host on a fresh
    /// SQLite database: build it, grant it what its manifest declares in
    /// a development config (unsigned allowed, tenant `dev`, token
    /// `dev-token`) and run `hamgam serve` until Ctrl-C.
    Dev {
        /// The plugin, by directory name or manifest id.
        name: String,
        /// Port of the API.
        #[arg(long, default_value_t = dev::PORT)]
        port: u16,
    },
    /// Run `sdk/README.md`'s commands against a development host of the
    /// module `name` (the step "new-plugin template" of `ci` does, for
    /// the scaffolded module).
    #[command(hide = true)]
    TutorialCheck {
        /// The module, by directory name or manifest id.
        name: String,
    },
    /// Run the checks CI runs, in order, stopping at the first failure:
    /// rustfmt, layers, vocabulary, clippy (host crates, then each plugin
    /// for wasm), build plugins, tests (host crates, then each plugin).
    Ci,
    /// Measure the platform side by side in one run (release build): warm
    /// call host→plugin vs native, instantiation, memory per idle instance;
    /// then CRM inserts (100k invoices × 5 lines) on SQLite and PostgreSQL
    /// (`HAMGAM_TEST_POSTGRES`) beside a raw sqlx baseline.
    Bench,
    /// Run the demo: build the plugins and serve the bundled demo config
    /// (`host/config/demo.toml`) on the embedded SQLite database.
    Demo,
    /// Make sure a local PostgreSQL for the tests runs, installing it with
    /// apt-get when missing, and print its URL.
    Postgres,
    /// Create a signing key pair (`<out>/<name>.key`, `<out>/<name>.pub`).
    Keygen {
        /// Directory for the key files.
        #[arg(long, default_value = "keys")]
        out: PathBuf,
        /// File stem, e.g. `vendor` or a partner's name.
        #[arg(long, default_value = "vendor")]
        name: String,
    },
    /// Sign staged plugins into bundles (`<out>/<id>-<version>.hgb`).
    Sign {
        /// Plugin ids (staged as target/plugins/<id>.wasm); all staged when empty.
        plugins: Vec<String>,
        /// Secret key file.
        #[arg(long, default_value = "keys/vendor.key")]
        key: PathBuf,
        /// Output directory.
        #[arg(long, default_value = "target/bundles")]
        out: PathBuf,
    },
    /// Endorse a partner's public key with the vendor key; prints the
    /// `[[trust.partners]]` entry for operator configs.
    Endorse {
        /// Partner name.
        #[arg(long)]
        partner: String,
        /// The partner's public key, `ed25519:<hex>`.
        #[arg(long)]
        partner_key: String,
        /// A plugin id or a namespace `prefix-*` the partner may publish;
        /// repeatable, at least one.
        #[arg(long = "scope", required = true)]
        scope: Vec<String>,
        /// Vendor secret key file.
        #[arg(long, default_value = "keys/vendor.key")]
        key: PathBuf,
    },
    /// Customer licenses.
    License {
        #[command(subcommand)]
        command: LicenseTask,
    },
    /// Run the fuzz targets for a fixed time each with cargo-fuzz: the
    /// bundle, manifest and license parsers, and the host's side of plugin
    /// imports (SQL parameters and results, a guest's HTTP requests, module
    /// responses). Installs nightly and cargo-fuzz when missing.
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// Check that the API keeps its OpenAPI document: a pinned schemathesis
    /// against a host on a fresh database.
    Contract,
    /// Check that every host module uses only the floors below it (the
    /// order ARCHITECTURE.md declares); names file:line of each breach.
    Layers,
    /// Check that no string literal in host/src names an entity kind or a
    /// status outside its enum (crm/kinds.rs); names file:line of each.
    Vocabulary,
}

#[derive(Subcommand)]
enum LicenseTask {
    /// Issue a license signed with the vendor key.
    Issue {
        /// Customer id (the host's `[trust] customer`).
        #[arg(long)]
        customer: String,
        /// The installation the license is for (the host's `[trust] installation`).
        #[arg(long)]
        installation: String,
        /// License serial (default: <customer>-<today>).
        #[arg(long)]
        license_id: Option<String>,
        /// A tenant the license covers; repeatable.
        #[arg(long = "tenant")]
        tenants: Vec<String>,
        /// `id[:tier[:YYYY-MM-DD]]`; repeatable.
        #[arg(long = "module")]
        modules: Vec<String>,
        /// Last valid day, YYYY-MM-DD.
        #[arg(long)]
        expires: chrono::NaiveDate,
        /// Days of grace after expiry.
        #[arg(long, default_value_t = 14)]
        grace_days: u32,
        /// Most ledger companies per tenant.
        #[arg(long)]
        companies: Option<u32>,
        /// Most tenants.
        #[arg(long)]
        max_tenants: Option<u32>,
        /// Vendor secret key file.
        #[arg(long, default_value = "keys/vendor.key")]
        key: PathBuf,
        /// Output file.
        #[arg(long, default_value = "license.json")]
        out: PathBuf,
    },
}

/// The plugin worlds, named as in `plugin.toml`'s `kind`.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
enum Kind {
    Connector,
    Module,
    Notifier,
    DeviceDriver,
}

impl Kind {
    /// The manifest spelling, which is also the SDK feature name.
    fn as_str(self) -> &'static str {
        match self {
            Kind::Connector => "connector",
            Kind::Module => "module",
            Kind::Notifier => "notifier",
            Kind::DeviceDriver => "device-driver",
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = workspace_dir().and_then(|root| match cli.task {
        Task::BuildPlugins { names } => build_plugins(&root, &names).map(drop),
        Task::NewPlugin { name, kind } => new_plugin(&root, &name, kind),
        Task::Dev { name, port } => dev::dev(&root, &name, port),
        Task::TutorialCheck { name } => dev::tutorial_check(&root, &name),
        Task::Ci => ci(&root),
        Task::Bench => bench(&root),
        Task::Demo => demo(&root),
        Task::Postgres => ensure_postgres().map(|url| println!("{url}")),
        Task::Keygen { out, name } => vendor::keygen(&root.join(out), &name),
        Task::Sign { plugins, key, out } => {
            sign_staged(&root, &plugins, &root.join(key), &root.join(out))
        }
        Task::Endorse {
            partner,
            partner_key,
            scope,
            key,
        } => vendor::endorse(&partner, &partner_key, &scope, &root.join(key)),
        Task::License {
            command:
                LicenseTask::Issue {
                    customer,
                    installation,
                    license_id,
                    tenants,
                    modules,
                    expires,
                    grace_days,
                    companies,
                    max_tenants,
                    key,
                    out,
                },
        } => vendor::issue(vendor::IssueArgs {
            customer,
            installation,
            license_id,
            tenants,
            modules,
            expires,
            grace_days,
            companies,
            max_tenants,
            key: root.join(key),
            out: root.join(out),
        }),
        Task::Fuzz { seconds } => fuzz(&root, seconds),
        Task::Contract => contract::contract(&root),
        Task::Layers => layers::layers(&root),
        Task::Vocabulary => vocabulary::vocabulary(&root),
    });
    // Print the error chain ourselves: a chore's failure is a message for
    // a person, and anyhow's backtrace (with RUST_BACKTRACE set) buries it.
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: the nearest ancestor of the working directory that
/// holds `Cargo.lock` and `xtask/`, else the one this binary was built in.
/// Searching from the working directory first lets one xtask binary serve
/// a scratch copy of the workspace (the template smoke test).
fn workspace_dir() -> Result<PathBuf> {
    let is_root =
        |dir: &Path| dir.join("Cargo.lock").is_file() && dir.join("xtask/Cargo.toml").is_file();
    if let Ok(cwd) = env::current_dir()
        && let Some(dir) = cwd.ancestors().find(|d| is_root(d))
    {
        return Ok(dir.to_path_buf());
    }
    let start = Path::new(env!("CARGO_MANIFEST_DIR"));
    start
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())
        .map(Path::to_path_buf)
        .with_context(|| format!("no Cargo.lock above {}", start.display()))
}

/// `CARGO_TARGET_DIR` when set (relative to the workspace), else `target/`.
fn target_dir(root: &Path) -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target"),
    }
}

fn cargo() -> Command {
    let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    if let Ok(root) = workspace_dir() {
        cmd.current_dir(root);
    }
    clean_build_env(&mut cmd);
    cmd
}

/// Set by `ci`: every build it starts is a one-off from a clean checkout.
static ONE_OFF_BUILD: AtomicBool = AtomicBool::new(false);

/// Incremental caches only pay off on a rebuild, and a CI run never
/// rebuilds; they cost disk, and a CI run has failed on a full disk.
/// Child xtask processes inherit the setting.
fn clean_build_env(cmd: &mut Command) {
    if ONE_OFF_BUILD.load(Ordering::Relaxed) {
        cmd.env("CARGO_INCREMENTAL", "0");
    }
}

fn run(mut cmd: Command) -> Result<()> {
    let shown = format!(
        "{} {}",
        cmd.get_program().to_string_lossy(),
        cmd.get_args()
            .map(OsStr::to_string_lossy)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let status = cmd
        .status()
        .with_context(|| format!("failed to start `{shown}`"))?;
    ensure!(status.success(), "`{shown}` failed with {status}");
    Ok(())
}

/// The fields of `plugin.toml` the build needs; the host owns the full
/// parser and its validation.
#[derive(Deserialize)]
struct Manifest {
    id: String,
    kind: String,
}

#[derive(Deserialize)]
struct CargoToml {
    package: CargoPackage,
}

#[derive(Deserialize)]
struct CargoPackage {
    name: String,
}

/// A plugin directory found under `plugins/`.
struct Plugin {
    dir: PathBuf,
    id: String,
    kind: String,
    crate_name: String,
    manifest_text: String,
}

fn discover_plugins(root: &Path) -> Result<Vec<Plugin>> {
    let plugins_dir = root.join("plugins");
    let mut dirs: Vec<PathBuf> = fs::read_dir(&plugins_dir)
        .with_context(|| format!("failed to read {}", plugins_dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|dir| {
            let manifest_path = dir.join("plugin.toml");
            let manifest_text = fs::read_to_string(&manifest_path)
                .with_context(|| format!("failed to read {}", manifest_path.display()))?;
            let manifest: Manifest = toml::from_str(&manifest_text)
                .with_context(|| format!("failed to parse {}", manifest_path.display()))?;
            check_name(&manifest.id)
                .with_context(|| format!("bad id in {}", manifest_path.display()))?;
            ensure!(
                KINDS.contains(&manifest.kind.as_str()),
                "{}: kind `{}` is not one of {}",
                manifest_path.display(),
                manifest.kind,
                KINDS.join(", ")
            );
            let cargo_path = dir.join("Cargo.toml");
            let cargo_toml: CargoToml = toml::from_str(
                &fs::read_to_string(&cargo_path)
                    .with_context(|| format!("failed to read {}", cargo_path.display()))?,
            )
            .with_context(|| format!("failed to parse {}", cargo_path.display()))?;
            Ok(Plugin {
                dir,
                id: manifest.id,
                kind: manifest.kind,
                crate_name: cargo_toml.package.name,
                manifest_text,
            })
        })
        .collect()
}

const KINDS: &[&str] = &["connector", "module", "notifier", "device-driver"];

fn select_plugins(root: &Path, names: &[String]) -> Result<Vec<Plugin>> {
    let all = discover_plugins(root)?;
    if names.is_empty() {
        return Ok(all);
    }
    for name in names {
        let known = all.iter().any(|p| &p.id == name || p.dir.ends_with(name));
        ensure!(
            known,
            "no plugin `{name}` (known: {})",
            all.iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(all
        .into_iter()
        .filter(|p| names.iter().any(|n| &p.id == n || p.dir.ends_with(n)))
        .collect())
}

/// Install the wasm target when missing: `RUSTUP_AUTO_INSTALL=0` on these
/// machines means nothing installs it implicitly.
fn ensure_wasm_target() -> Result<()> {
    let output = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("failed to run `rustup target list --installed` (is rustup installed?)")?;
    ensure!(
        output.status.success(),
        "`rustup target list --installed` failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    if String::from_utf8_lossy(&output.stdout)
        .lines()
        .any(|line| line.trim() == WASM_TARGET)
    {
        return Ok(());
    }
    eprintln!("installing the {WASM_TARGET} target");
    let mut cmd = Command::new("rustup");
    cmd.args(["target", "add", WASM_TARGET]);
    run(cmd)
}

fn build_plugins(root: &Path, names: &[String]) -> Result<Vec<Plugin>> {
    ensure_wasm_target()?;
    let plugins = select_plugins(root, names)?;
    let target = target_dir(root);
    let staged_dir = target.join("plugins");
    fs::create_dir_all(&staged_dir)
        .with_context(|| format!("failed to create {}", staged_dir.display()))?;

    for plugin in &plugins {
        // One invocation per plugin: each enables a different SDK world
        // feature, and a shared invocation would unify them.
        let mut cmd = cargo();
        cmd.args([
            "build",
            "--profile",
            PLUGIN_PROFILE,
            "--target",
            WASM_TARGET,
        ])
        .args(["-p", &plugin.crate_name]);
        run(cmd)?;

        let built = target
            .join(WASM_TARGET)
            .join(PLUGIN_PROFILE)
            .join(format!("{}.wasm", plugin.crate_name.replace('-', "_")));
        let mut bytes =
            fs::read(&built).with_context(|| format!("failed to read {}", built.display()))?;
        ensure!(
            bytes.starts_with(b"\0asm") && bytes.get(4..8) == Some(&[0x0d, 0x00, 0x01, 0x00]),
            "{} is not a component (expected the component-model preamble)",
            built.display()
        );
        // The host's own parser: a manifest it would refuse fails the build.
        hamgam_trust::manifest::Manifest::parse(&plugin.manifest_text)
            .with_context(|| format!("{}", plugin.dir.join("plugin.toml").display()))?;
        hamgam_trust::manifest::append_custom_section(
            &mut bytes,
            hamgam_trust::manifest::MANIFEST_SECTION,
            plugin.manifest_text.as_bytes(),
        );

        let staged = staged_dir.join(format!("{}.wasm", plugin.id));
        fs::write(&staged, &bytes)
            .with_context(|| format!("failed to write {}", staged.display()))?;
        println!(
            "staged {} ({:.1} KiB)",
            staged.strip_prefix(root).unwrap_or(&staged).display(),
            bytes.len() as f64 / 1024.0
        );
    }
    Ok(plugins)
}

/// Plugin names and ids: lowercase ASCII letters and digits in words joined
/// by single dashes, starting with a letter, at most 64 bytes. The id is
/// part of file names, URLs and state keys, so it stays boring.
fn check_name(name: &str) -> Result<()> {
    let rule = "a plugin name is lowercase letters and digits in words joined by single dashes, \
                starting with a letter, at most 64 characters (e.g. `sms-gateway`)";
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.split('-').all(|word| {
            !word.is_empty()
                && word
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    ensure!(ok, "`{name}` is not a valid plugin name: {rule}");
    Ok(())
}

/// What the generated test asserts, per world: one real call into the
/// component and one assertion on its answer or on the host calls it made.
fn harness_check(kind: Kind) -> &'static str {
    match kind {
        Kind::Module => include_str!("../templates/module_test_body.rs.tmpl").trim_end(),
        Kind::Connector => concat!(
            "    let info = plugin.describe_connector().await.expect(\"describe\");\n",
            "    assert_eq!(info.company_code.as_deref(), Some(\"101\"));\n",
            "    assert!(host.calls().iter().any(|c| c.call == \"config.get\"));"
        ),
        Kind::Notifier => concat!(
            "    let channels = plugin.channels().await.expect(\"channels\");\n",
            "    assert!(!channels.is_empty());\n",
            "    let _ = &host;"
        ),
        Kind::DeviceDriver => concat!(
            "    let weight = plugin.read_weight().await.expect(\"call\").expect(\"weight\");\n",
            "    assert_eq!(weight.unit, \"kg\");\n",
            "    let _ = &host;"
        ),
    }
}

const TEMPLATE_CARGO: &str = include_str!("../templates/Cargo.toml.tmpl");
const TEMPLATE_MANIFEST: &str = include_str!("../templates/plugin.toml.tmpl");
const TEMPLATE_TEST: &str = include_str!("../templates/plugin_test.rs.tmpl");
const TEMPLATE_CONNECTOR: &str = include_str!("../templates/connector.rs.tmpl");
const TEMPLATE_MODULE: &str = include_str!("../templates/module.rs.tmpl");
const TEMPLATE_NOTIFIER: &str = include_str!("../templates/notifier.rs.tmpl");
const TEMPLATE_DEVICE_DRIVER: &str = include_str!("../templates/device_driver.rs.tmpl");

fn new_plugin(root: &Path, name: &str, kind: Kind) -> Result<()> {
    check_name(name)?;
    let dir = root.join("plugins").join(name);
    if dir.exists() {
        bail!("plugins/{name} already exists; pick another name");
    }
    if let Some(existing) = discover_plugins(root)?.iter().find(|p| p.id == name) {
        bail!(
            "plugin id `{name}` is already used by {}; pick another name",
            existing.dir.display()
        );
    }

    let lib = match kind {
        Kind::Connector => TEMPLATE_CONNECTOR,
        Kind::Module => TEMPLATE_MODULE,
        Kind::Notifier => TEMPLATE_NOTIFIER,
        Kind::DeviceDriver => TEMPLATE_DEVICE_DRIVER,
    };
    let files = [
        ("Cargo.toml", TEMPLATE_CARGO),
        ("plugin.toml", TEMPLATE_MANIFEST),
        ("src/lib.rs", lib),
        ("tests/plugin.rs", TEMPLATE_TEST),
    ];
    for (path, template) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("failed to create {}", parent.display()))?;
        }
        fs::write(&path, render(template, name, kind))
            .with_context(|| format!("failed to write {}", path.display()))?;
        println!(
            "created {}",
            path.strip_prefix(root).unwrap_or(&path).display()
        );
    }
    println!(
        "next: edit plugins/{name}/src/lib.rs, then `cargo xtask build-plugins {name}` \
         and `cargo test -p {name}`"
    );
    Ok(())
}

fn render(template: &str, name: &str, kind: Kind) -> String {
    let type_name: String = name
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect();
    // What a module's files hold where the other worlds' hold the second.
    let for_module = |module: &'static str, other: &'static str| {
        if kind == Kind::Module { module } else { other }
    };
    template
        .replace("{{name}}", name)
        .replace("{{crate}}", &name.replace('-', "_"))
        .replace("{{Type}}", &type_name)
        .replace("{{kind}}", kind.as_str())
        .replace("{{harness_check}}", harness_check(kind))
        .replace("{{imports}}", test_imports(kind))
        .replace("{{grants}}", for_module(MODULE_GRANTS, ""))
        .replace("{{crm}}", for_module("read-write", "none"))
        .replace("{{manifest_extra}}", manifest_extra(kind))
        .replace("{{deps}}", for_module(MODULE_DEPS, ""))
}

/// What the scaffolded module's test grants its instance: what its
/// manifest declares, as an operator would.
const MODULE_GRANTS: &str = "        .grant_crm(CrmAccess::ReadWrite)\n        .grant_entities(CrmEntity::Party, CrmAccess::Read)\n        .grant_entities(CrmEntity::SalesInvoice, CrmAccess::Read)\n";

fn test_imports(kind: Kind) -> &'static str {
    match kind {
        Kind::Module => {
            "use hamgam_sdk::harness::{CrmAccess, CrmEntity, TestHost};\nuse serde_json::{Value, json};"
        }
        Kind::Connector | Kind::Notifier | Kind::DeviceDriver => {
            "use hamgam_sdk::harness::TestHost;"
        }
    }
}

/// A module's own dependencies: its records are serde structs.
const MODULE_DEPS: &str = "serde.workspace = true\nserde_json.workspace = true\n";

/// What a world's manifest declares beyond `[capabilities]`: for a module,
/// the CRM records it reads and its own record type with its schema.
fn manifest_extra(kind: Kind) -> &'static str {
    match kind {
        Kind::Module => include_str!("../templates/module_manifest.toml.tmpl"),
        Kind::Connector | Kind::Notifier | Kind::DeviceDriver => "",
    }
}

/// One CI step: a name for the timing line and what it runs.
struct Step {
    name: String,
    action: Box<dyn Fn() -> Result<()>>,
}

fn step(name: impl Into<String>, action: impl Fn() -> Result<()> + 'static) -> Step {
    Step {
        name: name.into(),
        action: Box::new(action),
    }
}

fn cargo_step(args: &'static [&'static str]) -> impl Fn() -> Result<()> {
    move || {
        let mut cmd = cargo();
        cmd.args(args);
        run(cmd)
    }
}

fn ci(root: &Path) -> Result<()> {
    // The storage tests run on SQLite and on PostgreSQL; in CI the
    // PostgreSQL half is mandatory, so get a server before anything else.
    let pg_url = match env::var("HAMGAM_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => url,
        _ => ensure_postgres()?,
    };
    eprintln!("==> PostgreSQL for tests: {}", redact(&pg_url));
    // WooCommerce's own JavaScript client drives the shop simulator in a
    // fidelity test; it needs node and npm.
    ensure_node()?;
    // The plugin lint step is the first to compile for wasm32-wasip2, well
    // before `build-plugins`; a fresh machine has no such target yet.
    ensure_wasm_target()?;
    ONE_OFF_BUILD.store(true, Ordering::Relaxed);
    let plugins = discover_plugins(root)?;
    // Plugins of one kind enable the same SDK world, so their native tests
    // can share one cargo invocation. One build per kind, not per plugin:
    // each plugin test that uses the harness compiles the whole host, and a
    // plugin's own dependencies change the feature set, so separate
    // invocations built the host (wasmtime, sqlx) once per plugin.
    let mut by_kind: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for plugin in &plugins {
        by_kind
            .entry(plugin.kind.clone())
            .or_default()
            .push(plugin.crate_name.clone());
    }

    let mut steps = vec![
        step("rustfmt", cargo_step(&["fmt", "--all", "--", "--check"])),
        // Reads sources only: seconds, so it fails early.
        step("layers", {
            let root = root.to_path_buf();
            move || layers::layers(&root)
        }),
        // Also sources only: a kind or status spelled outside its enum
        // fails here, before anything compiles.
        step("vocabulary", {
            let root = root.to_path_buf();
            move || vocabulary::vocabulary(&root)
        }),
        // Default members only (host, domain, sdk, tests, xtask):
        // `--workspace` would also pull in every plugin and unify their SDK
        // world features into one build, which the SDK refuses.
        step(
            "clippy (host crates)",
            cargo_step(&["clippy", "--all-targets", "--", "-D", "warnings"]),
        ),
    ];
    let lint_groups = by_kind.clone();
    steps.push(step("clippy (plugins, wasm32-wasip2)", move || {
        for names in lint_groups.values() {
            let mut cmd = cargo();
            cmd.args(["clippy", "--target", WASM_TARGET]);
            for name in names {
                cmd.args(["-p", name]);
            }
            cmd.args(["--", "-D", "warnings"]);
            run(cmd)?;
        }
        Ok(())
    }));
    let build_root = root.to_path_buf();
    steps.push(step("build-plugins", move || {
        build_plugins(&build_root, &[]).map(drop)
    }));
    let url = pg_url.clone();
    steps.push(step("test (host crates)", move || {
        let mut cmd = cargo();
        cmd.arg("test").env("HAMGAM_TEST_POSTGRES", &url);
        run(cmd)
    }));
    // After the host tests: the debug host and the simulator it starts
    // reuse what that step compiled, and `build-plugins` made sepidar.wasm.
    let contract_root = root.to_path_buf();
    steps.push(step("api contract (schemathesis)", move || {
        contract::contract(&contract_root)
    }));
    steps.push(step("test (plugins)", move || {
        for names in by_kind.values() {
            let mut cmd = cargo();
            cmd.arg("test");
            for name in names {
                cmd.args(["-p", name]);
            }
            cmd.env("HAMGAM_TEST_POSTGRES", &pg_url);
            run(cmd)?;
        }
        Ok(())
    }));
    let smoke_root = root.to_path_buf();
    steps.push(step(
        "new-plugin template (scaffold, build, test)",
        move || template_smoke_test(&smoke_root),
    ));

    let started = Instant::now();
    let mut report = String::new();
    for Step { name, action } in &steps {
        eprintln!("==> {name}");
        let t = Instant::now();
        let result = action();
        let line = format!(
            "{name}: {:.1}s{}",
            t.elapsed().as_secs_f64(),
            disk_free(&target_dir(root))
        );
        let _ = writeln!(report, "{line}");
        eprintln!("    {line}");
        if let Err(e) = result {
            eprint!("{report}");
            bail!("ci step `{name}` failed: {e:#}");
        }
    }
    eprint!("{report}");
    eprintln!("ci passed in {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

/// `, <n> free on disk` for the filesystem holding `dir`, or nothing where
/// `df` cannot tell. A CI run once died of a full disk half-way; the report
/// shows how close each step came.
fn disk_free(dir: &Path) -> String {
    let Ok(out) = Command::new("df").args(["-Ph"]).arg(dir).output() else {
        return String::new();
    };
    let text = String::from_utf8_lossy(&out.stdout);
    match text
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(3))
    {
        Some(avail) if out.status.success() => format!(", {avail} free on disk"),
        _ => String::new(),
    }
}

/// The local test database: user, password and database `hamgam`.
const TEST_PG_URL: &str = "postgres://hamgam:hamgam@127.0.0.1:5432/hamgam";

fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(a), Some(b)) if b > a => format!("{}://***{}", &url[..a], &url[b..]),
        _ => url.to_string(),
    }
}

fn sh(script: &str) -> Result<()> {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script]);
    run(cmd)
}

fn pg_answers() -> bool {
    Command::new("psql")
        .args([TEST_PG_URL, "-Atc", "SELECT 1"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Installs node and npm with apt-get when either is missing (the
/// WooCommerce simulator's fidelity test runs WooCommerce's JS client).
fn ensure_node() -> Result<()> {
    let works = |bin: &str| {
        Command::new(bin)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if works("node") && works("npm") {
        return Ok(());
    }
    eprintln!("==> installing node and npm (apt-get)");
    sh("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null")
        .context("installing node/npm failed; install them (the WooCommerce JS client test needs them)")
}

/// Install (Debian's package), start and prepare a local PostgreSQL, unless
/// one already answers at [`TEST_PG_URL`]. Needs root for the install.
fn ensure_postgres() -> Result<String> {
    if pg_answers() {
        return Ok(TEST_PG_URL.into());
    }
    if Command::new("pg_ctlcluster")
        .arg("--help")
        .output()
        .is_err()
        && !Path::new("/usr/bin/pg_ctlcluster").exists()
    {
        eprintln!("==> installing PostgreSQL (apt-get)");
        sh("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null")
            .context("installing PostgreSQL failed; install it or set HAMGAM_TEST_POSTGRES")?;
    }
    eprintln!("==> starting PostgreSQL");
    // Start every installed cluster that is down (Debian creates `main`).
    sh(
        "for v in $(ls /etc/postgresql); do pg_ctlcluster \"$v\" main start 2>/dev/null || true; done",
    )?;
    for _ in 0..30 {
        if Command::new("pg_isready")
            .args(["-h", "127.0.0.1"])
            .output()
            .is_ok_and(|o| o.status.success())
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    // Idempotent: create the role and the database only when missing. The
    // SQL goes through a file so no shell quoting stands between it and psql.
    let setup = env::temp_dir().join("hamgam-pg-setup.sql");
    fs::write(&setup, PG_SETUP_SQL)?;
    sh(&format!(
        "chmod 644 '{0}' && su postgres -c \"psql -q -v ON_ERROR_STOP=1 -f '{0}'\"",
        setup.display()
    ))?;
    ensure!(
        pg_answers(),
        "PostgreSQL started but {} does not answer",
        redact(TEST_PG_URL)
    );
    Ok(TEST_PG_URL.into())
}

fn bench(root: &Path) -> Result<()> {
    build_plugins(root, &[])?;
    let mut cmd = cargo();
    cmd.args(["bench", "-p", "hamgam-tests", "--bench", "platform"]);
    run(cmd)?;
    // CRM inserts on SQLite and, when HAMGAM_TEST_POSTGRES is set,
    // PostgreSQL, beside a raw sqlx baseline.
    let mut cmd = cargo();
    cmd.args(["bench", "-p", "hamgam-tests", "--bench", "crm"]);
    run(cmd)?;
    // The sync engine: 100k invoices × 5 lines imported through the wasm
    // Sepidar connector beside the same mapping compiled natively, and
    // ledger → CRM latency at a 1 s interval (S19).
    let mut cmd = cargo();
    cmd.args(["bench", "-p", "hamgam-tests", "--bench", "sync"]);
    run(cmd)?;
    // WooCommerce webhooks: intake through the wasm connector's check
    // beside the same check native, and order → CRM latency.
    let mut cmd = cargo();
    cmd.args(["bench", "-p", "hamgam-tests", "--bench", "woo"]);
    run(cmd)?;
    // Event delivery: events per second to one subscriber through the
    // wasm module beside the same handler native, and commit → on-event
    // latency through the API (S20).
    let mut cmd = cargo();
    cmd.args(["bench", "-p", "hamgam-tests", "--bench", "events"]);
    run(cmd)
}

fn demo(root: &Path) -> Result<()> {
    build_plugins(root, &[])?;
    // The demo plays vendor and operator: a local vendor key, every plugin
    // signed with it, and a license for the demo tenant. Operators get the
    // same files from the vendor instead.
    let demo = target_dir(root).join("demo");
    let keys = demo.join("keys");
    if !keys.join("vendor.key").exists() {
        vendor::keygen(&keys, "vendor")?;
    }
    let bundles = demo.join("plugins");
    if bundles.exists() {
        fs::remove_dir_all(&bundles)?;
    }
    sign_staged(root, &[], &keys.join("vendor.key"), &bundles)?;
    // Test-only plugins are not part of a product install.
    for test_only in ["hostile", "broken"] {
        for entry in fs::read_dir(&bundles)? {
            let path = entry?.path();
            if path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{test_only}-")))
            {
                fs::remove_file(path)?;
            }
        }
    }
    vendor::issue(vendor::IssueArgs {
        customer: "demo".into(),
        // As `[trust] installation` in host/config/demo.toml.
        installation: "demo-host".into(),
        license_id: Some("DEMO".into()),
        tenants: vec!["demo".into()],
        modules: vec![
            "woocommerce:orderable".into(),
            "sales-invoice-history-import:orderable".into(),
            "sales-return-history-import:orderable".into(),
        ],
        expires: chrono::Utc::now().date_naive() + chrono::Duration::days(365),
        grace_days: 14,
        companies: Some(2),
        max_tenants: Some(1),
        key: keys.join("vendor.key"),
        out: demo.join("license.json"),
    })?;
    // The demo starts fresh each time: the simulator below generates a new
    // device key, so yesterday's registration would not match it.
    for stale in ["hamgam.db", "hamgam.db-wal", "hamgam.db-shm"] {
        let _ = fs::remove_file(demo.join(stale));
    }
    // Two Sepidar companies (300 and 400) with sample data and a new invoice
    // every 20 s, so the sync is visible while you watch.
    let mut build_sim = cargo();
    build_sim.args(["build", "-q", "-p", "hamgam-sepidar-sim"]);
    run(build_sim)?;
    let sim_bin = target_dir(root)
        .join("debug")
        .join(format!("sepidar-sim{}", env::consts::EXE_SUFFIX));
    let mut sim = Command::new(&sim_bin)
        .args([
            "--company",
            "300:10037ff3@127.0.0.1:7373",
            "--company",
            "400:10047ff3@127.0.0.1:7374",
            "--user",
            "admin:admin",
            "--seed",
            "demo",
            "--activity-every-s",
            "20",
        ])
        .spawn()
        .with_context(|| format!("cannot start {}", sim_bin.display()))?;
    // A WooCommerce shop selling company 300's items (SKUs = Sepidar item
    // codes), with an order or a payment every 15 s.
    let mut build_shop = cargo();
    build_shop.args(["build", "-q", "-p", "hamgam-woo-sim"]);
    run(build_shop)?;
    let shop_bin = target_dir(root)
        .join("debug")
        .join(format!("woo-sim{}", env::consts::EXE_SUFFIX));
    let mut shop = Command::new(&shop_bin)
        .args([
            "--listen",
            "127.0.0.1:7380",
            "--key",
            "ck_demo",
            "--secret",
            "cs_demo",
            "--plain-http",
            "--seed",
            "demo",
            "--catalog",
            "office",
            "--activity-every-s",
            "15",
        ])
        .spawn()
        .with_context(|| format!("cannot start {}", shop_bin.display()))?;
    let token = env::var("HAMGAM_DEMO_TOKEN").unwrap_or_else(|_| "demo-token".into());
    let admin = env::var("HAMGAM_DEMO_ADMIN_TOKEN").unwrap_or_else(|_| "demo-admin".into());
    let config = root.join("host/config/demo.toml");
    println!();
    println!(
        "Hamgam demo: tenant `demo`, signed plugins, a demo license, SQLite in target/demo/hamgam.db"
    );
    println!(
        "Sepidar simulators: company 300 at http://127.0.0.1:7373/api, company 400 at http://127.0.0.1:7374/api"
    );
    println!(
        "WooCommerce simulator: http://127.0.0.1:7380/wp-json/wc/v3 (key ck_demo / cs_demo, OAuth 1.0a), selling company 300's items"
    );
    println!(
        "Within a few seconds their customers, items, quotes and invoices are in the CRM, numbered -300 / -400,"
    );
    println!(
        "and the shop's orders arrive by webhook as invoices numbered <year>/WC-<order>-300, then go on to Sepidar 300:"
    );
    let get = |what: &str| {
        format!(
            "curl -H 'Authorization: Bearer {token}' http://127.0.0.1:8080/api/v1/tenants/demo/{what}"
        )
    };
    println!("  parties:   {}", get("parties"));
    println!(
        "  warnings:  {}   (ledger data kept as typed, e.g. a wrong check digit)",
        get("parties?has_warnings=true")
    );
    println!("  invoices:  {}", get("sales-invoices"));
    println!("  quotes:    {}", get("quotes"));
    println!(
        "  balance:   {}   (live from Sepidar, S7)",
        get("parties/1/balance")
    );
    println!(
        "  stock:     {}   (live, per warehouse, S13)",
        get("products/1/stock")
    );
    println!(
        "  failures:  {}   (F2; retry with POST …/sync/outbox/<id>/retry)",
        get("sync/outbox?status=failed")
    );
    println!("  health:    curl http://127.0.0.1:8080/healthz");
    println!("  API doc:   curl http://127.0.0.1:8080/api/v1/openapi.json");
    println!(
        "  a party:   curl -H 'Authorization: Bearer {token}' -H 'content-type: application/json' -d '{{\"kind\":\"person\",\"first_name\":\"Sara\",\"last_name\":\"Karimi\",\"customer_number\":\"625-300\"}}' http://127.0.0.1:8080/api/v1/tenants/demo/parties"
    );
    println!("  metrics:   curl http://127.0.0.1:8080/metrics");
    println!(
        "  a fund:    curl -H 'Authorization: Bearer {token}' -d '{{\"title\":\"office\",\"holder_party_id\":1,\"ceiling\":\"5000000\"}}' http://127.0.0.1:8080/api/v1/tenants/demo/modules/petty-cash/funds"
    );
    println!(
        "  add bill:  curl -H 'Authorization: Bearer {token}' -d '{{\"items\":[{{\"amount\":\"250000\",\"description\":\"taxi\",\"cost_centre\":\"office\"}}]}}' http://127.0.0.1:8080/api/v1/tenants/demo/modules/petty-cash/funds/fund-0001/bills"
    );
    println!(
        "  list:      curl -H 'Authorization: Bearer {token}' http://127.0.0.1:8080/api/v1/tenants/demo/modules/petty-cash/bills"
    );
    println!(
        "  modules:   curl -H 'Authorization: Bearer {admin}' http://127.0.0.1:8080/admin/v1/tenants"
    );
    println!(
        "Edit host/config/demo.toml while it runs: changes apply without a restart. Stop with Ctrl-C."
    );
    println!();
    let mut cmd = cargo();
    cmd.args(["run", "-p", "hamgam", "--", "serve", "--config"])
        .arg(&config)
        .env("HAMGAM_DEMO_TOKEN", token)
        .env("HAMGAM_DEMO_ADMIN_TOKEN", admin)
        .env("HAMGAM_DEMO_SEPIDAR_PASSWORD", "admin")
        .env("HAMGAM_DEMO_SHOP_KEY", "ck_demo")
        .env("HAMGAM_DEMO_SHOP_SECRET", "cs_demo")
        .env("HAMGAM_DEMO_SHOP_WEBHOOK_SECRET", "demo-webhook-secret");
    let served = run(cmd);
    for child in [&mut sim, &mut shop] {
        let _ = child.kill();
        let _ = child.wait();
    }
    served
}

/// Creates the test role and database when missing (`\gexec` runs the
/// generated statement; CREATE DATABASE cannot run inside a DO block).
const PG_SETUP_SQL: &str = r"SELECT 'CREATE ROLE hamgam LOGIN SUPERUSER PASSWORD ''hamgam'''
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'hamgam')\gexec
SELECT 'CREATE DATABASE hamgam OWNER hamgam'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'hamgam')\gexec
";

/// `new-plugin` → `build-plugins` → the plugin's own test, for every kind,
/// in a scratch copy of the workspace so the real tree is never touched.
/// The copy shares this workspace's target directory, so only the new
/// plugin and what depends on its path are compiled.
fn template_smoke_test(root: &Path) -> Result<()> {
    let scratch = env::temp_dir().join(format!("hamgam-template-{}", std::process::id()));
    if scratch.exists() {
        fs::remove_dir_all(&scratch)?;
    }
    copy_workspace(root, &scratch)?;
    let target = target_dir(root);
    let result = (|| -> Result<()> {
        for (name, kind) in [
            ("demo-x", "module"),
            ("demo-ledger-x", "connector"),
            ("demo-sms-x", "notifier"),
            ("demo-scale-x", "device-driver"),
        ] {
            // This very binary, working in the scratch copy. Building the
            // copy's own xtask into the shared target dir would overwrite
            // target/debug/xtask with a binary that points at the copy.
            let xtask = |args: &[&str]| {
                let mut cmd = Command::new(env::current_exe()?);
                clean_build_env(&mut cmd);
                cmd.current_dir(&scratch)
                    .env("CARGO_TARGET_DIR", &target)
                    .args(args);
                run(cmd)
            };
            xtask(&["new-plugin", name, "--kind", kind])?;
            xtask(&["build-plugins", name])?;
            let mut test = cargo();
            test.current_dir(&scratch)
                .env("CARGO_TARGET_DIR", &target)
                .args(["test", "-p", name]);
            run(test)?;
            if kind == "module" {
                // The tutorial's end: the scaffolded module in a real
                // host, driven by the tutorial's own commands.
                xtask(&["tutorial-check", name])?;
            }
            let staged = target.join("plugins").join(format!("{name}.wasm"));
            let _ = fs::remove_file(staged);
        }
        Ok(())
    })();
    let _ = fs::remove_dir_all(&scratch);
    result
}

/// Copy the workspace's sources (everything but build output and VCS data).
fn copy_workspace(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == ".git" || name == "target" || name.starts_with("target-") {
            continue;
        }
        let dest = to.join(&*name);
        if entry.file_type()?.is_dir() {
            copy_workspace(&entry.path(), &dest)?;
        } else {
            fs::copy(entry.path(), dest)?;
        }
    }
    Ok(())
}

/// Sign staged components (all of `target/plugins` when `ids` is empty).
fn sign_staged(root: &Path, ids: &[String], key: &Path, out: &Path) -> Result<()> {
    let staged = target_dir(root).join("plugins");
    let mut files = Vec::new();
    if ids.is_empty() {
        for entry in fs::read_dir(&staged)
            .with_context(|| format!("{} (run `cargo xtask build-plugins`)", staged.display()))?
        {
            let path = entry?.path();
            if path.extension().is_some_and(|x| x == "wasm") {
                files.push(path);
            }
        }
        files.sort();
    } else {
        files.extend(ids.iter().map(|id| staged.join(format!("{id}.wasm"))));
    }
    for file in files {
        vendor::sign(&file, key, out)?;
    }
    Ok(())
}

/// Fuzz targets: the cargo-fuzz workspace that holds each, and its name.
/// `trust/fuzz` is the parsers of what a vendor or partner hands an
/// operator (bundles, manifests, licenses); `host/fuzz` is the host's side
/// of plugin imports, where a hostile guest chooses every byte.
const FUZZ_TARGETS: &[(&str, &str)] = &[
    ("trust/fuzz", "bundle"),
    ("trust/fuzz", "manifest"),
    ("trust/fuzz", "license"),
    ("host/fuzz", "sql_params"),
    ("host/fuzz", "sql_rows"),
    ("host/fuzz", "guest_request"),
    ("host/fuzz", "module_response"),
];

fn fuzz(root: &Path, seconds: u64) -> Result<()> {
    // cargo-fuzz needs a nightly toolchain; a fresh machine has stable only.
    let has_nightly = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_nightly {
        eprintln!("==> installing the nightly toolchain (rustup)");
        let mut cmd = Command::new("rustup");
        cmd.args(["toolchain", "install", "nightly", "--profile", "minimal"]);
        run(cmd).context("cargo-fuzz needs a nightly toolchain")?;
    }
    let has_fuzz = Command::new("cargo")
        .args(["+nightly", "fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_fuzz {
        eprintln!("==> installing cargo-fuzz");
        let mut cmd = Command::new("cargo");
        cmd.args(["install", "--locked", "cargo-fuzz"]);
        run(cmd).context("installing cargo-fuzz failed")?;
    }
    let mut report = String::new();
    for (dir, target) in FUZZ_TARGETS {
        eprintln!("==> fuzzing `{dir}` `{target}` for {seconds}s");
        // No sanitizer: the host links wasmtime, whose build under ASan
        // takes longer than a fuzzing session here; Rust's own checks
        // (bounds, overflow in debug assertions) still turn bugs into
        // crashes, and a panic is what these targets look for.
        let output = Command::new("cargo")
            .current_dir(root.join(dir))
            .args([
                "+nightly",
                "fuzz",
                "run",
                "--sanitizer",
                "none",
                target,
                "--",
            ])
            .arg(format!("-max_total_time={seconds}"))
            .arg("-print_final_stats=1")
            .stdout(Stdio::inherit())
            .stderr(Stdio::piped())
            .output()
            .with_context(|| format!("failed to start cargo fuzz for `{target}`"))?;
        let log = String::from_utf8_lossy(&output.stderr);
        eprint!("{log}");
        ensure!(
            output.status.success(),
            "fuzz target `{target}` found a crash (see {dir}/artifacts/{target}/)"
        );
        let runs = log
            .lines()
            .find_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
            .map(str::trim)
            .unwrap_or("?");
        let _ = writeln!(
            report,
            "{dir} {target}: {runs} runs in {seconds}s, no crash"
        );
    }
    eprint!("{report}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rule() {
        for ok in ["a", "petty-cash", "sms2-gateway"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Petty",
            "-a",
            "a-",
            "a--b",
            "2fa",
            "a_b",
            &"a".repeat(65),
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn templates_render_every_placeholder() {
        for kind in [
            Kind::Connector,
            Kind::Module,
            Kind::Notifier,
            Kind::DeviceDriver,
        ] {
            let lib = match kind {
                Kind::Connector => TEMPLATE_CONNECTOR,
                Kind::Module => TEMPLATE_MODULE,
                Kind::Notifier => TEMPLATE_NOTIFIER,
                Kind::DeviceDriver => TEMPLATE_DEVICE_DRIVER,
            };
            for template in [TEMPLATE_CARGO, TEMPLATE_MANIFEST, TEMPLATE_TEST, lib] {
                let out = render(template, "sms-gateway", kind);
                assert!(!out.contains("{{"), "unrendered placeholder in {out}");
            }
        }
    }
}

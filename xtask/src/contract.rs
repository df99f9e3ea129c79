//! `cargo xtask contract` (and the `api contract` step of `cargo xtask ci`):
//! the API keeps the contract its own OpenAPI document states.
//!
//! A pinned schemathesis, installed into a virtualenv under `target/`,
//! reads `/api/v1/openapi.json` from a running host the way an API
//! consumer's tooling would, generates requests from it and fails on any
//! server error (`not_a_server_error`) or any request the document calls
//! valid that the API refuses (`positive_data_acceptance`). The host runs
//! on a fresh SQLite database with a demo-like tenant: a token, the demo's
//! rate table, and a Sepidar connector in front of the Sepidar simulator,
//! so parties are linked and the balance route really asks the ledger.

use anyhow::{Context, Result, bail, ensure};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The schemathesis release the step runs; bump deliberately, since a new
/// release may generate differently.
pub const SCHEMATHESIS_VERSION: &str = "4.32.5";
/// Test cases per operation and phase: enough to reach every documented
/// shape, few enough that the step stays within a few minutes on 2 cores.
const MAX_EXAMPLES: &str = "10";
/// A fixed seed, so a failure seen in CI is reproduced by a local run.
const SEED: &str = "20261203";
/// The run took about 9 minutes on 2 loaded cores (7,530 cases); a run
/// past this is a host that hangs or a generator that lost its bounds,
/// and CI must fail on it rather than wait for its own timeout.
const RUN_LIMIT: Duration = Duration::from_secs(25 * 60);
const TENANT: &str = "contract";
/// The first day of the contract tenant's rate table (in [`config`]).
const FIRST_RATE: &str = "1402/01/01";
const TOKEN: &str = "contract-token";

/// Kills the child on drop, so a failing step leaves no process behind.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn works(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `python3` with a working `venv` (Debian ships `ensurepip` separately,
/// in `python3-venv`); installed with apt-get when missing.
fn ensure_python_venv() -> Result<()> {
    if works(Command::new("python3").args(["-c", "import venv, ensurepip"])) {
        return Ok(());
    }
    eprintln!("==> installing python3 and python3-venv (apt-get)");
    super::sh("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null")
        .context("installing python3-venv failed; install it (the API contract step needs a virtualenv)")
}

/// The `st` executable of the pinned schemathesis in `target/schemathesis`,
/// installing it there on first use or when the pin changed.
fn ensure_schemathesis(target: &Path) -> Result<PathBuf> {
    let venv = target.join("schemathesis");
    let st = venv.join("bin").join("st");
    let pinned = |st: &Path| {
        Command::new(st).arg("--version").output().is_ok_and(|o| {
            o.status.success() && String::from_utf8_lossy(&o.stdout).contains(SCHEMATHESIS_VERSION)
        })
    };
    if pinned(&st) {
        return Ok(st);
    }
    ensure_python_venv()?;
    eprintln!(
        "==> installing schemathesis {SCHEMATHESIS_VERSION} into {}",
        venv.display()
    );
    if venv.exists() {
        fs::remove_dir_all(&venv)?;
    }
    let mut make = Command::new("python3");
    make.args(["-m", "venv"]).arg(&venv);
    super::run(make)?;
    let mut pip = Command::new(venv.join("bin").join("pip"));
    pip.args(["install", "-q", "--disable-pip-version-check"])
        .arg(format!("schemathesis=={SCHEMATHESIS_VERSION}"));
    super::run(pip)?;
    ensure!(
        pinned(&st),
        "{} does not report schemathesis {SCHEMATHESIS_VERSION}",
        st.display()
    );
    Ok(st)
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Polls `url` until it answers 2xx with a body `done` accepts.
fn wait_for(
    what: &str,
    url: &str,
    token: Option<&str>,
    limit: Duration,
    done: impl Fn(&str) -> bool,
) -> Result<()> {
    let started = Instant::now();
    loop {
        let mut curl = Command::new("curl");
        curl.args(["-fsS", "--max-time", "5", url]);
        if let Some(t) = token {
            curl.args(["-H", &format!("Authorization: Bearer {t}")]);
        }
        if let Ok(out) = curl.stderr(Stdio::null()).output()
            && out.status.success()
            && done(&String::from_utf8_lossy(&out.stdout))
        {
            return Ok(());
        }
        if started.elapsed() > limit {
            bail!(
                "timed out after {}s waiting for {what} ({url})",
                limit.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn config(dir: &Path, plugin_dir: &Path, target: &Path, api: u16, sepidar: u16) -> String {
    format!(
        r#"# Written by `cargo xtask contract`: the demo tenant's shape, on a fresh database.
[server]
listen = "127.0.0.1:{api}"
database = "sqlite://{db}"
plugin_dir = "{plugins}"
compile_cache = "{cache}"
reload_interval_s = 0

[trust]
allow_unsigned = true

[tenants.{TENANT}]
api_token = {{ env = "HAMGAM_CONTRACT_TOKEN" }}

[[tenants.{TENANT}.crm.rates]]
effective_from = "{FIRST_RATE}"
tax_percent = "6"
toll_percent = "3"
[[tenants.{TENANT}.crm.rates]]
effective_from = "1403/01/01"
tax_percent = "7"
toll_percent = "3"

[tenants.{TENANT}.instances.sepidar-300]
plugin = "sepidar"
enabled = true
[tenants.{TENANT}.instances.sepidar-300.settings]
base_url = "http://127.0.0.1:{sepidar}/api"
serial = "10037ff3"
username = "admin"
company_code = "300"
sale_type = "1"
reconcile_interval_s = "60"
documents_from = "2024-03-20"
[tenants.{TENANT}.instances.sepidar-300.secrets]
password = {{ env = "HAMGAM_CONTRACT_SEPIDAR_PASSWORD" }}
[tenants.{TENANT}.instances.sepidar-300.grants]
http = ["http://127.0.0.1:{sepidar}"]
state = true
[tenants.{TENANT}.instances.sepidar-300.sync]
interval_s = 2
"#,
        db = dir.join("hamgam.db").display(),
        plugins = plugin_dir.display(),
        // Outside `dir`, which each run starts afresh: compiled once.
        cache = target.join("contract-cache").display(),
    )
}

/// Run the contract check. Needs `target/plugins/sepidar.wasm` (built by
/// `build-plugins`, which runs before this step in `ci`).
pub fn contract(root: &Path) -> Result<()> {
    let target = super::target_dir(root);
    let st = ensure_schemathesis(&target)?;
    let plugin_dir = target.join("plugins");
    if !plugin_dir.join("sepidar.wasm").is_file() {
        super::build_plugins(root, &["sepidar".to_string()])?;
    }
    let mut build = super::cargo();
    build.args(["build", "-q", "-p", "hamgam", "-p", "hamgam-sepidar-sim"]);
    super::run(build)?;
    let bin = |name: &str| {
        target
            .join("debug")
            .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
    };

    let dir = target.join("contract");
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    fs::create_dir_all(&dir)?;
    // Only the plugin the tenant runs: the host compiles every plugin in
    // its directory at start.
    let plugins = dir.join("plugins");
    fs::create_dir_all(&plugins)?;
    fs::copy(
        plugin_dir.join("sepidar.wasm"),
        plugins.join("sepidar.wasm"),
    )?;
    let (api, sepidar) = (free_port()?, free_port()?);
    let config_path = dir.join("hamgam.toml");
    fs::write(&config_path, config(&dir, &plugins, &target, api, sepidar))?;

    let _sim = Guard(
        Command::new(bin("sepidar-sim"))
            .args([
                "--company",
                &format!("300:10037ff3@127.0.0.1:{sepidar}"),
                "--user",
                "admin:admin",
                "--seed",
                "demo",
            ])
            .stdout(Stdio::null())
            .spawn()
            .context("cannot start the Sepidar simulator")?,
    );
    let log = fs::File::create(dir.join("host.log"))?;
    let _host = Guard(
        Command::new(bin("hamgam"))
            .args(["serve", "--config"])
            .arg(&config_path)
            .env("HAMGAM_CONTRACT_TOKEN", TOKEN)
            .env("HAMGAM_CONTRACT_SEPIDAR_PASSWORD", "admin")
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot start the host")?,
    );
    let base = format!("http://127.0.0.1:{api}");
    wait_for(
        "the host",
        &format!("{base}/healthz"),
        None,
        Duration::from_secs(300),
        |_| true,
    )
    .with_context(|| format!("see {}", dir.join("host.log").display()))?;
    // The first import from the simulator: parties exist and are linked,
    // so ids the generator picks reach the ledger lookups.
    wait_for(
        "the first Sepidar import",
        &format!("{base}/api/v1/tenants/{TENANT}/parties?limit=1"),
        Some(TOKEN),
        Duration::from_secs(120),
        |body| body.contains("\"customer_number\""),
    )?;

    let st_config = dir.join("schemathesis.toml");
    fs::write(
        &st_config,
        format!(
            "# Every operation is tried in the tenant the token opens.\n[parameters]\n\"path.tenant\" = \"{TENANT}\"\n"
        ),
    )?;
    let mut run = Command::new(&st);
    run.arg("--config-file")
        .arg(&st_config)
        .arg("run")
        .arg(format!("{base}/api/v1/openapi.json"))
        .args([
            "--checks",
            "not_a_server_error,positive_data_acceptance",
            // Both: schema-valid requests must be accepted, and no request,
            // valid or not, may get a 5xx.
            "--mode",
            "all",
            // The document says text never holds NUL (a 422 names the field).
            "--generation-allow-x00",
            "false",
            "--max-examples",
            MAX_EXAMPLES,
            // Documented examples, the schema's boundaries, random data;
            // not the stateful phase (long, and it needs links the
            // document does not declare).
            "--phases",
            "examples,coverage,fuzzing",
            "--seed",
            SEED,
            "--generation-database",
            "none",
            "--no-color",
            "--header",
            &format!("Authorization: Bearer {TOKEN}"),
        ])
        // What the document says in words, taught to the generator.
        .env("SCHEMATHESIS_HOOKS", root.join("xtask/contract/hooks.py"))
        .env("HAMGAM_CONTRACT_BASE", &base)
        .env("HAMGAM_CONTRACT_TOKEN", TOKEN)
        .env("HAMGAM_CONTRACT_TENANT", TENANT)
        .env("HAMGAM_CONTRACT_FIRST_RATE", FIRST_RATE)
        .env("HAMGAM_CONTRACT_SEED", SEED)
        .current_dir(&dir);
    let mut child = Guard(run.spawn().context("cannot start schemathesis")?);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait()? {
            break status;
        }
        if started.elapsed() > RUN_LIMIT {
            bail!(
                "schemathesis did not finish within {} minutes (host log: {})",
                RUN_LIMIT.as_secs() / 60,
                dir.join("host.log").display()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    ensure!(
        status.success(),
        "schemathesis found requests the API answers against its own document (host log: {})",
        dir.join("host.log").display()
    );
    Ok(())
}

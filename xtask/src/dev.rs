//! `cargo xtask dev <plugin>`: serve one plugin under development in a
//! real host, and the tutorial's run of the scaffolded module in one
//! (`cargo xtask ci`, step "new-plugin template").
//!
//! The host is the real one (`hamgam serve`) on a fresh SQLite database,
//! with a development config: unsigned components allowed, one tenant
//! `dev` whose token is `dev-token`, and one instance of the plugin named
//! as the plugin, granted what its manifest declares (HTTP patterns,
//! state, CRM access, CRM records). The config is written where it can be
//! read and copied into a real one.

use anyhow::{Context, Result, bail, ensure};
use hamgam_trust::manifest::{CrmAccess, Manifest, PluginKind};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The development tenant and its token, as the tutorial uses them.
pub const TENANT: &str = "dev";
const TOKEN: &str = "dev-token";
/// The variable the development config reads the token from.
const TOKEN_ENV: &str = "HAMGAM_DEV_TOKEN";
/// Where `cargo xtask dev` listens unless told otherwise.
pub const PORT: u16 = 8088;

/// A prepared development host: its directory and config.
pub struct DevHost {
    dir: PathBuf,
    config: PathBuf,
    /// The plugin's id, which is also its instance's name.
    id: String,
    port: u16,
}

impl DevHost {
    /// The API's base URL for the tenant.
    fn base(&self) -> String {
        format!("http://127.0.0.1:{}/api/v1/tenants/{TENANT}", self.port)
    }
}

/// The development config for one plugin, granted what it declares.
fn config(dir: &Path, manifest: &Manifest, port: u16, cache: &Path) -> String {
    let id = &manifest.id;
    let caps = &manifest.capabilities;
    let mut grants = String::new();
    if !caps.http.is_empty() {
        let list: Vec<String> = caps.http.iter().map(|h| format!("{h:?}")).collect();
        let _ = writeln!(grants, "http = [{}]", list.join(", "));
        // A plugin under development usually talks to a local simulator.
        let _ = writeln!(grants, "allow_private_network = true");
    }
    if caps.state {
        let _ = writeln!(grants, "state = true");
    }
    let access = |a: CrmAccess| match a {
        CrmAccess::None => "none",
        CrmAccess::Read => "read",
        CrmAccess::ReadWrite => "read-write",
    };
    if caps.crm != CrmAccess::None {
        let _ = writeln!(grants, "crm = \"{}\"", access(caps.crm));
    }
    let mut entities = String::new();
    for (kind, a) in &caps.entities {
        let _ = writeln!(entities, "{} = \"{}\"", kind.as_str(), access(*a));
    }
    if !entities.is_empty() {
        let _ = write!(
            grants,
            "[tenants.{TENANT}.instances.{id}.grants.entities]\n{entities}"
        );
    }
    format!(
        r#"# Written by `cargo xtask dev {id}`: a development host, never a
# customer's. Copy what you need into a real config (docs: host/config/).
[server]
listen = "127.0.0.1:{port}"
database = "sqlite://{db}"
plugin_dir = "{plugins}"
compile_cache = "{cache}"
reload_interval_s = 1

[trust]
# Unsigned components load: for development only.
allow_unsigned = true

[tenants.{TENANT}]
# `cargo xtask dev` sets it to `{TOKEN}`.
api_token = {{ env = "{TOKEN_ENV}" }}

[tenants.{TENANT}.instances.{id}]
plugin = "{id}"
enabled = true

[tenants.{TENANT}.instances.{id}.grants]
{grants}"#,
        db = dir.join("hamgam.db").display(),
        plugins = dir.join("plugins").display(),
        cache = cache.display(),
    )
}

/// Build `name`, stage it alone in `target/dev/<id>/plugins` and write the
/// config beside it, on a fresh database.
pub fn prepare(root: &Path, name: &str, port: u16) -> Result<DevHost> {
    let built = super::build_plugins(root, &[name.to_owned()])?;
    let Some(plugin) = built.into_iter().next() else {
        bail!("no plugin `{name}` under plugins/");
    };
    let (id, manifest_text) = (plugin.id, plugin.manifest_text);
    let target = super::target_dir(root);
    let staged = target.join("plugins").join(format!("{id}.wasm"));
    let manifest = Manifest::parse(&manifest_text)
        .map_err(|e| anyhow::anyhow!("plugins/{name}/plugin.toml: {e}"))?;
    let dir = target.join("dev").join(&id);
    if dir.exists() {
        fs::remove_dir_all(&dir)?;
    }
    fs::create_dir_all(dir.join("plugins"))?;
    fs::copy(&staged, dir.join("plugins").join(format!("{id}.wasm")))?;
    let config_path = dir.join("hamgam.toml");
    fs::write(
        &config_path,
        config(&dir, &manifest, port, &target.join("dev-cache")),
    )?;
    let host = DevHost {
        dir,
        config: config_path,
        id,
        port,
    };
    if manifest.kind == PluginKind::Module {
        println!(
            "module routes: {}/modules/{}/…  (token: {TOKEN})",
            host.base(),
            host.id
        );
    }
    println!("config: {}", host.config.display());
    Ok(host)
}

/// The `hamgam` binary of this workspace, built.
fn host_binary(root: &Path) -> Result<PathBuf> {
    let mut build = super::cargo();
    build.args(["build", "-q", "-p", "hamgam"]);
    super::run(build)?;
    Ok(super::target_dir(root)
        .join("debug")
        .join(format!("hamgam{}", std::env::consts::EXE_SUFFIX)))
}

/// `cargo xtask dev <name>`: serve it until Ctrl-C.
pub fn dev(root: &Path, name: &str, port: u16) -> Result<()> {
    let host = prepare(root, name, port)?;
    let bin = host_binary(root)?;
    println!("serving on http://127.0.0.1:{port} (Ctrl-C stops; rerun after a rebuild)");
    let status = Command::new(bin)
        .args(["serve", "--config"])
        .arg(&host.config)
        .env(TOKEN_ENV, TOKEN)
        .status()
        .context("cannot start the host")?;
    ensure!(status.success(), "the host stopped: {status}");
    Ok(())
}

/// Kills the child on drop, so a failing check leaves no process behind.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The tutorial's commands against a development host of the scaffolded
/// module `id`, as `sdk/README.md` shows them (with `$BASE` and
/// `$TOKEN`), and what each answer must hold.
pub fn tutorial_commands(id: &str) -> Vec<(String, &'static str)> {
    let auth = r#"-H "Authorization: Bearer $TOKEN""#;
    let json = r#"-H 'Content-Type: application/json'"#;
    vec![
        (
            format!(
                r#"curl -s "$BASE/parties" {auth} {json} -d '{{"kind":"person","first_name":"Sara","last_name":"Karimi","customer_number":"1235-300"}}'"#
            ),
            r#""customer_number":"1235-300""#,
        ),
        (
            format!(
                r#"curl -s "$BASE/sales-invoices" {auth} {json} -d '{{"party_id":1,"date":"1403/05/01","lines":[{{"quantity":"2","unit_price":"1500000"}}]}}'"#
            ),
            r#""status":"pending""#,
        ),
        (
            format!(r#"curl -s -X POST "$BASE/sales-invoices/1/approve" {auth}"#),
            r#""status":"approved""#,
        ),
        (
            format!(r#"curl -s "$BASE/modules/{id}/notes" {auth}"#),
            r#""party_name":"Sara Karimi""#,
        ),
        (
            format!(r#"curl -s "$BASE/modules/{id}/parties/1" {auth}"#),
            r#""name":"Sara Karimi""#,
        ),
        (
            format!(r#"curl -s "$BASE/modules/{id}/admin" {auth}"#),
            r#""code":"not-found""#,
        ),
    ]
}

/// Run the tutorial's commands against a real host serving the module
/// `name` (scaffolded in the workspace at `root`): every answer must hold
/// what the tutorial says it holds. The note comes from an event, so its
/// command is tried for a few seconds.
pub fn tutorial_check(root: &Path, name: &str) -> Result<()> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let host = prepare(root, name, port)?;
    let bin = host_binary(root)?;
    let log = fs::File::create(host.dir.join("host.log"))?;
    let mut running = Guard(
        Command::new(&bin)
            .args(["serve", "--config"])
            .arg(&host.config)
            .env(TOKEN_ENV, TOKEN)
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot start the host")?,
    );
    let shown_log = host.dir.join("host.log");
    let sh = |script: &str| -> Result<String> {
        let out = Command::new("sh")
            .args(["-c", script])
            .env("BASE", host.base())
            .env("TOKEN", TOKEN)
            .stderr(Stdio::null())
            .output()
            .context("cannot run sh")?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let started = Instant::now();
    while !sh(&format!("curl -fsS http://127.0.0.1:{}/healthz", host.port))?.contains("ok") {
        if let Some(status) = running.0.try_wait()? {
            bail!(
                "the development host stopped ({status}): see {}",
                shown_log.display()
            );
        }
        ensure!(
            started.elapsed() < Duration::from_secs(120),
            "the development host did not come up (see {})",
            shown_log.display()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    for (command, expect) in tutorial_commands(&host.id) {
        let started = Instant::now();
        loop {
            let answer = sh(&command)?;
            if answer.contains(expect) {
                break;
            }
            ensure!(
                started.elapsed() < Duration::from_secs(10),
                "tutorial command\n  {command}\nanswered\n  {answer}\nwithout {expect} (host log: {})",
                shown_log.display()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    println!(
        "tutorial: {} commands answered as sdk/README.md says",
        tutorial_commands(&host.id).len()
    );
    drop(running);
    signing_check(root, &host, &bin)
}

/// The tutorial's last step, as a partner and an operator take it: a
/// partner key endorsed by a vendor key for the plugin's namespace, the
/// bundle signed with it, and `hamgam plugins verify` against an operator
/// config that trusts the vendor key and carries the endorsement.
fn signing_check(root: &Path, host: &DevHost, bin: &Path) -> Result<()> {
    let keys = host.dir.join("keys");
    super::vendor::keygen(&keys, "vendor")?;
    super::vendor::keygen(&keys, "acme")?;
    let acme = fs::read_to_string(keys.join("acme.pub"))?;
    let scope = format!("{}-*", host.id.split('-').next().unwrap_or(&host.id));
    let entry = super::vendor::endorsement(
        "Acme Soft",
        acme.trim(),
        std::slice::from_ref(&scope),
        &keys.join("vendor.key"),
    )?;
    let bundles = host.dir.join("bundles");
    let staged = super::target_dir(root)
        .join("plugins")
        .join(format!("{}.wasm", host.id));
    let bundle = super::vendor::sign(&staged, &keys.join("acme.key"), &bundles)?;
    // The operator's config: the development one, trusting the vendor
    // key, with or without the partner's endorsement.
    let dev = fs::read_to_string(&host.config)?;
    let trusting = dev.replace(
        "[trust]\n",
        &format!(
            "[trust]\nvendor_key_files = [\"{}\"]\n",
            keys.join("vendor.pub").display()
        ),
    );
    let operator = host.dir.join("operator.toml");
    let verify = |config: &str| -> Result<(bool, String)> {
        fs::write(&operator, config)?;
        let out = Command::new(bin)
            .args(["plugins", "verify"])
            .arg(&bundle)
            .arg("--config")
            .arg(&operator)
            .env(TOKEN_ENV, TOKEN)
            .output()
            .context("cannot run `hamgam plugins verify`")?;
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok((out.status.success(), said))
    };
    let (verified, said) = verify(&format!("{trusting}\n{entry}"))?;
    ensure!(
        verified && said.contains("Acme Soft"),
        "`hamgam plugins verify {}` refused the partner's bundle:\n{said}",
        bundle.display()
    );
    let (verified, said) = verify(&trusting)?;
    ensure!(
        !verified,
        "a bundle signed by a key nobody endorsed was verified:\n{said}"
    );
    println!("tutorial: the partner-signed bundle verifies, and not without its endorsement");
    Ok(())
}

#[cfg(test)]
mod tests {
    /// P6: the tutorial in `sdk/README.md` shows the very commands
    /// `tutorial-check` runs against a real host, so a reader who follows
    /// it types what CI tried.
    #[test]
    fn p6_the_tutorial_shows_the_commands_ci_runs() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../sdk/README.md"))
                .expect("sdk/README.md");
        for (command, _) in super::tutorial_commands("shop-notes") {
            assert!(
                readme.lines().any(|line| line == command),
                "sdk/README.md lacks the line\n{command}"
            );
        }
        assert!(readme.contains("cargo xtask dev shop-notes"));
        assert!(readme.contains(&format!(
            "BASE=http://127.0.0.1:{}/api/v1/tenants/{}",
            super::PORT,
            super::TENANT
        )));
    }
}

//! P3, P4, P5: signed bundles, licenses, tiers, the admin API, hot reload
//! and rollback, through the real server (`hamgam::server::Server`) on a
//! temporary config, plugin directory and SQLite database.
//!
//! Fixture plugins are real built components restamped with another
//! manifest (id, version, tier) and signed with a test vendor key.

use crate::common::plugin;
use axum::body::Body;
use axum::http::Request;
use chrono::{Duration as Days, Utc};
use hamgam::api::app;
use hamgam::plugins::registry::InstanceStatus;
use hamgam::runtime::instance::{Clock, SystemClock};
use hamgam::server::Server;
use hamgam_trust::bundle;
use hamgam_trust::keys::SecretKey;
use hamgam_trust::license::{Entitlement, License, LicenseLimits};
use hamgam_trust::manifest::{Tier, replace_manifest};
use http_body_util::BodyExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

struct Fixture {
    dir: tempfile::TempDir,
    vendor: SecretKey,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
        Fixture {
            dir,
            vendor: SecretKey::generate().unwrap(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A component of `code` (a built plugin) restamped as id@version.
    fn component(code: &str, id: &str, version: &str, tier: &str) -> Vec<u8> {
        let wasm = std::fs::read(plugin(code)).unwrap();
        let kind = if code == "hello-connector" {
            "connector"
        } else {
            "module"
        };
        let manifest = format!(
            "id = \"{id}\"\nversion = \"{version}\"\nkind = \"{kind}\"\ntier = \"{tier}\"\napi = \"0.1\"\n[capabilities]\nstate = true\n"
        );
        replace_manifest(&wasm, &manifest).unwrap()
    }

    /// Sign and drop a bundle into the plugin directory.
    fn install(&self, code: &str, id: &str, version: &str, tier: &str) -> PathBuf {
        self.install_signed(code, id, version, tier, &self.vendor)
    }

    fn install_signed(
        &self,
        code: &str,
        id: &str,
        version: &str,
        tier: &str,
        key: &SecretKey,
    ) -> PathBuf {
        let bytes = bundle::sign(&Self::component(code, id, version, tier), key).unwrap();
        let path = self.path(&format!("plugins/{id}-{version}.hgb"));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn license(&self, modules: &[&str], expires_in_days: i64, grace_days: u32) -> License {
        self.license_for(&["acme"], modules, expires_in_days, grace_days)
    }

    fn license_for(
        &self,
        tenants: &[&str],
        modules: &[&str],
        expires_in_days: i64,
        grace_days: u32,
    ) -> License {
        let today = Utc::now().date_naive();
        License {
            license_id: "L-TEST".into(),
            customer: "acme".into(),
            installation: "acme-test".into(),
            tenants: tenants.iter().map(|t| t.to_string()).collect(),
            modules: modules
                .iter()
                .map(|m| Entitlement {
                    module: m.to_string(),
                    tier: Tier::Orderable,
                    expires: None,
                })
                .collect(),
            limits: LicenseLimits::default(),
            issued: today - Days::days(365),
            expires: today + Days::days(expires_in_days),
            grace_days,
        }
    }

    fn write_license(&self, license: &License) {
        std::fs::write(
            self.path("license.json"),
            license.sign(&self.vendor).unwrap(),
        )
        .unwrap();
    }

    /// Write the config: `trust` is the rest of `[trust]` (the binding,
    /// `[[trust.partners]]` entries), `instances` TOML for
    /// `[tenants.acme.instances.*]`.
    fn write_config_with(&self, trust: &str, instances: &str) -> PathBuf {
        let text = format!(
            r#"
[server]
database = "sqlite://{db}"
plugin_dir = "{plugins}"
reload_interval_s = 1
admin_token = {{ file = "{admin}" }}

[trust]
vendor_keys = ["{key}"]
license = "{license}"
{trust}

[tenants.acme]
api_token = {{ file = "{acme}" }}
{instances}
"#,
            db = self.path("hamgam.db").display(),
            plugins = self.path("plugins").display(),
            key = self.vendor.public(),
            license = self.path("license.json").display(),
            admin = self.path("admin.token").display(),
            acme = self.path("acme.token").display(),
        );
        let path = self.path("hamgam.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    async fn start(&self, instances: &str) -> Arc<Server> {
        self.start_with(BINDING, instances, Arc::new(SystemClock))
            .await
    }

    async fn start_with(&self, trust: &str, instances: &str, clock: Arc<dyn Clock>) -> Arc<Server> {
        // Tokens are secrets by reference, as in production: files here.
        std::fs::write(self.path("admin.token"), "admin-secret\n").unwrap();
        std::fs::write(self.path("acme.token"), "acme-secret\n").unwrap();
        let config = self.write_config_with(trust, instances);
        Server::start_with_clock(&config, clock).await.unwrap().0
    }

    /// A `[[trust.partners]]` entry endorsing `partner` for `scope`.
    fn endorse(&self, name: &str, partner: &SecretKey, scope: &[&str]) -> String {
        use base64::Engine as _;
        let scope: Vec<String> = scope.iter().map(|s| s.to_string()).collect();
        let signature = self.vendor.sign(&bundle::endorsement_message(
            name,
            &partner.public(),
            &scope,
        ));
        format!(
            "[[trust.partners]]\npartner = \"{name}\"\nkey = \"{}\"\nscope = {scope:?}\nendorsement = \"{}\"\n",
            partner.public(),
            base64::engine::general_purpose::STANDARD.encode(signature)
        )
    }
}

/// The customer and installation the fixture's licenses are issued for.
const BINDING: &str = "customer = \"acme\"\ninstallation = \"acme-test\"\n";

/// A clock tests move by hand.
pub(crate) struct ManualClock(Mutex<chrono::DateTime<Utc>>);

impl ManualClock {
    pub(crate) fn new() -> Arc<ManualClock> {
        Arc::new(ManualClock(Mutex::new(Utc::now())))
    }

    pub(crate) fn set(&self, at: chrono::DateTime<Utc>) {
        *self.0.lock().unwrap() = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> chrono::DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// The first instant of `day` (UTC).
fn midnight(day: chrono::NaiveDate) -> chrono::DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

fn status(server: &Server, instance: &str) -> InstanceStatus {
    server
        .state()
        .snapshot()
        .registry
        .statuses()
        .iter()
        .find(|s| s.instance == instance)
        .cloned()
        .unwrap_or_else(|| panic!("no status for {instance}"))
}

fn instance(name: &str, plugin: &str, enabled: Option<bool>) -> String {
    let enabled = enabled
        .map(|e| format!("enabled = {e}\n"))
        .unwrap_or_default();
    format!(
        "[tenants.acme.instances.{name}]\nplugin = \"{plugin}\"\n{enabled}grants = {{ state = true }}\n"
    )
}

#[tokio::test]
async fn p4_tampered_unknown_or_unsigned_plugins_never_run() {
    let f = Fixture::new();
    f.write_license(&f.license(&[], 100, 7));
    f.install("hostile", "alpha", "0.1.0", "default");
    let beta = f.install("hostile", "beta", "0.1.0", "default");
    let mut bytes = std::fs::read(&beta).unwrap();
    let last = bytes.len() - 100;
    bytes[last] ^= 0x01;
    std::fs::write(&beta, bytes).unwrap();
    let mallory = SecretKey::generate().unwrap();
    f.install_signed("hostile", "gamma", "0.1.0", "default", &mallory);
    std::fs::copy(plugin("hostile"), f.path("plugins/delta.wasm")).unwrap();
    let server = f
        .start(
            &[
                instance("alpha", "alpha", None),
                instance("beta", "beta", None),
                instance("gamma", "gamma", None),
                instance("delta", "hostile", None),
            ]
            .concat(),
        )
        .await;
    assert!(status(&server, "alpha").running);
    let snapshot = server.state().snapshot();
    let reason = |file: &str| {
        snapshot
            .rejected
            .iter()
            .find(|(p, _)| p.ends_with(file))
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| panic!("{file} was not rejected"))
    };
    assert!(
        reason("beta-0.1.0.hgb").contains("does not match its signed digest"),
        "{}",
        reason("beta-0.1.0.hgb")
    );
    assert!(reason("gamma-0.1.0.hgb").contains(&format!("unknown key {}", mallory.public().id())));
    assert!(reason("delta.wasm").contains("unsigned"));
    for name in ["beta", "gamma", "delta"] {
        let s = status(&server, name);
        assert!(!s.running, "{name} runs");
        assert!(s.reason.unwrap().contains("not installed"));
        assert!(snapshot.registry.get("acme", name).is_none());
    }
}

#[tokio::test]
async fn p4_license_with_changed_module_list_is_refused() {
    let f = Fixture::new();
    let license = f.license(&["warranty"], 100, 7);
    f.write_license(&license);
    // Add an entitlement by editing the signed payload.
    let text = std::fs::read_to_string(f.path("license.json")).unwrap();
    let mut env: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut changed = license.clone();
    changed.modules.push(Entitlement {
        module: "production".into(),
        tier: Tier::Orderable,
        expires: None,
    });
    use base64::Engine as _;
    env["payload"] = base64::engine::general_purpose::STANDARD
        .encode(serde_json::to_vec(&changed).unwrap())
        .into();
    std::fs::write(f.path("license.json"), env.to_string()).unwrap();
    f.install("hostile", "production", "0.1.0", "orderable");
    f.install("hostile", "warranty", "0.1.0", "orderable");
    let server = f
        .start(
            &[
                instance("production", "production", Some(true)),
                instance("warranty", "warranty", Some(true)),
            ]
            .concat(),
        )
        .await;
    let problem = server.state().snapshot().license.problem.clone().unwrap();
    assert!(problem.contains("modified"), "{problem}");
    for name in ["production", "warranty"] {
        let s = status(&server, name);
        assert!(!s.running);
        assert!(s.reason.unwrap().contains("refused"), "{name}");
    }
}

#[tokio::test]
async fn p4_expired_license_past_grace_stops_orderable_modules_only() {
    let f = Fixture::new();
    f.write_license(&f.license(&["warranty"], -30, 14));
    f.install("hostile", "warranty", "0.1.0", "orderable");
    f.install("hostile", "notes", "0.1.0", "installable");
    f.install("hostile", "sync", "0.1.0", "default");
    let server = f
        .start(
            &[
                instance("warranty", "warranty", Some(true)),
                instance("notes", "notes", Some(true)),
                instance("sync", "sync", None),
            ]
            .concat(),
        )
        .await;
    let w = status(&server, "warranty");
    assert!(!w.running);
    let reason = w.reason.unwrap();
    assert!(
        reason.contains("expired") && reason.contains("grace period has ended"),
        "{reason}"
    );
    assert!(status(&server, "notes").running);
    assert!(status(&server, "sync").running);
}

#[tokio::test]
async fn p4_grace_period_warns_loudly_but_runs() {
    let f = Fixture::new();
    f.write_license(&f.license(&["warranty"], -3, 14));
    f.install("hostile", "warranty", "0.1.0", "orderable");
    let server = f.start(&instance("warranty", "warranty", Some(true))).await;
    let s = status(&server, "warranty");
    assert!(s.running);
    assert!(s.warning.unwrap().contains("grace"));
    let router = app(server.state().clone());
    let (_, health) = get(&router, "/healthz", Some("admin-secret")).await;
    assert!(
        health["license"]
            .as_str()
            .unwrap()
            .contains("EXPIRED: in grace period"),
        "{health}"
    );
    let (_, metrics) = get(&router, "/metrics", None).await;
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("hamgam_license_in_grace 1")
    );
    let (_, admin) = get(&router, "/admin/v1/tenants", Some("admin-secret")).await;
    assert_eq!(admin["license"]["standing"]["state"], "grace", "{admin}");
}

#[tokio::test]
async fn p3_tier_matrix() {
    let f = Fixture::new();
    f.write_license(&f.license(&["default-e", "installable-e", "orderable-e"], 100, 7));
    let mut instances = String::new();
    let mut expected = Vec::new();
    for tier in ["default", "installable", "orderable"] {
        for entitled in [true, false] {
            let id = format!("{tier}-{}", if entitled { "e" } else { "n" });
            f.install("hostile", &id, "0.1.0", tier);
            for enabled in [Some(true), Some(false), None] {
                let name = format!(
                    "{id}-{}",
                    match enabled {
                        Some(true) => "on",
                        Some(false) => "off",
                        None => "unset",
                    }
                );
                instances.push_str(&instance(&name, &id, enabled));
                // The rule (P3), written out:
                let runs = match (tier, enabled, entitled) {
                    (_, Some(false), _) => false,
                    ("default", _, _) => true,
                    ("installable", Some(true), _) => true,
                    ("installable", None, _) => false,
                    ("orderable", Some(true), true) => true,
                    ("orderable", _, _) => false,
                    _ => unreachable!(),
                };
                expected.push((name, runs));
            }
        }
    }
    let server = f.start(&instances).await;
    for (name, runs) in expected {
        let s = status(&server, &name);
        assert_eq!(s.running, runs, "{name}: {:?}", s.reason);
        assert_eq!(
            server
                .state()
                .snapshot()
                .registry
                .get("acme", &name)
                .is_some(),
            runs,
            "{name}"
        );
        if !runs {
            assert!(s.reason.is_some(), "{name} has no reason");
        }
    }
    // The missing entitlement is named.
    let s = status(&server, "orderable-n-on");
    assert!(
        s.reason
            .unwrap()
            .contains("no entitlement for module `orderable-n`")
    );
}

#[tokio::test]
async fn p5_failed_health_check_rolls_the_tenant_back() {
    let f = Fixture::new();
    f.write_license(&f.license(&[], 100, 7));
    f.install("hostile", "canary", "0.1.0", "default");
    f.install("broken", "canary", "0.2.0", "default");
    f.install("broken", "lonely", "0.1.0", "default");
    let server = f
        .start(
            &[
                instance("canary", "canary", None),
                "[tenants.acme.instances.pinned]\nplugin = \"canary\"\nversion = \"=0.1.0\"\n"
                    .to_string(),
                instance("lonely", "lonely", None),
            ]
            .concat(),
        )
        .await;
    let s = status(&server, "canary");
    assert!(s.running);
    assert_eq!(s.version.as_deref(), Some("0.1.0"));
    assert!(
        s.rolled_back[0].starts_with("0.2.0:"),
        "{:?}",
        s.rolled_back
    );
    let p = status(&server, "pinned");
    assert_eq!(
        (p.running, p.version.as_deref(), p.rolled_back.len()),
        (true, Some("0.1.0"), 0)
    );
    let l = status(&server, "lonely");
    assert!(!l.running && l.reason.unwrap().contains("health check"));
}

async fn get(router: &axum::Router, uri: &str, token: Option<&str>) -> (u16, serde_json::Value) {
    send(router, "GET", uri, token).await
}

async fn send(
    router: &axum::Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned().into());
    (status, v)
}

#[tokio::test]
async fn p5_admin_api_switches_installable_modules_per_tenant() {
    let f = Fixture::new();
    f.write_license(&f.license(&[], 100, 7));
    f.install("hostile", "notes", "0.1.0", "installable");
    f.install("hostile", "sync", "0.1.0", "default");
    let server = f
        .start(
            &[
                instance("notes", "notes", None),
                instance("sync", "sync", None),
            ]
            .concat(),
        )
        .await;
    let router = app(server.state().clone());
    assert!(!status(&server, "notes").running);
    for token in [None, Some("acme-secret"), Some("wrong")] {
        let (code, _) = send(
            &router,
            "POST",
            "/admin/v1/tenants/acme/instances/notes/enable",
            token,
        )
        .await;
        assert_eq!(code, 401, "{token:?}");
    }
    let (code, body) = send(
        &router,
        "POST",
        "/admin/v1/tenants/acme/instances/notes/enable",
        Some("admin-secret"),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"]["running"], true, "{body}");
    let (code, _) = send(
        &router,
        "GET",
        "/api/v1/tenants/acme/modules/notes/ok",
        Some("acme-secret"),
    )
    .await;
    assert_eq!(code, 200);
    let (code, body) = send(
        &router,
        "POST",
        "/admin/v1/tenants/acme/instances/sync/disable",
        Some("admin-secret"),
    )
    .await;
    assert_eq!(
        code, 422,
        "default modules are switched in the config: {body}"
    );
    let (_, body) = send(
        &router,
        "POST",
        "/admin/v1/tenants/acme/instances/notes/disable",
        Some("admin-secret"),
    )
    .await;
    assert_eq!(body["status"]["running"], false);
    let (code, _) = send(
        &router,
        "GET",
        "/api/v1/tenants/acme/modules/notes/ok",
        Some("acme-secret"),
    )
    .await;
    assert_eq!(code, 404);
    // The switch survives a restart: it is stored, not just in memory.
    drop(router);
    let again = Server::start(&f.path("hamgam.toml")).await.unwrap().0;
    assert!(!status(&again, "notes").running);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p5_hot_reload_under_load_loses_no_call() {
    let f = Fixture::new();
    f.write_license(&f.license(&[], 100, 7));
    f.install("hostile", "canary", "0.1.0", "default");
    let server = f.start(&instance("canary", "canary", None)).await;
    server.watch(std::time::Duration::from_millis(200));
    let router = app(server.state().clone());
    let failures = Arc::new(AtomicU64::new(0));
    let calls = Arc::new(AtomicU64::new(0));
    let new_seen = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..8 {
        let (router, failures, calls, new_seen, stop) = (
            router.clone(),
            failures.clone(),
            calls.clone(),
            new_seen.clone(),
            stop.clone(),
        );
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let req = Request::get("/api/v1/tenants/acme/modules/canary/sleep-loop?ms=20")
                    .header("authorization", "Bearer acme-secret")
                    .body(Body::empty())
                    .unwrap();
                let resp = router.clone().oneshot(req).await.unwrap();
                if resp.status() != 200 {
                    failures.fetch_add(1, Ordering::SeqCst);
                }
                let served = resp
                    .headers()
                    .get("hamgam-plugin")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                if served == "canary@0.2.0" {
                    new_seen.fetch_add(1, Ordering::SeqCst);
                } else if new_seen.load(Ordering::SeqCst) > 0 && served != "canary@0.1.0" {
                    failures.fetch_add(1, Ordering::SeqCst);
                }
                calls.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    // Let the load build up, then drop in a new version and change the config.
    while calls.load(Ordering::SeqCst) < 40 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    f.install("hostile", "canary", "0.2.0", "default");
    let config = std::fs::read_to_string(f.path("hamgam.toml")).unwrap();
    std::fs::write(
        f.path("hamgam.toml"),
        config.replace(
            "grants = { state = true }",
            "settings = { note = \"v2\" }\ngrants = { state = true }",
        ),
    )
    .unwrap();
    // Wait (bounded) until calls are served by the new version.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while new_seen.load(Ordering::SeqCst) < 50 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        c.await.unwrap();
    }
    assert_eq!(
        failures.load(Ordering::SeqCst),
        0,
        "calls failed during the reload"
    );
    assert!(
        new_seen.load(Ordering::SeqCst) >= 50,
        "the new version never served"
    );
    assert_eq!(status(&server, "canary").version.as_deref(), Some("0.2.0"));
}

#[tokio::test]
async fn p4_license_limits_companies_and_tenants() {
    let f = Fixture::new();
    let mut license = f.license_for(&["acme", "globex"], &["warranty"], 100, 7);
    license.limits = LicenseLimits {
        companies: Some(1),
        tenants: Some(1),
    };
    f.write_license(&license);
    f.install("hello-connector", "ledger", "0.1.0", "default");
    f.install("hostile", "warranty", "0.1.0", "orderable");
    let globex = "[tenants.globex]\n[tenants.globex.instances.warranty]\nplugin = \"warranty\"\nenabled = true\n";
    // Two instances for company 300 (its books and, say, its shop) are one
    // ledger company.
    let company_300 = |name: &str| {
        format!(
            "{}[tenants.acme.instances.{name}.settings]\ncompany_code = \"300\"\n",
            instance(name, "ledger", None)
        )
    };
    let server = f
        .start(
            &[
                company_300("company-300"),
                company_300("shop-300"),
                instance("company-400", "ledger", None),
                instance("warranty", "warranty", Some(true)),
                globex.to_string(),
            ]
            .concat(),
        )
        .await;
    let statuses = server.state().snapshot().registry.statuses().to_vec();
    let find = |tenant: &str, name: &str| {
        statuses
            .iter()
            .find(|s| s.tenant == tenant && s.instance == name)
            .cloned()
            .unwrap()
    };
    assert!(find("acme", "company-300").running);
    assert!(find("acme", "shop-300").running, "the same company");
    let second = find("acme", "company-400");
    assert!(
        !second.running && second.reason.unwrap().contains("1 ledger company"),
        "one company is licensed"
    );
    assert!(find("acme", "warranty").running);
    let beyond = find("globex", "warranty");
    assert!(
        !beyond.running && beyond.reason.unwrap().contains("`globex` is beyond"),
        "one tenant is licensed"
    );
}

#[tokio::test]
async fn p4_a_partner_bundle_outside_its_namespace_is_refused_and_sepidar_stays_the_vendors() {
    let f = Fixture::new();
    f.write_license(&f.license(&[], 100, 7));
    let acme = SecretKey::generate().unwrap();
    let careless = SecretKey::generate().unwrap();
    f.install("hello-connector", "sepidar", "0.1.0", "default");
    // Outside acme's namespace: a vendor id at a version every unpinned
    // instance would take.
    f.install_signed("hello-connector", "sepidar", "99.0.0", "default", &acme);
    // Inside a scope the vendor wrote carelessly, but still a vendor id.
    f.install_signed("hello-connector", "sepidar", "98.0.0", "default", &careless);
    f.install_signed("hostile", "acme-notes", "0.1.0", "installable", &acme);
    let mut license = f.license(&["acme-notes"], 100, 7);
    license.modules[0].tier = Tier::Installable;
    f.write_license(&license);
    let trust = [
        BINDING.to_string(),
        f.endorse("Acme Soft", &acme, &["acme-*"]),
        f.endorse("Careless Ltd", &careless, &["sepidar"]),
    ]
    .concat();
    let server = f
        .start_with(
            &trust,
            &[
                instance("ledger", "sepidar", None),
                instance("notes", "acme-notes", Some(true)),
            ]
            .concat(),
            Arc::new(SystemClock),
        )
        .await;
    let snapshot = server.state().snapshot();
    let reason = |file: &str| {
        snapshot
            .rejected
            .iter()
            .find(|(p, _)| p.ends_with(file))
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| panic!("{file} was not rejected"))
    };
    let outside = reason("sepidar-99.0.0.hgb");
    assert!(
        outside.contains("plugin `sepidar` is signed by partner Acme Soft")
            && outside.contains("allows only acme-*"),
        "{outside}"
    );
    let vendor_id = reason("sepidar-98.0.0.hgb");
    assert!(
        vendor_id.contains("plugin id `sepidar` belongs to the vendor"),
        "{vendor_id}"
    );
    // The unpinned instance keeps the vendor's version.
    let ledger = status(&server, "ledger");
    assert!(ledger.running, "{:?}", ledger.reason);
    assert_eq!(ledger.version.as_deref(), Some("0.1.0"));
    // Inside its namespace the partner's plugin loads and runs.
    assert!(status(&server, "notes").running);
}

#[tokio::test]
async fn p2_a_partner_bundle_stamped_default_still_needs_the_vendors_entitlement() {
    let f = Fixture::new();
    let acme = SecretKey::generate().unwrap();
    for id in ["acme-free", "acme-paid", "acme-unsold"] {
        f.install_signed("hostile", id, "0.1.0", "default", &acme);
    }
    // The vendor's word: acme-free is a default module for this customer,
    // acme-paid is sold (orderable), acme-unsold is not in the license.
    let mut license = f.license(&["acme-free", "acme-paid"], 100, 7);
    license.modules[0].tier = Tier::Default;
    f.write_license(&license);
    let trust = [
        BINDING.to_string(),
        f.endorse("Acme Soft", &acme, &["acme-*"]),
    ]
    .concat();
    let server = f
        .start_with(
            &trust,
            &[
                instance("free", "acme-free", None),
                instance("paid-unset", "acme-paid", None),
                instance("paid", "acme-paid", Some(true)),
                instance("unsold-unset", "acme-unsold", None),
                instance("unsold", "acme-unsold", Some(true)),
            ]
            .concat(),
            Arc::new(SystemClock),
        )
        .await;
    let free = status(&server, "free");
    assert!(free.running && free.tier == Some(Tier::Default), "{free:?}");
    let paid = status(&server, "paid");
    assert!(
        paid.running && paid.tier == Some(Tier::Orderable),
        "{paid:?}"
    );
    for name in ["paid-unset", "unsold-unset", "unsold"] {
        let s = status(&server, name);
        assert!(!s.running, "{name} runs on its own manifest's `default`");
        assert_eq!(s.tier, Some(Tier::Orderable), "{name}");
    }
    let why = status(&server, "unsold").reason.unwrap();
    assert!(
        why.contains("no entitlement for module `acme-unsold`")
            && why.contains("not its manifest's Default"),
        "{why}"
    );
}

#[tokio::test]
async fn p4_a_running_host_stops_the_orderable_module_when_its_license_expires() {
    let f = Fixture::new();
    let license = f.license(&["warranty"], 1, 2);
    f.write_license(&license);
    f.install("hostile", "warranty", "0.1.0", "orderable");
    f.install("hostile", "notes", "0.1.0", "installable");
    let clock = ManualClock::new();
    let server = f
        .start_with(
            BINDING,
            &[
                instance("warranty", "warranty", Some(true)),
                instance("notes", "notes", Some(true)),
            ]
            .concat(),
            clock.clone(),
        )
        .await;
    let w = status(&server, "warranty");
    assert!(w.running && w.warning.is_none(), "{w:?}");
    let expiry = midnight(license.expires + Days::days(1));
    let grace_end = midnight(license.expires + Days::days(3));
    // Nothing changes before the instant of expiry…
    clock.set(expiry - Days::seconds(1));
    assert!(!server.check_license_clock().await.unwrap());
    assert!(status(&server, "warranty").warning.is_none());
    // …and at it, with no file touched, the module runs in grace, loudly.
    clock.set(expiry);
    assert!(server.check_license_clock().await.unwrap());
    let w = status(&server, "warranty");
    assert!(w.running, "{w:?}");
    assert!(w.warning.unwrap().contains("grace"));
    // One second before the end of grace it still runs.
    clock.set(grace_end - Days::seconds(1));
    server.check_license_clock().await.unwrap();
    assert!(status(&server, "warranty").running);
    // The timer, not a test call, stops it at the end of grace.
    server.watch_license(std::time::Duration::from_millis(20));
    clock.set(grace_end);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while status(&server, "warranty").running && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let w = status(&server, "warranty");
    assert!(!w.running, "still running after the grace period");
    assert!(
        w.reason.unwrap().contains("grace period has ended"),
        "the reason names the end of grace"
    );
    assert!(
        status(&server, "notes").running,
        "installable modules go on"
    );
    assert_eq!(
        server.state().snapshot().license.standing(),
        Some(hamgam_trust::license::Standing::Expired)
    );
}

#[tokio::test]
async fn p4_a_license_for_another_installation_or_customer_is_refused_with_the_reason() {
    let f = Fixture::new();
    f.write_license(&f.license(&["warranty"], 100, 7));
    f.install("hostile", "warranty", "0.1.0", "orderable");
    let instances = instance("warranty", "warranty", Some(true));
    // The same tenant names on another host do not make the license work.
    let server = f
        .start_with(
            "customer = \"acme\"\ninstallation = \"acme-copy\"\n",
            &instances,
            Arc::new(SystemClock),
        )
        .await;
    let w = status(&server, "warranty");
    assert!(!w.running);
    let why = w.reason.unwrap();
    assert!(
        why.contains("issued for installation `acme-test`")
            && why.contains("this host is installation `acme-copy`"),
        "{why}"
    );
    let router = app(server.state().clone());
    let (_, admin) = get(&router, "/admin/v1/tenants", Some("admin-secret")).await;
    let problem = admin["license"]["problem"].as_str().unwrap_or_default();
    assert!(problem.contains("installation `acme-test`"), "{admin}");
    // Another customer's host with the same installation id.
    drop(router);
    let server = f
        .start_with(
            "customer = \"globex\"\ninstallation = \"acme-test\"\n",
            &instances,
            Arc::new(SystemClock),
        )
        .await;
    let why = status(&server, "warranty").reason.unwrap();
    assert!(
        why.contains("issued for customer `acme`") && why.contains("`globex`"),
        "{why}"
    );
    // A host that does not say which installation it is runs no license.
    let server = f
        .start_with("customer = \"acme\"\n", &instances, Arc::new(SystemClock))
        .await;
    let why = status(&server, "warranty").reason.unwrap();
    assert!(why.contains("sets no `[trust] installation`"), "{why}");
}

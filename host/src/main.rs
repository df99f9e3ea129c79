//! The `hamgam` command: serve tenants, inspect and verify plugins, inspect
//! licenses, check a config.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use hamgam::api::app;
use hamgam::api::history::HistoryImportRequest;
use hamgam::config::Config;
use hamgam::plugins::licensing::{LicenseState, TrustPolicy};
use hamgam::plugins::manifest::Manifest;
use hamgam::plugins::registry::{Catalog, Registry};
use hamgam::runtime::{Runtime, RuntimeOptions};
use hamgam::server::{Server, runtime_options};
use hamgam::sync::history::ImportProgress;
use hamgam_trust::bundle::{self, TrustStore};
use hamgam_trust::keys::PublicKey;
use hamgam_trust::license::License;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "hamgam",
    version,
    about = "Hamgam: a CRM back office whose every integration is a sandboxed wasm plugin"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API and every configured plugin instance; reload on
    /// changes to the config, the license or the plugin directory.
    Serve {
        /// Operator config (TOML).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Validate a config against the installed plugins and the license,
    /// without starting.
    CheckConfig {
        /// Operator config (TOML).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Work with plugin components and bundles.
    Plugins {
        #[command(subcommand)]
        command: PluginsCommand,
    },
    /// Work with license files.
    License {
        #[command(subcommand)]
        command: LicenseCommand,
    },
    /// Run the sync engine by hand.
    Sync {
        #[command(subcommand)]
        command: SyncCommand,
    },
}

#[derive(Subcommand)]
enum SyncCommand {
    /// One sync run of one connector instance (ledger → CRM, then CRM →
    /// ledger), printing what moved as JSON. Repeats while pages remain
    /// unless `--once`.
    Run {
        /// Operator config (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// Tenant.
        #[arg(long)]
        tenant: String,
        /// Connector instance.
        #[arg(long)]
        instance: String,
        /// Stop after one run even if the connector has more pages.
        #[arg(long)]
        once: bool,
    },
    /// The one-shot import of a past period's sales invoices and returns
    /// (orderable): runs in the foreground with its progress on stderr,
    /// the final state as JSON on stdout. Run it again after a crash or a
    /// Ctrl-C to resume where it stood (the instance's running import is
    /// taken up again).
    ImportHistory {
        /// Operator config (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// Tenant.
        #[arg(long)]
        tenant: String,
        /// Connector instance.
        #[arg(long)]
        instance: String,
        /// A Jalali fiscal year, e.g. 1402 (or give --from and --to).
        #[arg(long, conflicts_with_all = ["from", "to"])]
        fiscal_year: Option<i32>,
        /// First day, Jalali YYYY/MM/DD.
        #[arg(long)]
        from: Option<String>,
        /// Last day (included), Jalali YYYY/MM/DD.
        #[arg(long)]
        to: Option<String>,
        /// sales_invoice, sales_return or both, comma-separated (default both).
        #[arg(long, value_delimiter = ',')]
        kinds: Vec<String>,
    },
    /// The progress of the tenant's one-shot imports, as JSON.
    ImportStatus {
        /// Operator config (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// Tenant.
        #[arg(long)]
        tenant: String,
    },
}

/// Where trusted keys come from for the offline commands.
#[derive(clap::Args)]
struct Keys {
    /// Take the trusted keys from this operator config's `[trust]`.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// A trusted vendor key (`ed25519:<hex>`); repeatable.
    #[arg(long = "key")]
    keys: Vec<String>,
}

impl Keys {
    fn store(&self) -> anyhow::Result<TrustStore> {
        let mut store = match &self.config {
            Some(path) => TrustPolicy::from_config(&Config::load(path)?)?.store,
            None => TrustStore::default(),
        };
        if !self.keys.is_empty() {
            let mut vendor: Vec<PublicKey> = store.vendor_keys().to_vec();
            for k in &self.keys {
                vendor.push(PublicKey::parse(k).with_context(|| format!("--key {k}"))?);
            }
            store = TrustStore::new(vendor, Vec::new())?;
        }
        if store.vendor_keys().is_empty() {
            bail!("no trusted keys: pass --config with a [trust] section or --key ed25519:…");
        }
        Ok(store)
    }
}

#[derive(Subcommand)]
enum PluginsCommand {
    /// Print a component's (or bundle's) manifest, world and declared
    /// capabilities, and check that it links against its world.
    Inspect {
        /// A component (`*.wasm`) or bundle (`*.hgb`).
        component: PathBuf,
    },
    /// Verify a signed bundle: digest, signer, signature, manifest.
    Verify {
        /// The bundle (`*.hgb`).
        bundle: PathBuf,
        #[command(flatten)]
        keys: Keys,
    },
}

#[derive(Subcommand)]
enum LicenseCommand {
    /// Verify a license and print what it grants and where it stands today.
    Inspect {
        /// The license file.
        file: PathBuf,
        #[command(flatten)]
        keys: Keys,
    },
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,wasmtime=warn,cranelift=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { config } => serve(config).await,
        Command::CheckConfig { config } => check_config(config).await,
        Command::Plugins {
            command: PluginsCommand::Inspect { component },
        } => inspect(component),
        Command::Plugins {
            command: PluginsCommand::Verify { bundle, keys },
        } => verify(bundle, keys),
        Command::License {
            command: LicenseCommand::Inspect { file, keys },
        } => license_inspect(file, keys),
        Command::Sync {
            command:
                SyncCommand::Run {
                    config,
                    tenant,
                    instance,
                    once,
                },
        } => sync_run(config, tenant, instance, once).await,
        Command::Sync {
            command:
                SyncCommand::ImportHistory {
                    config,
                    tenant,
                    instance,
                    fiscal_year,
                    from,
                    to,
                    kinds,
                },
        } => {
            let kinds = if kinds.is_empty() {
                None
            } else {
                Some(
                    serde_json::from_value(serde_json::json!(kinds)).map_err(|e| {
                        anyhow::anyhow!("--kinds: {e} (sales_invoice, sales_return)")
                    })?,
                )
            };
            let request = HistoryImportRequest {
                fiscal_year,
                from,
                to,
                kinds,
            };
            import_history(config, tenant, instance, request).await
        }
        Command::Sync {
            command: SyncCommand::ImportStatus { config, tenant },
        } => import_status(config, tenant).await,
    }
}

async fn check_config(path: PathBuf) -> anyhow::Result<()> {
    let config = Config::load(&path)?;
    let runtime = Runtime::new(runtime_options(&config))?;
    let policy = TrustPolicy::from_config(&config)?;
    let catalog =
        Catalog::load_dir(&runtime, &config.server.plugin_dir, &policy).with_context(|| {
            format!(
                "cannot read plugin_dir {}",
                config.server.plugin_dir.display()
            )
        })?;
    let mut problems: Vec<String> = catalog
        .rejected
        .iter()
        .map(|(p, e)| format!("plugin {} rejected: {e}", p.display()))
        .collect();
    problems.extend(
        Registry::check(&catalog, &config)
            .iter()
            .map(|e| e.to_string()),
    );
    for (tenant, t) in &config.tenants {
        if let Some(token) = &t.api_token
            && let Err(e) = token.resolve(&format!("tenants.{tenant}.api_token"))
        {
            problems.push(e.to_string());
        }
    }
    let license = LicenseState::load(&config, &policy, chrono::Utc::now().date_naive());
    if let Some(problem) = &license.problem {
        println!("note: {problem} (orderable modules will not run)");
    }
    if problems.is_empty() {
        println!(
            "config ok: {} tenant(s), {} instance(s), {} plugin(s) installed",
            config.tenants.len(),
            config.instances().count(),
            catalog.all().count()
        );
        Ok(())
    } else {
        for p in &problems {
            println!("problem: {p}");
        }
        bail!("{} problem(s) in {}", problems.len(), path.display())
    }
}

fn inspect(path: PathBuf) -> anyhow::Result<()> {
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let component = if path.extension().is_some_and(|x| x == "hgb") {
        let b = bundle::peek(&bytes)?;
        println!(
            "bundle:      {}@{}, signed by key {} (not verified here: use `plugins verify`)",
            b.id, b.version, b.signer
        );
        b.component.to_vec()
    } else {
        bytes
    };
    let manifest = Manifest::from_component(&component)?;
    println!("id:          {}", manifest.id);
    println!("version:     {}", manifest.version);
    println!(
        "world:       hamgam:plugins/{}@{}.0",
        manifest.kind.world(),
        manifest.api
    );
    println!("tier:        {:?}", manifest.tier);
    println!("api:         {}", manifest.api);
    println!("description: {}", manifest.description);
    println!("size:        {} bytes", component.len());
    let caps = &manifest.capabilities;
    println!("declared capabilities:");
    println!("  http:    {}", list(&caps.http));
    println!("  files:   {}", list(&caps.files));
    println!("  state:   {}", caps.state);
    println!("  sql:     {}", list(&caps.sql.databases));
    // Every statement the plugin can ever run, so the operator reviews the
    // SQL itself before granting a database or a write.
    for st in &caps.sql.statements {
        println!("    {} ({}): {}", st.name, st.access, st.text);
    }
    println!("  secrets: {}", list(&caps.secrets));
    println!("  crm:     {:?}", caps.crm);
    println!("  port:    {}", caps.port);
    let runtime = Runtime::new(RuntimeOptions {
        max_instances: 1,
        ..RuntimeOptions::default()
    })?;
    let loaded = runtime.load(&component)?;
    println!("sha256:      {}", loaded.digest);
    println!(
        "links:       ok (imports and exports match the {} world)",
        manifest.kind.world()
    );
    Ok(())
}

fn verify(path: PathBuf, keys: Keys) -> anyhow::Result<()> {
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let store = keys.store()?;
    let verified =
        bundle::verify(&bytes, &store).with_context(|| format!("{} refused", path.display()))?;
    let (signer, tier) = match &verified.signer {
        bundle::Signer::Vendor(k) => (
            format!("vendor key {k}"),
            format!("{:?} (the vendor's manifest)", verified.manifest.tier),
        ),
        bundle::Signer::Partner {
            key,
            partner,
            scope,
        } => (
            format!("partner {partner} (key {key}, endorsed for {scope})"),
            format!(
                "the license's entitlement for `{}`, orderable without one (a partner's manifest tier, {:?}, does not count)",
                verified.manifest.id, verified.manifest.tier
            ),
        ),
    };
    println!(
        "ok: {}@{} ({:?}), sha256 {}, signed by {signer}",
        verified.manifest.id, verified.manifest.version, verified.manifest.kind, verified.digest
    );
    println!("runs as: {tier}");
    Ok(())
}

fn license_inspect(path: PathBuf, keys: Keys) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let store = keys.store()?;
    // With a config, the license must also be this host's: its customer
    // and installation.
    let binding = match &keys.config {
        Some(path) => Some(Config::load(path)?.trust),
        None => None,
    };
    let checked = License::verify(&text, &store).and_then(|l| {
        if let Some(t) = &binding {
            l.check_binding(t.customer.as_deref(), t.installation.as_deref())?;
        }
        Ok(l)
    });
    let license = match checked {
        Ok(l) => l,
        Err(e) => {
            if let Ok(claimed) = License::peek(&text) {
                eprintln!(
                    "the file claims: license {} for customer {}, installation {}",
                    claimed.license_id, claimed.customer, claimed.installation
                );
            }
            bail!("{} refused: {e}", path.display());
        }
    };
    let today = chrono::Utc::now().date_naive();
    println!("license:   {} (signature ok)", license.license_id);
    println!("customer:  {}", license.customer);
    println!(
        "installation: {}{}",
        license.installation,
        if binding.is_some() {
            " (matches this host's [trust] customer and installation)"
        } else {
            " (not checked: pass --config to check it against a host)"
        }
    );
    println!("tenants:   {}", license.tenants.join(", "));
    println!("issued:    {}", license.issued);
    println!(
        "expires:   {} (+{} days grace)",
        license.expires, license.grace_days
    );
    println!("standing:  {:?} (today {today})", license.standing(today));
    println!(
        "limits:    companies {}, tenants {}",
        license
            .limits
            .companies
            .map_or("unlimited".into(), |v| v.to_string()),
        license
            .limits
            .tenants
            .map_or("unlimited".into(), |v| v.to_string())
    );
    println!("modules:");
    for m in &license.modules {
        println!(
            "  {:<24} {:?}{}",
            m.module,
            m.tier,
            m.expires
                .map(|d| format!(", until {d}"))
                .unwrap_or_default()
        );
    }
    Ok(())
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "-".into()
    } else {
        v.join(", ")
    }
}

async fn sync_run(
    path: PathBuf,
    tenant: String,
    instance: String,
    once: bool,
) -> anyhow::Result<()> {
    let (server, _) = Server::start(&path).await?;
    let engine = server.sync_engine(false);
    let mut total = hamgam::sync::RunReport::default();
    // A run pulls at most `max_pages_per_run` pages per kind; repeat until a
    // run finds nothing new (an initial import may take several).
    for _ in 0..10_000 {
        let report = engine.run_once(&tenant, &instance).await?;
        let quiet = report.applied + report.delivered + report.deleted + report.refused == 0;
        total.merge(report);
        if once || quiet {
            break;
        }
    }
    println!("{}", serde_json::to_string_pretty(&total)?);
    if !total.errors.is_empty() {
        anyhow::bail!("the run stopped early: {}", total.errors.join("; "));
    }
    Ok(())
}

/// Start (or take up again) the instance's one-shot import and run it
/// here until it stops.
async fn import_history(
    path: PathBuf,
    tenant: String,
    instance: String,
    body: HistoryImportRequest,
) -> anyhow::Result<()> {
    let request = body.into_request().map_err(|e| anyhow::anyhow!("{e}"))?;
    let (server, _) = Server::start(&path).await?;
    let engine = server.sync_engine(false);
    let db = server.state().db().clone();
    let job = match hamgam::store::history::running_for(&db, &tenant, &instance).await? {
        Some(job) if job.from == request.from && job.to == request.to => {
            eprintln!("resuming import {} where it stood", job.id);
            job
        }
        Some(job) => bail!(
            "instance {instance} already runs import {} of {} … {}; let it finish, or cancel it \
             (POST /api/v1/tenants/{tenant}/sync/history-imports/{}/cancel)",
            job.id,
            job.from,
            job.to,
            job.id
        ),
        None => {
            engine
                .start_history_import(&tenant, &instance, &request)
                .await?
        }
    };
    let mut last = std::time::Instant::now() - Duration::from_secs(10);
    let result = engine
        .run_history_import(&tenant, job.id, |job| {
            if last.elapsed() >= Duration::from_secs(1) {
                last = std::time::Instant::now();
                eprintln!("{}", progress_line(job));
            }
        })
        .await;
    let job = hamgam::store::history::get(&db, &tenant, job.id).await?;
    eprintln!("{}", progress_line(&job));
    let view = ImportProgress::of(&job, chrono::Utc::now());
    println!("{}", serde_json::to_string_pretty(&view)?);
    match result {
        Ok(job) if job.state == hamgam::crm::kinds::ImportState::Done => Ok(()),
        Ok(job) => bail!("import {} stopped: {}", job.id, job.state),
        Err(e) => bail!(
            "import {} waits: {e}; run the command again to resume",
            job.id
        ),
    }
}

/// `sales_invoice 1,200 / 10,000 (12.0%) · 850.0/s · ETA 11s`.
fn progress_line(job: &hamgam::store::history::ImportJob) -> String {
    let p = ImportProgress::of(job, chrono::Utc::now());
    let kind = p.current_kind.map_or("-", |k| k.as_str());
    let total = p.total.map_or_else(|| "?".to_string(), |t| t.to_string());
    let percent = p.percent.map_or_else(String::new, |v| format!(" ({v}%)"));
    let rate = p
        .rate_per_second
        .map_or_else(String::new, |r| format!(" · {r}/s"));
    let eta = p
        .eta_seconds
        .map_or_else(String::new, |s| format!(" · ETA {s}s"));
    format!(
        "import {} {} {kind}: {} / {total}{percent}{rate}{eta}{}",
        p.id,
        p.state,
        p.done + p.refused,
        if p.refused > 0 {
            format!(" · {} refused", p.refused)
        } else {
            String::new()
        }
    )
}

async fn import_status(path: PathBuf, tenant: String) -> anyhow::Result<()> {
    let config = Config::load(&path)?;
    let db = hamgam::store::Db::connect(&config.server.database).await?;
    let now = chrono::Utc::now();
    let jobs = hamgam::store::history::list(&db, &tenant, 500).await?;
    let views: Vec<ImportProgress> = jobs.iter().map(|j| ImportProgress::of(j, now)).collect();
    println!("{}", serde_json::to_string_pretty(&views)?);
    Ok(())
}

async fn serve(path: PathBuf) -> anyhow::Result<()> {
    let (server, config) = Server::start(&path).await?;
    let _sync = server.sync_engine(true);
    let _events = server.events(hamgam::server::EVENT_TICK);
    // Independent of hot reload: a license ends on time even when the
    // operator turned file watching off.
    server.watch_license(hamgam::server::LICENSE_RECHECK);
    if config.server.reload_interval_s > 0 {
        server.watch(Duration::from_secs(config.server.reload_interval_s));
    }
    let listener = tokio::net::TcpListener::bind(&config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    tracing::info!(addr = %listener.local_addr()?, "hamgam serving");
    axum::serve(listener, app(server.state().clone()))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        })
        .await?;
    Ok(())
}

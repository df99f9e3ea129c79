//! The `hamgam` command: serve tenants, inspect plugins, check a config.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use hamgam::api::{AppState, app};
use hamgam::config::Config;
use hamgam::plugins::manifest::Manifest;
use hamgam::plugins::registry::{Catalog, Registry};
use hamgam::runtime::instance::{Services, SystemClock};
use hamgam::runtime::{Runtime, RuntimeOptions};
use hamgam::store::Db;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

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
    /// Run the HTTP API and every configured plugin instance.
    Serve {
        /// Operator config (TOML).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Validate a config against the installed plugins, without starting.
    CheckConfig {
        /// Operator config (TOML).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Work with plugin components.
    Plugins {
        #[command(subcommand)]
        command: PluginsCommand,
    },
}

#[derive(Subcommand)]
enum PluginsCommand {
    /// Print a component's manifest, world and declared capabilities, and
    /// check that it links against its world.
    Inspect {
        /// The component (`*.wasm`).
        component: PathBuf,
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
        Command::CheckConfig { config } => check_config(config),
        Command::Plugins {
            command: PluginsCommand::Inspect { component },
        } => inspect(component),
    }
}

fn engine(config: &Config) -> anyhow::Result<Runtime> {
    let max_memory = config
        .instances()
        .map(|(_, _, i)| config.limits.with(&i.limits).memory_mib)
        .chain([config.limits.memory_mib])
        .max()
        .unwrap_or(64);
    Runtime::new(RuntimeOptions {
        max_instances: config.server.max_instances,
        max_memory_mib: max_memory,
        cache_dir: config.server.compile_cache.clone(),
        ..RuntimeOptions::default()
    })
}

fn check_config(path: PathBuf) -> anyhow::Result<()> {
    let config = Config::load(&path)?;
    let runtime = engine(&config)?;
    let catalog = Catalog::load_dir(&runtime, &config.server.plugin_dir).with_context(|| {
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
    if problems.is_empty() {
        let n = config.instances().filter(|(_, _, i)| i.enabled).count();
        println!(
            "config ok: {} tenant(s), {n} enabled instance(s), {} plugin(s) installed",
            config.tenants.len(),
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
    let manifest = Manifest::from_component(&bytes)?;
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
    println!("size:        {} bytes", bytes.len());
    let caps = &manifest.capabilities;
    println!("declared capabilities:");
    println!("  http:    {}", list(&caps.http));
    println!("  files:   {}", list(&caps.files));
    println!("  state:   {}", caps.state);
    println!("  sql:     {}", list(&caps.sql));
    println!("  secrets: {}", list(&caps.secrets));
    println!("  crm:     {:?}", caps.crm);
    println!("  port:    {}", caps.port);
    let runtime = Runtime::new(RuntimeOptions {
        max_instances: 1,
        ..RuntimeOptions::default()
    })?;
    let loaded = runtime.load(&bytes)?;
    println!("sha256:      {}", loaded.digest);
    println!(
        "links:       ok (imports and exports match the {} world)",
        manifest.kind.world()
    );
    Ok(())
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "-".into()
    } else {
        v.join(", ")
    }
}

async fn serve(path: PathBuf) -> anyhow::Result<()> {
    let config = Config::load(&path)?;
    let db = Db::connect(&config.server.database)
        .await
        .with_context(|| format!("cannot open database {}", config.server.database))?;
    let runtime = engine(&config)?;
    let catalog = Catalog::load_dir(&runtime, &config.server.plugin_dir).with_context(|| {
        format!(
            "cannot read plugin_dir {}",
            config.server.plugin_dir.display()
        )
    })?;
    let db_arc = Arc::new(db.clone());
    let services = Services {
        state: db_arc.clone(),
        crm: db_arc,
        sql: Arc::new(hamgam::runtime::sql::SqlConnections::default()),
        recorder: Arc::new(hamgam::runtime::backends::TracingRecorder),
        clock: Arc::new(SystemClock),
    };
    let registry = Registry::build(&runtime, &catalog, &config, &services)?;
    let mut tokens = BTreeMap::new();
    for (tenant, t) in &config.tenants {
        if let Some(token) = &t.api_token {
            tokens.insert(
                tenant.clone(),
                token.resolve(&format!("tenants.{tenant}.api_token"))?,
            );
        }
    }
    let mut crm = BTreeMap::new();
    for (tenant, t) in &config.tenants {
        crm.insert(
            tenant.clone(),
            t.crm.settings(&format!("tenants.{tenant}"))?,
        );
    }
    let state = AppState::with_crm(registry, tokens, db, crm);
    let listener = tokio::net::TcpListener::bind(&config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    tracing::info!(addr = %listener.local_addr()?, "hamgam serving");
    axum::serve(listener, app(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        })
        .await?;
    Ok(())
}

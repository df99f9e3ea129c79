//! `sepidar-sim`: serves one or more simulated Sepidar companies over HTTP.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use hamgam_sepidar_sim::{Sepidar, SimConfig, seed};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// Sepidar web-service simulator (one Sepidar company database per `--company`).
///
/// Examples:
///   sepidar-sim --listen 127.0.0.1:7373 --company 300 --serial 10017ff3 --user admin:admin --seed demo
///   sepidar-sim --company 300@127.0.0.1:7373 --company 301:20027aa1@127.0.0.1:7374 --seed demo --activity-every-s 20
#[derive(Parser, Debug)]
#[command(name = "sepidar-sim", version, verbatim_doc_comment)]
struct Cli {
    /// Address of the first company without an explicit `@ADDR`; further such
    /// companies take the following ports.
    #[arg(long, default_value = "127.0.0.1:7373")]
    listen: SocketAddr,
    /// A company: `CODE[:SERIAL][@ADDR]`, repeatable. CODE is the Hamgam
    /// company code (100–999), SERIAL the 8-character device serial (default
    /// `--serial`), ADDR the listen address (default `--listen`, next ports).
    #[arg(long = "company", default_value = "300")]
    companies: Vec<String>,
    /// Default device serial (IntegrationID = its first four digits).
    #[arg(long, default_value = "10017ff3")]
    serial: String,
    /// A user `NAME:PASSWORD`, repeatable (default admin:admin).
    #[arg(long = "user")]
    users: Vec<String>,
    /// Server GenerationVersion.
    #[arg(long, default_value_t = 110)]
    generation_version: i32,
    /// Data to load: `demo` (sample data, different per company) or `none`.
    #[arg(long, default_value = "none")]
    seed: String,
    /// Create a new invoice (sometimes a new customer) every N seconds.
    #[arg(long)]
    activity_every_s: Option<u64>,
}

struct CompanySpec {
    code: u16,
    serial: Option<String>,
    addr: Option<SocketAddr>,
}

fn parse_company(s: &str) -> anyhow::Result<CompanySpec> {
    let (head, addr) = match s.split_once('@') {
        Some((h, a)) => (
            h,
            Some(
                a.parse::<SocketAddr>()
                    .with_context(|| format!("bad address in {s:?}"))?,
            ),
        ),
        None => (s, None),
    };
    let (code, serial) = match head.split_once(':') {
        Some((c, ser)) => (c, Some(ser.to_string())),
        None => (head, None),
    };
    let code: u16 = code
        .trim()
        .parse()
        .with_context(|| format!("bad company code in {s:?}"))?;
    if !(100..=999).contains(&code) {
        bail!("company code {code} must be 100..=999");
    }
    Ok(CompanySpec { code, serial, addr })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let users: Vec<(String, String)> = if cli.users.is_empty() {
        vec![("admin".into(), "admin".into())]
    } else {
        cli.users
            .iter()
            .map(|u| {
                u.split_once(':')
                    .map(|(n, p)| (n.to_string(), p.to_string()))
                    .with_context(|| format!("--user {u:?} must be NAME:PASSWORD"))
            })
            .collect::<anyhow::Result<_>>()?
    };
    if cli.seed != "demo" && cli.seed != "none" {
        bail!("--seed must be `demo` or `none`");
    }
    let mut sims = Vec::new();
    let mut next_port = cli.listen.port();
    for spec in cli
        .companies
        .iter()
        .map(|s| parse_company(s))
        .collect::<anyhow::Result<Vec<_>>>()?
    {
        let addr = match spec.addr {
            Some(a) => a,
            None => {
                let a = SocketAddr::new(cli.listen.ip(), next_port);
                next_port = next_port.wrapping_add(1);
                a
            }
        };
        let cfg = SimConfig {
            company_code: spec.code,
            serial: spec.serial.unwrap_or_else(|| cli.serial.clone()),
            generation_version: cli.generation_version,
            users: users.clone(),
            lock_number: format!("LK-{}", spec.code),
            ..SimConfig::new(spec.code)
        };
        let serial = cfg.serial.clone();
        let sim = Sepidar::start_on(cfg, addr)
            .await
            .with_context(|| format!("starting company {} on {addr}", spec.code))?;
        if cli.seed == "demo" {
            sim.seed_demo()
                .map_err(|e| anyhow::anyhow!("seeding company {}: {e}", spec.code))?;
        }
        println!(
            "company {} → {}  (serial {serial}, IntegrationID {}, {} customers, {} invoices)",
            spec.code,
            sim.url(),
            sim.config().integration_id().unwrap_or_default(),
            sim.customers().len(),
            sim.invoice_count()
        );
        sims.push(sim);
    }
    if let Some(every) = cli.activity_every_s.filter(|s| *s > 0) {
        for sim in &sims {
            let sim = sim.clone();
            tokio::spawn(async move {
                let mut rng = StdRng::from_entropy();
                let mut tick = tokio::time::interval(Duration::from_secs(every));
                tick.tick().await;
                loop {
                    tick.tick().await;
                    match seed::activity_tick(&sim, &mut rng) {
                        Ok(note) => println!("company {}: {note}", sim.config().company_code),
                        Err(e) => eprintln!(
                            "company {}: activity failed: {e}",
                            sim.config().company_code
                        ),
                    }
                }
            });
        }
    }
    tokio::signal::ctrl_c().await?;
    for sim in &sims {
        sim.shutdown();
    }
    Ok(())
}

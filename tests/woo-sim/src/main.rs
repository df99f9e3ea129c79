//! `woo-sim`: serves one simulated WooCommerce store over HTTP.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::bail;
use clap::Parser;
use hamgam_woo_sim::{ApiKey, SimConfig, WooSim, seed};
use rand::SeedableRng;
use rand::rngs::StdRng;

/// WooCommerce REST API v3 + webhook simulator (one store).
///
/// Examples:
///   woo-sim --listen 127.0.0.1:7380 --key ck_demo --secret cs_demo --seed demo
///   woo-sim --key ck_demo --secret cs_demo --seed demo --activity-every-s 15 --plain-http
#[derive(Parser, Debug)]
#[command(name = "woo-sim", version, verbatim_doc_comment)]
struct Cli {
    /// Listen address.
    #[arg(long, default_value = "127.0.0.1:7380")]
    listen: SocketAddr,
    /// Consumer key of the read/write API key.
    #[arg(long, env = "WOO_SIM_KEY", default_value = "ck_demo")]
    key: String,
    /// Consumer secret of the read/write API key.
    #[arg(long, env = "WOO_SIM_SECRET", default_value = "cs_demo")]
    secret: String,
    /// A read-only key `CK:CS`, repeatable.
    #[arg(long = "read-only-key")]
    read_only_keys: Vec<String>,
    /// Behave as a plain-HTTP site (OAuth 1.0a only; no Basic auth).
    #[arg(long)]
    plain_http: bool,
    /// Store currency.
    #[arg(long, default_value = "IRT")]
    currency: String,
    /// Data to load: `demo` or `none`.
    #[arg(long, default_value = "none")]
    seed: String,
    /// Products of the demo data: `groceries`, or `office` (SKUs that are
    /// the Sepidar simulator's item codes, so orders can go on to Sepidar).
    #[arg(long, default_value = "groceries")]
    catalog: String,
    /// Simulate shop activity (orders, payments, stock) every N seconds.
    #[arg(long)]
    activity_every_s: Option<u64>,
    /// Webhook delivery timeout in seconds.
    #[arg(long, default_value_t = 60)]
    webhook_timeout_s: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.seed != "demo" && cli.seed != "none" {
        bail!("--seed must be `demo` or `none`");
    }
    let catalog = match cli.catalog.as_str() {
        "groceries" => seed::Catalog::Groceries,
        "office" => seed::Catalog::Office,
        other => bail!("--catalog must be `groceries` or `office`, not {other:?}"),
    };
    let mut keys = vec![ApiKey::read_write(&cli.key, &cli.secret)];
    for k in &cli.read_only_keys {
        let Some((ck, cs)) = k.split_once(':') else {
            bail!("--read-only-key {k:?} must be CK:CS");
        };
        keys.push(ApiKey::read_only(ck, cs));
    }
    let cfg = SimConfig {
        keys,
        https: !cli.plain_http,
        currency: cli.currency.clone(),
        currency_symbol: if cli.currency == "IRT" {
            "تومان".into()
        } else {
            cli.currency.clone()
        },
        webhook_timeout: Duration::from_secs(cli.webhook_timeout_s),
        ..SimConfig::default()
    };
    let shop = WooSim::start_on(cfg, cli.listen).await?;
    if cli.seed == "demo" {
        seed::demo_with(&shop, catalog).map_err(|e| anyhow::anyhow!("seeding: {e}"))?;
    }
    println!(
        "WooCommerce simulator → {}  (site {}, {} products, {} customers, {} orders; auth: {})",
        shop.url(),
        shop.site_url(),
        shop.products().len(),
        shop.customers().len(),
        shop.orders().len(),
        if cli.plain_http {
            "OAuth 1.0a"
        } else {
            "Basic, query string or OAuth 1.0a"
        }
    );
    if let Some(every) = cli.activity_every_s.filter(|s| *s > 0) {
        let shop = shop.clone();
        tokio::spawn(async move {
            let mut rng = StdRng::from_entropy();
            let mut tick = tokio::time::interval(Duration::from_secs(every));
            tick.tick().await;
            loop {
                tick.tick().await;
                match seed::activity_tick(&shop, &mut rng) {
                    Ok(note) => println!("{note}"),
                    Err(e) => eprintln!("activity failed: {e}"),
                }
            }
        });
    }
    tokio::signal::ctrl_c().await?;
    shop.shutdown();
    Ok(())
}

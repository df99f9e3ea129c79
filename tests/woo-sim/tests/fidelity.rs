//! Drives the simulator with WooCommerce's official JavaScript REST client
//! (`@woocommerce/woocommerce-rest-api` 1.0.2, see `js/`). Over `http://`
//! that client signs with OAuth 1.0a, so the simulator runs as a plain-HTTP
//! site and must verify the signatures.
//!
//! Skips (with a message) only when `node`/`npm` are missing and `CI` is
//! unset; under CI a missing node is a failure.

use std::path::Path;
use std::process::Command;

use hamgam_woo_sim::{SimConfig, WooSim};

fn on_path(bin: &str) -> bool {
    Command::new(bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_js_client_lists_creates_updates_and_reads() {
    if !(on_path("node") && on_path("npm")) {
        if std::env::var_os("CI").is_some() {
            panic!(
                "node and npm are required under CI for the WooCommerce JS client fidelity test"
            );
        }
        eprintln!(
            "SKIPPED official_js_client_lists_creates_updates_and_reads: node/npm not on PATH (set CI=1 to make this a failure)"
        );
        return;
    }
    let js = Path::new(env!("CARGO_MANIFEST_DIR")).join("js");
    if !js
        .join("node_modules/@woocommerce/woocommerce-rest-api")
        .exists()
    {
        let out = tokio::task::spawn_blocking({
            let js = js.clone();
            move || {
                Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund"])
                    .current_dir(js)
                    .output()
            }
        })
        .await
        .expect("join")
        .expect("npm ci runs");
        assert!(
            out.status.success(),
            "npm ci failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let shop =
        WooSim::start(SimConfig::with_key("ck_fidelity_4f2a", "cs_fidelity_9e1b").plain_http())
            .await
            .expect("start");
    shop.seed_demo().expect("seed");
    assert_eq!(shop.orders().len(), 7);
    // The client's order is made two minutes after the seed (inside OAuth's
    // 15-minute timestamp window), so `modified_after` can tell them apart.
    shop.advance_clock(std::time::Duration::from_secs(120));
    let (ck, cs) = shop.credentials();
    let url = shop.base_url();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .args(["fidelity.mjs", &url, &ck, &cs])
            .current_dir(js)
            .output()
    })
    .await
    .expect("join")
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "fidelity.mjs failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("checks passed"), "{stdout}");
    // Every request the client made authenticated with OAuth, and the one
    // with a wrong secret was refused.
    let log = shop.request_log();
    assert!(log.len() >= 10);
    assert!(
        log.iter()
            .filter(|e| e.status < 400)
            .all(|e| e.auth == Some(hamgam_woo_sim::AuthMethod::OAuth))
    );
    assert_eq!(shop.stats().unauthorized, 1);
}

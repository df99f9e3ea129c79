//! The vendor's side of trust (P4): keys, signed bundles, partner
//! endorsements and customer licenses. The formats and the signing code
//! are `hamgam-trust`'s, the same code the host verifies with.

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use chrono::NaiveDate;
use hamgam_trust::bundle::{self, endorsement_message};
use hamgam_trust::keys::{PublicKey, SecretKey};
use hamgam_trust::license::{Entitlement, License, LicenseLimits};
use hamgam_trust::manifest::Tier;
use hamgam_trust::scope::IdScope;
use std::fs;
use std::path::{Path, PathBuf};

/// Write `<out>/<name>.key` (secret, mode 0600) and `<out>/<name>.pub`.
/// Refuses to overwrite an existing key: losing the vendor key means
/// re-issuing every license.
pub fn keygen(out: &Path, name: &str) -> Result<()> {
    fs::create_dir_all(out)?;
    let secret_path = out.join(format!("{name}.key"));
    let public_path = out.join(format!("{name}.pub"));
    if secret_path.exists() {
        bail!(
            "{} exists; refusing to overwrite a key",
            secret_path.display()
        );
    }
    let key = SecretKey::generate()?;
    write_private(&secret_path, &key.to_text())?;
    fs::write(&public_path, format!("{}\n", key.public()))?;
    println!("secret key: {} (keep it offline)", secret_path.display());
    println!("public key: {} = {}", public_path.display(), key.public());
    println!("key id:     {}", key.public().id());
    Ok(())
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    let mut file = {
        use std::os::unix::fs::OpenOptionsExt;
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?
    };
    #[cfg(not(unix))]
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    writeln!(file, "{text}")?;
    Ok(())
}

/// Read a secret key file.
pub fn read_key(path: &Path) -> Result<SecretKey> {
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read key {}", path.display()))?;
    SecretKey::parse(&text).with_context(|| format!("{}", path.display()))
}

/// Sign a staged component into `<out>/<id>-<version>.hgb`.
pub fn sign(component: &Path, key: &Path, out: &Path) -> Result<PathBuf> {
    let key = read_key(key)?;
    let wasm = fs::read(component).with_context(|| {
        format!(
            "cannot read {} (run `cargo xtask build-plugins` first)",
            component.display()
        )
    })?;
    let bytes = bundle::sign(&wasm, &key)?;
    let b = bundle::peek(&bytes)?;
    fs::create_dir_all(out)?;
    let path = out.join(format!("{}-{}.hgb", b.id, b.version));
    fs::write(&path, &bytes)?;
    println!(
        "signed {} as {} with key {}",
        component.display(),
        path.display(),
        key.public().id()
    );
    Ok(path)
}

/// Print the `[[trust.partners]]` entry that endorses a partner's key for
/// the plugin ids in `scope` (`acme-*`, `acme-notes`).
pub fn endorse(partner: &str, partner_key: &str, scope: &[String], key: &Path) -> Result<()> {
    print!("{}", endorsement(partner, partner_key, scope, key)?);
    Ok(())
}

/// The `[[trust.partners]]` entry endorsing `partner_key` for `scope`,
/// signed with the vendor key at `key`.
pub fn endorsement(
    partner: &str,
    partner_key: &str,
    scope: &[String],
    key: &Path,
) -> Result<String> {
    let vendor = read_key(key)?;
    let partner_key = PublicKey::parse(partner_key)?;
    IdScope::parse(scope).context("--scope")?;
    let signature = vendor.sign(&endorsement_message(partner, &partner_key, scope));
    Ok(format!(
        "[[trust.partners]]\npartner = {partner:?}\nkey = \"{partner_key}\"\nscope = {scope:?}\nendorsement = \"{}\"\n",
        base64::engine::general_purpose::STANDARD.encode(signature)
    ))
}

/// What `license issue` needs.
pub struct IssueArgs {
    pub customer: String,
    /// The installation id the operator's `[trust] installation` holds.
    pub installation: String,
    pub license_id: Option<String>,
    pub tenants: Vec<String>,
    /// `id` or `id:tier` or `id:tier:YYYY-MM-DD`.
    pub modules: Vec<String>,
    pub expires: NaiveDate,
    pub grace_days: u32,
    pub companies: Option<u32>,
    pub max_tenants: Option<u32>,
    pub key: PathBuf,
    pub out: PathBuf,
}

/// Issue and sign a license.
pub fn issue(args: IssueArgs) -> Result<()> {
    let key = read_key(&args.key)?;
    if args.installation.trim().is_empty() || args.installation.trim() != args.installation {
        bail!("--installation: the id of the host the license is for, without spaces around it");
    }
    if args.tenants.is_empty() {
        bail!("--tenant: a license covers at least one tenant");
    }
    let mut modules = Vec::new();
    for spec in &args.modules {
        let mut parts = spec.split(':');
        let module = parts.next().unwrap_or_default().to_string();
        if module.is_empty() {
            bail!("--module `{spec}`: expected id[:tier[:YYYY-MM-DD]]");
        }
        let tier = match parts.next() {
            None | Some("orderable") => Tier::Orderable,
            Some("installable") => Tier::Installable,
            Some("default") => Tier::Default,
            Some(other) => {
                bail!("--module `{spec}`: tier `{other}` is not default, installable or orderable")
            }
        };
        let expires = parts
            .next()
            .map(|d| {
                d.parse::<NaiveDate>()
                    .with_context(|| format!("--module `{spec}`: bad date"))
            })
            .transpose()?;
        modules.push(Entitlement {
            module,
            tier,
            expires,
        });
    }
    let today = chrono::Utc::now().date_naive();
    if args.expires < today {
        bail!("--expires {} is in the past", args.expires);
    }
    let license = License {
        license_id: args
            .license_id
            .unwrap_or_else(|| format!("{}-{}", args.customer, today.format("%Y%m%d"))),
        customer: args.customer,
        installation: args.installation,
        tenants: args.tenants,
        modules,
        limits: LicenseLimits {
            companies: args.companies,
            tenants: args.max_tenants,
        },
        issued: today,
        expires: args.expires,
        grace_days: args.grace_days,
    };
    if let Some(dir) = args.out.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(&args.out, license.sign(&key)?)?;
    println!(
        "issued license {} for {}, installation {} ({} module(s), expires {}) → {}",
        license.license_id,
        license.customer,
        license.installation,
        license.modules.len(),
        license.expires,
        args.out.display()
    );
    Ok(())
}

// A fixed key, so verification runs through the signature check instead
// of stopping at "unknown signer".
pub fn trust() -> hamgam_trust::bundle::TrustStore {
    let key = hamgam_trust::keys::SecretKey::parse(
        "ed25519-secret:9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    )
    .expect("fixed key");
    hamgam_trust::bundle::TrustStore::new(vec![key.public()], vec![]).expect("trust store")
}

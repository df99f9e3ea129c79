//! The staged component in the SDK's in-memory test host, against a tiny
//! fake Sepidar that checks the device protocol the way the real one does
//! (`cargo xtask build-plugins sepidar` first). It proves what unit tests
//! on the build machine cannot: that randomness works inside the sandbox
//! (a fresh ArbitraryCode per request, each RSA-encrypted to match) and
//! that the device key kept in state survives a fresh instance, so the
//! device is registered once. The full behaviour is tested against the
//! Sepidar simulator in `tests/all`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hamgam_sdk::harness::TestHost;
use hamgam_sdk::harness::types::EntityKind;
use rand_core::OsRng;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Encrypt, RsaPrivateKey};
use serde_json::{Value, json};

const SERIAL: &str = "10017ff3";
const KEY: &[u8; 16] = b"10017ff310017ff3";

#[derive(Default)]
struct Seen {
    registrations: usize,
    codes: Vec<String>,
    bad: Vec<String>,
}

struct Fake {
    key: RsaPrivateKey,
    seen: Mutex<Seen>,
}

impl Fake {
    /// Every signed request: the ArbitraryCode is new and EncArbitraryCode
    /// decrypts to its 16 big-endian bytes.
    fn check(&self, headers: &HeaderMap) -> bool {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let code = text("ArbitraryCode");
        let ok = (|| {
            let uuid = uuid::Uuid::parse_str(&code).ok()?;
            let raw = B64.decode(text("EncArbitraryCode")).ok()?;
            let plain = self.key.decrypt(Pkcs1v15Encrypt, &raw).ok()?;
            (plain == uuid.as_bytes()
                && text("GenerationVersion") == "110"
                && text("IntegrationID") == "1001")
                .then_some(())
        })()
        .is_some();
        let mut seen = self.seen.lock().unwrap();
        if !ok {
            seen.bad.push(code.clone());
        }
        seen.codes.push(code);
        ok
    }
}

async fn serve(fake: Arc<Fake>) -> u16 {
    let register = {
        let fake = fake.clone();
        move |body: axum::Json<Value>| async move {
            let iv: [u8; 16] = B64
                .decode(body["IV"].as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap();
            let cypher = B64.decode(body["Cypher"].as_str().unwrap()).unwrap();
            let plain = cbc::Decryptor::<aes::Aes128>::new(KEY.into(), &iv.into())
                .decrypt_padded_vec_mut::<Pkcs7>(&cypher)
                .unwrap();
            assert_eq!(plain, b"1001");
            fake.seen.lock().unwrap().registrations += 1;
            let xml = format!(
                "<RSAKeyValue><Modulus>{}</Modulus><Exponent>{}</Exponent></RSAKeyValue>",
                B64.encode(fake.key.n().to_bytes_be()),
                B64.encode(fake.key.e().to_bytes_be())
            );
            let iv = [9u8; 16];
            let answer = cbc::Encryptor::<aes::Aes128>::new(KEY.into(), &iv.into())
                .encrypt_padded_vec_mut::<Pkcs7>(xml.as_bytes());
            (
                StatusCode::CREATED,
                axum::Json(
                    json!({"Cypher": B64.encode(answer), "IV": B64.encode(iv), "DeviceTitle": "CRM"}),
                ),
            )
        }
    };
    let login = {
        let fake = fake.clone();
        move |headers: HeaderMap, body: axum::Json<Value>| async move {
            let ok = fake.check(&headers)
                && body["PasswordHash"] == "81dc9bdb52d04dc20036dbd8313ed055"
                && body["UserName"] == "crm";
            if ok {
                (
                    StatusCode::CREATED,
                    axum::Json(json!({"Token": "t1", "UserID": 1})),
                )
            } else {
                (
                    StatusCode::UNAUTHORIZED,
                    axum::Json(json!({"Type": 0, "Message": "bad login"})),
                )
            }
        }
    };
    let customers = {
        let fake = fake.clone();
        move |headers: HeaderMap| async move {
            let bearer =
                headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer t1");
            if !fake.check(&headers) || !bearer {
                return (
                    StatusCode::UNAUTHORIZED,
                    axum::Json(json!({"Type": 0, "Message": "no"})),
                );
            }
            let customer = json!({"CustomerID": 7, "GUID": null, "Code": "1005", "CustomerType": 1,
                "Name": "علی", "LastName": "رضایی", "PhoneNumber": "09121234567", "Version": 3,
                "Addresses": [{"CustomerAddressID": 1, "IsMain": true, "CityRef": 99, "Address": "آزادی"}]});
            (
                StatusCode::OK,
                axum::Json(json!({"Result": [customer], "Total": 1, "Limit": 10, "Offset": 0})),
            )
        }
    };
    let divisions = {
        let fake = fake.clone();
        move |headers: HeaderMap| async move {
            fake.check(&headers);
            axum::Json(json!([{"DivisionID": 99, "Title": "تهران", "Type": 3, "ParentRef": null}]))
        }
    };
    let app = Router::new()
        .route(
            "/api/General/GenerationVersion",
            get(|| async { axum::Json(json!({"GenerationVersion": 110, "LockNumber": "x"})) }),
        )
        .route("/api/Devices/Register", post(register))
        .route("/api/users/login", post(login))
        .route("/api/Customers/Paginated", get(customers))
        .route("/api/AdministrativeDivisions", get(divisions));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

#[tokio::test]
async fn device_protocol_works_inside_the_sandbox_and_the_key_survives_a_fresh_instance() {
    let fake = Arc::new(Fake {
        key: RsaPrivateKey::new(&mut OsRng, 512).unwrap(),
        seen: Mutex::new(Seen::default()),
    });
    let port = serve(fake.clone()).await;
    let host = TestHost::new();
    let build = || {
        host.plugin(hamgam_sdk::harness::plugin_path("sepidar"))
            .expect("run `cargo xtask build-plugins sepidar` first")
            .setting("base_url", &format!("http://127.0.0.1:{port}/api"))
            .setting("serial", SERIAL)
            .setting("username", "crm")
            .setting("company_code", "300")
            .secret("password", "1234")
            .grant_http(&format!("http://127.0.0.1:{port}"))
            .grant_state()
            .build()
    };

    let first = build();
    let info = first.describe_connector().await.expect("describe");
    assert_eq!(info.company_code.as_deref(), Some("300"));
    let page = first
        .pull(EntityKind::Party, None, 10)
        .await
        .expect("call")
        .expect("pull");
    assert!(page.full_scan && !page.has_more);
    // The ledger binding types are not re-exported by the harness; the
    // Debug form is enough to see the one upsert.
    assert_eq!(page.changes.len(), 1);
    let change = format!("{:?}", page.changes[0]);
    assert!(
        change.starts_with("Change::Upsert") || change.starts_with("Upsert"),
        "{change}"
    );
    assert!(change.contains(r#"remote-id: "7""#), "{change}");
    assert!(change.contains(r#"version: Some("3")"#), "{change}");
    let cursor: Value = serde_json::from_str(page.next_cursor.as_deref().unwrap()).unwrap();
    assert_eq!(cursor["mode"], "tail");
    assert_eq!(cursor["max_id"], 7);

    // A fresh instance: same state, so no second registration and no
    // second login; new headers on every request.
    let second = build();
    second
        .pull(EntityKind::Party, None, 10)
        .await
        .expect("call")
        .expect("pull");

    let seen = fake.seen.lock().unwrap();
    assert_eq!(seen.registrations, 1);
    assert!(seen.bad.is_empty(), "bad signatures: {:?}", seen.bad);
    assert!(seen.codes.len() >= 4, "{:?}", seen.codes);
    let distinct: HashSet<&String> = seen.codes.iter().collect();
    assert_eq!(
        distinct.len(),
        seen.codes.len(),
        "an ArbitraryCode was reused"
    );
}

//! End-to-end tests of the simulator over real HTTP, with a client whose
//! crypto is written here independently of the server's.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use hamgam_sepidar_sim::{
    CustomerType, Fault, NewCustomer, NewDocument, NewItem, NewLine, ReturnLine, Sepidar,
    SimConfig, refs,
};
use rsa::RsaPrivateKey;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use uuid::Uuid;

// ------------------------------------------------------------------ client

mod client {
    use aes::Aes128;
    use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;
    use md5::{Digest, Md5};
    use rand::RngCore;
    use rsa::{BigUint, Pkcs1v15Encrypt, RsaPublicKey};
    use serde_json::{Value, json};
    use uuid::Uuid;

    /// Raw HTTP/1.1 request; returns (status, JSON body or Null).
    pub async fn http(
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Option<&Value>,
    ) -> (u16, Value) {
        let uri: hyper::Uri = url.parse().expect("url");
        let host = uri.authority().expect("authority").to_string();
        let stream = tokio::net::TcpStream::connect(&host)
            .await
            .expect("connect");
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .expect("handshake");
        tokio::spawn(conn);
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
            .header("host", host);
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let bytes = body
            .map(|b| serde_json::to_vec(b).expect("json"))
            .unwrap_or_default();
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let resp = sender
            .send_request(req.body(Full::new(Bytes::from(bytes))).expect("request"))
            .await
            .expect("send");
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        let v = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into()))
        };
        (status, v)
    }

    fn aes_key(serial: &str) -> [u8; 16] {
        let s = format!("{serial}{serial}");
        s.as_bytes()[..16].try_into().expect("16 bytes")
    }

    fn xml_field<'a>(xml: &'a str, tag: &str) -> &'a str {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        let start = xml.find(&open).expect("open tag") + open.len();
        let end = xml.find(&close).expect("close tag");
        &xml[start..end]
    }

    /// A Sepidar client as a connector would write it.
    pub struct Client {
        pub base: String,
        pub serial: String,
        pub integration_id: i32,
        pub gv: i32,
        pub key: Option<RsaPublicKey>,
        pub token: Option<String>,
    }

    impl Client {
        pub fn new(base: &str, serial: &str) -> Client {
            Client {
                base: base.to_string(),
                serial: serial.to_string(),
                integration_id: serial[..4].parse().expect("digits"),
                gv: 110,
                key: None,
                token: None,
            }
        }

        /// Registration body encrypted with the AES key of `serial`.
        pub fn register_body(serial: &str, integration_id: i32) -> Value {
            let mut iv = [0u8; 16];
            rand::thread_rng().fill_bytes(&mut iv);
            let key = aes_key(serial);
            let enc = cbc::Encryptor::<Aes128>::new(&key.into(), &iv.into())
                .encrypt_padded_vec_mut::<Pkcs7>(integration_id.to_string().as_bytes());
            json!({"Cypher": STANDARD.encode(enc), "IV": STANDARD.encode(iv), "IntegrationID": integration_id})
        }

        pub async fn register(&mut self) -> (u16, Value) {
            let body = Self::register_body(&self.serial, self.integration_id);
            let (status, v) = http(
                "POST",
                &format!("{}/Devices/Register", self.base),
                &[],
                Some(&body),
            )
            .await;
            if status == 201 {
                let iv = STANDARD.decode(v["IV"].as_str().expect("IV")).expect("b64");
                let data = STANDARD
                    .decode(v["Cypher"].as_str().expect("Cypher"))
                    .expect("b64");
                let key = aes_key(&self.serial);
                let iv: [u8; 16] = iv.as_slice().try_into().expect("iv 16");
                let xml = cbc::Decryptor::<Aes128>::new(&key.into(), &iv.into())
                    .decrypt_padded_vec_mut::<Pkcs7>(&data)
                    .expect("decrypt");
                let xml = String::from_utf8(xml).expect("utf8");
                let n = STANDARD
                    .decode(xml_field(&xml, "Modulus"))
                    .expect("modulus");
                let e = STANDARD
                    .decode(xml_field(&xml, "Exponent"))
                    .expect("exponent");
                assert_eq!(n.len(), 64, "RSA-512 modulus");
                self.key = Some(
                    RsaPublicKey::new(BigUint::from_bytes_be(&n), BigUint::from_bytes_be(&e))
                        .expect("public key"),
                );
            }
            (status, v)
        }

        /// Fresh per-request device headers.
        pub fn device_headers(&self) -> Vec<(String, String)> {
            let code = Uuid::new_v4();
            let key = self.key.as_ref().expect("registered");
            let enc = key
                .encrypt(&mut rand::thread_rng(), Pkcs1v15Encrypt, code.as_bytes())
                .expect("rsa");
            vec![
                ("GenerationVersion".into(), self.gv.to_string()),
                ("IntegrationID".into(), self.integration_id.to_string()),
                ("ArbitraryCode".into(), code.to_string()),
                ("EncArbitraryCode".into(), STANDARD.encode(enc)),
            ]
        }

        pub fn headers(&self) -> Vec<(String, String)> {
            let mut h = self.device_headers();
            if let Some(t) = &self.token {
                h.push(("Authorization".into(), format!("Bearer {t}")));
            }
            h
        }

        pub async fn login(&mut self, user: &str, password: &str) -> (u16, Value) {
            let hash = hex::encode_upper(Md5::digest(password.as_bytes()));
            let body = json!({"UserName": user, "PasswordHash": hash});
            let (status, v) = http(
                "POST",
                &format!("{}/users/login", self.base),
                &self.device_headers(),
                Some(&body),
            )
            .await;
            if status == 201 {
                self.token = Some(v["Token"].as_str().expect("token").to_string());
            }
            (status, v)
        }

        pub async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
            http(
                method,
                &format!("{}{}", self.base, path),
                &self.headers(),
                body,
            )
            .await
        }

        pub async fn get(&self, path: &str) -> (u16, Value) {
            self.call("GET", path, None).await
        }

        pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
            self.call("POST", path, Some(body)).await
        }

        pub async fn put(&self, path: &str, body: &Value) -> (u16, Value) {
            self.call("PUT", path, Some(body)).await
        }
    }
}

use client::{Client, http};

// ---------------------------------------------------------------- fixtures

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn dec(v: i64) -> Decimal {
    Decimal::from(v)
}

/// One RSA key for the fixtures (key generation is slow in debug builds);
/// the handshake test uses a freshly generated one.
fn shared_key() -> RsaPrivateKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| RsaPrivateKey::new(&mut rand::thread_rng(), 512).unwrap())
        .clone()
}

/// Today = 2025-06-15, fiscal year 1404.
fn config() -> SimConfig {
    SimConfig {
        today: ymd(2025, 6, 15),
        rsa_key: Some(shared_key()),
        users: vec![
            ("admin".into(), "admin".into()),
            ("sara".into(), "p@ss".into()),
        ],
        ..SimConfig::new(300)
    }
}

struct Fx {
    sim: Sepidar,
    c: Client,
    customer: i32,
    address: i32,
    item: i32,
    item2: i32,
}

async fn fixture() -> Fx {
    let sim = Sepidar::start(config()).await.unwrap();
    let cust = sim
        .create_customer(
            NewCustomer::person("علی", "رضایی")
                .phone("09121234567")
                .address(refs::CITY_TEHRAN, "ولیعصر"),
        )
        .unwrap();
    let item = sim.create_item(NewItem::product("1001", "لپ‌تاپ")).unwrap();
    let item2 = sim.create_item(NewItem::product("1002", "ماوس")).unwrap();
    let mut c = Client::new(&sim.url(), "10017ff3");
    assert_eq!(c.register().await.0, 201);
    assert_eq!(c.login("admin", "admin").await.0, 201);
    Fx {
        customer: cust.customer_id,
        address: cust.addresses[0].customer_address_id,
        item: item.item_id,
        item2: item2.item_id,
        sim,
        c,
    }
}

/// A quotation whose totals are right: line 1 = 2.5 × 1,000,000 − 100,000
/// discount + 10 % tax; line 2 = 1 × 500,000 + 10 % tax.
fn quotation_body(fx: &Fx, date: &str) -> Value {
    json!({
        "GUID": Uuid::new_v4(), "CurrencyRef": 1, "Rate": 1, "Date": date, "ExpirationDate": null,
        "CustomerRef": fx.customer, "AddressRef": fx.address, "SaleTypeRef": 1, "DiscountOnCustomer": 0,
        "Price": 3000000, "Discount": 100000, "Tax": 290000, "Duty": 0, "Addition": 0, "NetPrice": 3190000,
        "Description": "از CRM",
        "Items": [
            {"RowID": 1, "ItemRef": fx.item, "StockRef": 1, "Quantity": 2.5, "Fee": 1000000, "Price": 2500000,
             "Discount": 100000, "Tax": 240000, "Duty": 0, "Addition": 0, "NetPrice": 2640000},
            {"RowID": 2, "ItemRef": fx.item2, "StockRef": null, "Quantity": 1, "Fee": 500000, "Price": 500000,
             "Discount": 0, "Tax": 50000, "Duty": 0, "Addition": 0, "NetPrice": 550000}
        ]
    })
}

fn invoice_body(fx: &Fx) -> Value {
    let mut b = quotation_body(fx, "2000-01-01T00:00:00");
    let o = b.as_object_mut().unwrap();
    o.remove("Date");
    o.remove("ExpirationDate");
    o.insert("SettlementType".into(), json!(2));
    b
}

fn customer_body(city: i32) -> Value {
    json!({
        "GUID": Uuid::new_v4(), "PhoneNumber": "02188776655", "CustomerType": 2, "Name": "بازرگانی آریا",
        "LastName": null, "BirthDate": null, "NationalID": "10101234567", "EconomicCode": "411111111111",
        "Addresses": [{"Title": "دفتر", "IsMain": true, "CityRef": city, "Address": "خیابان آزادی", "ZipCode": "1234567890"}]
    })
}

/// A change to a request body that makes it invalid.
type Mutation = Box<dyn Fn(&mut Value)>;

fn msg(v: &Value) -> String {
    v["Message"].as_str().unwrap_or_default().to_string()
}

// ------------------------------------------------------------------- auth

#[test]
fn handle_is_clone_send_and_sync() {
    fn check<T: Clone + Send + Sync + 'static>() {}
    check::<Sepidar>();
}

#[tokio::test]
async fn full_handshake_register_login_and_list_customers() {
    let sim = Sepidar::start(SimConfig {
        today: ymd(2025, 6, 15),
        ..SimConfig::new(301)
    })
    .await
    .unwrap();
    sim.create_customer(NewCustomer::company("شرکت پارس").address(refs::CITY_KARAJ, "کرج"))
        .unwrap();
    let mut c = Client::new(&sim.url(), "10017ff3");
    let (status, reg) = c.register().await;
    assert_eq!(status, 201, "{reg}");
    assert_eq!(reg["DeviceTitle"], "Hamgam");
    assert!(sim.device_registered());
    // The key the client decrypted is the server's.
    assert!(sim.public_key_xml().contains("<Exponent>AQAB</Exponent>"));
    let (status, login) = c.login("admin", "admin").await;
    assert_eq!(status, 201, "{login}");
    assert_eq!(login["UserID"], 1);
    assert_eq!(login["CanEditCustomer"], true);
    assert!(login["Token"].as_str().unwrap().split('.').count() == 3);
    let (status, v) = c.get("/IsAuthorized").await;
    assert_eq!((status, v), (200, json!(true)));
    let (status, v) = c.get("/Customers/Paginated").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["Total"], 1);
    assert_eq!(v["Result"][0]["Title"], "شرکت پارس");
    assert_eq!(v["Result"][0]["CustomerType"], 2);
    assert_eq!(v["Result"][0]["Addresses"][0]["CityRef"], refs::CITY_KARAJ);
    assert_eq!(sim.login_count(), 1);
    assert_eq!(sim.stats().registrations, 1);
}

#[tokio::test]
async fn generation_version_probe_needs_no_headers() {
    let sim = Sepidar::start(config()).await.unwrap();
    let (status, v) = http(
        "GET",
        &format!("{}/General/GenerationVersion", sim.url()),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(v["GenerationVersion"], 110);
    assert!(v["LockNumber"].is_string());
}

#[tokio::test]
async fn wrong_or_missing_generation_version_is_412() {
    let mut fx = fixture().await;
    fx.c.gv = 109;
    let (status, v) = fx.c.get("/Customers/Paginated").await;
    assert_eq!(status, 412, "{v}");
    assert_eq!(v["Type"], 0);
    fx.c.gv = 110;
    let mut h = fx.c.headers();
    h.retain(|(k, _)| k != "GenerationVersion");
    let (status, _) = http(
        "GET",
        &format!("{}/Customers/Paginated", fx.sim.url()),
        &h,
        None,
    )
    .await;
    assert_eq!(status, 412);
    fx.sim.set_generation_version(111);
    assert_eq!(fx.c.get("/Customers/Paginated").await.0, 412);
    fx.c.gv = 111;
    assert_eq!(fx.c.get("/Customers/Paginated").await.0, 200);
}

#[tokio::test]
async fn missing_or_unknown_integration_id_is_401() {
    let mut fx = fixture().await;
    let url = format!("{}/Customers/Paginated", fx.sim.url());
    let mut h = fx.c.headers();
    h.retain(|(k, _)| k != "IntegrationID");
    assert_eq!(http("GET", &url, &h, None).await.0, 401);
    fx.c.integration_id = 9999;
    assert_eq!(fx.c.get("/Customers/Paginated").await.0, 401);
    fx.c.integration_id = 1001;
    assert_eq!(fx.c.get("/Customers/Paginated").await.0, 200);
    // Once the registration is reset, the device is unknown.
    fx.sim.reset_device();
    assert_eq!(fx.c.get("/Customers/Paginated").await.0, 401);
}

#[tokio::test]
async fn enc_arbitrary_code_must_decrypt_to_the_code() {
    let fx = fixture().await;
    let url = format!("{}/Customers/Paginated", fx.sim.url());
    let set = |h: &mut Vec<(String, String)>, k: &str, v: String| {
        for (hk, hv) in h.iter_mut() {
            if hk == k {
                *hv = v.clone();
            }
        }
    };
    // EncArbitraryCode of another code.
    let mut h = fx.c.headers();
    let other = fx.c.headers();
    let other_enc = other
        .iter()
        .find(|(k, _)| k == "EncArbitraryCode")
        .unwrap()
        .1
        .clone();
    set(&mut h, "EncArbitraryCode", other_enc);
    let (status, v) = http("GET", &url, &h, None).await;
    assert_eq!(status, 401, "{v}");
    // Garbage.
    let mut h = fx.c.headers();
    set(&mut h, "EncArbitraryCode", "bm90IHJzYQ==".into());
    assert_eq!(http("GET", &url, &h, None).await.0, 401);
    // Encrypted with someone else's key.
    let mut stranger = Client::new(&fx.sim.url(), "10017ff3");
    let foreign = RsaPrivateKey::new(&mut rand::thread_rng(), 512).unwrap();
    stranger.key = Some(foreign.to_public_key());
    stranger.token = fx.c.token.clone();
    assert_eq!(stranger.get("/Customers/Paginated").await.0, 401);
    // Missing.
    let mut h = fx.c.headers();
    h.retain(|(k, _)| k != "EncArbitraryCode");
    assert_eq!(http("GET", &url, &h, None).await.0, 401);
    // The genuine article works.
    assert_eq!(fx.c.get("/Customers/Paginated").await.0, 200);
}

#[tokio::test]
async fn reused_arbitrary_code_is_400() {
    let fx = fixture().await;
    let url = format!("{}/Customers/Paginated", fx.sim.url());
    let h = fx.c.headers();
    assert_eq!(http("GET", &url, &h, None).await.0, 200);
    let (status, v) = http("GET", &url, &h, None).await;
    assert_eq!(status, 400);
    assert_eq!(v["Type"], 0);
    assert!(msg(&v).contains("ArbitraryCode"), "{v}");
    // A replayed create is rejected before anything is created.
    let body = customer_body(refs::CITY_TEHRAN);
    let h = fx.c.headers();
    let url = format!("{}/Customers", fx.sim.url());
    assert_eq!(http("POST", &url, &h, Some(&body)).await.0, 201);
    let mut body2 = customer_body(refs::CITY_TEHRAN);
    body2["GUID"] = json!(Uuid::new_v4());
    assert_eq!(http("POST", &url, &h, Some(&body2)).await.0, 400);
    assert_eq!(fx.sim.customers().len(), 2);
}

#[tokio::test]
async fn token_missing_invalid_or_revoked_is_401_and_relogin_works() {
    let mut fx = fixture().await;
    let token = fx.c.token.take();
    assert_eq!(fx.c.get("/Customers/Paginated").await.0, 401);
    fx.c.token = Some("eyJhbGciOiJIUzI1NiJ9.e30.forged".into());
    let (status, v) = fx.c.get("/Customers/Paginated").await;
    assert_eq!(status, 401);
    assert_eq!(v["Type"], 0);
    fx.c.token = token;
    assert_eq!(fx.c.get("/IsAuthorized").await.0, 200);
    fx.sim.revoke_tokens();
    assert_eq!(fx.c.get("/Customers/Paginated").await.0, 401);
    assert_eq!(fx.c.login("admin", "admin").await.0, 201);
    assert_eq!(fx.c.get("/Customers/Paginated").await.0, 200);
    assert_eq!(fx.sim.login_count(), 2);
}

#[tokio::test]
async fn wrong_password_is_401_and_unknown_user_404() {
    let mut fx = fixture().await;
    fx.c.token = None;
    let (status, v) = fx.c.login("admin", "wrong").await;
    assert_eq!(status, 401, "{v}");
    assert!(fx.c.token.is_none());
    assert_eq!(fx.c.login("nobody", "admin").await.0, 404);
    // Lower-case hex is accepted too.
    let body =
        json!({"UserName": "sara", "PasswordHash": hamgam_sepidar_sim::crypto::md5_hex("p@ss")});
    let (status, v) = http(
        "POST",
        &format!("{}/Users/Login", fx.sim.url()),
        &fx.c.device_headers(),
        Some(&body),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["UserID"], 2);
    assert_eq!(fx.sim.stats().failed_logins, 2);
    assert_eq!(fx.sim.login_count(), 2);
}

#[tokio::test]
async fn second_registration_is_400_until_reset_and_bad_cypher_is_400() {
    let fx = fixture().await;
    let mut again = Client::new(&fx.sim.url(), "10017ff3");
    let (status, v) = again.register().await;
    assert_eq!(status, 400, "{v}");
    assert!(msg(&v).contains("already registered"));
    fx.sim.reset_device();
    // Encrypted with another serial's key, or claiming another IntegrationID.
    let url = format!("{}/Devices/Register", fx.sim.url());
    let wrong_key = Client::register_body("10019999", 1001);
    assert_eq!(http("POST", &url, &[], Some(&wrong_key)).await.0, 400);
    let wrong_id = Client::register_body("10017ff3", 1002);
    assert_eq!(http("POST", &url, &[], Some(&wrong_id)).await.0, 400);
    assert!(!fx.sim.device_registered());
    assert_eq!(again.register().await.0, 201);
    assert_eq!(fx.sim.stats().registrations, 2);
}

#[tokio::test]
async fn paths_are_case_insensitive() {
    let fx = fixture().await;
    for p in [
        "/customers/paginated",
        "/CUSTOMERS/PAGINATED",
        "/Customers/Paginated",
        "/isauthorized",
    ] {
        assert_eq!(fx.c.get(p).await.0, 200, "{p}");
    }
    let (status, v) = fx.c.get("/NoSuchThing").await;
    assert_eq!(status, 404);
    assert!(v["Message"].is_string());
}

// -------------------------------------------------------------- customers

#[tokio::test]
async fn customer_create_assigns_code_and_duplicate_guid_creates_nothing() {
    let fx = fixture().await;
    let body = customer_body(refs::CITY_ISFAHAN);
    let (status, v) = fx.c.post("/Customers", &body).await;
    assert_eq!(status, 201, "{v}");
    let first_code: i64 = fx.sim.customer(fx.customer).unwrap().code.parse().unwrap();
    assert_eq!(v["Code"], (first_code + 1).to_string());
    assert_eq!(v["GUID"], body["GUID"]);
    assert_eq!(v["Version"], 1);
    assert_eq!(v["Title"], "بازرگانی آریا");
    let id = v["CustomerID"].as_i64().unwrap() as i32;
    let stored = fx
        .sim
        .customer_by_guid(body["GUID"].as_str().unwrap().parse().unwrap())
        .unwrap();
    assert_eq!(stored.customer_id, id);
    assert_eq!(stored.customer_type, CustomerType::Company);
    let (status, v) = fx.c.post("/Customers", &body).await;
    assert_eq!(status, 400);
    assert_eq!(v["Type"], 0);
    assert!(msg(&v).contains("GUID"), "{v}");
    assert_eq!(fx.sim.customers().len(), 2);
    // Missing GUID is a 400 as well.
    let mut no_guid = customer_body(refs::CITY_ISFAHAN);
    no_guid.as_object_mut().unwrap().remove("GUID");
    assert_eq!(fx.c.post("/Customers", &no_guid).await.0, 400);
    // A person needs a last name.
    let person = json!({"GUID": Uuid::new_v4(), "CustomerType": 1, "Name": "رضا", "Addresses": []});
    assert_eq!(fx.c.post("/Customers", &person).await.0, 400);
    assert_eq!(fx.sim.customers().len(), 2);
}

#[tokio::test]
async fn customer_with_unknown_or_non_city_ref_is_400_and_nothing_created() {
    let fx = fixture().await;
    for city in [9999, refs::PROVINCE_TEHRAN, refs::COUNTRY_IRAN] {
        let (status, v) = fx.c.post("/Customers", &customer_body(city)).await;
        assert_eq!(status, 400, "{city}: {v}");
        assert!(msg(&v).contains("CityRef"), "{v}");
    }
    assert_eq!(fx.sim.customers().len(), 1);
    let (_, divisions) = fx.c.get("/AdministrativeDivisions").await;
    let karaj = divisions
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["Title"] == "کرج")
        .unwrap()
        .clone();
    assert_eq!(karaj["Type"], 3);
    assert_eq!(karaj["ParentRef"], refs::PROVINCE_ALBORZ);
}

#[tokio::test]
async fn customer_put_requires_the_current_version() {
    let fx = fixture().await;
    let path = format!("/Customers/{}", fx.customer);
    let (_, before) = fx.c.get(&path).await;
    assert_eq!(before["Version"], 1);
    let put = json!({
        "Name": "علی", "LastName": "رضایی‌نژاد", "PhoneNumber": "09350000000", "BirthDate": "1990-05-01T00:00:00",
        "NationalID": "0012345679", "EconomicCode": null, "Version": 1, "CustomerType": 2,
        "Addresses": [{"CustomerAddressID": fx.address, "Title": "خانه", "IsMain": true, "CityRef": refs::CITY_SHIRAZ, "Address": "زند"}]
    });
    let (status, v) = fx.c.put(&path, &put).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["Version"], 2);
    assert_eq!(v["Title"], "علی رضایی‌نژاد");
    assert_eq!(
        v["CustomerType"], 1,
        "type change through the API is ignored"
    );
    assert_eq!(v["Addresses"][0]["CustomerAddressID"], fx.address);
    assert_eq!(v["Addresses"][0]["CityRef"], refs::CITY_SHIRAZ);
    assert_eq!(v["BirthDate"], "1990-05-01T00:00:00");
    // The same PUT again is stale now.
    let (status, v) = fx.c.put(&path, &put).await;
    assert_eq!(status, 400);
    assert_eq!(v["Type"], 0);
    assert!(msg(&v).contains("Version"), "{v}");
    assert_eq!(fx.sim.customer(fx.customer).unwrap().version, 2);
    // A Sepidar user's edit bumps the version too.
    fx.sim
        .edit_customer(fx.customer, |c| c.phone_number = Some("02122223333".into()))
        .unwrap();
    let mut put3 = put.clone();
    put3["Version"] = json!(2);
    assert_eq!(fx.c.put(&path, &put3).await.0, 400);
    put3["Version"] = json!(3);
    put3["Addresses"][0]["CityRef"] = json!(refs::PROVINCE_FARS);
    assert_eq!(
        fx.c.put(&path, &put3).await.0,
        400,
        "province is not a city"
    );
    assert_eq!(fx.sim.customer(fx.customer).unwrap().version, 3);
    put3["Addresses"][0]["CityRef"] = json!(refs::CITY_SHIRAZ);
    put3["Addresses"][0]["CustomerAddressID"] = json!(9999);
    let (status, v) = fx.c.put(&path, &put3).await;
    assert_eq!(status, 400, "address of another customer: {v}");
    put3["Addresses"][0]["CustomerAddressID"] = json!(fx.address);
    let (status, v) = fx.c.put(&path, &put3).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["Version"], 4);
    // Missing Version is a 400.
    put3.as_object_mut().unwrap().remove("Version");
    assert_eq!(fx.c.put(&path, &put3).await.0, 400);
    assert_eq!(fx.c.put("/Customers/4242", &put3).await.0, 404);
}

#[tokio::test]
async fn edits_and_deletes_inside_sepidar_are_visible_through_the_api() {
    let fx = fixture().await;
    fx.sim
        .edit_customer(fx.customer, |c| {
            c.phone_number = Some("02155554444".into());
            c.last_name = Some("کریمی".into());
        })
        .unwrap();
    fx.sim
        .set_customer_balance(fx.customer, dec(1_500_000), dec(1_200_000))
        .unwrap();
    let (_, v) = fx.c.get(&format!("/customers/{}", fx.customer)).await;
    assert_eq!(v["PhoneNumber"], "02155554444");
    assert_eq!(v["Title"], "علی کریمی");
    assert_eq!(v["Version"], 2);
    assert_eq!(v["AccountingRemainder"], 1_500_000);
    assert_eq!(v["RemainderWithoutCheque"], 1_200_000);
    fx.sim
        .edit_item(fx.item, |i| i.title = "لپ‌تاپ لنوو".into())
        .unwrap();
    let (_, v) = fx.c.get(&format!("/Items/{}", fx.item)).await;
    assert_eq!(v["Title"], "لپ‌تاپ لنوو");
    let extra = fx
        .sim
        .create_customer(NewCustomer::person("مریم", "احمدی").address(refs::CITY_MASHHAD, "مشهد"))
        .unwrap();
    assert_eq!(
        fx.c.get(&format!("/Customers/{}", extra.customer_id))
            .await
            .0,
        200
    );
    fx.sim.delete_customer(extra.customer_id).unwrap();
    let (status, v) = fx.c.get(&format!("/Customers/{}", extra.customer_id)).await;
    assert_eq!(status, 404);
    assert_eq!(v["Type"], 0);
    let (_, page) = fx.c.get("/Customers/Paginated").await;
    assert_eq!(page["Total"], 1);
}

#[tokio::test]
async fn unknown_ids_are_404() {
    let fx = fixture().await;
    for p in [
        "/Customers/999",
        "/Items/999",
        "/Items/Inventories/999",
        "/Quotations/999",
        "/Invoices/999",
        "/ReturnedInvoices/999",
    ] {
        let (status, v) = fx.c.get(p).await;
        assert_eq!(status, 404, "{p}");
        assert!(v["Message"].is_string(), "{p}: {v}");
    }
    assert_eq!(fx.c.call("DELETE", "/Quotations/999", None).await.0, 404);
}

#[tokio::test]
async fn paging_envelope_and_ordering() {
    let fx = fixture().await;
    for i in 0..24 {
        fx.sim
            .create_customer(
                NewCustomer::company(format!("شرکت {i:02}")).address(refs::CITY_TEHRAN, "تهران"),
            )
            .unwrap();
    }
    let (status, v) = fx.c.get("/Customers/Paginated?limit=10&offset=20").await;
    assert_eq!(status, 200);
    assert_eq!(v["Total"], 25);
    assert_eq!(v["Limit"], 10);
    assert_eq!(v["Offset"], 20);
    assert_eq!(v["OrderedBy"], "CustomerID");
    assert_eq!(v["Ascending"], true);
    assert_eq!(v["Filters"], json!([]));
    let ids: Vec<i64> = v["Result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["CustomerID"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![21, 22, 23, 24, 25]);
    let (_, v) = fx.c.get("/Customers/Paginated").await;
    assert_eq!(v["Limit"], 100);
    assert_eq!(v["Result"].as_array().unwrap().len(), 25);
    let (_, v) =
        fx.c.get("/Customers/Paginated?orderByDesc=Code&limit=3")
            .await;
    assert_eq!(v["OrderedBy"], "Code");
    assert_eq!(v["Ascending"], false);
    let codes: Vec<String> = v["Result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["Code"].as_str().unwrap().to_string())
        .collect();
    let max = fx
        .sim
        .customers()
        .iter()
        .map(|c| c.code.clone())
        .max()
        .unwrap();
    assert_eq!(codes[0], max);
    assert!(codes.windows(2).all(|w| w[0] > w[1]));
    let (_, v) = fx.c.get("/Customers/Paginated?orderBy=title&limit=2").await;
    assert_eq!(v["OrderedBy"], "Title");
    assert_eq!(v["Result"][0]["Title"], "شرکت 00");
    assert_eq!(fx.c.get("/Customers/Paginated?orderBy=Nope").await.0, 400);
    assert_eq!(fx.c.get("/Customers/Paginated?limit=1001").await.0, 400);
    assert_eq!(fx.c.get("/Customers/Paginated?limit=1000").await.0, 200);
    assert_eq!(fx.c.get("/Customers/Paginated?offset=-1").await.0, 400);
    let (_, v) = fx.c.get("/Customers/Paginated?offset=500").await;
    assert_eq!(v["Result"], json!([]));
    assert_eq!(v["Total"], 25);
}

// -------------------------------------------------------------- quotations

#[tokio::test]
async fn quotation_with_right_totals_is_created_with_number_and_fiscal_year() {
    let fx = fixture().await;
    let body = quotation_body(&fx, "2025-06-01T00:00:00");
    let (status, v) = fx.c.post("/Quotations", &body).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["Number"], 1);
    assert_eq!(v["FiscalYearRef"], 2);
    assert_eq!(v["NetPrice"], 3190000);
    assert_eq!(v["Items"][0]["Quantity"], 2.5);
    assert_eq!(v["Closed"], false);
    let id = v["QuotationID"].as_i64().unwrap() as i32;
    let stored = fx.sim.quotation(id).unwrap();
    assert_eq!(stored.guid.to_string(), body["GUID"].as_str().unwrap());
    assert_eq!(stored.items[0].line.quantity, Decimal::new(25, 1));
    assert_eq!(stored.totals.tax, dec(290_000));
    // Header discount above the lines' sum is a header-level discount.
    let mut b = quotation_body(&fx, "2025-06-01T00:00:00");
    b["Discount"] = json!(150000);
    b["NetPrice"] = json!(3140000);
    let (status, v) = fx.c.post("/Quotations", &b).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["Number"], 2);
}

#[tokio::test]
async fn quotation_totals_mismatch_is_400_naming_the_field_and_creates_nothing() {
    let fx = fixture().await;
    let cases: Vec<(&str, Mutation)> = vec![
        (
            "Items[0].Price",
            Box::new(|b| b["Items"][0]["Price"] = json!(2400000)),
        ),
        (
            "Items[1].NetPrice",
            Box::new(|b| b["Items"][1]["NetPrice"] = json!(560000)),
        ),
        ("Price", Box::new(|b| b["Price"] = json!(3000001))),
        ("Tax", Box::new(|b| b["Tax"] = json!(280000))),
        ("Duty", Box::new(|b| b["Duty"] = json!(10))),
        (
            "Discount",
            Box::new(|b| {
                b["Discount"] = json!(50000);
                b["NetPrice"] = json!(3240000);
            }),
        ),
        (
            "Addition",
            Box::new(|b| {
                b["Items"][1]["Addition"] = json!(1000);
                b["Items"][1]["NetPrice"] = json!(551000);
            }),
        ),
        ("NetPrice", Box::new(|b| b["NetPrice"] = json!(3190001))),
        (
            "Items[0].Quantity",
            Box::new(|b| {
                b["Items"][0]["Quantity"] = json!(0);
                b["Items"][0]["Price"] = json!(0);
            }),
        ),
    ];
    for (field, mutate) in cases {
        let mut b = quotation_body(&fx, "2025-06-01T00:00:00");
        mutate(&mut b);
        let (status, v) = fx.c.post("/Quotations", &b).await;
        assert_eq!(status, 400, "{field}: {v}");
        assert_eq!(v["Type"], 0);
        assert!(msg(&v).contains(field), "{field}: {}", msg(&v));
    }
    assert!(fx.sim.quotations().is_empty());
    // The unmodified body is fine, and gets number 1 (failures used none).
    let (status, v) =
        fx.c.post("/Quotations", &quotation_body(&fx, "2025-06-01T00:00:00"))
            .await;
    assert_eq!(status, 201);
    assert_eq!(v["Number"], 1);
}

#[tokio::test]
async fn quotation_unknown_refs_are_400() {
    let fx = fixture().await;
    let cases: Vec<(&str, Mutation)> = vec![
        ("CustomerRef", Box::new(|b| b["CustomerRef"] = json!(777))),
        ("AddressRef", Box::new(|b| b["AddressRef"] = json!(777))),
        ("SaleTypeRef", Box::new(|b| b["SaleTypeRef"] = json!(9))),
        ("CurrencyRef", Box::new(|b| b["CurrencyRef"] = json!(9))),
        (
            "ItemRef",
            Box::new(|b| b["Items"][0]["ItemRef"] = json!(777)),
        ),
        (
            "StockRef",
            Box::new(|b| b["Items"][0]["StockRef"] = json!(9)),
        ),
        (
            "GUID",
            Box::new(|b| {
                b.as_object_mut().unwrap().remove("GUID");
            }),
        ),
        ("Items", Box::new(|b| b["Items"] = json!([]))),
    ];
    for (field, mutate) in cases {
        let mut b = quotation_body(&fx, "2025-06-01T00:00:00");
        mutate(&mut b);
        let (status, v) = fx.c.post("/Quotations", &b).await;
        assert_eq!(status, 400, "{field}: {v}");
        assert!(msg(&v).contains(field), "{field}: {}", msg(&v));
    }
    // An inactive item cannot be selected.
    fx.sim.edit_item(fx.item2, |i| i.is_active = false).unwrap();
    assert_eq!(
        fx.c.post("/Quotations", &quotation_body(&fx, "2025-06-01"))
            .await
            .0,
        400
    );
    assert!(fx.sim.quotations().is_empty());
}

#[tokio::test]
async fn quotation_fiscal_year_follows_nowruz_and_numbers_restart_per_year_and_sale_type() {
    let fx = fixture().await;
    let years = fx.sim.fiscal_years();
    let id_of = |t: &str| years.iter().find(|f| f.title == t).unwrap().fiscal_year_id;
    let fy1404 = years.iter().find(|f| f.title == "1404").unwrap();
    assert_eq!(
        (fy1404.start_date, fy1404.end_date),
        (ymd(2025, 3, 21), ymd(2026, 3, 20))
    );
    let fy1403 = years.iter().find(|f| f.title == "1403").unwrap();
    assert_eq!(
        (fy1403.start_date, fy1403.end_date),
        (ymd(2024, 3, 20), ymd(2025, 3, 20))
    );

    let post = |date: &'static str, sale_type: i32| {
        let mut b = quotation_body(&fx, date);
        b["SaleTypeRef"] = json!(sale_type);
        let c = &fx.c;
        async move { c.post("/Quotations", &b).await }
    };
    let (s, a) = post("2025-03-21T00:00:00", 1).await;
    assert_eq!(s, 201, "{a}");
    assert_eq!(a["FiscalYearRef"], id_of("1404"));
    assert_eq!(a["Number"], 1);
    let (_, b) = post("2025-03-20T00:00:00", 1).await;
    assert_eq!(b["FiscalYearRef"], id_of("1403"));
    assert_eq!(b["Number"], 1, "new fiscal year, numbering starts over");
    let (_, c) = post("2025-04-02T00:00:00", 1).await;
    assert_eq!(
        (c["FiscalYearRef"].clone(), c["Number"].clone()),
        (json!(id_of("1404")), json!(2))
    );
    let (_, d) = post("2025-04-02T00:00:00", 2).await;
    assert_eq!(d["Number"], 1, "numbers are per sale type");
    let (_, e) = post("2026-03-21", 1).await;
    assert_eq!(
        (e["FiscalYearRef"].clone(), e["Number"].clone()),
        (json!(id_of("1405")), json!(1))
    );
    // Outside any defined fiscal year.
    let (s, v) = post("2020-01-01T00:00:00", 1).await;
    assert_eq!(s, 400, "{v}");
}

#[tokio::test]
async fn quotation_list_has_no_items_detail_has_items_and_delete_rules() {
    let fx = fixture().await;
    let (_, a) =
        fx.c.post("/Quotations", &quotation_body(&fx, "2025-06-01"))
            .await;
    let (_, b) =
        fx.c.post("/Quotations", &quotation_body(&fx, "2025-06-02"))
            .await;
    let desk = fx
        .sim
        .create_quotation(NewDocument::new(
            fx.customer,
            ymd(2025, 6, 3),
            vec![NewLine::new(fx.item, 3, 1_000_000)],
        ))
        .unwrap();
    assert_eq!(desk.totals.tax, dec(300_000));
    assert_eq!(desk.number, 3);
    let (_, page) = fx.c.get("/Quotations/Paginated").await;
    assert_eq!(page["Total"], 3);
    assert!(
        page["Result"][0].get("Items").is_none(),
        "{}",
        page["Result"][0]
    );
    assert_eq!(page["Result"][0]["GUID"], a["GUID"]);
    let (_, ranged) =
        fx.c.get("/Quotations/Paginated?fromDate=2025-06-02T00:00:00&toDate=2025-06-03T00:00:00")
            .await;
    assert_eq!(ranged["Total"], 2);
    let (_, detail) =
        fx.c.get(&format!("/Quotations/{}", desk.quotation_id))
            .await;
    assert_eq!(detail["Items"].as_array().unwrap().len(), 1);
    assert_eq!(detail["Items"][0]["Tax"], 300000);
    // Delete an open one.
    let a_id = a["QuotationID"].as_i64().unwrap();
    let (status, _) =
        fx.c.call("DELETE", &format!("/Quotations/{a_id}"), None)
            .await;
    assert_eq!(status, 200);
    assert_eq!(fx.c.get(&format!("/Quotations/{a_id}")).await.0, 404);
    // A closed one cannot be deleted.
    let b_id = b["QuotationID"].as_i64().unwrap() as i32;
    fx.sim.set_quotation_closed(b_id, true).unwrap();
    let (status, v) =
        fx.c.call("DELETE", &format!("/Quotations/{b_id}"), None)
            .await;
    assert_eq!(status, 400, "{v}");
    assert!(fx.sim.quotation(b_id).is_some());
    // One an invoice was issued from neither.
    let inv = fx
        .sim
        .invoice_from_quotation(desk.quotation_id, ymd(2025, 6, 10))
        .unwrap();
    assert_eq!(inv.quotation_ref, Some(desk.quotation_id));
    assert_eq!(inv.totals, desk.totals);
    assert!(fx.sim.quotation(desk.quotation_id).unwrap().closed);
    fx.sim
        .set_quotation_closed(desk.quotation_id, false)
        .unwrap();
    assert_eq!(
        fx.c.call(
            "DELETE",
            &format!("/Quotations/{}", desk.quotation_id),
            None
        )
        .await
        .0,
        400
    );
    // Desktop edits are visible.
    fx.sim
        .edit_quotation(desk.quotation_id, |q| q.items[0].line.quantity = dec(4))
        .unwrap();
    let (_, detail) =
        fx.c.get(&format!("/Quotations/{}", desk.quotation_id))
            .await;
    assert_eq!(detail["Price"], 4000000);
    assert_eq!(detail["NetPrice"], 4400000);
}

// ---------------------------------------------------------------- invoices

#[tokio::test]
async fn invoices_paginated_is_current_fiscal_year_only_based_on_date_is_not() {
    let fx = fixture().await;
    let line = || vec![NewLine::new(fx.item, 1, 1_000_000)];
    let old = fx
        .sim
        .create_invoice(NewDocument::new(fx.customer, ymd(2024, 12, 1), line()))
        .unwrap();
    let edge = fx
        .sim
        .create_invoice(NewDocument::new(fx.customer, ymd(2025, 3, 20), line()))
        .unwrap();
    let cur1 = fx
        .sim
        .create_invoice(NewDocument::new(fx.customer, ymd(2025, 3, 21), line()))
        .unwrap();
    let cur2 = fx
        .sim
        .create_invoice(NewDocument::new(fx.customer, ymd(2025, 6, 1), line()))
        .unwrap();
    assert_eq!(
        (old.number, edge.number, cur1.number, cur2.number),
        (1, 2, 1, 2)
    );
    let (_, v) = fx.c.get("/Invoices/Paginated").await;
    let ids: Vec<i64> = v["Result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["InvoiceID"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![cur1.invoice_id as i64, cur2.invoice_id as i64]);
    assert_eq!(v["Total"], 2);
    assert_eq!(v["Result"][0]["InvoiceItems"][0]["Quantity"], 1);
    assert_eq!(v["Result"][0]["GUID"], cur1.guid.to_string());
    let (_, v) = fx
        .c
        .get("/Invoices/BasedOnDate/Paginated?fromDate=2024-03-20T00:00:00&toDate=2025-03-20T00:00:00")
        .await;
    let ids: Vec<i64> = v["Result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["InvoiceID"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![old.invoice_id as i64, edge.invoice_id as i64]);
    assert_eq!(v["Result"][1]["FiscalYearRef"], 1);
    assert_eq!(
        fx.c.get("/Invoices/BasedOnDate/Paginated?fromDate=2024-03-20")
            .await
            .0,
        400
    );
    assert_eq!(
        fx.c.get("/Invoices/BasedOnDate/Paginated?fromDate=x&toDate=2025-01-01")
            .await
            .0,
        400
    );
    // Moving "today" into 1403 changes what the current year is.
    fx.sim.set_today(ymd(2025, 1, 1));
    let (_, v) = fx.c.get("/Invoices/Paginated").await;
    assert_eq!(v["Total"], 2);
    assert_eq!(v["Result"][0]["InvoiceID"], old.invoice_id);
}

#[tokio::test]
async fn invoice_post_dates_today_numbers_and_dedupes_by_guid() {
    let fx = fixture().await;
    let body = invoice_body(&fx);
    let (status, v) = fx.c.post("/Invoices", &body).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["Date"], "2025-06-15T00:00:00");
    assert_eq!(v["FiscalYearRef"], 2);
    assert_eq!(v["Number"], 1);
    assert_eq!(v["SettlementType"], 2);
    assert_eq!(v["NetPrice"], 3190000);
    let (status, v2) = fx.c.post("/Invoices", &body).await;
    assert_eq!(status, 400);
    assert!(msg(&v2).contains("GUID"));
    assert_eq!(fx.sim.invoice_count(), 1);
    let id = v["InvoiceID"].as_i64().unwrap();
    let (_, got) = fx.c.get(&format!("/Invoices/{id}")).await;
    assert_eq!(got["GUID"], body["GUID"]);
    assert_eq!(got["InvoiceItems"].as_array().unwrap().len(), 2);
    // Totals are checked on invoices too.
    let mut wrong = invoice_body(&fx);
    wrong["Tax"] = json!(1);
    let (status, v) = fx.c.post("/Invoices", &wrong).await;
    assert_eq!(status, 400);
    assert!(msg(&v).contains("Tax"));
    assert_eq!(fx.sim.invoice_count(), 1);
    // Customer balance follows the invoice.
    assert_eq!(
        fx.sim.customer(fx.customer).unwrap().accounting_remainder,
        dec(3_190_000)
    );
}

#[tokio::test]
async fn invoice_edits_and_deletes_inside_sepidar_are_visible() {
    let fx = fixture().await;
    let inv = fx
        .sim
        .create_invoice(NewDocument::new(
            fx.customer,
            ymd(2025, 5, 1),
            vec![NewLine::new(fx.item, 2, 1_000_000)],
        ))
        .unwrap();
    fx.sim
        .edit_invoice(inv.invoice_id, |i| {
            i.invoice_items[0].line.fee = dec(1_500_000)
        })
        .unwrap();
    let (_, v) = fx.c.get(&format!("/Invoices/{}", inv.invoice_id)).await;
    assert_eq!(v["Price"], 3000000);
    assert_eq!(v["InvoiceItems"][0]["NetPrice"], 3300000);
    fx.sim.delete_invoice(inv.invoice_id).unwrap();
    assert_eq!(
        fx.c.get(&format!("/Invoices/{}", inv.invoice_id)).await.0,
        404
    );
    let (_, v) = fx.c.get("/Invoices/Paginated").await;
    assert_eq!(v["Total"], 0);
}

#[tokio::test]
async fn returned_invoices_by_date_and_id() {
    let fx = fixture().await;
    let inv = fx
        .sim
        .create_invoice(NewDocument::new(
            fx.customer,
            ymd(2025, 5, 1),
            vec![NewLine::new(fx.item, 4, 1_000_000)],
        ))
        .unwrap();
    let line = inv.invoice_items[0].invoice_item_id;
    let too_much = fx.sim.create_returned_invoice(
        inv.invoice_id,
        ymd(2025, 5, 3),
        &[ReturnLine {
            invoice_item_id: line,
            quantity: dec(5),
        }],
    );
    assert!(too_much.is_err());
    let r = fx
        .sim
        .create_returned_invoice(
            inv.invoice_id,
            ymd(2025, 5, 3),
            &[ReturnLine {
                invoice_item_id: line,
                quantity: dec(1),
            }],
        )
        .unwrap();
    assert_eq!(r.totals.net_price, dec(1_100_000));
    let (status, v) = fx
        .c
        .get("/ReturnedInvoices/BasedOnDate/Paginated?fromDate=2025-05-01T00:00:00&toDate=2025-05-31T00:00:00")
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["Total"], 1);
    let got = &v["Result"][0];
    assert_eq!(got["ReturnedInvoiceID"], r.returned_invoice_id);
    assert_eq!(got["InvoiceRef"], inv.invoice_id);
    assert_eq!(got["FiscalYearRef"], 2);
    assert_eq!(got["Items"][0]["Quantity"], 1);
    let (_, v) = fx
        .c
        .get("/ReturnedInvoices/BasedOnDate/Paginated?fromDate=2025-06-01T00:00:00&toDate=2025-06-30T00:00:00")
        .await;
    assert_eq!(v["Total"], 0);
    let (status, v) =
        fx.c.get(&format!("/ReturnedInvoices/{}", r.returned_invoice_id))
            .await;
    assert_eq!(status, 200);
    assert_eq!(v["NetPrice"], 1100000);
    assert!(
        fx.sim.delete_invoice(inv.invoice_id).is_err(),
        "invoice with a return cannot be deleted"
    );
}

// ---------------------------------------------------------------- receipts

#[tokio::test]
async fn receipts_validate_refs_and_dedupe_by_guid() {
    let fx = fixture().await;
    let (_, accounts) = fx.c.get("/BankAccounts").await;
    let mellat = accounts[0]["BankAccountID"].as_i64().unwrap();
    let guid = Uuid::new_v4();
    let body = |customer: i32, account: i64| {
        json!({
            "CurrencyRef": 1, "Rate": 1, "CustomerRef": customer, "Guid": guid, "Date": "2025-06-10T00:00:00",
            "Description": "پرداخت فاکتور", "Discount": 0,
            "Drafts": [
                {"Date": "2025-06-10T00:00:00", "Description": null, "Number": "123456", "BankAccountID": account, "Amount": 1000000},
                {"Date": "2025-06-10T00:00:00", "Number": 98765, "BankAccountID": account, "Amount": 2190000}
            ]
        })
    };
    let (status, v) = fx.c.post("/Receipts", &body(777, mellat)).await;
    assert_eq!(
        (status, msg(&v).contains("CustomerRef")),
        (400, true),
        "{v}"
    );
    let (status, v) = fx.c.post("/Receipts", &body(fx.customer, 99)).await;
    assert_eq!(
        (status, msg(&v).contains("BankAccountID")),
        (400, true),
        "{v}"
    );
    let (status, v) =
        fx.c.post("/Receipts", &body(fx.customer, refs::BANK_USD as i64))
            .await;
    assert_eq!(status, 400, "currency of the account differs: {v}");
    assert!(fx.sim.receipts().is_empty());
    let (status, v) = fx.c.post("/Receipts", &body(fx.customer, mellat)).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["Guid"], guid.to_string());
    let (status, v) = fx.c.post("/Receipts", &body(fx.customer, mellat)).await;
    assert_eq!(status, 400);
    assert!(msg(&v).contains("GUID"));
    let receipts = fx.sim.receipts();
    assert_eq!(receipts.len(), 1);
    let r = fx.sim.receipt_by_guid(guid).unwrap();
    assert_eq!(r.amount, dec(3_190_000));
    assert_eq!(r.number, 1);
    assert_eq!(r.fiscal_year_ref, 2);
    assert_eq!(r.drafts[1].number.as_deref(), Some("98765"));
    assert_eq!(
        fx.sim.customer(fx.customer).unwrap().accounting_remainder,
        dec(-3_190_000)
    );
}

// --------------------------------------------------- reference data, items

#[tokio::test]
async fn items_prices_inventories_and_reference_data() {
    let fx = fixture().await;
    fx.sim
        .set_price(fx.item, refs::SALE_TYPE_DOMESTIC, 450_000_000)
        .unwrap();
    fx.sim
        .set_price(fx.item, refs::SALE_TYPE_DOMESTIC, 460_000_000)
        .unwrap();
    fx.sim
        .set_price(fx.item, refs::SALE_TYPE_EXPORT, 500_000_000)
        .unwrap();
    fx.sim
        .set_inventory(fx.item, refs::STOCK_CENTRAL, 12)
        .unwrap();
    fx.sim
        .set_inventory(fx.item, refs::STOCK_2, Decimal::new(35, 1))
        .unwrap();
    let (_, notes) = fx.c.get("/PriceNoteItems").await;
    let notes = notes.as_array().unwrap();
    assert_eq!(notes.len(), 2);
    assert_eq!(notes[0]["Fee"], 460000000);
    assert_eq!(notes[0]["SaleTypeRef"], 1);
    let (_, inv) = fx.c.get(&format!("/Items/Inventories/{}", fx.item)).await;
    assert_eq!(inv[1]["StockeRef"], refs::STOCK_2);
    assert_eq!(inv[1]["Qunatity"], 3.5);
    let (_, page) = fx.c.get("/Items/Paginated?orderByDesc=Code").await;
    assert_eq!(page["Result"][0]["Code"], "1002");
    assert_eq!(page["Result"][1]["TotalInventory"], 15.5);
    assert_eq!(page["Result"][1]["TaxRate"], 10);
    let (_, stocks) = fx.c.get("/Stocks").await;
    assert_eq!(stocks[0]["Code"], "01");
    assert_eq!(stocks[0]["Title"], "انبار مرکزی");
    assert_eq!(stocks[1]["Code"], "02");
    let (_, st) = fx.c.get("/SaleTypes").await;
    assert_eq!(
        (
            st[0]["SaleTypeID"].clone(),
            st[0]["Title"].clone(),
            st[0]["Market"].clone()
        ),
        (json!(1), json!("فروش داخلی"), json!(1))
    );
    let (_, cur) = fx.c.get("/Currencies").await;
    assert_eq!(
        (cur[0]["CurrencyID"].clone(), cur[0]["IsMain"].clone()),
        (json!(1), json!(true))
    );
    let (_, units) = fx.c.get("/Units").await;
    assert!(units.as_array().unwrap().len() >= 4);
}

// ------------------------------------------------------------------ faults

#[tokio::test]
async fn outage_fail_next_delay_hang_and_lost_response() {
    let fx = fixture().await;
    let probe = format!("{}/General/GenerationVersion", fx.sim.url());
    fx.sim.set_outage(Fault::Status(500));
    assert_eq!(http("GET", &probe, &[], None).await.0, 500);
    assert_eq!(fx.c.get("/Customers/Paginated").await.0, 500);
    fx.sim.clear_outage();
    assert_eq!(http("GET", &probe, &[], None).await.0, 200);
    fx.sim.fail_next(2, Fault::Status(503));
    assert_eq!(fx.c.get("/Customers/Paginated").await.0, 503);
    assert_eq!(fx.c.get("/Customers/Paginated").await.0, 503);
    assert_eq!(fx.c.get("/Customers/Paginated").await.0, 200);
    // Only matching requests consume a targeted fault.
    fx.sim
        .fail_next_on(1, Some("POST"), Some("/customers"), Fault::Status(500));
    assert_eq!(fx.c.get("/Customers/Paginated").await.0, 200);
    // Lost response: the customer is created although the client saw 500.
    fx.sim.clear_faults();
    fx.sim.fail_next_on(
        1,
        Some("POST"),
        Some("/customers"),
        Fault::AfterProcessing(500),
    );
    let body = customer_body(refs::CITY_TEHRAN);
    assert_eq!(fx.c.post("/Customers", &body).await.0, 500);
    let guid: Uuid = body["GUID"].as_str().unwrap().parse().unwrap();
    assert!(fx.sim.customer_by_guid(guid).is_some());
    assert_eq!(
        fx.c.post("/Customers", &body).await.0,
        400,
        "retry finds the GUID taken"
    );
    // Delay then answer.
    fx.sim
        .fail_next(1, Fault::Delay(Duration::from_millis(300)));
    let t = Instant::now();
    assert_eq!(fx.c.get("/IsAuthorized").await.0, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    // Hang: no answer within the client's timeout.
    fx.sim.set_outage(Fault::Hang);
    let r = tokio::time::timeout(Duration::from_millis(300), http("GET", &probe, &[], None)).await;
    assert!(r.is_err(), "hung request answered");
    fx.sim.clear_outage();
    assert_eq!(http("GET", &probe, &[], None).await.0, 200);
    // The log saw it all.
    let log = fx.sim.request_log();
    assert!(
        log.iter()
            .any(|e| e.status == 503 && e.path == "/api/Customers/Paginated")
    );
    assert!(
        log.iter()
            .any(|e| e.method == "POST" && e.status == 201 && e.path.ends_with("/users/login"))
    );
    assert!(log.iter().any(|e| e.user.as_deref() == Some("admin")));
}

// --------------------------------------------------------- big data, seed

async fn page_all(c: &Client, path: &str, limit: usize) -> (usize, usize) {
    let mut offset = 0;
    let mut seen = 0;
    let mut lines = 0;
    let mut last_id = 0;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let (status, v) = c
            .get(&format!("{path}{sep}limit={limit}&offset={offset}"))
            .await;
        assert_eq!(status, 200, "{v}");
        let rows = v["Result"].as_array().unwrap();
        for r in rows {
            let id = r["InvoiceID"].as_i64().unwrap();
            assert!(id > last_id, "ascending ids");
            last_id = id;
            lines += r["InvoiceItems"].as_array().unwrap().len();
        }
        seen += rows.len();
        if rows.len() < limit {
            return (seen, lines);
        }
        offset += limit;
    }
}

async fn large(n: usize) {
    let fx = fixture().await;
    let items: Vec<i32> = (0..5)
        .map(|i| {
            fx.sim
                .create_item(NewItem::product(format!("9{i:03}"), format!("کالا {i}")))
                .unwrap()
                .item_id
        })
        .collect();
    let start = ymd(2025, 3, 21);
    let t = Instant::now();
    fx.sim
        .create_invoices_bulk((0..n).map(|k| {
            let lines = items
                .iter()
                .map(|i| NewLine::new(*i, 1 + (k % 3) as i64, 10_000))
                .collect();
            NewDocument::new(
                fx.customer,
                start + chrono::Duration::days((k % 80) as i64),
                lines,
            )
        }))
        .unwrap();
    eprintln!("bulk insert of {n} invoices: {:?}", t.elapsed());
    let t = Instant::now();
    let (seen, lines) = page_all(&fx.c, "/Invoices/Paginated", 1000).await;
    let pages: Vec<Duration> = fx
        .sim
        .request_log()
        .iter()
        .filter(|e| e.path.ends_with("/Invoices/Paginated"))
        .map(|e| e.elapsed)
        .collect();
    eprintln!(
        "paged {seen} invoices: {:?} in total, server time per page ≤ {:?}",
        t.elapsed(),
        pages.iter().max().unwrap()
    );
    assert_eq!((seen, lines), (n, n * 5));
    fx.sim.clear_request_log();
    assert_eq!(
        fx.c.get("/Invoices/Paginated?limit=1&offset=50000").await.0,
        200
    );
    eprintln!("one-row page: {:?}", fx.sim.request_log()[0].elapsed);
    let (_, v) = fx
        .c
        .get("/Invoices/BasedOnDate/Paginated?fromDate=2025-03-21&toDate=2025-03-21&limit=1000")
        .await;
    assert_eq!(v["Total"], n.div_ceil(80));
}

#[tokio::test]
async fn ten_thousand_invoices_page_through_in_order() {
    large(10_000).await;
}

/// The full-size data set of the integration tests (slow in debug builds).
#[tokio::test]
#[ignore]
async fn hundred_thousand_invoices_page_through_in_order() {
    large(100_000).await;
}

#[tokio::test]
async fn demo_seed_is_believable_and_differs_per_company() {
    let a = Sepidar::start(config()).await.unwrap();
    let b = Sepidar::start(SimConfig {
        company_code: 301,
        ..config()
    })
    .await
    .unwrap();
    a.seed_demo().unwrap();
    b.seed_demo().unwrap();
    assert_eq!(a.customers().len(), 20);
    assert_eq!(a.items().len(), 15);
    assert!(a.invoice_count() >= 20, "{}", a.invoice_count());
    assert!(!a.quotations().is_empty());
    assert_eq!(a.returned_invoices().len(), 1);
    assert!(a.price_notes().len() >= 15);
    let titles = |s: &Sepidar| {
        s.customers()
            .iter()
            .map(|c| c.title.clone())
            .collect::<Vec<_>>()
    };
    assert_ne!(titles(&a), titles(&b));
    let years: std::collections::BTreeSet<i32> =
        a.invoices().iter().map(|i| i.fiscal_year_ref).collect();
    assert!(years.contains(&1) && years.contains(&2), "{years:?}");
    // Every seeded document passes the API's own rules (totals, refs).
    for q in a.quotations() {
        assert_eq!(
            q.totals.net_price,
            q.items.iter().map(|i| i.line.net_price).sum::<Decimal>()
        );
    }
    let mut c = Client::new(&a.url(), "10017ff3");
    c.register().await;
    c.login("admin", "admin").await;
    let (_, v) = c.get("/Customers/Paginated?limit=5").await;
    assert_eq!(v["Total"], 20);
}

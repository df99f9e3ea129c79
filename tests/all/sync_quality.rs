//! Issue 14 §7: the ledger's data is the ledger's truth. A Sepidar party
//! whose IDs or phone break a rule the CRM applies to its own input, or an
//! item without a name, arrives with data-quality warnings, and its
//! invoices arrive with it;
//! the same values sent to the CRM's API are refused (S6). Only what would
//! corrupt the CRM (no identity, amounts that do not add up, a reference
//! that is not there after its dependencies were pulled) stays out.

use crate::sync_sepidar::{Options, Rig, today};
use axum::body::Body;
use axum::http::Request;
use hamgam_sepidar_sim::{NewCustomer, NewDocument, NewItem, NewLine, refs};
use http_body_util::BodyExt;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tower::ServiceExt;

/// 10101234565 is a legal-entity ID with its check digit; this is one off.
const WRONG_LEGAL_ENTITY_ID: &str = "10101234564";
/// 0012345679 is a national ID with its check digit; this is one off.
const WRONG_NATIONAL_ID: &str = "0012345678";

#[tokio::test]
async fn s1_s6_a_ledger_party_with_a_wrong_check_digit_arrives_with_its_warning_and_its_invoices_with_it()
 {
    dirty_party_arrives(None).await;
    if let Some(base) = crate::common::postgres_url() {
        let url = crate::common::fresh_postgres(&base).await;
        dirty_party_arrives(Some(url)).await;
    }
}

async fn dirty_party_arrives(database: Option<String>) {
    let rig = Rig::with(Options {
        database,
        ..Options::default()
    })
    .await;
    let sim = rig.sim(300);
    // Years of hand-typed ledger data: an organisation with a legal-entity
    // ID one digit off and a phone number too short, a person with a
    // national ID one digit off, and one clean person.
    let org = sim
        .create_customer(NewCustomer {
            national_id: Some(WRONG_LEGAL_ENTITY_ID.into()),
            ..NewCustomer::company("بازرگانی دفتر قدیم")
                .phone("0991234")
                .address(refs::CITY_TEHRAN, "خیابان ولیعصر، پلاک ۱۲")
        })
        .unwrap();
    let person = sim
        .create_customer(NewCustomer {
            national_id: Some(WRONG_NATIONAL_ID.into()),
            ..NewCustomer::person("مریم", "احمدی").phone("09121234567")
        })
        .unwrap();
    let clean = sim
        .create_customer(NewCustomer {
            national_id: Some("0012345679".into()),
            ..NewCustomer::person("علی", "رضایی").phone("09121234567")
        })
        .unwrap();
    let item = sim.create_item(NewItem::product("A1", "کالا A1")).unwrap();
    sim.set_price(
        item.item_id,
        refs::SALE_TYPE_DOMESTIC,
        Decimal::from(1_000_000),
    )
    .unwrap();
    let invoice = sim
        .create_invoice(NewDocument::new(
            org.customer_id,
            today(),
            vec![NewLine::new(item.item_id, 2, 1_000_000)],
        ))
        .unwrap();
    // An item whose title was cleared (imported so from an older system).
    let nameless = sim.create_item(NewItem::product("B1", "کالا B1")).unwrap();
    sim.edit_item(nameless.item_id, |i| i.title = String::new())
        .unwrap();
    let second = sim
        .create_invoice(NewDocument::new(
            clean.customer_id,
            today(),
            vec![NewLine::new(nameless.item_id, 1, 500_000)],
        ))
        .unwrap();
    let report = rig.settle().await;
    assert_eq!(report.refused, 0, "nothing refused: {report:?}");

    // The organisation arrives with the ledger's value and its warnings.
    let o = rig
        .party_by_number(&format!("{}-300", org.code))
        .await
        .expect("the party with a wrong check digit is in the CRM");
    assert_eq!(
        o["national_id"], WRONG_LEGAL_ENTITY_ID,
        "kept as the ledger has it"
    );
    assert_eq!(
        o["phones"][0]["number"], "0991234",
        "kept as the ledger has it"
    );
    let rules = |p: &Value| -> Vec<(String, String)> {
        p["warnings"]
            .as_array()
            .map(|ws| {
                ws.iter()
                    .map(|w| {
                        assert!(!w["message"].as_str().unwrap_or("").is_empty(), "{w}");
                        (
                            w["field"].as_str().unwrap().to_owned(),
                            w["rule"].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        rules(&o),
        [
            ("national_id".to_owned(), "check_digit".to_owned()),
            ("phones.0.number".to_owned(), "length".to_owned()),
        ],
        "{o}"
    );
    let p = rig
        .party_by_number(&format!("{}-300", person.code))
        .await
        .expect("the person with a wrong check digit is in the CRM");
    assert_eq!(p["national_id"], WRONG_NATIONAL_ID);
    assert_eq!(
        rules(&p),
        [("national_id".to_owned(), "check_digit".to_owned())]
    );
    let c = rig
        .party_by_number(&format!("{}-300", clean.code))
        .await
        .unwrap();
    assert!(c.get("warnings").is_none(), "a clean party has none: {c}");

    // Its invoice arrives too and points at it.
    let invoices = rig.list("sales-invoices").await;
    let i = invoices
        .iter()
        .find(|i| i["number"] == format!("1404/{}-300", invoice.number))
        .unwrap_or_else(|| panic!("the invoice arrived: {invoices:?}"));
    assert_eq!(i["party_id"], o["id"]);
    // The nameless item arrives with its warning, and its invoice with it.
    let b1 = rig.product("B1-300").await;
    assert_eq!(b1["name"], "");
    assert_eq!(
        rules(&b1),
        [("name".to_owned(), "required".to_owned())],
        "{b1}"
    );
    assert!(rig.product("A1-300").await.get("warnings").is_none());
    let i2 = invoices
        .iter()
        .find(|i| i["number"] == format!("1404/{}-300", second.number))
        .unwrap_or_else(|| panic!("the nameless item's invoice arrived: {invoices:?}"));
    assert_eq!(i2["lines"][0]["product_id"], b1["id"]);
    let warned = rig.ok("GET", "products?warning=required", None).await;
    assert_eq!(warned["items"].as_array().unwrap().len(), 1, "{warned}");
    assert_eq!(warned["items"][0]["id"], b1["id"]);
    let clean_products = rig.ok("GET", "products?has_warnings=false", None).await;
    assert_eq!(clean_products["items"].as_array().unwrap().len(), 1);
    // The link says it is synced, and why it is imperfect.
    let state = rig
        .ok("GET", &format!("sync/records/party/{}", o["id"]), None)
        .await;
    assert_eq!(state["status"], "synced", "{state}");

    // The list filters find the parties with warnings, by rule too.
    let ids = |v: Value| -> Vec<i64> {
        let mut ids: Vec<i64> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_i64().unwrap())
            .collect();
        ids.sort_unstable();
        ids
    };
    let mut dirty = vec![o["id"].as_i64().unwrap(), p["id"].as_i64().unwrap()];
    dirty.sort_unstable();
    assert_eq!(
        ids(rig.ok("GET", "parties?warning=check_digit", None).await),
        dirty
    );
    assert_eq!(
        ids(rig.ok("GET", "parties?has_warnings=true", None).await),
        dirty
    );
    assert_eq!(
        ids(rig.ok("GET", "parties?warning=length", None).await),
        [o["id"].as_i64().unwrap()]
    );
    assert_eq!(
        ids(rig.ok("GET", "parties?has_warnings=false", None).await),
        [c["id"].as_i64().unwrap()]
    );
    let (status, e) = rig.api("GET", "parties?warning=typo", None).await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (400, Some("warning")),
        "{e}"
    );
    // Running again changes nothing.
    let again = rig.settle().await;
    assert_eq!((again.applied, again.refused), (0, 0), "{again:?}");

    // S6: the CRM's own input stays strict. The same party sent to the
    // API is refused, naming the field and the rule.
    let (status, e) = rig
        .api(
            "POST",
            "parties",
            Some(json!({
                "kind": "organisation",
                "name": "بازرگانی دفتر قدیم",
                "customer_number": "9001-300",
                "national_id": WRONG_LEGAL_ENTITY_ID,
            })),
        )
        .await;
    assert_eq!(status, 422, "{e}");
    assert_eq!(e["error"]["field"], "national_id", "{e}");
    assert!(rig.party_by_number("9001-300").await.is_none());
    // An edit through the API is strict as well, and a valid one leaves
    // the party clean.
    let mut edit = json!({
        "kind": "person", "first_name": "مریم", "last_name": "احمدی",
        "customer_number": p["customer_number"], "national_id": WRONG_NATIONAL_ID,
    });
    let (status, e) = rig
        .api("PUT", &format!("parties/{}", p["id"]), Some(edit.clone()))
        .await;
    assert_eq!(
        (status, e["error"]["field"].as_str()),
        (422, Some("national_id")),
        "{e}"
    );
    edit["national_id"] = json!("0012345679");
    let fixed = rig
        .ok("PUT", &format!("parties/{}", p["id"]), Some(edit))
        .await;
    assert!(fixed.get("warnings").is_none(), "{fixed}");
    assert_eq!(
        ids(rig.ok("GET", "parties?has_warnings=true", None).await),
        [o["id"].as_i64().unwrap()]
    );

    // The API document says so: the warnings on a party, and both filters.
    let resp = rig
        .router
        .clone()
        .oneshot(
            Request::get("/api/v1/openapi.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let doc: Value =
        serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["Party"]["properties"]["warnings"]["items"]["$ref"],
        "#/components/schemas/DataWarning"
    );
    let rule_names = schemas["WarningRule"]["enum"].as_array().unwrap();
    assert!(rule_names.contains(&json!("check_digit")), "{rule_names:?}");
    let params = doc["paths"]["/api/v1/tenants/{tenant}/parties"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let param = |name: &str| {
        params
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("listParties declares {name}: {params:?}"))
            .clone()
    };
    assert_eq!(param("has_warnings")["schema"]["type"], "boolean");
    assert_eq!(param("warning")["schema"]["enum"], json!(rule_names));
}

/// The bundled demo, as a new user sees it: its Sepidar data carries valid
/// IDs where a real ledger would, except one mistyped customer per company,
/// which arrives with its warning; no party and no invoice is held back.
#[tokio::test]
async fn s1_the_demo_ledgers_arrive_whole_with_one_warned_party_per_company() {
    let rig = Rig::start().await;
    for company in [300u16, 400] {
        let sim = rig.sim(company);
        sim.seed_demo().unwrap();
        let customers = sim.customers();
        let wrong: Vec<usize> = customers
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                let id = c.national_id.as_deref().unwrap_or("");
                let valid = match c.customer_type {
                    hamgam_sepidar_sim::CustomerType::Person => {
                        hamgam_domain::validate_national_id("national_id", id).is_ok()
                    }
                    _ => hamgam_domain::validate_legal_entity_id("national_id", id).is_ok(),
                };
                !valid
            })
            .map(|(i, _)| i)
            .collect();
        assert_eq!(
            wrong,
            [hamgam_sepidar_sim::seed::DEMO_MISTYPED_CUSTOMER],
            "company {company}"
        );
    }
    let report = rig.settle().await;
    assert_eq!(report.refused, 0, "nothing held back: {report:?}");
    let parties = rig.list("parties").await;
    let invoices = rig.list("sales-invoices").await;
    let in_ledgers: usize = [300, 400]
        .iter()
        .map(|c| rig.sim(*c).customers().len())
        .sum();
    assert_eq!(parties.len(), in_ledgers);
    let ledger_invoices: usize = [300, 400].iter().map(|c| rig.sim(*c).invoice_count()).sum();
    assert_eq!(invoices.len(), ledger_invoices);
    let warned = rig.ok("GET", "parties?has_warnings=true", None).await;
    let warned = warned["items"].as_array().unwrap();
    assert_eq!(warned.len(), 2, "{warned:?}");
    for p in warned {
        assert_eq!(p["warnings"][0]["field"], "national_id", "{p}");
        assert_eq!(p["warnings"][0]["rule"], "check_digit", "{p}");
    }
}

//! Sepidar web-service records ⇄ Hamgam's WIT records. Pure functions, so
//! every rule here is unit-tested on the build machine.

use std::collections::HashMap;

use hamgam_sdk::{
    Address, Date, Decimal as WitDecimal, Document, DocumentKind, DocumentLine, Error, Money,
    Party, PartyKind, Phone, PhoneKind, Product,
};
use rust_decimal::Decimal;

use crate::model::{
    Customer, CustomerAddress, CustomerWrite, Division, Item, Line, PriceNoteItem, SaleDocument,
};

type Result<T> = core::result::Result<T, Error>;

/// Sepidar's `CustomerType`.
pub const PERSON: i64 = 1;
pub const COMPANY: i64 = 2;
/// `AdministrativeDivisions` type of a city.
const CITY: i64 = 3;

/// `"2025-03-21T00:00:00"` (or a bare date) → a Gregorian date.
pub fn parse_date(text: &str) -> Result<Date> {
    let day = text.get(..10).unwrap_or(text);
    day.parse::<Date>()
        .map_err(|_| Error::Other(format!("Sepidar sent `{text}`, not an ISO date")))
}

/// A date as Sepidar wants it: ISO 8601 without zone.
pub fn format_date(date: &Date) -> String {
    format!("{date}T00:00:00")
}

fn optional_date(text: Option<&str>) -> Option<Date> {
    text.filter(|t| !t.trim().is_empty())
        .and_then(|t| parse_date(t).ok())
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_ref()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

pub fn wit(d: Decimal) -> WitDecimal {
    WitDecimal::from(d)
}

pub fn dec(field: &str, d: &WitDecimal) -> Result<Decimal> {
    d.to_decimal()
        .map_err(|_| Error::invalid(field, "decimal scale exceeds 28"))
}

/// Sepidar keeps one phone per customer. A number starting with `09` is an
/// Iranian mobile; anything else is reported as `other`, which the CRM
/// folds into *phone* (S5).
pub fn phone_kind(number: &str) -> PhoneKind {
    if number.trim().starts_with("09") {
        PhoneKind::Mobile
    } else {
        PhoneKind::Other
    }
}

/// CRM → Sepidar (S5): the default phone, else the first; only its number,
/// never the area code, because Sepidar's web service has one bare number.
pub fn phone_for_sepidar(phones: &[Phone]) -> Option<String> {
    phones
        .iter()
        .find(|p| p.is_default)
        .or_else(|| phones.first())
        .map(|p| p.number.trim().to_owned())
        .filter(|n| !n.is_empty())
}

/// Administrative divisions (countries, provinces, cities), cached in state.
#[derive(Debug, Clone, Default)]
pub struct Divisions {
    by_id: HashMap<i64, Division>,
}

impl Divisions {
    pub fn new(list: Vec<Division>) -> Self {
        Divisions {
            by_id: list.into_iter().map(|d| (d.division_id, d)).collect(),
        }
    }

    pub fn title(&self, id: i64) -> Option<String> {
        self.by_id.get(&id).map(|d| d.title.clone())
    }

    fn parent_title(&self, id: i64) -> Option<String> {
        self.by_id
            .get(&id)
            .and_then(|d| d.parent_ref)
            .and_then(|p| self.title(p))
    }

    /// A city by name, ignoring case, spacing and the Arabic/Persian forms
    /// of ی and ک that keyboards mix up.
    pub fn find_city(&self, name: &str) -> Option<i64> {
        let wanted = normalise(name);
        let mut ids: Vec<i64> = self
            .by_id
            .values()
            .filter(|d| d.kind == CITY && normalise(&d.title) == wanted)
            .map(|d| d.division_id)
            .collect();
        ids.sort_unstable();
        ids.first().copied()
    }
}

fn normalise(s: &str) -> String {
    s.trim()
        .chars()
        .map(|c| match c {
            'ي' | 'ى' => 'ی',
            'ك' => 'ک',
            c => c,
        })
        .filter(|c| !c.is_whitespace() && *c != '\u{200c}')
        .flat_map(char::to_lowercase)
        .collect()
}

/// A Sepidar customer as a CRM party.
pub fn customer_to_party(c: &Customer, divisions: &Divisions) -> Party {
    let (kind, first_name, last_name, name) = if c.customer_type == COMPANY {
        (PartyKind::Organisation, None, None, non_empty(&c.name))
    } else {
        (
            PartyKind::Person,
            non_empty(&c.name),
            non_empty(&c.last_name),
            None,
        )
    };
    let phones = non_empty(&c.phone_number)
        .map(|number| Phone {
            kind: phone_kind(&number),
            number,
            area_code: None,
            is_default: true,
        })
        .into_iter()
        .collect();
    let addresses = c
        .addresses
        .iter()
        .map(|a| Address {
            line: a.address.clone().unwrap_or_default(),
            city: a.city_ref.and_then(|id| divisions.title(id)),
            province: a.city_ref.and_then(|id| divisions.parent_title(id)),
            postal_code: non_empty(&a.zip_code),
            city_ref: a.city_ref.map(|id| id.to_string()),
            is_default: a.is_main,
        })
        .collect();
    Party {
        kind,
        first_name,
        last_name,
        name,
        customer_number: non_empty(&c.code),
        national_id: non_empty(&c.national_id),
        registration_number: None,
        economic_code: non_empty(&c.economic_code),
        birth_date: optional_date(c.birth_date.as_deref()),
        is_employee: false,
        phones,
        addresses,
    }
}

pub fn customer_type(kind: PartyKind) -> i64 {
    match kind {
        PartyKind::Person => PERSON,
        PartyKind::Organisation => COMPANY,
    }
}

/// A CRM party as Sepidar's create/update body. `existing` supplies the
/// `CustomerAddressID`s of an update, matched by position (the CRM has no
/// Sepidar address ids).
pub fn party_to_customer(
    p: &Party,
    divisions: &Divisions,
    existing: &[CustomerAddress],
) -> Result<CustomerWrite> {
    let (name, last_name) = match p.kind {
        PartyKind::Person => {
            let first = p.first_name.clone().or_else(|| p.name.clone());
            if first.as_deref().is_none_or(|s| s.trim().is_empty()) {
                return Err(Error::invalid("first-name", "a person needs a first name"));
            }
            (first, p.last_name.clone())
        }
        PartyKind::Organisation => {
            if p.name.as_deref().is_none_or(|s| s.trim().is_empty()) {
                return Err(Error::invalid("name", "an organisation needs a name"));
            }
            (p.name.clone(), None)
        }
    };
    let addresses = p
        .addresses
        .iter()
        .enumerate()
        .map(|(i, a)| {
            Ok(CustomerAddress {
                customer_address_id: existing.get(i).and_then(|e| e.customer_address_id),
                title: a.city.clone(),
                is_main: a.is_default,
                city_ref: Some(city_ref_for(i, a, divisions)?),
                address: Some(a.line.clone()),
                zip_code: a.postal_code.clone(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(CustomerWrite {
        guid: None,
        customer_type: Some(customer_type(p.kind)),
        name,
        last_name,
        birth_date: p.birth_date.as_ref().map(format_date),
        national_id: p.national_id.clone(),
        economic_code: p.economic_code.clone(),
        phone_number: phone_for_sepidar(&p.phones),
        version: None,
        addresses,
    })
}

/// Sepidar requires a city (`CityRef`, a type-3 division) on every address:
/// the CRM's `city-ref` if it has one, else the city looked up by name.
fn city_ref_for(index: usize, a: &Address, divisions: &Divisions) -> Result<i64> {
    if let Some(text) = a.city_ref.as_deref().filter(|t| !t.trim().is_empty()) {
        return text.trim().parse().map_err(|_| {
            Error::invalid(
                format!("addresses.{index}.city-ref"),
                format!("`{text}` is not a Sepidar city id"),
            )
        });
    }
    let Some(city) = a.city.as_deref().filter(|c| !c.trim().is_empty()) else {
        return Err(Error::invalid(
            format!("addresses.{index}.city"),
            "Sepidar needs a city on every address",
        ));
    };
    divisions.find_city(city).ok_or_else(|| {
        Error::invalid(
            format!("addresses.{index}.city"),
            format!("Sepidar has no city named `{city}` (AdministrativeDivisions)"),
        )
    })
}

/// The sales price of `item` in the configured sale type (S13): the plain
/// price-list line (no tracing, no customer group) when there is one.
pub fn pick_price(prices: &[PriceNoteItem], item: i64, sale_type: i64) -> Option<Decimal> {
    let mut lines: Vec<&PriceNoteItem> = prices
        .iter()
        .filter(|p| p.item_ref == item && p.sale_type_ref == sale_type)
        .collect();
    lines.sort_by_key(|p| (p.tracing_ref.is_some(), p.customer_grouping_ref.is_some()));
    lines.first().map(|p| p.fee)
}

pub fn item_to_product(item: &Item, unit: Option<String>, price: Option<Decimal>) -> Product {
    Product {
        code: item
            .code
            .clone()
            .unwrap_or_else(|| item.item_id.to_string()),
        name: item.title.clone().unwrap_or_default(),
        unit: unit.unwrap_or_default(),
        sales_price: price.map(Money::rial),
        tax_rate: wit(item.tax_rate.unwrap_or_default()),
        toll_rate: wit(item.duty_rate.unwrap_or_default()),
        tax_exempt: item.is_tax_exempt,
    }
}

/// `amount` as a percentage of `base`, two decimals (0 when base is 0).
pub fn rate_of(amount: Decimal, base: Decimal) -> Decimal {
    if base.is_zero() {
        return Decimal::ZERO;
    }
    (amount * Decimal::ONE_HUNDRED / base)
        .round_dp(2)
        .normalize()
}

/// A Sepidar line as a document line. Rates come from the item when known
/// (exact, e.g. 10 %), else from the amounts.
fn line_to_wit(line: &Line, items: &HashMap<i64, Item>) -> DocumentLine {
    let base = line.price - line.discount + line.addition;
    let item = items.get(&line.item_ref);
    let tax_rate = item
        .and_then(|i| i.tax_rate)
        .unwrap_or_else(|| rate_of(line.tax, base));
    let toll_rate = item
        .and_then(|i| i.duty_rate)
        .unwrap_or_else(|| rate_of(line.duty, base));
    DocumentLine {
        product_ref: line.item_ref.to_string(),
        description: non_empty(&line.description),
        quantity: wit(line.quantity),
        unit_price: wit(line.fee),
        discount: wit(line.discount),
        additions: wit(line.addition),
        tax_rate: wit(tax_rate),
        toll_rate: wit(toll_rate),
        tax_exempt: item.is_some_and(|i| i.is_tax_exempt),
        tax: wit(line.tax),
        toll: wit(line.duty),
        total: wit(line.net_price),
        serial_numbers: Vec::new(),
    }
}

/// A quotation, invoice or returned invoice as a document. The header's
/// discount and additions beyond the lines' are document-level amounts.
pub fn sale_to_document(
    kind: DocumentKind,
    doc: &SaleDocument,
    items: &HashMap<i64, Item>,
) -> Result<Document> {
    let line_discount: Decimal = doc.items.iter().map(|l| l.discount).sum();
    let line_addition: Decimal = doc.items.iter().map(|l| l.addition).sum();
    let related_ref = match kind {
        DocumentKind::SalesReturn => doc.invoice_ref,
        DocumentKind::SalesInvoice => doc.quotation_ref,
        _ => None,
    };
    Ok(Document {
        kind,
        number: non_empty(&doc.number),
        date: parse_date(doc.date.as_deref().unwrap_or_default())?,
        party_ref: doc.customer_ref.to_string(),
        currency: "IRR".into(),
        lines: doc.items.iter().map(|l| line_to_wit(l, items)).collect(),
        discount: wit(doc.discount - line_discount),
        additions: wit(doc.addition - line_addition),
        tax_total: wit(doc.tax),
        toll_total: wit(doc.duty),
        total: wit(doc.net_price),
        settlements: Vec::new(),
        related_ref: related_ref.map(|r| r.to_string()),
        note: non_empty(&doc.description),
    })
}

/// Where a pushed quotation goes in Sepidar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuoteTarget {
    pub sale_type: i64,
    pub stock: i64,
    pub currency: i64,
}

fn parse_ref(field: String, text: &str) -> Result<i64> {
    text.trim()
        .parse()
        .map_err(|_| Error::invalid(field, format!("`{text}` is not a Sepidar id")))
}

/// A CRM quote as Sepidar's `POST /api/Quotations` body. Sepidar checks the
/// arithmetic, so every total is computed here the way it checks it: line
/// Price = Quantity × Fee, NetPrice = Price − Discount + Addition + Tax +
/// Duty; header Price/Tax/Duty = Σ lines, header Discount/Addition = Σ
/// lines + the document-level amount.
pub fn document_to_quotation(
    doc: &Document,
    target: QuoteTarget,
    guid: &str,
) -> Result<SaleDocument> {
    if doc.lines.is_empty() {
        return Err(Error::invalid("lines", "Sepidar needs at least one line"));
    }
    let items = doc
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let f = |name: &str| format!("lines.{i}.{name}");
            let quantity = dec(&f("quantity"), &l.quantity)?;
            let fee = dec(&f("unit-price"), &l.unit_price)?;
            let discount = dec(&f("discount"), &l.discount)?;
            let addition = dec(&f("additions"), &l.additions)?;
            let tax = dec(&f("tax"), &l.tax)?;
            let duty = dec(&f("toll"), &l.toll)?;
            let price = quantity * fee;
            Ok(Line {
                row_id: Some(i as i64 + 1),
                item_ref: parse_ref(f("product-ref"), &l.product_ref)?,
                stock_ref: Some(target.stock),
                quantity,
                fee,
                price,
                discount,
                tax,
                duty,
                addition,
                net_price: price - discount + addition + tax + duty,
                description: l.description.clone(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let sum = |f: fn(&Line) -> Decimal| items.iter().map(f).sum::<Decimal>();
    let price = sum(|l| l.price);
    let tax = sum(|l| l.tax);
    let duty = sum(|l| l.duty);
    let discount = sum(|l| l.discount) + dec("discount", &doc.discount)?;
    let addition = sum(|l| l.addition) + dec("additions", &doc.additions)?;
    Ok(SaleDocument {
        guid: Some(guid.to_owned()),
        date: Some(format_date(&doc.date)),
        customer_ref: parse_ref("party-ref".into(), &doc.party_ref)?,
        sale_type_ref: Some(target.sale_type),
        currency_ref: Some(target.currency),
        rate: Some(Decimal::ONE),
        price,
        discount,
        tax,
        duty,
        addition,
        net_price: price - discount + addition + tax + duty,
        description: doc.note.clone(),
        items,
        ..SaleDocument::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    fn divisions() -> Divisions {
        Divisions::new(vec![
            Division {
                division_id: 1,
                title: "ایران".into(),
                kind: 1,
                parent_ref: None,
            },
            Division {
                division_id: 8,
                title: "تهران".into(),
                kind: 2,
                parent_ref: Some(1),
            },
            Division {
                division_id: 99,
                title: "تهران".into(),
                kind: 3,
                parent_ref: Some(8),
            },
            Division {
                division_id: 120,
                title: "کرج".into(),
                kind: 3,
                parent_ref: Some(8),
            },
        ])
    }

    fn phone(number: &str, default: bool) -> Phone {
        Phone {
            number: number.into(),
            area_code: Some("021".into()),
            kind: PhoneKind::Office,
            is_default: default,
        }
    }

    fn person() -> Party {
        Party {
            kind: PartyKind::Person,
            first_name: Some("علی".into()),
            last_name: Some("رضایی".into()),
            name: None,
            customer_number: Some("625-300".into()),
            national_id: Some("0012345678".into()),
            registration_number: None,
            economic_code: None,
            birth_date: Some(Date {
                year: 1990,
                month: 5,
                day: 1,
            }),
            is_employee: false,
            phones: vec![phone("88776655", false), phone("09121234567", true)],
            addresses: vec![Address {
                line: "خیابان آزادی".into(),
                city: Some("كرج".into()),
                province: None,
                postal_code: Some("1234567890".into()),
                city_ref: None,
                is_default: true,
            }],
        }
    }

    #[test]
    fn customer_json_maps_to_a_person_party() {
        let json = r#"{"CustomerID":12,"GUID":"g","Code":"1005","Title":"علی رضایی",
            "PhoneNumber":"09121234567","CustomerType":1,"Name":"علی","LastName":"رضایی",
            "BirthDate":"1990-05-01T00:00:00","NationalID":"0012345678","EconomicCode":null,
            "Version":3,"AccountingRemainder":1000000000000,
            "Addresses":[{"CustomerAddressID":4,"Title":"خانه","IsMain":true,"CityRef":99,
            "Address":"خیابان آزادی","ZipCode":"1234567890"}]}"#;
        let c: Customer = serde_json::from_str(json).unwrap();
        assert_eq!(c.accounting_remainder, Some(d("1000000000000")));
        let p = customer_to_party(&c, &divisions());
        assert_eq!(p.kind, PartyKind::Person);
        assert_eq!(p.first_name.as_deref(), Some("علی"));
        assert_eq!(p.last_name.as_deref(), Some("رضایی"));
        assert_eq!(p.customer_number.as_deref(), Some("1005"));
        assert_eq!(
            p.birth_date,
            Some(Date {
                year: 1990,
                month: 5,
                day: 1
            })
        );
        assert_eq!(p.phones.len(), 1);
        assert_eq!(p.phones[0].kind, PhoneKind::Mobile);
        assert!(p.phones[0].is_default);
        let a = &p.addresses[0];
        assert_eq!(a.city.as_deref(), Some("تهران"));
        assert_eq!(a.province.as_deref(), Some("تهران"));
        assert_eq!(a.city_ref.as_deref(), Some("99"));
        assert!(a.is_default);
    }

    #[test]
    fn landline_is_other_and_company_uses_name() {
        let c = Customer {
            customer_type: COMPANY,
            name: Some("شرکت نمونه".into()),
            phone_number: Some("02188776655".into()),
            code: Some(" 7 ".into()),
            ..Customer::default()
        };
        let p = customer_to_party(&c, &Divisions::default());
        assert_eq!(p.kind, PartyKind::Organisation);
        assert_eq!(p.name.as_deref(), Some("شرکت نمونه"));
        assert_eq!(p.first_name, None);
        assert_eq!(p.phones[0].kind, PhoneKind::Other);
        assert_eq!(p.customer_number.as_deref(), Some("7"));
    }

    #[test]
    fn s5_the_default_phone_lands_as_one_bare_number() {
        let body = party_to_customer(&person(), &divisions(), &[]).unwrap();
        assert_eq!(body.phone_number.as_deref(), Some("09121234567"));
        let mut p = person();
        p.phones = vec![phone("88776655", false), phone("66554433", false)];
        let body = party_to_customer(&p, &divisions(), &[]).unwrap();
        // No default: the first, without its area code.
        assert_eq!(body.phone_number.as_deref(), Some("88776655"));
        p.phones.clear();
        assert_eq!(
            party_to_customer(&p, &divisions(), &[])
                .unwrap()
                .phone_number,
            None
        );
    }

    #[test]
    fn party_body_finds_the_city_by_name_and_keeps_names() {
        let body = party_to_customer(&person(), &divisions(), &[]).unwrap();
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["CustomerType"], 1);
        assert_eq!(json["Name"], "علی");
        assert_eq!(json["LastName"], "رضایی");
        assert_eq!(json["BirthDate"], "1990-05-01T00:00:00");
        assert_eq!(json["NationalID"], "0012345678");
        // "كرج" with an Arabic kaf still finds city 120.
        assert_eq!(json["Addresses"][0]["CityRef"], 120);
        assert_eq!(json["Addresses"][0]["IsMain"], true);
    }

    #[test]
    fn unknown_city_names_the_address_field() {
        let mut p = person();
        p.addresses[0].city = Some("آتلانتیس".into());
        match party_to_customer(&p, &divisions(), &[]) {
            Err(Error::InvalidInput(f)) => assert_eq!(f.field, "addresses.0.city"),
            other => panic!("{other:?}"),
        }
        p.addresses[0].city_ref = Some("x".into());
        match party_to_customer(&p, &divisions(), &[]) {
            Err(Error::InvalidInput(f)) => assert_eq!(f.field, "addresses.0.city-ref"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn price_prefers_the_plain_line_of_the_sale_type() {
        let line = |sale_type, tracing, fee: &str| PriceNoteItem {
            sale_type_ref: sale_type,
            item_ref: 5,
            tracing_ref: tracing,
            customer_grouping_ref: None,
            fee: d(fee),
        };
        let prices = vec![
            line(2, None, "900"),
            line(1, Some(3), "1100"),
            line(1, None, "1000000000000"),
        ];
        assert_eq!(pick_price(&prices, 5, 1), Some(d("1000000000000")));
        assert_eq!(pick_price(&prices, 5, 2), Some(d("900")));
        assert_eq!(pick_price(&prices, 6, 1), None);
    }

    fn quote_doc() -> Document {
        let line = DocumentLine {
            product_ref: "5".into(),
            description: None,
            quantity: wit(d("2.5")),
            unit_price: wit(d("400000000000")),
            discount: wit(d("1000")),
            additions: wit(d("0")),
            tax_rate: wit(d("10")),
            toll_rate: wit(d("0")),
            tax_exempt: false,
            tax: wit(d("99999999900")),
            toll: wit(d("0")),
            total: wit(d("1099999998900")),
            serial_numbers: vec![],
        };
        Document {
            kind: DocumentKind::Quote,
            number: None,
            date: Date {
                year: 2025,
                month: 3,
                day: 21,
            },
            party_ref: "12".into(),
            currency: "IRR".into(),
            lines: vec![line],
            discount: wit(d("500")),
            additions: wit(d("0")),
            tax_total: wit(d("99999999900")),
            toll_total: wit(d("0")),
            total: wit(d("1099999998400")),
            settlements: vec![],
            related_ref: None,
            note: Some("from CRM".into()),
        }
    }

    #[test]
    fn quotation_totals_are_exact_for_huge_rial_amounts_and_fractional_quantities() {
        let target = QuoteTarget {
            sale_type: 1,
            stock: 2,
            currency: 3,
        };
        let q = document_to_quotation(&quote_doc(), target, "guid-1").unwrap();
        let line = &q.items[0];
        assert_eq!(line.price, d("1000000000000"));
        assert_eq!(line.net_price, d("1099999998900"));
        assert_eq!(line.row_id, Some(1));
        assert_eq!(line.stock_ref, Some(2));
        assert_eq!(q.price, d("1000000000000"));
        assert_eq!(q.discount, d("1500"));
        assert_eq!(q.net_price, d("1099999998400"));
        let json = serde_json::to_value(&q).unwrap();
        assert_eq!(json["GUID"], "guid-1");
        assert_eq!(json["Items"][0]["Quantity"].to_string(), "2.5");
        assert_eq!(json["Items"][0]["Price"].to_string(), "1000000000000");
        assert_eq!(json["NetPrice"].to_string(), "1099999998400");
        assert_eq!(json["Date"], "2025-03-21T00:00:00");
        assert_eq!(json["CustomerRef"], 12);
        assert!(json.get("QuotationID").is_none());
    }

    #[test]
    fn quotation_reads_back_as_the_same_document() {
        let target = QuoteTarget {
            sale_type: 1,
            stock: 2,
            currency: 3,
        };
        let sent = document_to_quotation(&quote_doc(), target, "g").unwrap();
        let mut json = serde_json::to_value(&sent).unwrap();
        json["QuotationID"] = 77.into();
        json["Number"] = 4.into();
        let back: SaleDocument = serde_json::from_value(json).unwrap();
        assert_eq!(back.id, 77);
        let doc = sale_to_document(DocumentKind::Quote, &back, &HashMap::new()).unwrap();
        assert_eq!(doc.number.as_deref(), Some("4"));
        assert_eq!(doc.discount.to_decimal().unwrap(), d("500"));
        assert_eq!(doc.total.to_decimal().unwrap(), d("1099999998400"));
        let l = &doc.lines[0];
        assert_eq!(l.quantity.to_decimal().unwrap(), d("2.5"));
        assert_eq!(l.unit_price.to_decimal().unwrap(), d("400000000000"));
        // No item at hand: the rate comes from the amounts.
        assert_eq!(l.tax_rate.to_decimal().unwrap(), d("10"));
        assert_eq!(l.product_ref, "5");
    }

    #[test]
    fn returned_invoice_relates_to_its_invoice() {
        let json = r#"{"ReturnedInvoiceID":3,"InvoiceRef":9,"Number":1,"Date":"2025-04-01T00:00:00",
            "CustomerRef":12,"Price":100,"Discount":0,"Tax":10,"Duty":0,"Addition":0,"NetPrice":110,
            "Items":[{"ItemRef":5,"Quantity":1,"Fee":100,"Price":100,"Discount":0,"Tax":10,"Duty":0,
            "Addition":0,"NetPrice":110}]}"#;
        let r: SaleDocument = serde_json::from_str(json).unwrap();
        let doc = sale_to_document(DocumentKind::SalesReturn, &r, &HashMap::new()).unwrap();
        assert_eq!(doc.related_ref.as_deref(), Some("9"));
        assert_eq!(doc.kind, DocumentKind::SalesReturn);
        let inv = r#"{"InvoiceID":9,"Number":"7","Date":"2025-04-01T00:00:00","CustomerRef":12,
            "Price":0,"Discount":0,"Tax":0,"Duty":0,"Addition":0,"NetPrice":0,"InvoiceItems":null}"#;
        let i: SaleDocument = serde_json::from_str(inv).unwrap();
        assert_eq!(i.id, 9);
        assert!(i.items.is_empty());
    }

    #[test]
    fn rates_round_to_two_places() {
        assert_eq!(rate_of(d("9"), d("100")), d("9"));
        assert_eq!(rate_of(d("1"), d("3")), d("33.33"));
        assert_eq!(rate_of(d("1"), d("0")), d("0"));
    }
}

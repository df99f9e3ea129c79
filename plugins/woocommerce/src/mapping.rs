//! WooCommerce resources → Hamgam's WIT records. Pure functions (the guest
//! number is passed in), so every rule is unit-tested on the build machine.
//!
//! Deliveries are at-least-once: the same order payload must always map to
//! byte-identical records, so nothing here reads the clock or randomness,
//! and every decimal is normalised (`12500005`, never `12500005.00`).

use hamgam_sdk::domain::digits::normalize_digits;
use hamgam_sdk::{
    Address, Date, Decimal as WitDecimal, Document, DocumentKind, DocumentLine, Error, Money,
    Party, PartyKind, Phone, PhoneKind, Product, Settlement, SettlementMethod,
};
use rust_decimal::Decimal;

use crate::model::{Customer, Order, PostalAddress, Refund};
use crate::settings::{MatchBy, Settings};

type Result<T> = core::result::Result<T, Error>;

/// Shop currency → the CRM's: Toman (`IRT`) amounts × `rial_factor`
/// (default 10) and reported as `IRR`; an `IRR` shop × 1; any other
/// currency unchanged unless the operator set `rial_factor` (then it is
/// converted and reported as `IRR` too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conv {
    pub factor: Decimal,
    pub currency: String,
    /// Put before the shop's order numbers (`number_prefix`).
    pub prefix: String,
}

impl Conv {
    pub fn new(shop_currency: &str, settings: &Settings) -> Conv {
        let shop = shop_currency.trim().to_ascii_uppercase();
        let (factor, currency) = match (settings.rial_factor, shop.as_str()) {
            (Some(factor), _) => (factor, "IRR".to_owned()),
            (None, "IRT") => (Decimal::TEN, "IRR".to_owned()),
            (None, "IRR" | "") => (Decimal::ONE, "IRR".to_owned()),
            (None, other) => (Decimal::ONE, other.to_owned()),
        };
        Conv {
            factor,
            currency,
            prefix: settings.number_prefix.clone(),
        }
    }

    /// A shop amount in the CRM's currency, exact.
    pub fn amount(&self, shop: Decimal) -> Decimal {
        (shop * self.factor).normalize()
    }

    /// A CRM amount in the shop's currency (pushes), exact.
    pub fn to_shop(&self, crm: Decimal) -> Decimal {
        if self.factor.is_zero() {
            return crm.normalize();
        }
        (crm / self.factor).normalize()
    }
}

pub fn wit(d: Decimal) -> WitDecimal {
    WitDecimal::from(d.normalize())
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// Text with Persian/Arabic digits folded to ASCII, trimmed.
pub fn digits(s: &str) -> String {
    normalize_digits(s.trim())
}

/// An Iranian phone as digits only: Persian digits folded, `+98`/`0098`/
/// `98` country prefixes → `0`, a bare `9xxxxxxxxx` mobile gets its `0`.
pub fn normalise_phone(raw: &str) -> Option<String> {
    let folded = normalize_digits(raw);
    let plus = folded.trim_start().starts_with('+');
    let mut d: String = folded.chars().filter(char::is_ascii_digit).collect();
    if plus && d.starts_with("98") {
        d = format!("0{}", &d[2..]);
    } else if let Some(rest) = d.strip_prefix("0098") {
        d = format!("0{rest}");
    } else if d.len() == 12 && d.starts_with("989") {
        d = format!("0{}", &d[2..]);
    } else if d.len() == 10 && d.starts_with('9') {
        d = format!("0{d}");
    }
    (!d.is_empty()).then_some(d)
}

pub fn phone_kind(number: &str) -> PhoneKind {
    if number.starts_with("09") {
        PhoneKind::Mobile
    } else {
        PhoneKind::Other
    }
}

/// A postcode as digits (Iranian postcodes are 10 digits, often typed
/// with a dash or in Persian digits); other text kept as typed.
pub fn normalise_postcode(raw: &str) -> Option<String> {
    let folded = digits(raw);
    let only: String = folded.chars().filter(char::is_ascii_digit).collect();
    if !only.is_empty()
        && folded
            .chars()
            .all(|c| c.is_ascii_digit() || " -".contains(c))
    {
        Some(only)
    } else {
        non_empty(&folded)
    }
}

/// WooCommerce's Iranian state codes (`i18n/states.php`, `IR`).
const IR_STATES: [(&str, &str); 31] = [
    ("KHZ", "خوزستان"),
    ("THR", "تهران"),
    ("ILM", "ایلام"),
    ("BHR", "بوشهر"),
    ("ADL", "اردبیل"),
    ("ESF", "اصفهان"),
    ("YZD", "یزد"),
    ("KRH", "کرمانشاه"),
    ("KRN", "کرمان"),
    ("HDN", "همدان"),
    ("GZN", "قزوین"),
    ("ZJN", "زنجان"),
    ("LRS", "لرستان"),
    ("ABZ", "البرز"),
    ("EAZ", "آذربایجان شرقی"),
    ("WAZ", "آذربایجان غربی"),
    ("CHB", "چهارمحال و بختیاری"),
    ("SKH", "خراسان جنوبی"),
    ("RKH", "خراسان رضوی"),
    ("NKH", "خراسان شمالی"),
    ("SMN", "سمنان"),
    ("FRS", "فارس"),
    ("QHM", "قم"),
    ("KRD", "کردستان"),
    ("KBD", "کهگیلویه و بویراحمد"),
    ("GLS", "گلستان"),
    ("GIL", "گیلان"),
    ("MZN", "مازندران"),
    ("MKZ", "مرکزی"),
    ("HRZ", "هرمزگان"),
    ("SBN", "سیستان و بلوچستان"),
];

fn province(a: &PostalAddress) -> Option<String> {
    let code = a.state.trim();
    if (a.country.trim().eq_ignore_ascii_case("IR") || a.country.trim().is_empty())
        && let Some((_, name)) = IR_STATES.iter().find(|(c, _)| c.eq_ignore_ascii_case(code))
    {
        return Some((*name).to_owned());
    }
    non_empty(code)
}

/// `address_1، address_2` with digits folded.
pub fn address_line(a: &PostalAddress) -> String {
    [a.address_1.as_str(), a.address_2.as_str()]
        .iter()
        .filter_map(|s| non_empty(&digits(s)))
        .collect::<Vec<_>>()
        .join("، ")
}

fn address(a: &PostalAddress, is_default: bool) -> Option<Address> {
    let line = address_line(a);
    let city = non_empty(&a.city);
    let postal_code = normalise_postcode(&a.postcode);
    if line.is_empty() && city.is_none() && postal_code.is_none() {
        return None;
    }
    Some(Address {
        line,
        city,
        province: province(a),
        postal_code,
        city_ref: None,
        is_default,
    })
}

/// Billing first (the default), then a shipping address that differs.
fn addresses(billing: &PostalAddress, shipping: &PostalAddress) -> Vec<Address> {
    let mut out: Vec<Address> = address(billing, true).into_iter().collect();
    if let Some(ship) = address(shipping, out.is_empty()) {
        let same = out.first().is_some_and(|b| {
            b.line == ship.line && b.city == ship.city && b.postal_code == ship.postal_code
        });
        if !same {
            out.push(ship);
        }
    }
    out
}

fn phones(billing: &PostalAddress) -> Vec<Phone> {
    normalise_phone(&billing.phone)
        .map(|number| Phone {
            kind: phone_kind(&number),
            number,
            area_code: None,
            is_default: true,
        })
        .into_iter()
        .collect()
}

fn person(
    first: &str,
    last: &str,
    fallback_name: Option<String>,
    customer_number: String,
    billing: &PostalAddress,
    shipping: &PostalAddress,
) -> Party {
    let first_name = non_empty(first);
    let last_name = non_empty(last);
    let name = if first_name.is_none() && last_name.is_none() {
        fallback_name
    } else {
        None
    };
    Party {
        kind: PartyKind::Person,
        first_name,
        last_name,
        name,
        customer_number: Some(customer_number),
        national_id: None,
        registration_number: None,
        economic_code: None,
        birth_date: None,
        is_employee: false,
        phones: phones(billing),
        addresses: addresses(billing, shipping),
    }
}

/// A registered customer: remote id = customer id, customer number
/// `<customer id>-<company>`. Names from the account, else from billing.
pub fn customer_to_party(c: &Customer, settings: &Settings) -> Party {
    let pick = |own: &str, billing: &str| {
        if own.trim().is_empty() {
            billing.to_owned()
        } else {
            own.to_owned()
        }
    };
    let fallback = non_empty(&c.billing.company)
        .or_else(|| non_empty(&c.username))
        .or_else(|| non_empty(&c.email));
    person(
        &pick(&c.first_name, &c.billing.first_name),
        &pick(&c.last_name, &c.billing.last_name),
        fallback,
        settings.numbered(&(settings.customer_number_base + c.id).to_string()),
        &c.billing,
        &c.shipping,
    )
}

/// A guest's identity key: the `match_by` field of the billing address,
/// normalised (email lower-cased; phone as in [`normalise_phone`]), else
/// the other field; `None` when the order has neither.
pub fn guest_key(billing: &PostalAddress, match_by: MatchBy) -> Option<String> {
    let email = non_empty(&digits(&billing.email)).map(|e| e.to_lowercase());
    let phone = normalise_phone(&billing.phone);
    match match_by {
        MatchBy::Email => email.or(phone),
        MatchBy::Phone => phone.or(email),
    }
}

/// The party remote id of an order's buyer: the customer id, or
/// `guest:<key>` (or `guest:order-<id>` for a guest with neither email nor
/// phone).
pub fn party_ref(order: &Order, match_by: MatchBy) -> String {
    if order.customer_id > 0 {
        return order.customer_id.to_string();
    }
    match guest_key(&order.billing, match_by) {
        Some(key) => format!("guest:{key}"),
        None => format!("guest:order-{}", order.id),
    }
}

/// A guest (customer_id 0) as a party from the order's billing data.
/// `guest_number` is `guest_number_base + the guest's first order id`
/// (resolved and remembered by the caller), so the same shopper paying
/// twice is one party with one number.
pub fn guest_to_party(order: &Order, guest_number: i64, settings: &Settings) -> Party {
    let b = &order.billing;
    person(
        &b.first_name,
        &b.last_name,
        non_empty(&b.company).or_else(|| non_empty(&b.email)),
        settings.numbered(&guest_number.to_string()),
        b,
        &order.shipping,
    )
}

/// `2025-03-21T10:00:00` → the (GMT) calendar date.
pub fn parse_date(text: &str) -> Result<Date> {
    let day = text.trim().get(..10).unwrap_or(text);
    day.parse::<Date>()
        .map_err(|_| Error::Other(format!("WooCommerce sent `{text}`, not an ISO date")))
}

/// `amount / base` as a percentage with 2 decimals.
pub fn rate_of(amount: Decimal, base: Decimal) -> Decimal {
    if base.is_zero() {
        return Decimal::ZERO;
    }
    (amount * Decimal::ONE_HUNDRED / base)
        .round_dp(2)
        .normalize()
}

/// Unit price = subtotal / quantity, exact when it divides, else to 6
/// decimals (quantity × unit then rounds back to the subtotal).
fn unit_price(subtotal: Decimal, quantity: Decimal) -> Decimal {
    if quantity.is_zero() {
        return subtotal.normalize();
    }
    let unit = subtotal / quantity;
    if unit * quantity == subtotal {
        unit.normalize()
    } else {
        unit.round_dp(6).normalize()
    }
}

/// One document line from shop amounts (already in CRM currency).
fn line(
    product_ref: String,
    description: Option<String>,
    quantity: Decimal,
    subtotal: Decimal,
    total: Decimal,
    tax: Decimal,
) -> DocumentLine {
    // Coupons lower `total` below `subtotal`: the difference is the line's
    // discount. A negative difference (a price raised by a plugin) is an
    // addition.
    let diff = subtotal - total;
    let (discount, additions) = if diff.is_sign_negative() {
        (Decimal::ZERO, -diff)
    } else {
        (diff, Decimal::ZERO)
    };
    DocumentLine {
        product_ref,
        description,
        quantity: wit(quantity),
        unit_price: wit(unit_price(subtotal, quantity)),
        discount: wit(discount),
        additions: wit(additions),
        tax_rate: wit(rate_of(tax, total)),
        toll_rate: wit(Decimal::ZERO),
        tax_exempt: tax.is_zero(),
        tax: wit(tax),
        toll: wit(Decimal::ZERO),
        total: wit(total + tax),
        serial_numbers: Vec::new(),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The document note: the customer's note as written, then the shop
/// fields as `key: value` lines under `[woocommerce]`, named like the
/// incumbent PG plugin's "online shop" field group:
///
/// ```text
/// <customer_note>
///
/// [woocommerce]
/// orderNumber: 1007
/// orderPostalCode: 1234567890
/// orderPhone: 09121234567
/// orderAddress: تهران، تهران، خیابان آزادی، پلاک 12
/// coupons: NOWRUZ
/// shipping: پیک موتوری
/// payment: زرین‌پال (zarinpal) 4711
/// ```
///
/// Lines without a value are left out; values are on one line. The address
/// is the shipping address, else billing, as `province، city، line`.
pub fn shop_note(o: &Order) -> String {
    let ship = if address_line(&o.shipping).is_empty() {
        &o.billing
    } else {
        &o.shipping
    };
    let addr = [
        province(ship).unwrap_or_default(),
        one_line(&ship.city),
        address_line(ship),
    ]
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join("، ");
    let postcode = normalise_postcode(&ship.postcode)
        .or_else(|| normalise_postcode(&o.billing.postcode))
        .unwrap_or_default();
    let coupons = o
        .coupon_lines
        .iter()
        .map(|c| one_line(&c.code))
        .collect::<Vec<_>>()
        .join(", ");
    let shipping = o
        .shipping_lines
        .iter()
        .map(|s| one_line(&s.method_title))
        .collect::<Vec<_>>()
        .join(", ");
    let payment = [
        one_line(&o.payment_method_title),
        non_empty(&o.payment_method)
            .map(|m| format!("({m})"))
            .unwrap_or_default(),
        one_line(&o.transaction_id),
    ]
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join(" ");
    let fields = [
        ("orderNumber", digits(&o.number)),
        ("orderPostalCode", postcode),
        (
            "orderPhone",
            normalise_phone(&o.billing.phone).unwrap_or_default(),
        ),
        ("orderAddress", addr),
        ("coupons", coupons),
        ("shipping", shipping),
        ("payment", payment),
    ];
    let mut out = String::new();
    if let Some(note) = non_empty(&o.customer_note) {
        out.push_str(&note);
        out.push_str("\n\n");
    }
    out.push_str("[woocommerce]");
    for (key, value) in fields {
        if !value.is_empty() {
            out.push('\n');
            out.push_str(key);
            out.push_str(": ");
            out.push_str(&value);
        }
    }
    out
}

/// An order as a sales invoice (or sales order): one line per item
/// (product-ref = WooCommerce product id), coupons as line discounts
/// (`subtotal − total`, exactly as WooCommerce spread them), item taxes as
/// line taxes, shipping and positive fees (with their taxes) as document
/// additions, negative fees as a document discount. Then
/// Σ line totals + additions − discount = the order total.
pub fn order_to_document(
    o: &Order,
    kind: DocumentKind,
    party_ref: String,
    conv: &Conv,
) -> Result<Document> {
    let lines: Vec<DocumentLine> = o
        .line_items
        .iter()
        .map(|l| {
            let name = non_empty(&l.name);
            line(
                l.product_id.to_string(),
                name,
                l.quantity,
                conv.amount(l.subtotal),
                conv.amount(l.total),
                conv.amount(l.total_tax),
            )
        })
        .collect();
    let mut additions = Decimal::ZERO;
    let mut discount = Decimal::ZERO;
    for s in &o.shipping_lines {
        additions += conv.amount(s.total + s.total_tax);
    }
    for f in &o.fee_lines {
        let amount = conv.amount(f.total + f.total_tax);
        if amount.is_sign_negative() {
            discount -= amount;
        } else {
            additions += amount;
        }
    }
    let tax_total: Decimal = o.line_items.iter().map(|l| conv.amount(l.total_tax)).sum();
    let date = parse_date(if o.date_created_gmt.is_empty() {
        &o.date_modified_gmt
    } else {
        &o.date_created_gmt
    })?;
    Ok(Document {
        kind,
        number: non_empty(&digits(&o.number)).map(|n| format!("{}{n}", conv.prefix)),
        date,
        party_ref,
        currency: conv.currency.clone(),
        lines,
        discount: wit(discount),
        additions: wit(additions),
        tax_total: wit(tax_total),
        toll_total: wit(Decimal::ZERO),
        total: wit(conv.amount(o.total)),
        settlements: Vec::new(),
        related_ref: None,
        note: Some(shop_note(o)),
    })
}

/// How the shop's payment method settled: cash on delivery → cash, bank
/// transfer → bank draft, cheque → cheque, any online gateway → card.
pub fn settlement_method(payment_method: &str) -> SettlementMethod {
    match payment_method.trim() {
        "cod" => SettlementMethod::Cash,
        "bacs" => SettlementMethod::BankDraft,
        "cheque" => SettlementMethod::Cheque,
        _ => SettlementMethod::Card,
    }
}

/// Remote id of the receipt of a paid order.
pub fn receipt_id(order_id: i64) -> String {
    format!("order:{order_id}:payment")
}

/// A paid order's payment as a receipt: the order total, one settlement
/// (gateway transaction id as reference, gateway title as bank), related
/// to the order's document.
pub fn order_to_receipt(o: &Order, party_ref: String, conv: &Conv) -> Result<Document> {
    let total = conv.amount(o.total);
    let date = parse_date(
        [&o.date_paid_gmt, &o.date_created_gmt, &o.date_modified_gmt]
            .into_iter()
            .find(|d| !d.trim().is_empty())
            .map_or("", |d| d.as_str()),
    )?;
    Ok(Document {
        kind: hamgam_sdk::DocumentKind::Receipt,
        number: non_empty(&digits(&o.number)).map(|n| format!("{}{n}", conv.prefix)),
        date,
        party_ref,
        currency: conv.currency.clone(),
        lines: Vec::new(),
        discount: wit(Decimal::ZERO),
        additions: wit(Decimal::ZERO),
        tax_total: wit(Decimal::ZERO),
        toll_total: wit(Decimal::ZERO),
        total: wit(total),
        settlements: vec![Settlement {
            method: settlement_method(&o.payment_method),
            amount: wit(total),
            reference: non_empty(&digits(&o.transaction_id)),
            due_date: None,
            bank: non_empty(&o.payment_method_title),
        }],
        related_ref: Some(o.id.to_string()),
        note: None,
    })
}

/// Remote id of a refund.
pub fn refund_id(refund_id: i64) -> String {
    format!("refund:{refund_id}")
}

/// A refund as a sales return related to its order. WooCommerce reports
/// refunded quantities and amounts as negatives; returns carry positive
/// ones. What the refund returns beyond its lines (shipping, a manual
/// amount) is a document addition, so the total is the refund amount.
pub fn refund_to_return(
    r: &Refund,
    order: &Order,
    party_ref: String,
    conv: &Conv,
) -> Result<Document> {
    let lines: Vec<DocumentLine> = r
        .line_items
        .iter()
        .map(|l| {
            line(
                l.product_id.to_string(),
                non_empty(&l.name),
                l.quantity.abs(),
                conv.amount(l.subtotal.abs()),
                conv.amount(l.total.abs()),
                conv.amount(l.total_tax.abs()),
            )
        })
        .collect();
    let lines_total: Decimal = r
        .line_items
        .iter()
        .map(|l| conv.amount(l.total.abs()) + conv.amount(l.total_tax.abs()))
        .sum();
    let tax_total: Decimal = r
        .line_items
        .iter()
        .map(|l| conv.amount(l.total_tax.abs()))
        .sum();
    let amount = conv.amount(r.amount.abs());
    let rest = amount - lines_total;
    let (discount, additions) = if rest.is_sign_negative() {
        (-rest, Decimal::ZERO)
    } else {
        (Decimal::ZERO, rest)
    };
    Ok(Document {
        kind: DocumentKind::SalesReturn,
        number: None,
        date: parse_date(&r.date_created_gmt)?,
        party_ref,
        currency: conv.currency.clone(),
        lines,
        discount: wit(discount),
        additions: wit(additions),
        tax_total: wit(tax_total),
        toll_total: wit(Decimal::ZERO),
        total: wit(amount),
        settlements: Vec::new(),
        related_ref: Some(order.id.to_string()),
        note: non_empty(&r.reason),
    })
}

/// A shop product. Code = SKU, else the product id; price = the current
/// (`price`) one, converted; taxable unless `tax_status` is `none`.
pub fn product_to_product(p: &crate::model::Product, conv: &Conv) -> Product {
    Product {
        code: non_empty(&digits(&p.sku)).unwrap_or_else(|| p.id.to_string()),
        name: one_line(&p.name),
        unit: "عدد".into(),
        sales_price: p
            .price
            .map(|price| Money::new(conv.amount(price), conv.currency.clone())),
        tax_rate: wit(Decimal::ZERO),
        toll_rate: wit(Decimal::ZERO),
        tax_exempt: p.tax_status == "none",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hamgam_sdk::domain::{DocumentInput, JalaliDate, LineInput, RateTable, TaxRates};

    fn settings() -> Settings {
        Settings::from_lookup(|k| match k {
            "base_url" => Some("http://127.0.0.1:7380/wp-json/wc/v3".into()),
            "company_code" => Some("300".into()),
            _ => None,
        })
        .unwrap()
    }

    fn dec(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    fn d(w: &WitDecimal) -> Decimal {
        w.to_decimal().unwrap()
    }

    fn order_json() -> Order {
        serde_json::from_value(serde_json::json!({
            "id": 727, "number": "۷۲۷", "status": "processing", "currency": "IRT",
            "date_created_gmt": "2025-03-21T10:00:00", "date_modified_gmt": "2025-03-21T10:05:00",
            "date_paid_gmt": "2025-03-21T10:04:00",
            "discount_total": "10000.00", "shipping_total": "30000.00",
            "total": "1280000.50", "total_tax": "0.00", "customer_id": 0,
            "customer_note": "لطفا زنگ نزنید",
            "billing": {"first_name": "مریم", "last_name": "احمدی", "email": " Maryam@Example.IR ",
                        "phone": "+98 ۹۱۲ ۱۲۳ ۴۵۶۷", "address_1": "خیابان آزادی", "address_2": "پلاک ۱۲",
                        "city": "تهران", "state": "THR", "postcode": "۱۲۳۴۵-۶۷۸۹۰", "country": "IR"},
            "shipping": {},
            "payment_method": "zarinpal", "payment_method_title": "زرین‌پال", "transaction_id": "A1",
            "line_items": [
                {"id": 1, "name": "کتاب", "product_id": 55, "quantity": 3,
                 "subtotal": "750000.00", "total": "740000.00", "total_tax": "0.00"},
                {"id": 2, "name": "دفتر", "product_id": 56, "quantity": 1,
                 "subtotal": "500000.50", "total": "500000.50", "total_tax": "0.00"}
            ],
            "shipping_lines": [{"method_title": "پیک", "total": "30000.00", "total_tax": "0.00"}],
            "fee_lines": [{"name": "بسته‌بندی", "total": "20000.00", "total_tax": "0.00"},
                          {"name": "تخفیف باشگاه", "total": "-10000.00", "total_tax": "0.00"}],
            "coupon_lines": [{"code": "NOWRUZ", "discount": "10000.00", "discount_tax": "0"}]
        }))
        .unwrap()
    }

    #[test]
    fn toman_becomes_rial_exactly() {
        let conv = Conv::new("IRT", &settings());
        assert_eq!(conv.amount(dec("1250000.50")).to_string(), "12500005");
        assert_eq!(conv.currency, "IRR");
        assert_eq!(conv.to_shop(dec("12500005")).to_string(), "1250000.5");
        assert_eq!(Conv::new("IRR", &settings()).factor, Decimal::ONE);
        assert_eq!(Conv::new("USD", &settings()).currency, "USD");
        let mut s = settings();
        s.rial_factor = Some(dec("10"));
        assert_eq!(Conv::new("", &s).currency, "IRR");
        // 96-bit amounts survive.
        assert_eq!(
            conv.amount(dec("7922816251426433759354395033.5"))
                .to_string(),
            "79228162514264337593543950335"
        );
    }

    #[test]
    fn persian_digits_and_phone_prefixes_are_normalised() {
        assert_eq!(
            normalise_phone("+98 ۹۱۲ ۱۲۳ ۴۵۶۷").as_deref(),
            Some("09121234567")
        );
        assert_eq!(
            normalise_phone("0098-912-1234567").as_deref(),
            Some("09121234567")
        );
        assert_eq!(
            normalise_phone("٩١٢١٢٣٤٥٦٧").as_deref(),
            Some("09121234567")
        );
        assert_eq!(
            normalise_phone("021 8888 7777").as_deref(),
            Some("02188887777")
        );
        assert_eq!(normalise_phone(" - "), None);
        assert_eq!(
            normalise_postcode("۱۲۳۴۵-۶۷۸۹۰").as_deref(),
            Some("1234567890")
        );
        assert_eq!(normalise_postcode("SW1A 1AA").as_deref(), Some("SW1A 1AA"));
        assert_eq!(phone_kind("09121234567"), PhoneKind::Mobile);
        assert_eq!(phone_kind("02188887777"), PhoneKind::Other);
    }

    #[test]
    fn order_totals_add_up_lines_plus_shipping_and_fees_minus_discounts() {
        let conv = Conv::new("IRT", &settings());
        let o = order_json();
        let doc =
            order_to_document(&o, DocumentKind::SalesInvoice, "guest:x".into(), &conv).unwrap();
        assert_eq!(doc.currency, "IRR");
        assert_eq!(doc.number.as_deref(), Some("WC-727"));
        assert_eq!(doc.date.to_string(), "2025-03-21");
        let l0 = &doc.lines[0];
        assert_eq!(l0.product_ref, "55");
        assert_eq!(d(&l0.quantity).to_string(), "3");
        assert_eq!(d(&l0.unit_price).to_string(), "2500000");
        assert_eq!(d(&l0.discount).to_string(), "100000");
        assert_eq!(d(&l0.total).to_string(), "7400000");
        assert_eq!(d(&doc.lines[1].unit_price).to_string(), "5000005");
        // shipping 300000 + fee 200000; the negative fee is a discount.
        assert_eq!(d(&doc.additions).to_string(), "500000");
        assert_eq!(d(&doc.discount).to_string(), "100000");
        let lines: Decimal = doc.lines.iter().map(|l| d(&l.total)).sum();
        let total = d(&doc.total);
        assert_eq!(total.to_string(), "12800005");
        assert_eq!(lines + d(&doc.additions) - d(&doc.discount), total);
        // The host's own totals function agrees (scale 0 for Rial).
        let input = DocumentInput {
            date: JalaliDate::new(1404, 1, 1).unwrap(),
            lines: doc
                .lines
                .iter()
                .map(|l| LineInput {
                    quantity: d(&l.quantity),
                    unit_price: d(&l.unit_price),
                    discount: d(&l.discount),
                    additions: d(&l.additions),
                    tax_exempt: l.tax_exempt,
                    rate_override: Some(TaxRates::new(d(&l.tax_rate), Decimal::ZERO)),
                })
                .collect(),
            discount: d(&doc.discount),
            additions: d(&doc.additions),
        };
        let computed =
            hamgam_sdk::domain::compute_totals(&input, &RateTable::sample_iran(), 0).unwrap();
        assert_eq!(computed.grand_total, total);
    }

    #[test]
    fn shop_fields_go_into_the_note_in_the_documented_format() {
        let o = order_json();
        assert_eq!(
            shop_note(&o),
            "لطفا زنگ نزنید\n\n[woocommerce]\norderNumber: 727\norderPostalCode: 1234567890\n\
             orderPhone: 09121234567\norderAddress: تهران، تهران، خیابان آزادی، پلاک 12\n\
             coupons: NOWRUZ\nshipping: پیک\npayment: زرین‌پال (zarinpal) A1"
        );
    }

    #[test]
    fn guests_are_keyed_by_normalised_email_or_phone() {
        let o = order_json();
        assert_eq!(party_ref(&o, MatchBy::Email), "guest:maryam@example.ir");
        assert_eq!(party_ref(&o, MatchBy::Phone), "guest:09121234567");
        let mut registered = o.clone();
        registered.customer_id = 12;
        assert_eq!(party_ref(&registered, MatchBy::Email), "12");
        let mut anonymous = o.clone();
        anonymous.billing.email.clear();
        anonymous.billing.phone.clear();
        assert_eq!(party_ref(&anonymous, MatchBy::Email), "guest:order-727");
        let p = guest_to_party(&o, 1_000_727, &settings());
        assert_eq!(p.customer_number.as_deref(), Some("1000727-300"));
        assert_eq!(p.first_name.as_deref(), Some("مریم"));
        assert_eq!(p.phones[0].number, "09121234567");
        assert_eq!(p.addresses[0].province.as_deref(), Some("تهران"));
        assert_eq!(p.addresses[0].postal_code.as_deref(), Some("1234567890"));
        assert_eq!(p.addresses[0].line, "خیابان آزادی، پلاک 12");
    }

    #[test]
    fn the_same_guest_paying_twice_is_one_party_with_one_number() {
        let first = order_json();
        let mut retry = order_json();
        retry.id = 731;
        retry.number = "731".into();
        retry.billing.email = "maryam@EXAMPLE.ir".into();
        retry.billing.phone = "09121234567".into();
        for match_by in [MatchBy::Email, MatchBy::Phone] {
            assert_eq!(party_ref(&first, match_by), party_ref(&retry, match_by));
        }
        // The number is the guest's (base + earliest order id), not the
        // order's: both orders give the identical party.
        let a = guest_to_party(&first, 1_000_727, &settings());
        let b = guest_to_party(&retry, 1_000_727, &settings());
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        // Another shopper is another party.
        let mut other = order_json();
        other.billing.email = "ali@example.ir".into();
        assert_ne!(
            party_ref(&first, MatchBy::Email),
            party_ref(&other, MatchBy::Email)
        );
    }

    #[test]
    fn receipts_and_returns() {
        let conv = Conv::new("IRT", &settings());
        let o = order_json();
        let r = order_to_receipt(&o, "guest:x".into(), &conv).unwrap();
        assert_eq!(r.kind, DocumentKind::Receipt);
        assert_eq!(d(&r.total).to_string(), "12800005");
        assert_eq!(r.settlements[0].method, SettlementMethod::Card);
        assert_eq!(r.settlements[0].reference.as_deref(), Some("A1"));
        assert_eq!(r.related_ref.as_deref(), Some("727"));
        assert_eq!(receipt_id(727), "order:727:payment");
        let refund: Refund = serde_json::from_value(serde_json::json!({
            "id": 9, "date_created_gmt": "2025-03-22T08:00:00", "amount": "280000.00",
            "reason": "خراب بود",
            "line_items": [{"product_id": 55, "name": "کتاب", "quantity": -1,
                            "subtotal": "-250000.00", "total": "-246666.67", "total_tax": "0.00"}]
        }))
        .unwrap();
        let ret = refund_to_return(&refund, &o, "guest:x".into(), &conv).unwrap();
        assert_eq!(ret.kind, DocumentKind::SalesReturn);
        assert_eq!(ret.related_ref.as_deref(), Some("727"));
        assert_eq!(d(&ret.lines[0].quantity).to_string(), "1");
        assert_eq!(d(&ret.lines[0].total).to_string(), "2466666.7");
        assert_eq!(d(&ret.total).to_string(), "2800000");
        assert_eq!(
            d(&ret.lines[0].total) + d(&ret.additions) - d(&ret.discount),
            d(&ret.total)
        );
        assert_eq!(refund_id(9), "refund:9");
    }

    #[test]
    fn same_payload_maps_to_identical_records() {
        let conv = Conv::new("IRT", &settings());
        let a = order_to_document(&order_json(), DocumentKind::SalesInvoice, "1".into(), &conv);
        let b = order_to_document(&order_json(), DocumentKind::SalesInvoice, "1".into(), &conv);
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }
}

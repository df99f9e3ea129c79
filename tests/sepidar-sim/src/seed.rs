//! Believable demo data (Persian names and products), different per company,
//! and the "live activity" generator of the demo binary.

use chrono::{Duration, NaiveDate};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;

use crate::Sepidar;
use crate::model::{ItemType, SimError};
use crate::store::{NewCustomer, NewDocument, NewItem, NewLine, ReturnLine, refs};

const FIRST_NAMES: &[&str] = &[
    "علی",
    "محمد",
    "رضا",
    "حسین",
    "مهدی",
    "زهرا",
    "فاطمه",
    "مریم",
    "سارا",
    "نرگس",
    "امیر",
    "سعید",
    "حمید",
    "لیلا",
    "نازنین",
    "کاوه",
    "بهرام",
    "شیرین",
    "پریسا",
    "آرش",
];
const LAST_NAMES: &[&str] = &[
    "رضایی",
    "محمدی",
    "حسینی",
    "احمدی",
    "کریمی",
    "موسوی",
    "جعفری",
    "کاظمی",
    "صادقی",
    "رحیمی",
    "نوری",
    "قاسمی",
    "طاهری",
    "یزدانی",
    "شریفی",
    "اکبری",
    "توکلی",
    "مرادی",
];
const COMPANIES: &[&str] = &[
    "شرکت پارس تجارت",
    "بازرگانی آریا",
    "صنایع غذایی مهرگان",
    "فروشگاه زنجیره‌ای افق",
    "شرکت فن‌آوران سپهر",
    "تولیدی نقش جهان",
    "گروه صنعتی البرز",
    "پخش سراسری کیان",
    "شرکت مهندسی راهبرد",
    "کارگاه چوب ارغوان",
];
const STREETS: &[&str] = &[
    "خیابان ولیعصر، پلاک ۱۲",
    "خیابان آزادی، کوچه پنجم، پلاک ۳",
    "بلوار کشاورز، پلاک ۸۸",
    "خیابان چهارباغ، پلاک ۳۱",
    "بلوار وکیل‌آباد، پلاک ۴۰",
    "خیابان زند، پلاک ۱۷",
    "میدان انقلاب، ساختمان نور، طبقه ۲",
    "خیابان طالقانی، پلاک ۵۶",
];
const CITIES: &[i32] = &[
    refs::CITY_TEHRAN,
    refs::CITY_TEHRAN,
    refs::CITY_TEHRAN,
    refs::CITY_ISFAHAN,
    refs::CITY_KARAJ,
    refs::CITY_SHIRAZ,
    refs::CITY_MASHHAD,
    refs::CITY_KASHAN,
    refs::CITY_SHAHRIAR,
];

/// (code, title, unit, type, base fee in Rial, VAT exempt)
const ITEMS: &[(&str, &str, i32, ItemType, i64, bool)] = &[
    (
        "1001",
        "لپ‌تاپ ایسوس مدل X515",
        refs::UNIT_PIECE,
        ItemType::Product,
        450_000_000,
        false,
    ),
    (
        "1002",
        "مانیتور سامسونگ ۲۴ اینچ",
        refs::UNIT_PIECE,
        ItemType::Product,
        85_000_000,
        false,
    ),
    (
        "1003",
        "ماوس بی‌سیم لاجیتک",
        refs::UNIT_PIECE,
        ItemType::Product,
        6_500_000,
        false,
    ),
    (
        "1004",
        "کیبورد مکانیکی",
        refs::UNIT_PIECE,
        ItemType::Product,
        12_000_000,
        false,
    ),
    (
        "1005",
        "پرینتر لیزری اچ‌پی",
        refs::UNIT_PIECE,
        ItemType::Product,
        95_000_000,
        false,
    ),
    (
        "1006",
        "کاغذ A4 بسته ۵۰۰ برگی",
        refs::UNIT_PACK,
        ItemType::Product,
        2_800_000,
        false,
    ),
    (
        "1007",
        "هارد اکسترنال ۲ ترابایت",
        refs::UNIT_PIECE,
        ItemType::Product,
        38_000_000,
        false,
    ),
    (
        "1008",
        "روتر میکروتیک",
        refs::UNIT_PIECE,
        ItemType::Product,
        42_000_000,
        false,
    ),
    (
        "1009",
        "کابل شبکه Cat6",
        refs::UNIT_METER,
        ItemType::Product,
        350_000,
        false,
    ),
    (
        "1010",
        "کارتریج تونر",
        refs::UNIT_PIECE,
        ItemType::Product,
        7_900_000,
        false,
    ),
    (
        "1011",
        "برنج ایرانی طارم",
        refs::UNIT_KG,
        ItemType::Product,
        1_450_000,
        true,
    ),
    (
        "1012",
        "چای سیاه لاهیجان",
        refs::UNIT_KG,
        ItemType::Product,
        2_100_000,
        true,
    ),
    (
        "2001",
        "خدمات نصب و راه‌اندازی",
        refs::UNIT_HOUR,
        ItemType::Service,
        3_500_000,
        false,
    ),
    (
        "2002",
        "پشتیبانی نرم‌افزار",
        refs::UNIT_HOUR,
        ItemType::Service,
        15_000_000,
        false,
    ),
    (
        "2003",
        "آموزش کاربران",
        refs::UNIT_HOUR,
        ItemType::Service,
        4_000_000,
        false,
    ),
];

/// A valid 10-digit Iranian national code (check digit per the standard rule).
pub fn national_code(rng: &mut impl Rng) -> String {
    let digits: Vec<u32> = (0..9).map(|_| rng.gen_range(0..10)).collect();
    let s: u32 = digits
        .iter()
        .enumerate()
        .map(|(i, d)| d * (10 - i as u32))
        .sum();
    let r = s % 11;
    let check = if r < 2 { r } else { 11 - r };
    digits
        .iter()
        .chain(std::iter::once(&check))
        .map(|d| char::from(b'0' + *d as u8))
        .collect()
}

/// A valid 11-digit legal-entity national ID (شناسه ملی): `10`, eight
/// random digits and the check digit. Nine random digits are drawn, as
/// before the check digit was computed, so the rest of the demo data stays
/// the same.
pub fn legal_entity_id(rng: &mut impl Rng) -> String {
    let drawn = digits(rng, 9);
    let first10 = format!("10{}", &drawn[..8]);
    let d: Vec<u32> = first10.bytes().map(|b| u32::from(b - b'0')).collect();
    // Weights 29, 27, 23, 19, 17 repeating over (digit + tens digit + 2);
    // a remainder of 10 counts as 0.
    let t = d[9] + 2;
    let s: u32 = d
        .iter()
        .zip([29, 27, 23, 19, 17].iter().cycle())
        .map(|(x, w)| (x + t) * w)
        .sum();
    let r = s % 11;
    format!("{first10}{}", if r == 10 { 0 } else { r })
}

/// The same ID with its check digit one off: a hand-typed mistake, as
/// years-old ledgers hold (issue 14 §7: the CRM keeps it with a warning).
pub fn mistyped(id: &str) -> String {
    let (head, last) = id.split_at(id.len().saturating_sub(1));
    let d = last.bytes().next().map_or(0, |b| b.wrapping_sub(b'0') % 10);
    format!("{head}{}", (d + 1) % 10)
}

fn digits(rng: &mut impl Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

/// A random customer (person 70 %, company 30 %).
pub fn random_customer(rng: &mut impl Rng) -> NewCustomer {
    let city = *CITIES.choose(rng).unwrap_or(&refs::CITY_TEHRAN);
    let street = *STREETS.choose(rng).unwrap_or(&STREETS[0]);
    let mut c = if rng.gen_bool(0.7) {
        let mut c = NewCustomer::person(
            *FIRST_NAMES.choose(rng).unwrap_or(&"علی"),
            *LAST_NAMES.choose(rng).unwrap_or(&"رضایی"),
        );
        c.national_id = Some(national_code(rng));
        c.birth_date = NaiveDate::from_ymd_opt(
            rng.gen_range(1960..2002),
            rng.gen_range(1..13),
            rng.gen_range(1..29),
        );
        c.phone_number = Some(format!("09{}", digits(rng, 9)));
        c
    } else {
        let mut c = NewCustomer::company(*COMPANIES.choose(rng).unwrap_or(&"بازرگانی آریا"));
        c.national_id = Some(legal_entity_id(rng));
        c.economic_code = Some(format!("4{}", digits(rng, 11)));
        c.phone_number = Some(format!("021{}", digits(rng, 8)));
        c
    };
    c = c.address(city, street);
    if let Some(a) = c.addresses.first_mut() {
        a.title = Some("آدرس اصلی".into());
        a.zip_code = Some(digits(rng, 10));
        a.is_main = true;
    }
    c
}

fn random_lines(rng: &mut impl Rng, sim: &Sepidar) -> Vec<NewLine> {
    let notes: Vec<_> = sim
        .price_notes()
        .into_iter()
        .filter(|p| p.sale_type_ref == refs::SALE_TYPE_DOMESTIC)
        .collect();
    let n = rng.gen_range(1..=3usize).min(notes.len());
    notes
        .choose_multiple(rng, n)
        .map(|p| {
            let qty = Decimal::from(rng.gen_range(1..=5));
            let mut l = NewLine::new(p.item_ref, qty, p.fee);
            if rng.gen_bool(0.25) {
                l.discount = crate::round_rial(p.fee * qty / Decimal::from(20));
            }
            l
        })
        .collect()
}

fn random_date(rng: &mut impl Rng, from: NaiveDate, to: NaiveDate) -> NaiveDate {
    let days = (to - from).num_days().max(0);
    from + Duration::days(rng.gen_range(0..=days))
}

/// Which demo customer was typed with a wrong check digit in its national
/// or legal-entity ID (one per company).
pub const DEMO_MISTYPED_CUSTOMER: usize = 3;

/// Loads the demo data set: ~20 customers, 15 items with prices and stock,
/// a few quotations, ~30 invoices over the defined fiscal years up to today
/// (1403, 1404 and the current one), one returned invoice. Seeded by the
/// company code, so each company gets different data. IDs carry valid
/// check digits, as a real ledger's mostly do, except one customer's
/// ([`DEMO_MISTYPED_CUSTOMER`]), so the demo shows a data-quality warning.
pub fn demo(sim: &Sepidar) -> Result<(), SimError> {
    let mut rng = StdRng::seed_from_u64(u64::from(sim.config().company_code) * 7919);
    let today = sim.today();
    for i in 0..20 {
        let mut c = random_customer(&mut rng);
        if i == DEMO_MISTYPED_CUSTOMER {
            c.national_id = c.national_id.as_deref().map(mistyped);
        }
        sim.create_customer(c)?;
    }
    let factor = Decimal::from(rng.gen_range(85..=115)) / Decimal::from(100);
    for (code, title, unit, t, fee, exempt) in ITEMS {
        let mut n = NewItem::product(*code, *title);
        n.unit_ref = *unit;
        n.item_type = *t;
        n.is_tax_exempt = *exempt;
        n.barcode = Some(format!("626{}", digits(&mut rng, 10)));
        let item = sim.create_item(n)?;
        let fee =
            (Decimal::from(*fee) * factor / Decimal::from(1000)).round() * Decimal::from(1000);
        sim.set_price(item.item_id, refs::SALE_TYPE_DOMESTIC, fee)?;
        if rng.gen_bool(0.4) {
            sim.set_price(
                item.item_id,
                refs::SALE_TYPE_EXPORT,
                fee * Decimal::new(11, 1),
            )?;
        }
        if *t == ItemType::Product {
            sim.set_inventory(item.item_id, refs::STOCK_CENTRAL, rng.gen_range(0..200))?;
            if rng.gen_bool(0.5) {
                sim.set_inventory(item.item_id, refs::STOCK_2, rng.gen_range(0..50))?;
            }
        }
    }
    let customers: Vec<i32> = sim.customers().iter().map(|c| c.customer_id).collect();
    let years = sim.fiscal_years();
    let doc = |rng: &mut StdRng, date: NaiveDate| -> Option<NewDocument> {
        let lines = random_lines(rng, sim);
        if lines.is_empty() {
            return None;
        }
        let customer = *customers.choose(rng)?;
        let mut d = NewDocument::new(customer, date, lines);
        d.address_ref = sim
            .customer(customer)
            .and_then(|c| c.addresses.first().map(|a| a.customer_address_id));
        d.settlement_type = rng.gen_range(1..=3);
        Some(d)
    };
    // Invoices: 10 in 1403, 12 in 1404, 8 in the current year (if later).
    let mut invoice_ids = Vec::new();
    for (title, count) in [("1403", 10), ("1404", 12)] {
        if let Some(fy) = years.iter().find(|f| f.title == title) {
            let end = fy.end_date.min(today);
            if fy.start_date > end {
                continue;
            }
            for _ in 0..count {
                let date = random_date(&mut rng, fy.start_date, end);
                if let Some(d) = doc(&mut rng, date) {
                    invoice_ids.push(sim.create_invoice(d)?.invoice_id);
                }
            }
        }
    }
    if let Some(cur) = sim.current_fiscal_year()
        && cur.title != "1403"
        && cur.title != "1404"
    {
        for _ in 0..8 {
            let date = random_date(&mut rng, cur.start_date, today);
            if let Some(d) = doc(&mut rng, date) {
                invoice_ids.push(sim.create_invoice(d)?.invoice_id);
            }
        }
    }
    // Quotations in the current year; one becomes an invoice, one is closed.
    let qstart = sim
        .current_fiscal_year()
        .map(|f| f.start_date)
        .unwrap_or(today);
    let mut quotation_ids = Vec::new();
    for _ in 0..5 {
        let date = random_date(&mut rng, qstart, today);
        if let Some(mut d) = doc(&mut rng, date) {
            d.expiration_date = Some(d.date + Duration::days(30));
            quotation_ids.push(sim.create_quotation(d)?.quotation_id);
        }
    }
    if let Some(q) = quotation_ids.first() {
        sim.invoice_from_quotation(*q, today)?;
    }
    if let Some(q) = quotation_ids.get(1) {
        sim.set_quotation_closed(*q, true)?;
    }
    // One returned invoice: half of the first line of a 1404 (or any) invoice.
    if let Some(inv) = invoice_ids
        .get(12)
        .or(invoice_ids.first())
        .and_then(|id| sim.invoice(*id))
        && let Some(line) = inv.invoice_items.first()
    {
        let qty = (line.line.quantity / Decimal::from(2))
            .floor()
            .max(Decimal::ONE);
        let date = (inv.date + Duration::days(3)).min(today).max(inv.date);
        sim.create_returned_invoice(
            inv.invoice_id,
            date,
            &[ReturnLine {
                invoice_item_id: line.invoice_item_id,
                quantity: qty,
            }],
        )?;
    }
    Ok(())
}

/// Live activity for the demo: creates an invoice dated today (and sometimes
/// a new customer first). Returns a one-line description.
pub fn activity_tick(sim: &Sepidar, rng: &mut StdRng) -> Result<String, SimError> {
    let mut note = String::new();
    let customer = if rng.gen_bool(0.3) || sim.customers().is_empty() {
        let c = sim.create_customer(random_customer(rng))?;
        note.push_str(&format!("new customer {} «{}»; ", c.code, c.title));
        c
    } else {
        let all = sim.customers();
        all.choose(rng)
            .cloned()
            .ok_or_else(|| SimError::bad_request("no customers"))?
    };
    let lines = random_lines(rng, sim);
    if lines.is_empty() {
        return Ok(note);
    }
    let mut d = NewDocument::new(customer.customer_id, sim.today(), lines);
    d.address_ref = customer.addresses.first().map(|a| a.customer_address_id);
    let inv = sim.create_invoice(d)?;
    note.push_str(&format!(
        "invoice {} for «{}», {} Rial",
        inv.number, customer.title, inv.totals.net_price
    ));
    Ok(note)
}

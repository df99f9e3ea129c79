//! Believable demo data: a Persian online shop selling in Toman (IRT).

use rand::Rng;
use rand::seq::SliceRandom;

use crate::{Address, NewCustomer, NewOrder, NewProduct, NewRefund, WooError, WooSim};

/// (name, sku, price in Toman, stock, category).
pub const PRODUCTS: &[(&str, &str, i64, i64, &str)] = &[
    (
        "چای سیاه لاهیجان ۵۰۰ گرمی",
        "TEA-LAH-500",
        210_000,
        120,
        "خوراکی",
    ),
    (
        "برنج طارم هاشمی ۵ کیلویی",
        "RICE-TRM-5",
        1_450_000,
        60,
        "خوراکی",
    ),
    ("زعفران سرگل یک مثقالی", "SAF-SRG-1", 980_000, 45, "خوراکی"),
    ("گز اصفهان ۴۰٪ پسته", "GAZ-ISF-40", 640_000, 80, "شیرینی"),
    (
        "پسته اکبری رفسنجان ۵۰۰ گرمی",
        "PIS-AKB-500",
        1_850_000,
        35,
        "خشکبار",
    ),
    ("خرمای مضافتی بم", "DATE-BAM-1", 320_000, 90, "خشکبار"),
    ("عسل طبیعی سبلان", "HON-SBL-1", 750_000, 40, "خوراکی"),
    (
        "قالیچه دستباف تبریز",
        "RUG-TBZ-S",
        28_500_000,
        4,
        "صنایع دستی",
    ),
    ("ظرف مسی زنجان", "CUP-ZNJ-1", 2_300_000, 12, "صنایع دستی"),
    ("کتاب دیوان حافظ نفیس", "BOOK-HAFEZ", 890_000, 25, "کتاب"),
];

/// (first, last, e-mail, mobile (Persian digits), city, state, postcode).
pub const CUSTOMERS: &[(&str, &str, &str, &str, &str, &str, &str)] = &[
    (
        "علی",
        "رضایی",
        "ali.rezaei@example.ir",
        "۰۹۱۲۳۴۵۶۷۸۹",
        "تهران",
        "THR",
        "۱۴۳۵۶۷۸۹۱۲",
    ),
    (
        "مریم",
        "احمدی",
        "maryam.ahmadi@example.ir",
        "۰۹۳۵۱۱۱۲۲۳۳",
        "اصفهان",
        "ESF",
        "۸۱۷۴۶۷۳۴۴۱",
    ),
    (
        "حسین",
        "کریمی",
        "hossein.karimi@example.ir",
        "09121234567",
        "شیراز",
        "FRS",
        "7134845791",
    ),
    (
        "زهرا",
        "محمدی",
        "zahra.mohammadi@example.ir",
        "۰۹۱۷۷۷۶۶۵۵۴",
        "مشهد",
        "RKH",
        "۹۱۳۷۶۷۳۱۱۹",
    ),
    (
        "رضا",
        "حسینی",
        "reza.hosseini@example.ir",
        "+98 912 555 4433",
        "تبریز",
        "EAZ",
        "۵۱۳۳۶۵۴۹۸۱",
    ),
];

/// Guests: (first, last, e-mail, phone, city, state, postcode).
pub const GUESTS: &[(&str, &str, &str, &str, &str, &str, &str)] = &[
    (
        "نگار",
        "صادقی",
        "negar.s@example.ir",
        "۰۹۰۲۱۲۳۴۵۶۷",
        "کرج",
        "ABZ",
        "۳۱۵۸۷۷۷۷۷۱",
    ),
    (
        "امیر",
        "نوری",
        "",
        "۰۹۳۸۹۸۷۶۵۴۳",
        "رشت",
        "GIL",
        "۴۱۹۹۶۱۳۷۷۶",
    ),
];

fn address(c: &(&str, &str, &str, &str, &str, &str, &str), street: &str) -> Address {
    Address::iran(c.0, c.1, c.4, c.5)
        .email(c.2)
        .phone(c.3)
        .postcode(c.6)
        .line1(street)
}

const STREETS: &[&str] = &[
    "خیابان ولیعصر، کوچه نسترن، پلاک ۱۲",
    "خیابان چهارباغ، بن‌بست یاس، پلاک ۴",
    "بلوار زند، کوچه ۱۸، واحد ۳",
    "بلوار وکیل‌آباد، نبش امامت ۱۲",
];

/// An office-supplies catalogue whose SKUs are the item codes of the
/// Sepidar simulator's demo data (`1002`…), prices in Toman (its Rial
/// fees ÷ 10): a shop selling what the company's books hold, so the demo's
/// shop orders go on to Sepidar.
pub const OFFICE: &[(&str, &str, i64, i64, &str)] = &[
    ("مانیتور سامسونگ ۲۴ اینچ", "1002", 8_500_000, 15, "کامپیوتر"),
    ("ماوس بی‌سیم لاجیتک", "1003", 650_000, 80, "کامپیوتر"),
    ("کیبورد مکانیکی", "1004", 1_200_000, 40, "کامپیوتر"),
    ("کاغذ A4 بسته ۵۰۰ برگی", "1006", 280_000, 200, "لوازم اداری"),
    ("هارد اکسترنال ۲ ترابایت", "1007", 3_800_000, 25, "کامپیوتر"),
    ("کارتریج تونر", "1010", 790_000, 60, "لوازم اداری"),
    ("برنج ایرانی طارم", "1011", 145_000, 300, "خوراکی"),
    ("چای سیاه لاهیجان", "1012", 210_000, 150, "خوراکی"),
];

/// Which products [`demo_with`] loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Catalog {
    /// [`PRODUCTS`]: Iranian groceries and crafts, SKUs like `TEA-LAH-500`.
    Groceries,
    /// [`OFFICE`]: SKUs that are the Sepidar simulator's item codes.
    Office,
}

/// Loads 10 products, 5 registered customers and a mix of orders: paid,
/// completed, on-hold bank transfers, a refund, a guest order, a checkout
/// draft.
pub fn demo(shop: &WooSim) -> Result<(), WooError> {
    demo_with(shop, Catalog::Groceries)
}

/// [`demo`] with the products of `catalog`.
pub fn demo_with(shop: &WooSim, catalog: Catalog) -> Result<(), WooError> {
    let list = match catalog {
        Catalog::Groceries => PRODUCTS,
        Catalog::Office => OFFICE,
    };
    let mut products = Vec::new();
    for (name, sku, price, stock, cat) in list {
        products.push(
            shop.create_product(
                NewProduct::new(name, sku, *price)
                    .stock(*stock)
                    .category(cat),
            )?,
        );
    }
    let mut customers = Vec::new();
    for (i, c) in CUSTOMERS.iter().enumerate() {
        let a = address(c, STREETS[i % STREETS.len()]);
        customers.push(
            shop.create_customer(NewCustomer::new(c.0, c.1, c.2).billing(a).meta(
                "_billing_national_code",
                format!("{:010}", 12_345_678 + i as u64 * 1111),
            ))?,
        );
    }
    let p = |i: usize| products[i % products.len()].id;
    let post = ("پست پیشتاز", 45_000);
    // Paid and completed.
    let o = shop.place_order(
        NewOrder::registered(customers[0].id)
            .line(p(0), 2)
            .line(p(2), 1)
            .shipping(post.0, post.1),
    )?;
    shop.mark_paid(o.id, "ZP-A00012345")?;
    shop.complete_order(o.id)?;
    // Paid, processing.
    let o = shop.place_order(
        NewOrder::registered(customers[1].id)
            .line(p(3), 3)
            .shipping(post.0, post.1),
    )?;
    shop.mark_paid(o.id, "ZP-A00012346")?;
    // Bank transfer on hold.
    shop.place_order(
        NewOrder::registered(customers[2].id)
            .line(p(1), 1)
            .payment("bacs"),
    )?;
    // Cash on delivery.
    shop.place_order(
        NewOrder::registered(customers[3].id)
            .line(p(5), 4)
            .line(p(6), 1)
            .payment("cod"),
    )?;
    // Guest, paid, partly refunded.
    let g = address(&GUESTS[0], "میدان آزادگان، کوچه لاله، پلاک ۷");
    let o = shop.place_order(
        NewOrder::guest(g)
            .line(p(4), 2)
            .shipping("تیپاکس", 90_000)
            .note("لطفاً قبل از ارسال تماس بگیرید"),
    )?;
    let o = shop.mark_paid(o.id, "ZP-A00012350")?;
    let item = o.line_items[0].id;
    shop.refund_order(
        o.id,
        NewRefund::lines(&[(item, 1)], "یک بسته آسیب دیده بود", true),
    )?;
    // Awaiting payment (abandoned at the gateway).
    shop.place_order(NewOrder::registered(customers[4].id).line(p(9), 1))?;
    // Guest without e-mail, checkout still a draft.
    let g = address(&GUESTS[1], "خیابان گلسار، کوچه ۱۰۵");
    shop.checkout_draft(NewOrder::guest(g).line(p(7), 1))?;
    Ok(())
}

/// One step of simulated shop activity; returns what happened.
pub fn activity_tick(shop: &WooSim, rng: &mut impl Rng) -> Result<String, WooError> {
    let products = shop.products();
    let customers = shop.customers();
    let roll = rng.gen_range(0..10);
    if roll < 5 && !products.is_empty() {
        let p = products.choose(rng).map(|p| p.id).unwrap_or_default();
        let qty = rng.gen_range(1..=3);
        let order = if rng.gen_bool(0.7) && !customers.is_empty() {
            let c = customers.choose(rng).map(|c| c.id).unwrap_or_default();
            NewOrder::registered(c).line(p, qty)
        } else {
            let g = GUESTS.choose(rng).unwrap_or(&GUESTS[0]);
            NewOrder::guest(address(g, STREETS[0])).line(p, qty)
        };
        let order = order.shipping("پست پیشتاز", 45_000);
        let o = shop.place_order(order)?;
        Ok(format!("order {} placed ({} IRT)", o.id, o.totals().total))
    } else if roll < 8 {
        let pending: Vec<u64> = shop
            .orders()
            .iter()
            .filter(|o| o.status == "pending")
            .map(|o| o.id)
            .collect();
        match pending.choose(rng) {
            Some(id) => {
                shop.mark_paid(
                    *id,
                    &format!("ZP-{}", rng.gen_range(10_000_000..99_999_999)),
                )?;
                Ok(format!("order {id} paid"))
            }
            None => Ok("nothing to pay".into()),
        }
    } else if roll < 9 {
        let done: Vec<u64> = shop
            .orders()
            .iter()
            .filter(|o| o.status == "processing")
            .map(|o| o.id)
            .collect();
        match done.choose(rng) {
            Some(id) => {
                shop.complete_order(*id)?;
                Ok(format!("order {id} completed"))
            }
            None => Ok("nothing to complete".into()),
        }
    } else {
        match products.choose(rng) {
            Some(p) => {
                let q = rng.gen_range(5..50);
                shop.set_stock(p.id, q)?;
                Ok(format!("stock of {} set to {q}", p.sku))
            }
            None => Ok("no products".into()),
        }
    }
}

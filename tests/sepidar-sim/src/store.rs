//! One company database: reference data, documents, numbering, validation.
//!
//! Everything lives in `BTreeMap`s keyed by Sepidar id, so listing in id order
//! and paging are cheap; GUIDs have hash indexes. The web service and the
//! "inside Sepidar" operations of [`crate::Sepidar`] both go through the
//! methods here, so both see and change the same data.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use uuid::Uuid;

use crate::jalali;
use crate::model::*;

/// Ids of the seeded reference data.
pub mod refs {
    /// Rial, the main currency.
    pub const CURRENCY_RIAL: i32 = 1;
    /// US dollar.
    pub const CURRENCY_USD: i32 = 2;
    /// Unit "عدد" (piece).
    pub const UNIT_PIECE: i32 = 1;
    /// Unit "کیلوگرم".
    pub const UNIT_KG: i32 = 2;
    /// Unit "متر".
    pub const UNIT_METER: i32 = 3;
    /// Unit "بسته".
    pub const UNIT_PACK: i32 = 4;
    /// Unit "ساعت" (for services).
    pub const UNIT_HOUR: i32 = 5;
    /// Stock "انبار مرکزی" (code 01).
    pub const STOCK_CENTRAL: i32 = 1;
    /// Stock "انبار ۲" (code 02).
    pub const STOCK_2: i32 = 2;
    /// Sale type "فروش داخلی" (Market 1).
    pub const SALE_TYPE_DOMESTIC: i32 = 1;
    /// Sale type "فروش صادراتی" (Market 2).
    pub const SALE_TYPE_EXPORT: i32 = 2;
    /// Country Iran.
    pub const COUNTRY_IRAN: i32 = 1;
    /// Province Tehran.
    pub const PROVINCE_TEHRAN: i32 = 2;
    /// Province Isfahan.
    pub const PROVINCE_ISFAHAN: i32 = 3;
    /// Province Alborz.
    pub const PROVINCE_ALBORZ: i32 = 4;
    /// Province Fars.
    pub const PROVINCE_FARS: i32 = 5;
    /// Province Khorasan Razavi.
    pub const PROVINCE_KHORASAN: i32 = 6;
    /// City Tehran.
    pub const CITY_TEHRAN: i32 = 10;
    /// City Shahriar (Tehran province).
    pub const CITY_SHAHRIAR: i32 = 11;
    /// City Isfahan.
    pub const CITY_ISFAHAN: i32 = 12;
    /// City Kashan (Isfahan province).
    pub const CITY_KASHAN: i32 = 13;
    /// City Karaj (Alborz province).
    pub const CITY_KARAJ: i32 = 14;
    /// City Shiraz.
    pub const CITY_SHIRAZ: i32 = 15;
    /// City Mashhad.
    pub const CITY_MASHHAD: i32 = 16;
    /// Bank account at Bank Mellat, Rial.
    pub const BANK_MELLAT: i32 = 1;
    /// Bank account at Bank Melli, Rial.
    pub const BANK_MELLI: i32 = 2;
    /// Foreign-currency account, USD.
    pub const BANK_USD: i32 = 3;
}

/// A new address of a customer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewAddress {
    /// Title, e.g. "دفتر مرکزی".
    pub title: Option<String>,
    /// Main address (the first one is made main when none is).
    pub is_main: bool,
    /// City (Type 3 division).
    pub city_ref: i32,
    /// Street address.
    pub address: Option<String>,
    /// Postal code.
    pub zip_code: Option<String>,
    /// Latitude.
    pub latitude: Option<f64>,
    /// Longitude.
    pub longitude: Option<f64>,
    /// GUID (generated when `None`).
    pub guid: Option<Uuid>,
}

impl NewAddress {
    /// An address in `city_ref` with a street text.
    pub fn new(city_ref: i32, address: impl Into<String>) -> Self {
        NewAddress {
            city_ref,
            address: Some(address.into()),
            ..Default::default()
        }
    }
}

/// A new customer (API create or a Sepidar user's form).
#[derive(Debug, Clone, PartialEq)]
pub struct NewCustomer {
    /// GUID (generated when `None`; the API requires one).
    pub guid: Option<Uuid>,
    /// Person or company.
    pub customer_type: CustomerType,
    /// First name or company name.
    pub name: String,
    /// Last name (required for a person).
    pub last_name: Option<String>,
    /// Phone number.
    pub phone_number: Option<String>,
    /// National id.
    pub national_id: Option<String>,
    /// Economic code.
    pub economic_code: Option<String>,
    /// Birth date.
    pub birth_date: Option<NaiveDate>,
    /// Addresses.
    pub addresses: Vec<NewAddress>,
    /// Code; `None` = the next free integer.
    pub code: Option<String>,
}

impl NewCustomer {
    /// A real person.
    pub fn person(name: impl Into<String>, last_name: impl Into<String>) -> Self {
        NewCustomer {
            guid: None,
            customer_type: CustomerType::Person,
            name: name.into(),
            last_name: Some(last_name.into()),
            phone_number: None,
            national_id: None,
            economic_code: None,
            birth_date: None,
            addresses: Vec::new(),
            code: None,
        }
    }
    /// A company.
    pub fn company(name: impl Into<String>) -> Self {
        NewCustomer {
            customer_type: CustomerType::Company,
            last_name: None,
            ..Self::person(name, "")
        }
    }
    /// Sets the phone number.
    pub fn phone(mut self, phone: impl Into<String>) -> Self {
        self.phone_number = Some(phone.into());
        self
    }
    /// Adds an address.
    pub fn address(mut self, city_ref: i32, text: impl Into<String>) -> Self {
        self.addresses.push(NewAddress::new(city_ref, text));
        self
    }
}

/// A new item.
#[derive(Debug, Clone, PartialEq)]
pub struct NewItem {
    /// Code (must be unique).
    pub code: String,
    /// Title.
    pub title: String,
    /// Unit.
    pub unit_ref: i32,
    /// Product / service.
    pub item_type: ItemType,
    /// VAT percent.
    pub tax_rate: Decimal,
    /// Duty percent.
    pub duty_rate: Decimal,
    /// VAT exempt.
    pub is_tax_exempt: bool,
    /// Barcode.
    pub barcode: Option<String>,
    /// Sellable.
    pub is_sellable: bool,
    /// Active.
    pub is_active: bool,
}

impl NewItem {
    /// A product in pieces with 10 % VAT (6 tax + 4 duty is not modelled:
    /// `TaxRate` 10, `DutyRate` 0).
    pub fn product(code: impl Into<String>, title: impl Into<String>) -> Self {
        NewItem {
            code: code.into(),
            title: title.into(),
            unit_ref: refs::UNIT_PIECE,
            item_type: ItemType::Product,
            tax_rate: Decimal::from(10),
            duty_rate: Decimal::ZERO,
            is_tax_exempt: false,
            barcode: None,
            is_sellable: true,
            is_active: true,
        }
    }
    /// A service billed per hour.
    pub fn service(code: impl Into<String>, title: impl Into<String>) -> Self {
        NewItem {
            unit_ref: refs::UNIT_HOUR,
            item_type: ItemType::Service,
            ..Self::product(code, title)
        }
    }
}

/// A document line as a Sepidar user enters it; Sepidar computes price, tax
/// and duty (from the item's rates) and net price.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLine {
    /// Item.
    pub item_ref: i32,
    /// Stock.
    pub stock_ref: Option<i32>,
    /// Quantity.
    pub quantity: Decimal,
    /// Unit price.
    pub fee: Decimal,
    /// Line discount.
    pub discount: Decimal,
    /// Line addition.
    pub addition: Decimal,
    /// Description.
    pub description: Option<String>,
}

impl NewLine {
    /// `quantity` × `fee` of `item_ref` from the central stock.
    pub fn new(item_ref: i32, quantity: impl Into<Decimal>, fee: impl Into<Decimal>) -> Self {
        NewLine {
            item_ref,
            stock_ref: Some(refs::STOCK_CENTRAL),
            quantity: quantity.into(),
            fee: fee.into(),
            discount: Decimal::ZERO,
            addition: Decimal::ZERO,
            description: None,
        }
    }
    /// Sets the line discount.
    pub fn discount(mut self, d: impl Into<Decimal>) -> Self {
        self.discount = d.into();
        self
    }
}

/// A new quotation or invoice entered in Sepidar.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDocument {
    /// GUID (generated when `None`).
    pub guid: Option<Uuid>,
    /// Customer.
    pub customer_ref: i32,
    /// Address of the customer.
    pub address_ref: Option<i32>,
    /// Sale type.
    pub sale_type_ref: i32,
    /// Currency.
    pub currency_ref: i32,
    /// Document date (decides the fiscal year).
    pub date: NaiveDate,
    /// Quotation expiry.
    pub expiration_date: Option<NaiveDate>,
    /// 1 cash, 2 credit, 3 both (invoices).
    pub settlement_type: i32,
    /// Description.
    pub description: Option<String>,
    /// Lines.
    pub lines: Vec<NewLine>,
    /// Header-level discount on top of the lines'.
    pub header_discount: Decimal,
    /// Header-level addition on top of the lines'.
    pub header_addition: Decimal,
}

impl NewDocument {
    /// A Rial, domestic-sale document of `customer_ref` dated `date`.
    pub fn new(customer_ref: i32, date: NaiveDate, lines: Vec<NewLine>) -> Self {
        NewDocument {
            guid: None,
            customer_ref,
            address_ref: None,
            sale_type_ref: refs::SALE_TYPE_DOMESTIC,
            currency_ref: refs::CURRENCY_RIAL,
            date,
            expiration_date: None,
            settlement_type: 2,
            description: None,
            lines,
            header_discount: Decimal::ZERO,
            header_addition: Decimal::ZERO,
        }
    }
}

/// A line of a returned invoice: which invoice line, how much of it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReturnLine {
    /// `InvoiceItemID` of the returned line.
    pub invoice_item_id: i32,
    /// Quantity returned (≤ what is left of the line).
    pub quantity: Decimal,
}

/// A fully computed document as the API receives it (client totals) or as
/// Sepidar computed it for a user.
#[derive(Debug, Clone)]
pub(crate) struct DocInput {
    pub guid: Uuid,
    pub customer_ref: i32,
    pub address_ref: Option<i32>,
    pub sale_type_ref: i32,
    pub currency_ref: i32,
    pub rate: Decimal,
    pub date: NaiveDate,
    pub expiration_date: Option<NaiveDate>,
    pub settlement_type: i32,
    pub discount_on_customer: Decimal,
    pub description: Option<String>,
    pub totals: Totals,
    pub lines: Vec<Line>,
}

/// A receipt as the API receives it.
#[derive(Debug, Clone)]
pub(crate) struct ReceiptInput {
    pub guid: Uuid,
    pub customer_ref: i32,
    pub currency_ref: i32,
    pub rate: Decimal,
    pub date: NaiveDate,
    pub description: Option<String>,
    pub discount: Decimal,
    pub drafts: Vec<DraftInput>,
}

/// A bank draft of a receipt as the API receives it.
#[derive(Debug, Clone)]
pub(crate) struct DraftInput {
    pub date: NaiveDate,
    pub description: Option<String>,
    pub number: Option<String>,
    pub bank_account_id: i32,
    pub amount: Decimal,
}

/// Customer PUT body (GV 110).
#[derive(Debug, Clone)]
pub(crate) struct CustomerPut {
    pub name: Option<String>,
    pub last_name: Option<String>,
    pub phone_number: Option<String>,
    pub birth_date: Option<NaiveDate>,
    pub national_id: Option<String>,
    pub economic_code: Option<String>,
    pub version: i32,
    /// `None` = addresses unchanged.
    pub addresses: Option<Vec<(Option<i32>, NewAddress)>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum DocKind {
    Quotation,
    Invoice,
    Returned,
    Receipt,
}

#[derive(Debug, Default)]
struct Seq {
    customer: i32,
    address: i32,
    item: i32,
    price_note: i32,
    quotation: i32,
    quotation_item: i32,
    invoice: i32,
    invoice_item: i32,
    returned: i32,
    returned_item: i32,
    receipt: i32,
    draft: i32,
}

fn next(counter: &mut i32) -> i32 {
    *counter += 1;
    *counter
}

/// Rounds to whole Rials (half away from zero).
pub fn round_rial(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
}

fn net(
    price: Decimal,
    discount: Decimal,
    addition: Decimal,
    tax: Decimal,
    duty: Decimal,
) -> Decimal {
    price - discount + addition + tax + duty
}

fn clean(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// The company database.
#[derive(Debug)]
pub struct Db {
    pub(crate) today: NaiveDate,
    pub(crate) fiscal_years: Vec<FiscalYear>,
    pub(crate) currencies: BTreeMap<i32, Currency>,
    pub(crate) units: BTreeMap<i32, Unit>,
    pub(crate) stocks: BTreeMap<i32, Stock>,
    pub(crate) sale_types: BTreeMap<i32, SaleType>,
    pub(crate) divisions: BTreeMap<i32, Division>,
    pub(crate) bank_accounts: BTreeMap<i32, BankAccount>,
    pub(crate) customers: BTreeMap<i32, Customer>,
    pub(crate) items: BTreeMap<i32, Item>,
    pub(crate) price_notes: BTreeMap<i32, PriceNoteItem>,
    /// (item, stock) → quantity.
    pub(crate) inventory: BTreeMap<(i32, i32), Decimal>,
    pub(crate) quotations: BTreeMap<i32, Quotation>,
    pub(crate) invoices: BTreeMap<i32, Invoice>,
    pub(crate) returned: BTreeMap<i32, ReturnedInvoice>,
    pub(crate) receipts: BTreeMap<i32, Receipt>,
    customer_guids: HashMap<Uuid, i32>,
    quotation_guids: HashMap<Uuid, i32>,
    invoice_guids: HashMap<Uuid, i32>,
    returned_guids: HashMap<Uuid, i32>,
    receipt_guids: HashMap<Uuid, i32>,
    seq: Seq,
    numbers: HashMap<(DocKind, i32, i32), i32>,
    max_customer_code: i64,
    /// Serialized invoices, filled when served, dropped on edit/delete.
    invoice_json: Mutex<HashMap<i32, Arc<[u8]>>>,
}

fn dup_guid() -> SimError {
    SimError::bad_request("رکوردی با این GUID قبلاً ثبت شده است (duplicate GUID)")
}

impl Db {
    /// A database with the standard reference data and the fiscal years
    /// `years` (Jalali), plus the one containing `today`.
    pub(crate) fn new(today: NaiveDate, years: &[i32]) -> Self {
        let mut db = Db {
            today,
            fiscal_years: Vec::new(),
            currencies: BTreeMap::new(),
            units: BTreeMap::new(),
            stocks: BTreeMap::new(),
            sale_types: BTreeMap::new(),
            divisions: BTreeMap::new(),
            bank_accounts: BTreeMap::new(),
            customers: BTreeMap::new(),
            items: BTreeMap::new(),
            price_notes: BTreeMap::new(),
            inventory: BTreeMap::new(),
            quotations: BTreeMap::new(),
            invoices: BTreeMap::new(),
            returned: BTreeMap::new(),
            receipts: BTreeMap::new(),
            customer_guids: HashMap::new(),
            quotation_guids: HashMap::new(),
            invoice_guids: HashMap::new(),
            returned_guids: HashMap::new(),
            receipt_guids: HashMap::new(),
            seq: Seq::default(),
            numbers: HashMap::new(),
            max_customer_code: 1000,
            invoice_json: Mutex::new(HashMap::new()),
        };
        let mut years: Vec<i32> = years.to_vec();
        if let Some((jy, _, _)) = jalali::to_jalali(today) {
            years.push(jy);
        }
        years.sort_unstable();
        years.dedup();
        for (i, jy) in years.into_iter().enumerate() {
            if let Some((start, end)) = jalali::year_bounds(jy) {
                db.fiscal_years.push(FiscalYear {
                    fiscal_year_id: i as i32 + 1,
                    title: jy.to_string(),
                    start_date: start,
                    end_date: end,
                });
            }
        }
        db.seed_reference();
        db
    }

    fn seed_reference(&mut self) {
        use refs::*;
        for (id, title, main, prec) in [
            (CURRENCY_RIAL, "ریال", true, 0),
            (CURRENCY_USD, "دلار آمریکا", false, 2),
        ] {
            self.currencies.insert(
                id,
                Currency {
                    currency_id: id,
                    title: title.into(),
                    is_main: main,
                    precision_count: prec,
                },
            );
        }
        for (id, title) in [
            (UNIT_PIECE, "عدد"),
            (UNIT_KG, "کیلوگرم"),
            (UNIT_METER, "متر"),
            (UNIT_PACK, "بسته"),
            (UNIT_HOUR, "ساعت"),
        ] {
            self.units.insert(
                id,
                Unit {
                    unit_id: id,
                    title: title.into(),
                },
            );
        }
        for (id, code, title) in [
            (STOCK_CENTRAL, "01", "انبار مرکزی"),
            (STOCK_2, "02", "انبار ۲"),
        ] {
            self.stocks.insert(
                id,
                Stock {
                    stock_id: id,
                    code: code.into(),
                    title: title.into(),
                    is_active: true,
                },
            );
        }
        for (id, title, market) in [
            (SALE_TYPE_DOMESTIC, "فروش داخلی", 1),
            (SALE_TYPE_EXPORT, "فروش صادراتی", 2),
        ] {
            self.sale_types.insert(
                id,
                SaleType {
                    sale_type_id: id,
                    title: title.into(),
                    market,
                    is_available: true,
                },
            );
        }
        let divisions: [(i32, &str, i32, Option<i32>); 14] = [
            (COUNTRY_IRAN, "ایران", 1, None),
            (PROVINCE_TEHRAN, "تهران", 2, Some(COUNTRY_IRAN)),
            (PROVINCE_ISFAHAN, "اصفهان", 2, Some(COUNTRY_IRAN)),
            (PROVINCE_ALBORZ, "البرز", 2, Some(COUNTRY_IRAN)),
            (PROVINCE_FARS, "فارس", 2, Some(COUNTRY_IRAN)),
            (PROVINCE_KHORASAN, "خراسان رضوی", 2, Some(COUNTRY_IRAN)),
            (CITY_TEHRAN, "تهران", 3, Some(PROVINCE_TEHRAN)),
            (CITY_SHAHRIAR, "شهریار", 3, Some(PROVINCE_TEHRAN)),
            (CITY_ISFAHAN, "اصفهان", 3, Some(PROVINCE_ISFAHAN)),
            (CITY_KASHAN, "کاشان", 3, Some(PROVINCE_ISFAHAN)),
            (CITY_KARAJ, "کرج", 3, Some(PROVINCE_ALBORZ)),
            (CITY_SHIRAZ, "شیراز", 3, Some(PROVINCE_FARS)),
            (CITY_MASHHAD, "مشهد", 3, Some(PROVINCE_KHORASAN)),
            (17, "نیشابور", 3, Some(PROVINCE_KHORASAN)),
        ];
        for (id, title, t, parent) in divisions {
            self.divisions.insert(
                id,
                Division {
                    division_id: id,
                    title: title.into(),
                    division_type: t,
                    parent_ref: parent,
                },
            );
        }
        for (id, code, title, cur) in [
            (
                BANK_MELLAT,
                "20001",
                "بانک ملت - حساب جاری ۱۲۳۴۵۶",
                CURRENCY_RIAL,
            ),
            (
                BANK_MELLI,
                "20002",
                "بانک ملی - حساب جاری ۷۸۹۰۱۲",
                CURRENCY_RIAL,
            ),
            (BANK_USD, "20003", "بانک پاسارگاد - حساب ارزی", CURRENCY_USD),
        ] {
            self.bank_accounts.insert(
                id,
                BankAccount {
                    bank_account_id: id,
                    dl_code: code.into(),
                    dl_title: title.into(),
                    currency_ref: cur,
                },
            );
        }
    }

    // ---------------------------------------------------------------- lookups

    /// The fiscal year containing `d`.
    pub(crate) fn fiscal_year_of(&self, d: NaiveDate) -> Option<&FiscalYear> {
        self.fiscal_years.iter().find(|f| f.contains(d))
    }

    fn fiscal_year_id(&self, d: NaiveDate) -> Result<i32, SimError> {
        self.fiscal_year_of(d)
            .map(|f| f.fiscal_year_id)
            .ok_or_else(|| {
                SimError::bad_request(format!(
                    "تاریخ در هیچ سال مالی تعریف‌شده‌ای نیست (no fiscal year contains {d})"
                ))
            })
    }

    /// Fiscal year of `today` (scope of `Invoices/Paginated`).
    pub(crate) fn current_fiscal_year(&self) -> Option<&FiscalYear> {
        self.fiscal_year_of(self.today)
    }

    fn next_number(&mut self, kind: DocKind, fy: i32, sale_type: i32) -> i32 {
        let n = self.numbers.entry((kind, fy, sale_type)).or_insert(0);
        *n += 1;
        *n
    }

    fn check_city(&self, city_ref: i32) -> Result<(), SimError> {
        match self.divisions.get(&city_ref) {
            Some(d) if d.division_type == 3 => Ok(()),
            _ => Err(SimError::bad_request(format!(
                "CityRef نامعتبر است (unknown CityRef {city_ref}: not a city of AdministrativeDivisions)"
            ))),
        }
    }

    fn build_address(&mut self, id: Option<i32>, a: NewAddress) -> Result<Address, SimError> {
        self.check_city(a.city_ref)?;
        Ok(Address {
            customer_address_id: id.unwrap_or_else(|| next(&mut self.seq.address)),
            title: clean(a.title),
            is_main: a.is_main,
            city_ref: a.city_ref,
            address: clean(a.address),
            zip_code: clean(a.zip_code),
            latitude: a.latitude,
            longitude: a.longitude,
            guid: a.guid.unwrap_or_else(Uuid::new_v4),
            path_ref: None,
        })
    }

    fn check_names(
        t: CustomerType,
        name: &str,
        last_name: &Option<String>,
    ) -> Result<(), SimError> {
        if name.trim().is_empty() {
            return Err(SimError::bad_request(
                "نام مشتری الزامی است (Name is required)",
            ));
        }
        if t == CustomerType::Person && last_name.as_deref().is_none_or(|l| l.trim().is_empty()) {
            return Err(SimError::bad_request(
                "نام خانوادگی شخص حقیقی الزامی است (LastName is required for a person)",
            ));
        }
        Ok(())
    }

    fn normalize_main(addresses: &mut [Address]) {
        if !addresses.is_empty() && !addresses.iter().any(|a| a.is_main) {
            addresses[0].is_main = true;
        }
    }

    // -------------------------------------------------------------- customers

    /// Creates a customer; `Code` is the next free integer unless given.
    pub(crate) fn create_customer(&mut self, c: NewCustomer) -> Result<Customer, SimError> {
        let guid = c.guid.unwrap_or_else(Uuid::new_v4);
        if self.customer_guids.contains_key(&guid) {
            return Err(dup_guid());
        }
        Self::check_names(c.customer_type, &c.name, &c.last_name)?;
        for a in &c.addresses {
            self.check_city(a.city_ref)?;
        }
        if let Some(code) = &c.code
            && self.customers.values().any(|x| &x.code == code)
        {
            return Err(SimError::bad_request(format!(
                "کد مشتری تکراری است (duplicate customer Code {code})"
            )));
        }
        let mut addresses = Vec::with_capacity(c.addresses.len());
        for a in c.addresses {
            addresses.push(self.build_address(None, a)?);
        }
        Self::normalize_main(&mut addresses);
        let code = match c.code {
            Some(code) => {
                if let Ok(n) = code.parse::<i64>() {
                    self.max_customer_code = self.max_customer_code.max(n);
                }
                code
            }
            None => {
                self.max_customer_code += 1;
                self.max_customer_code.to_string()
            }
        };
        let id = next(&mut self.seq.customer);
        let last_name = if c.customer_type == CustomerType::Person {
            clean(c.last_name)
        } else {
            None
        };
        let mut cust = Customer {
            customer_id: id,
            guid,
            title: String::new(),
            code,
            phone_number: clean(c.phone_number),
            customer_type: c.customer_type,
            name: c.name.trim().to_string(),
            last_name,
            birth_date: c.birth_date,
            national_id: clean(c.national_id),
            economic_code: clean(c.economic_code),
            version: 1,
            grouping_ref: None,
            discount_rate: Decimal::ZERO,
            accounting_remainder: Decimal::ZERO,
            remainder_without_cheque: Decimal::ZERO,
            quantity_credit_remainder: Decimal::ZERO,
            credit_remainder: Decimal::ZERO,
            addresses,
        };
        cust.refresh_title();
        self.customer_guids.insert(guid, id);
        self.customers.insert(id, cust.clone());
        Ok(cust)
    }

    /// A Sepidar user edits a customer: `f` changes it, Sepidar validates,
    /// recomputes the title and bumps `Version`.
    pub(crate) fn edit_customer(
        &mut self,
        id: i32,
        f: impl FnOnce(&mut Customer),
    ) -> Result<Customer, SimError> {
        let old = self
            .customers
            .get(&id)
            .ok_or_else(|| SimError::not_found("Customer", id))?;
        let mut c = old.clone();
        f(&mut c);
        c.customer_id = id;
        Self::check_names(c.customer_type, &c.name, &c.last_name)?;
        for a in &c.addresses {
            self.check_city(a.city_ref)?;
        }
        if c.guid != old.guid {
            if self.customer_guids.contains_key(&c.guid) {
                return Err(dup_guid());
            }
            self.customer_guids.remove(&old.guid);
            self.customer_guids.insert(c.guid, id);
        }
        for a in c.addresses.iter_mut() {
            if a.customer_address_id <= 0 {
                a.customer_address_id = next(&mut self.seq.address);
            }
        }
        Self::normalize_main(&mut c.addresses);
        if let Ok(n) = c.code.parse::<i64>() {
            self.max_customer_code = self.max_customer_code.max(n);
        }
        c.refresh_title();
        c.version = old.version + 1;
        self.customers.insert(id, c.clone());
        Ok(c)
    }

    /// Sets balance fields without touching `Version` (balances are computed
    /// by accounting, not edited on the customer form).
    pub(crate) fn set_balance(
        &mut self,
        id: i32,
        accounting: Decimal,
        without_cheque: Decimal,
    ) -> Result<(), SimError> {
        let c = self
            .customers
            .get_mut(&id)
            .ok_or_else(|| SimError::not_found("Customer", id))?;
        c.accounting_remainder = accounting;
        c.remainder_without_cheque = without_cheque;
        Ok(())
    }

    fn adjust_balance(&mut self, id: i32, delta: Decimal) {
        if let Some(c) = self.customers.get_mut(&id) {
            c.accounting_remainder += delta;
            c.remainder_without_cheque += delta;
        }
    }

    /// Deletes a customer that no document references.
    pub(crate) fn delete_customer(&mut self, id: i32) -> Result<Customer, SimError> {
        if !self.customers.contains_key(&id) {
            return Err(SimError::not_found("Customer", id));
        }
        let used = self.quotations.values().any(|q| q.customer_ref == id)
            || self.invoices.values().any(|i| i.customer_ref == id)
            || self.returned.values().any(|r| r.customer_ref == id)
            || self.receipts.values().any(|r| r.customer_ref == id);
        if used {
            return Err(SimError::bad_request(
                "مشتری در اسناد استفاده شده و قابل حذف نیست (customer is used by documents)",
            ));
        }
        let c = self.customers.remove(&id).expect("checked above");
        self.customer_guids.remove(&c.guid);
        Ok(c)
    }

    /// PUT /api/Customers/{id} (GV 110).
    pub(crate) fn put_customer(&mut self, id: i32, p: CustomerPut) -> Result<Customer, SimError> {
        let old = self
            .customers
            .get(&id)
            .ok_or_else(|| SimError::not_found("Customer", id))?
            .clone();
        if p.version != old.version {
            return Err(SimError::bad_request(format!(
                "اطلاعات مشتری توسط کاربر دیگری تغییر کرده است (stale Version {}: current Version is {})",
                p.version, old.version
            )));
        }
        let name = p.name.unwrap_or_default();
        let last_name = if old.customer_type == CustomerType::Person {
            clean(p.last_name)
        } else {
            None
        };
        Self::check_names(old.customer_type, &name, &last_name)?;
        let mut new_addresses = None;
        if let Some(list) = p.addresses {
            for (aid, a) in &list {
                self.check_city(a.city_ref)?;
                if let Some(aid) = aid
                    && !old.addresses.iter().any(|x| x.customer_address_id == *aid)
                {
                    return Err(SimError::bad_request(format!(
                        "آدرس یافت نشد (CustomerAddressID {aid} is not an address of customer {id})"
                    )));
                }
            }
            let mut out = Vec::with_capacity(list.len());
            for (aid, mut a) in list {
                if let Some(aid) = aid
                    && a.guid.is_none()
                {
                    a.guid = old
                        .addresses
                        .iter()
                        .find(|x| x.customer_address_id == aid)
                        .map(|x| x.guid);
                }
                out.push(self.build_address(aid, a)?);
            }
            Self::normalize_main(&mut out);
            new_addresses = Some(out);
        }
        let c = self.customers.get_mut(&id).expect("checked above");
        c.name = name.trim().to_string();
        c.last_name = last_name;
        c.phone_number = clean(p.phone_number);
        c.birth_date = p.birth_date;
        c.national_id = clean(p.national_id);
        c.economic_code = clean(p.economic_code);
        if let Some(a) = new_addresses {
            c.addresses = a;
        }
        c.refresh_title();
        c.version += 1;
        Ok(c.clone())
    }

    pub(crate) fn customer_by_guid(&self, g: &Uuid) -> Option<&Customer> {
        self.customer_guids
            .get(g)
            .and_then(|id| self.customers.get(id))
    }

    // ------------------------------------------------------------------ items

    pub(crate) fn create_item(&mut self, n: NewItem) -> Result<Item, SimError> {
        if n.code.trim().is_empty() || n.title.trim().is_empty() {
            return Err(SimError::bad_request(
                "کد و عنوان کالا الزامی است (Code and Title are required)",
            ));
        }
        if self.items.values().any(|i| i.code == n.code) {
            return Err(SimError::bad_request(format!(
                "کد کالا تکراری است (duplicate item Code {})",
                n.code
            )));
        }
        if !self.units.contains_key(&n.unit_ref) {
            return Err(SimError::bad_request(format!(
                "UnitRef نامعتبر است (unknown UnitRef {})",
                n.unit_ref
            )));
        }
        let id = next(&mut self.seq.item);
        let item = Item {
            item_id: id,
            code: n.code,
            barcode: n.barcode,
            title: n.title,
            is_active: n.is_active,
            is_sellable: n.is_sellable,
            item_type: n.item_type,
            unit_ref: n.unit_ref,
            secondary_unit_ref: None,
            units_ratio: None,
            is_unit_ratio_constant: false,
            weight: None,
            volume: None,
            consumer_fee: None,
            is_tax_exempt: n.is_tax_exempt,
            tax_rate: n.tax_rate,
            duty_rate: n.duty_rate,
            broker_sellable: false,
            sale_group_ref: None,
            coding_group_ref: None,
            purchase_group_ref: None,
        };
        self.items.insert(id, item.clone());
        Ok(item)
    }

    pub(crate) fn edit_item(
        &mut self,
        id: i32,
        f: impl FnOnce(&mut Item),
    ) -> Result<Item, SimError> {
        let mut it = self
            .items
            .get(&id)
            .ok_or_else(|| SimError::not_found("Item", id))?
            .clone();
        f(&mut it);
        it.item_id = id;
        if !self.units.contains_key(&it.unit_ref) {
            return Err(SimError::bad_request(format!(
                "UnitRef نامعتبر است (unknown UnitRef {})",
                it.unit_ref
            )));
        }
        if self
            .items
            .values()
            .any(|i| i.code == it.code && i.item_id != id)
        {
            return Err(SimError::bad_request(format!(
                "کد کالا تکراری است (duplicate item Code {})",
                it.code
            )));
        }
        self.items.insert(id, it.clone());
        Ok(it)
    }

    pub(crate) fn set_price(
        &mut self,
        item_ref: i32,
        sale_type_ref: i32,
        fee: Decimal,
    ) -> Result<PriceNoteItem, SimError> {
        let unit_ref = self
            .items
            .get(&item_ref)
            .ok_or_else(|| SimError::not_found("Item", item_ref))?
            .unit_ref;
        if !self.sale_types.contains_key(&sale_type_ref) {
            return Err(SimError::not_found("SaleType", sale_type_ref));
        }
        if let Some(p) = self
            .price_notes
            .values_mut()
            .find(|p| p.item_ref == item_ref && p.sale_type_ref == sale_type_ref)
        {
            p.fee = fee;
            p.unit_ref = unit_ref;
            return Ok(p.clone());
        }
        let id = next(&mut self.seq.price_note);
        let p = PriceNoteItem {
            price_note_item_id: id,
            sale_type_ref,
            item_ref,
            tracing_ref: None,
            currency_ref: refs::CURRENCY_RIAL,
            unit_ref,
            fee,
            customer_grouping_ref: None,
            can_change_invoice_fee: true,
            can_change_invoice_discount: true,
            upper_margin: Decimal::ZERO,
            lower_margin: Decimal::ZERO,
            addition_rate: Decimal::ZERO,
        };
        self.price_notes.insert(id, p.clone());
        Ok(p)
    }

    pub(crate) fn set_inventory(
        &mut self,
        item_ref: i32,
        stock_ref: i32,
        qty: Decimal,
    ) -> Result<(), SimError> {
        if !self.items.contains_key(&item_ref) {
            return Err(SimError::not_found("Item", item_ref));
        }
        if !self.stocks.contains_key(&stock_ref) {
            return Err(SimError::not_found("Stock", stock_ref));
        }
        self.inventory.insert((item_ref, stock_ref), qty);
        Ok(())
    }

    pub(crate) fn inventories_of(&self, item_ref: i32) -> Vec<Inventory> {
        let unit_ref = self.items.get(&item_ref).map(|i| i.unit_ref).unwrap_or(0);
        self.inventory
            .range((item_ref, i32::MIN)..=(item_ref, i32::MAX))
            .map(|(&(item, stock), &q)| Inventory {
                item_ref: item,
                tracing_ref: None,
                stock_ref: stock,
                unit_ref,
                quantity: q,
            })
            .collect()
    }

    pub(crate) fn total_inventory(&self, item_ref: i32) -> Decimal {
        self.inventory
            .range((item_ref, i32::MIN)..=(item_ref, i32::MAX))
            .map(|(_, q)| *q)
            .sum()
    }

    // -------------------------------------------------------------- documents

    /// Computes a line the way Sepidar's form does (tax from the item's rates).
    fn compute_line(&self, row: i32, n: &NewLine) -> Result<Line, SimError> {
        let item = self.items.get(&n.item_ref).ok_or_else(|| {
            SimError::bad_request(format!(
                "ItemRef نامعتبر است (unknown ItemRef {})",
                n.item_ref
            ))
        })?;
        let price = round_rial(n.quantity * n.fee);
        let base = price - n.discount + n.addition;
        let (tax, duty) = if item.is_tax_exempt {
            (Decimal::ZERO, Decimal::ZERO)
        } else {
            (
                round_rial(base * item.tax_rate / Decimal::from(100)),
                round_rial(base * item.duty_rate / Decimal::from(100)),
            )
        };
        Ok(Line {
            row_id: row,
            item_ref: n.item_ref,
            tracing_ref: None,
            stock_ref: n.stock_ref,
            quantity: n.quantity,
            secondary_quantity: None,
            fee: n.fee,
            price,
            discount: n.discount,
            tax,
            duty,
            addition: n.addition,
            net_price: net(price, n.discount, n.addition, tax, duty),
            description: n.description.clone(),
        })
    }

    /// Recomputes line prices/taxes after an edit by a Sepidar user.
    fn recompute_lines(&self, lines: &mut [Line]) -> Result<(), SimError> {
        for (i, l) in lines.iter_mut().enumerate() {
            let n = NewLine {
                item_ref: l.item_ref,
                stock_ref: l.stock_ref,
                quantity: l.quantity,
                fee: l.fee,
                discount: l.discount,
                addition: l.addition,
                description: l.description.clone(),
            };
            let mut computed = self.compute_line(i as i32 + 1, &n)?;
            computed.tracing_ref = l.tracing_ref;
            computed.secondary_quantity = l.secondary_quantity;
            *l = computed;
        }
        Ok(())
    }

    fn sum_totals(lines: &[Line], extra_discount: Decimal, extra_addition: Decimal) -> Totals {
        let mut t = Totals::default();
        for l in lines {
            t.price += l.price;
            t.discount += l.discount;
            t.tax += l.tax;
            t.duty += l.duty;
            t.addition += l.addition;
        }
        t.discount += extra_discount;
        t.addition += extra_addition;
        t.net_price = net(t.price, t.discount, t.addition, t.tax, t.duty);
        t
    }

    fn extras(totals: &Totals, lines: &[Line]) -> (Decimal, Decimal) {
        let d: Decimal = lines.iter().map(|l| l.discount).sum();
        let a: Decimal = lines.iter().map(|l| l.addition).sum();
        (totals.discount - d, totals.addition - a)
    }

    fn doc_from_new(&self, n: &NewDocument) -> Result<DocInput, SimError> {
        let mut lines = Vec::with_capacity(n.lines.len());
        for (i, l) in n.lines.iter().enumerate() {
            lines.push(self.compute_line(i as i32 + 1, l)?);
        }
        let totals = Self::sum_totals(&lines, n.header_discount, n.header_addition);
        Ok(DocInput {
            guid: n.guid.unwrap_or_else(Uuid::new_v4),
            customer_ref: n.customer_ref,
            address_ref: n.address_ref,
            sale_type_ref: n.sale_type_ref,
            currency_ref: n.currency_ref,
            rate: Decimal::ONE,
            date: n.date,
            expiration_date: n.expiration_date,
            settlement_type: n.settlement_type,
            discount_on_customer: Decimal::ZERO,
            description: n.description.clone(),
            totals,
            lines,
        })
    }

    /// Checks references and the totals rules of the contract.
    pub(crate) fn check_doc(&self, d: &DocInput) -> Result<(), SimError> {
        fn bad(m: impl Into<String>) -> SimError {
            SimError::bad_request(m)
        }
        let cust = self.customers.get(&d.customer_ref).ok_or_else(|| {
            bad(format!(
                "مشتری یافت نشد (unknown CustomerRef {})",
                d.customer_ref
            ))
        })?;
        if let Some(a) = d.address_ref
            && !cust.addresses.iter().any(|x| x.customer_address_id == a)
        {
            return Err(bad(format!(
                "آدرس متعلق به مشتری نیست (AddressRef {a} is not an address of customer {})",
                d.customer_ref
            )));
        }
        if !self.sale_types.contains_key(&d.sale_type_ref) {
            return Err(bad(format!(
                "نوع فروش نامعتبر است (unknown SaleTypeRef {})",
                d.sale_type_ref
            )));
        }
        if !self.currencies.contains_key(&d.currency_ref) {
            return Err(bad(format!(
                "ارز نامعتبر است (unknown CurrencyRef {})",
                d.currency_ref
            )));
        }
        if d.rate <= Decimal::ZERO {
            return Err(bad(format!(
                "نرخ ارز نامعتبر است (Rate must be positive, got {})",
                d.rate
            )));
        }
        if !(1..=3).contains(&d.settlement_type) {
            return Err(bad(format!(
                "نحوه تسویه نامعتبر است (SettlementType must be 1, 2 or 3, got {})",
                d.settlement_type
            )));
        }
        if d.lines.is_empty() {
            return Err(bad("سند بدون ردیف است (Items must not be empty)"));
        }
        if let Some(e) = d.expiration_date
            && e < d.date
        {
            return Err(bad(
                "تاریخ انقضا قبل از تاریخ سند است (ExpirationDate before Date)",
            ));
        }
        for (i, l) in d.lines.iter().enumerate() {
            let field = |f: &str| format!("Items[{i}].{f}");
            let item = self.items.get(&l.item_ref).ok_or_else(|| {
                bad(format!(
                    "کالا یافت نشد (unknown {} {})",
                    field("ItemRef"),
                    l.item_ref
                ))
            })?;
            if !item.is_active || !item.is_sellable {
                return Err(bad(format!(
                    "کالا در حال حاضر قابل انتخاب نیست ({} {} is inactive or not sellable)",
                    field("ItemRef"),
                    l.item_ref
                )));
            }
            if let Some(s) = l.stock_ref
                && !self.stocks.contains_key(&s)
            {
                return Err(bad(format!(
                    "انبار یافت نشد (unknown {} {s})",
                    field("StockRef")
                )));
            }
            if l.quantity <= Decimal::ZERO {
                return Err(bad(format!(
                    "مقدار باید مثبت باشد ({} must be positive)",
                    field("Quantity")
                )));
            }
            for (name, v) in [
                ("Fee", l.fee),
                ("Discount", l.discount),
                ("Tax", l.tax),
                ("Duty", l.duty),
                ("Addition", l.addition),
            ] {
                if v < Decimal::ZERO {
                    return Err(bad(format!(
                        "مبلغ منفی مجاز نیست ({} must not be negative)",
                        field(name)
                    )));
                }
            }
            let product = l.quantity * l.fee;
            if l.price != product && l.price != round_rial(product) {
                return Err(bad(format!(
                    "مبلغ ردیف نادرست است ({} must be Quantity × Fee = {}, got {})",
                    field("Price"),
                    product.normalize(),
                    l.price
                )));
            }
            let expected = net(l.price, l.discount, l.addition, l.tax, l.duty);
            if l.net_price != expected {
                return Err(bad(format!(
                    "مبلغ خالص ردیف نادرست است ({} must be {}, got {})",
                    field("NetPrice"),
                    expected,
                    l.net_price
                )));
            }
        }
        let sums = Self::sum_totals(&d.lines, Decimal::ZERO, Decimal::ZERO);
        let t = &d.totals;
        for (name, sent, expected) in [
            ("Price", t.price, sums.price),
            ("Tax", t.tax, sums.tax),
            ("Duty", t.duty, sums.duty),
        ] {
            if sent != expected {
                return Err(bad(format!(
                    "جمع {name} با ردیف‌ها برابر نیست ({name} must equal the sum of the lines' {name}: {expected}, got {sent})"
                )));
            }
        }
        for (name, sent, min) in [
            ("Discount", t.discount, sums.discount),
            ("Addition", t.addition, sums.addition),
        ] {
            if sent < min {
                return Err(bad(format!(
                    "جمع {name} کمتر از ردیف‌هاست ({name} must be at least the sum of the lines' {name}: {min}, got {sent})"
                )));
            }
        }
        let expected = net(t.price, t.discount, t.addition, t.tax, t.duty);
        if t.net_price != expected {
            return Err(bad(format!(
                "مبلغ خالص سند نادرست است (NetPrice must be Price − Discount + Addition + Tax + Duty = {expected}, got {})",
                t.net_price
            )));
        }
        Ok(())
    }

    pub(crate) fn insert_quotation(&mut self, d: DocInput) -> Result<Quotation, SimError> {
        if self.quotation_guids.contains_key(&d.guid) {
            return Err(dup_guid());
        }
        self.check_doc(&d)?;
        let fy = self.fiscal_year_id(d.date)?;
        let number = self.next_number(DocKind::Quotation, fy, d.sale_type_ref);
        let id = next(&mut self.seq.quotation);
        let items = d
            .lines
            .into_iter()
            .map(|line| QuotationItem {
                quotation_item_id: next(&mut self.seq.quotation_item),
                line,
            })
            .collect();
        let q = Quotation {
            quotation_id: id,
            guid: d.guid,
            number,
            date: d.date,
            expiration_date: d.expiration_date,
            fiscal_year_ref: fy,
            customer_ref: d.customer_ref,
            address_ref: d.address_ref,
            sale_type_ref: d.sale_type_ref,
            currency_ref: d.currency_ref,
            rate: d.rate,
            discount_on_customer: d.discount_on_customer,
            totals: d.totals,
            closed: false,
            description: d.description,
            items,
        };
        self.quotation_guids.insert(q.guid, id);
        self.quotations.insert(id, q.clone());
        Ok(q)
    }

    pub(crate) fn create_quotation(&mut self, n: &NewDocument) -> Result<Quotation, SimError> {
        let d = self.doc_from_new(n)?;
        self.insert_quotation(d)
    }

    pub(crate) fn edit_quotation(
        &mut self,
        id: i32,
        f: impl FnOnce(&mut Quotation),
    ) -> Result<Quotation, SimError> {
        let old = self
            .quotations
            .get(&id)
            .ok_or_else(|| SimError::not_found("Quotation", id))?;
        let lines: Vec<Line> = old.items.iter().map(|i| i.line.clone()).collect();
        let (xd, xa) = Self::extras(&old.totals, &lines);
        let mut q = old.clone();
        f(&mut q);
        q.quotation_id = id;
        q.guid = old.guid;
        let mut lines: Vec<Line> = q.items.iter().map(|i| i.line.clone()).collect();
        self.recompute_lines(&mut lines)?;
        for (it, l) in q.items.iter_mut().zip(lines.iter()) {
            it.line = l.clone();
            if it.quotation_item_id <= 0 {
                it.quotation_item_id = next(&mut self.seq.quotation_item);
            }
        }
        q.totals = Self::sum_totals(&lines, xd, xa);
        q.fiscal_year_ref = self.fiscal_year_id(q.date)?;
        let d = DocInput {
            guid: q.guid,
            customer_ref: q.customer_ref,
            address_ref: q.address_ref,
            sale_type_ref: q.sale_type_ref,
            currency_ref: q.currency_ref,
            rate: q.rate,
            date: q.date,
            expiration_date: q.expiration_date,
            settlement_type: 1,
            discount_on_customer: q.discount_on_customer,
            description: None,
            totals: q.totals,
            lines,
        };
        self.check_doc(&d)?;
        self.quotations.insert(id, q.clone());
        Ok(q)
    }

    /// Deletes a quotation; `api` enforces the web-service rule that a closed
    /// quotation (or one an invoice was made from) cannot be deleted.
    pub(crate) fn delete_quotation(&mut self, id: i32, api: bool) -> Result<Quotation, SimError> {
        let q = self
            .quotations
            .get(&id)
            .ok_or_else(|| SimError::not_found("Quotation", id))?;
        if api && q.closed {
            return Err(SimError::bad_request(
                "پیش‌فاکتور بسته شده و قابل حذف نیست (a closed quotation cannot be deleted)",
            ));
        }
        if api && self.invoices.values().any(|i| i.quotation_ref == Some(id)) {
            return Err(SimError::bad_request(
                "از این پیش‌فاکتور فاکتور صادر شده است (an invoice was issued from this quotation)",
            ));
        }
        let q = self.quotations.remove(&id).expect("checked above");
        self.quotation_guids.remove(&q.guid);
        Ok(q)
    }

    pub(crate) fn set_quotation_closed(
        &mut self,
        id: i32,
        closed: bool,
    ) -> Result<Quotation, SimError> {
        let q = self
            .quotations
            .get_mut(&id)
            .ok_or_else(|| SimError::not_found("Quotation", id))?;
        q.closed = closed;
        Ok(q.clone())
    }

    pub(crate) fn quotation_by_guid(&self, g: &Uuid) -> Option<&Quotation> {
        self.quotation_guids
            .get(g)
            .and_then(|id| self.quotations.get(id))
    }

    pub(crate) fn insert_invoice(
        &mut self,
        d: DocInput,
        quotation_ref: Option<i32>,
    ) -> Result<Invoice, SimError> {
        if self.invoice_guids.contains_key(&d.guid) {
            return Err(dup_guid());
        }
        self.check_doc(&d)?;
        let fy = self.fiscal_year_id(d.date)?;
        let number = self.next_number(DocKind::Invoice, fy, d.sale_type_ref);
        let id = next(&mut self.seq.invoice);
        let mut items = Vec::with_capacity(d.lines.len());
        for line in d.lines {
            items.push(InvoiceItem {
                invoice_item_id: next(&mut self.seq.invoice_item),
                line,
            });
        }
        let inv = Invoice {
            invoice_id: id,
            guid: d.guid,
            order_ref: None,
            quotation_ref,
            number,
            date: d.date,
            fiscal_year_ref: fy,
            customer_ref: d.customer_ref,
            currency_ref: d.currency_ref,
            rate: d.rate,
            sale_type_ref: d.sale_type_ref,
            address_ref: d.address_ref,
            settlement_type: d.settlement_type,
            discount_on_customer: d.discount_on_customer,
            totals: d.totals,
            agreement_ref: None,
            remaining_amount: d.totals.net_price,
            total_received_amount: Decimal::ZERO,
            state: 1,
            description: d.description,
            invoice_items: items,
        };
        self.invoice_guids.insert(inv.guid, id);
        self.adjust_balance(inv.customer_ref, inv.totals.net_price);
        self.invoices.insert(id, inv.clone());
        Ok(inv)
    }

    pub(crate) fn create_invoice(
        &mut self,
        n: &NewDocument,
        quotation_ref: Option<i32>,
    ) -> Result<Invoice, SimError> {
        let d = self.doc_from_new(n)?;
        self.insert_invoice(d, quotation_ref)
    }

    pub(crate) fn invoice_from_quotation(
        &mut self,
        qid: i32,
        date: NaiveDate,
    ) -> Result<Invoice, SimError> {
        let q = self
            .quotations
            .get(&qid)
            .ok_or_else(|| SimError::not_found("Quotation", qid))?;
        if q.closed {
            return Err(SimError::bad_request(
                "پیش‌فاکتور بسته شده است (quotation is closed)",
            ));
        }
        let d = DocInput {
            guid: Uuid::new_v4(),
            customer_ref: q.customer_ref,
            address_ref: q.address_ref,
            sale_type_ref: q.sale_type_ref,
            currency_ref: q.currency_ref,
            rate: q.rate,
            date,
            expiration_date: None,
            settlement_type: 2,
            discount_on_customer: q.discount_on_customer,
            description: q.description.clone(),
            totals: q.totals,
            lines: q.items.iter().map(|i| i.line.clone()).collect(),
        };
        let inv = self.insert_invoice(d, Some(qid))?;
        self.set_quotation_closed(qid, true)?;
        Ok(inv)
    }

    pub(crate) fn edit_invoice(
        &mut self,
        id: i32,
        f: impl FnOnce(&mut Invoice),
    ) -> Result<Invoice, SimError> {
        let old = self
            .invoices
            .get(&id)
            .ok_or_else(|| SimError::not_found("Invoice", id))?;
        let lines: Vec<Line> = old.invoice_items.iter().map(|i| i.line.clone()).collect();
        let (xd, xa) = Self::extras(&old.totals, &lines);
        let old_net = old.totals.net_price;
        let old_customer = old.customer_ref;
        let mut inv = old.clone();
        f(&mut inv);
        inv.invoice_id = id;
        inv.guid = old.guid;
        let mut lines: Vec<Line> = inv.invoice_items.iter().map(|i| i.line.clone()).collect();
        self.recompute_lines(&mut lines)?;
        for (it, l) in inv.invoice_items.iter_mut().zip(lines.iter()) {
            it.line = l.clone();
            if it.invoice_item_id <= 0 {
                it.invoice_item_id = next(&mut self.seq.invoice_item);
            }
        }
        inv.totals = Self::sum_totals(&lines, xd, xa);
        inv.fiscal_year_ref = self.fiscal_year_id(inv.date)?;
        inv.remaining_amount = inv.totals.net_price - inv.total_received_amount;
        let d = DocInput {
            guid: inv.guid,
            customer_ref: inv.customer_ref,
            address_ref: inv.address_ref,
            sale_type_ref: inv.sale_type_ref,
            currency_ref: inv.currency_ref,
            rate: inv.rate,
            date: inv.date,
            expiration_date: None,
            settlement_type: inv.settlement_type,
            discount_on_customer: inv.discount_on_customer,
            description: None,
            totals: inv.totals,
            lines,
        };
        self.check_doc(&d)?;
        self.adjust_balance(old_customer, -old_net);
        self.adjust_balance(inv.customer_ref, inv.totals.net_price);
        self.forget_invoice_json(id);
        self.invoices.insert(id, inv.clone());
        Ok(inv)
    }

    pub(crate) fn delete_invoice(&mut self, id: i32) -> Result<Invoice, SimError> {
        if !self.invoices.contains_key(&id) {
            return Err(SimError::not_found("Invoice", id));
        }
        if self.returned.values().any(|r| r.invoice_ref == Some(id)) {
            return Err(SimError::bad_request(
                "برای این فاکتور برگشت از فروش ثبت شده است (invoice has returned invoices)",
            ));
        }
        let inv = self.invoices.remove(&id).expect("checked above");
        self.forget_invoice_json(id);
        self.invoice_guids.remove(&inv.guid);
        self.adjust_balance(inv.customer_ref, -inv.totals.net_price);
        Ok(inv)
    }

    /// The JSON of an invoice, serialized once and cached.
    pub(crate) fn invoice_json(&self, inv: &Invoice) -> Arc<[u8]> {
        let mut cache = self.invoice_json.lock().expect("cache lock");
        cache
            .entry(inv.invoice_id)
            .or_insert_with(|| {
                serde_json::to_vec(inv)
                    .unwrap_or_else(|_| b"null".to_vec())
                    .into()
            })
            .clone()
    }

    fn forget_invoice_json(&self, id: i32) {
        self.invoice_json.lock().expect("cache lock").remove(&id);
    }

    pub(crate) fn invoice_by_guid(&self, g: &Uuid) -> Option<&Invoice> {
        self.invoice_guids
            .get(g)
            .and_then(|id| self.invoices.get(id))
    }

    pub(crate) fn create_returned(
        &mut self,
        invoice_ref: i32,
        date: NaiveDate,
        lines: &[ReturnLine],
        description: Option<String>,
    ) -> Result<ReturnedInvoice, SimError> {
        let inv = self
            .invoices
            .get(&invoice_ref)
            .ok_or_else(|| SimError::not_found("Invoice", invoice_ref))?;
        if date < inv.date {
            return Err(SimError::bad_request(
                "تاریخ برگشت قبل از تاریخ فاکتور است (return dated before the invoice)",
            ));
        }
        if lines.is_empty() {
            return Err(SimError::bad_request("سند بدون ردیف است (no lines)"));
        }
        let mut out = Vec::with_capacity(lines.len());
        for (i, rl) in lines.iter().enumerate() {
            let src = inv
                .invoice_items
                .iter()
                .find(|x| x.invoice_item_id == rl.invoice_item_id)
                .ok_or_else(|| {
                    SimError::bad_request(format!(
                        "ردیف فاکتور یافت نشد (InvoiceItemID {})",
                        rl.invoice_item_id
                    ))
                })?;
            let already: Decimal = self
                .returned
                .values()
                .flat_map(|r| r.items.iter())
                .filter(|x| x.invoice_item_ref == Some(rl.invoice_item_id))
                .map(|x| x.line.quantity)
                .sum();
            if rl.quantity <= Decimal::ZERO || rl.quantity + already > src.line.quantity {
                return Err(SimError::bad_request(format!(
                    "مقدار برگشتی بیش از مقدار فاکتور است (quantity {} exceeds what is left of line {})",
                    rl.quantity, rl.invoice_item_id
                )));
            }
            let share = |v: Decimal| round_rial(v * rl.quantity / src.line.quantity);
            let price = round_rial(rl.quantity * src.line.fee);
            let (discount, tax, duty, addition) = (
                share(src.line.discount),
                share(src.line.tax),
                share(src.line.duty),
                share(src.line.addition),
            );
            out.push((
                src.invoice_item_id,
                Line {
                    row_id: i as i32 + 1,
                    item_ref: src.line.item_ref,
                    tracing_ref: src.line.tracing_ref,
                    stock_ref: src.line.stock_ref,
                    quantity: rl.quantity,
                    secondary_quantity: None,
                    fee: src.line.fee,
                    price,
                    discount,
                    tax,
                    duty,
                    addition,
                    net_price: net(price, discount, addition, tax, duty),
                    description: None,
                },
            ));
        }
        let (customer_ref, currency_ref, rate, sale_type_ref, address_ref) = (
            inv.customer_ref,
            inv.currency_ref,
            inv.rate,
            inv.sale_type_ref,
            inv.address_ref,
        );
        let fy = self.fiscal_year_id(date)?;
        let number = self.next_number(DocKind::Returned, fy, sale_type_ref);
        let lines_only: Vec<Line> = out.iter().map(|(_, l)| l.clone()).collect();
        let totals = Self::sum_totals(&lines_only, Decimal::ZERO, Decimal::ZERO);
        let id = next(&mut self.seq.returned);
        let mut items = Vec::with_capacity(out.len());
        for (src, line) in out {
            items.push(ReturnedInvoiceItem {
                returned_invoice_item_id: next(&mut self.seq.returned_item),
                invoice_item_ref: Some(src),
                line,
            });
        }
        let r = ReturnedInvoice {
            returned_invoice_id: id,
            guid: Uuid::new_v4(),
            invoice_ref: Some(invoice_ref),
            number,
            date,
            fiscal_year_ref: fy,
            customer_ref,
            currency_ref,
            rate,
            sale_type_ref,
            address_ref,
            totals,
            description,
            items,
        };
        self.returned_guids.insert(r.guid, id);
        self.adjust_balance(customer_ref, -totals.net_price);
        self.returned.insert(id, r.clone());
        Ok(r)
    }

    pub(crate) fn delete_returned(&mut self, id: i32) -> Result<ReturnedInvoice, SimError> {
        let r = self
            .returned
            .remove(&id)
            .ok_or_else(|| SimError::not_found("ReturnedInvoice", id))?;
        self.returned_guids.remove(&r.guid);
        self.adjust_balance(r.customer_ref, r.totals.net_price);
        Ok(r)
    }

    // --------------------------------------------------------------- receipts

    pub(crate) fn insert_receipt(&mut self, r: ReceiptInput) -> Result<Receipt, SimError> {
        fn bad(m: impl Into<String>) -> SimError {
            SimError::bad_request(m)
        }
        if self.receipt_guids.contains_key(&r.guid) {
            return Err(dup_guid());
        }
        if !self.customers.contains_key(&r.customer_ref) {
            return Err(bad(format!(
                "مشتری یافت نشد (unknown CustomerRef {})",
                r.customer_ref
            )));
        }
        if !self.currencies.contains_key(&r.currency_ref) {
            return Err(bad(format!(
                "ارز نامعتبر است (unknown CurrencyRef {})",
                r.currency_ref
            )));
        }
        if r.rate <= Decimal::ZERO {
            return Err(bad("نرخ ارز نامعتبر است (Rate must be positive)"));
        }
        if r.discount < Decimal::ZERO {
            return Err(bad("تخفیف منفی مجاز نیست (Discount must not be negative)"));
        }
        if r.drafts.is_empty() {
            return Err(bad("دریافت بدون حواله است (Drafts must not be empty)"));
        }
        for (i, d) in r.drafts.iter().enumerate() {
            let (account, amount) = (&d.bank_account_id, &d.amount);
            let acc = self.bank_accounts.get(account).ok_or_else(|| {
                bad(format!(
                    "حساب بانکی یافت نشد (unknown Drafts[{i}].BankAccountID {account})"
                ))
            })?;
            if acc.currency_ref != r.currency_ref {
                return Err(bad(format!(
                    "ارز حساب بانکی با ارز دریافت یکسان نیست (Drafts[{i}].BankAccountID {account} currency differs)"
                )));
            }
            if *amount <= Decimal::ZERO {
                return Err(bad(format!(
                    "مبلغ حواله باید مثبت باشد (Drafts[{i}].Amount must be positive)"
                )));
            }
        }
        let fy = self.fiscal_year_id(r.date)?;
        let number = self.next_number(DocKind::Receipt, fy, 0);
        let id = next(&mut self.seq.receipt);
        let mut drafts = Vec::with_capacity(r.drafts.len());
        let mut amount = Decimal::ZERO;
        for d in r.drafts {
            amount += d.amount;
            drafts.push(ReceiptDraft {
                receipt_draft_id: next(&mut self.seq.draft),
                date: d.date,
                description: d.description,
                number: d.number,
                bank_account_id: d.bank_account_id,
                amount: d.amount,
            });
        }
        let rec = Receipt {
            receipt_id: id,
            guid: r.guid,
            number,
            date: r.date,
            fiscal_year_ref: fy,
            customer_ref: r.customer_ref,
            currency_ref: r.currency_ref,
            rate: r.rate,
            amount,
            discount: r.discount,
            total_amount: amount + r.discount,
            description: r.description,
            drafts,
        };
        self.receipt_guids.insert(rec.guid, id);
        self.adjust_balance(rec.customer_ref, -rec.total_amount);
        self.receipts.insert(id, rec.clone());
        Ok(rec)
    }

    pub(crate) fn receipt_by_guid(&self, g: &Uuid) -> Option<&Receipt> {
        self.receipt_guids
            .get(g)
            .and_then(|id| self.receipts.get(id))
    }

    pub(crate) fn returned_by_guid(&self, g: &Uuid) -> Option<&ReturnedInvoice> {
        self.returned_guids
            .get(g)
            .and_then(|id| self.returned.get(id))
    }
}

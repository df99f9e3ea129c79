//! A product as stored: its row, its columns, and the conversions between
//! the row, the new product and the product the API shows.

use crate::crm::{NewProduct, Product};
use crate::store::Dec;
use crate::store::error::{Result, StoreError};
use crate::store::sql::{Arg, currency};

pub(super) const PRODUCT_COLS: &str = "id, code, name, unit, sales_price, currency, tax_percent, \
    toll_percent, tax_exempt, origin, version, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(super) struct ProductRow {
    id: i64,
    code: String,
    name: String,
    unit: String,
    sales_price: Dec,
    currency: String,
    tax_percent: Option<Dec>,
    toll_percent: Option<Dec>,
    tax_exempt: bool,
    origin: String,
    version: i64,
    created_at: String,
    updated_at: String,
}

impl TryFrom<ProductRow> for Product {
    type Error = StoreError;
    fn try_from(r: ProductRow) -> Result<Product> {
        Ok(Product {
            id: r.id,
            code: r.code,
            name: r.name,
            unit: r.unit,
            sales_price: r.sales_price.0,
            currency: currency(&r.currency)?,
            tax_percent: r.tax_percent.map(|d| d.0),
            toll_percent: r.toll_percent.map(|d| d.0),
            tax_exempt: r.tax_exempt,
            origin: r.origin,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
            // Read from `crm_warnings` by the caller.
            warnings: Vec::new(),
        })
    }
}

pub(super) fn product_args(p: &NewProduct) -> Vec<Arg> {
    vec![
        Arg::Text(p.code.clone()),
        Arg::Text(p.name.clone()),
        Arg::Text(p.unit.clone()),
        Arg::Dec(p.sales_price),
        Arg::Text(p.currency.code().into()),
        Arg::OptDec(p.tax_percent),
        Arg::OptDec(p.toll_percent),
        Arg::Bool(p.tax_exempt),
    ]
}

pub(super) fn product_from_new(
    id: i64,
    p: &NewProduct,
    origin: &str,
    version: i64,
    created_at: String,
    updated_at: String,
) -> Product {
    Product {
        id,
        code: p.code.clone(),
        name: p.name.clone(),
        unit: p.unit.clone(),
        sales_price: p.sales_price,
        currency: p.currency,
        tax_percent: p.tax_percent,
        toll_percent: p.toll_percent,
        tax_exempt: p.tax_exempt,
        origin: origin.to_owned(),
        version,
        created_at,
        updated_at,
        warnings: p.warnings.clone(),
    }
}

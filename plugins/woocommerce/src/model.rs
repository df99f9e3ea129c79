//! WooCommerce REST v3 resources, the fields this connector reads
//! (integrations.md §4.4). Money fields are strings with two decimals;
//! they are parsed exactly (see [`crate::json`]).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::json;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PostalAddress {
    #[serde(deserialize_with = "json::text")]
    pub first_name: String,
    #[serde(deserialize_with = "json::text")]
    pub last_name: String,
    #[serde(deserialize_with = "json::text")]
    pub company: String,
    #[serde(deserialize_with = "json::text")]
    pub address_1: String,
    #[serde(deserialize_with = "json::text")]
    pub address_2: String,
    #[serde(deserialize_with = "json::text")]
    pub city: String,
    #[serde(deserialize_with = "json::text")]
    pub state: String,
    #[serde(deserialize_with = "json::text")]
    pub postcode: String,
    #[serde(deserialize_with = "json::text")]
    pub country: String,
    #[serde(deserialize_with = "json::text")]
    pub email: String,
    #[serde(deserialize_with = "json::text")]
    pub phone: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Customer {
    pub id: i64,
    #[serde(deserialize_with = "json::text")]
    pub date_modified_gmt: String,
    #[serde(deserialize_with = "json::text")]
    pub email: String,
    #[serde(deserialize_with = "json::text")]
    pub first_name: String,
    #[serde(deserialize_with = "json::text")]
    pub last_name: String,
    #[serde(deserialize_with = "json::text")]
    pub username: String,
    #[serde(deserialize_with = "json::null_default")]
    pub billing: PostalAddress,
    #[serde(deserialize_with = "json::null_default")]
    pub shipping: PostalAddress,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct LineItem {
    pub id: i64,
    #[serde(deserialize_with = "json::text")]
    pub name: String,
    pub product_id: i64,
    pub variation_id: i64,
    #[serde(deserialize_with = "json::dec")]
    pub quantity: Decimal,
    #[serde(deserialize_with = "json::dec")]
    pub subtotal: Decimal,
    #[serde(deserialize_with = "json::dec")]
    pub total: Decimal,
    #[serde(deserialize_with = "json::dec")]
    pub total_tax: Decimal,
    #[serde(deserialize_with = "json::text")]
    pub sku: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ShippingLine {
    #[serde(deserialize_with = "json::text")]
    pub method_title: String,
    #[serde(deserialize_with = "json::dec")]
    pub total: Decimal,
    #[serde(deserialize_with = "json::dec")]
    pub total_tax: Decimal,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct FeeLine {
    #[serde(deserialize_with = "json::text")]
    pub name: String,
    #[serde(deserialize_with = "json::dec")]
    pub total: Decimal,
    #[serde(deserialize_with = "json::dec")]
    pub total_tax: Decimal,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct CouponLine {
    #[serde(deserialize_with = "json::text")]
    pub code: String,
    #[serde(deserialize_with = "json::dec")]
    pub discount: Decimal,
    #[serde(deserialize_with = "json::dec")]
    pub discount_tax: Decimal,
}

/// An order's summary of one refund (`refunds[]`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct RefundRef {
    pub id: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Order {
    pub id: i64,
    #[serde(deserialize_with = "json::text")]
    pub number: String,
    #[serde(deserialize_with = "json::text")]
    pub status: String,
    #[serde(deserialize_with = "json::text")]
    pub currency: String,
    #[serde(deserialize_with = "json::text")]
    pub date_created_gmt: String,
    #[serde(deserialize_with = "json::text")]
    pub date_modified_gmt: String,
    #[serde(deserialize_with = "json::text")]
    pub date_paid_gmt: String,
    #[serde(deserialize_with = "json::dec")]
    pub discount_total: Decimal,
    #[serde(deserialize_with = "json::dec")]
    pub shipping_total: Decimal,
    #[serde(deserialize_with = "json::dec")]
    pub total: Decimal,
    #[serde(deserialize_with = "json::dec")]
    pub total_tax: Decimal,
    pub customer_id: i64,
    #[serde(deserialize_with = "json::text")]
    pub customer_note: String,
    #[serde(deserialize_with = "json::null_default")]
    pub billing: PostalAddress,
    #[serde(deserialize_with = "json::null_default")]
    pub shipping: PostalAddress,
    #[serde(deserialize_with = "json::text")]
    pub payment_method: String,
    #[serde(deserialize_with = "json::text")]
    pub payment_method_title: String,
    #[serde(deserialize_with = "json::text")]
    pub transaction_id: String,
    #[serde(deserialize_with = "json::null_default")]
    pub line_items: Vec<LineItem>,
    #[serde(deserialize_with = "json::null_default")]
    pub shipping_lines: Vec<ShippingLine>,
    #[serde(deserialize_with = "json::null_default")]
    pub fee_lines: Vec<FeeLine>,
    #[serde(deserialize_with = "json::null_default")]
    pub coupon_lines: Vec<CouponLine>,
    #[serde(deserialize_with = "json::null_default")]
    pub refunds: Vec<RefundRef>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct RefundLine {
    pub product_id: i64,
    #[serde(deserialize_with = "json::text")]
    pub name: String,
    /// Negative in refunds.
    #[serde(deserialize_with = "json::dec")]
    pub quantity: Decimal,
    #[serde(deserialize_with = "json::dec")]
    pub subtotal: Decimal,
    #[serde(deserialize_with = "json::dec")]
    pub total: Decimal,
    #[serde(deserialize_with = "json::dec")]
    pub total_tax: Decimal,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Refund {
    pub id: i64,
    #[serde(deserialize_with = "json::text")]
    pub date_created_gmt: String,
    #[serde(deserialize_with = "json::dec")]
    pub amount: Decimal,
    #[serde(deserialize_with = "json::text")]
    pub reason: String,
    #[serde(deserialize_with = "json::null_default")]
    pub line_items: Vec<RefundLine>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Product {
    pub id: i64,
    #[serde(deserialize_with = "json::text")]
    pub name: String,
    #[serde(deserialize_with = "json::text")]
    pub sku: String,
    #[serde(deserialize_with = "json::text")]
    pub status: String,
    #[serde(deserialize_with = "json::opt_dec")]
    pub price: Option<Decimal>,
    #[serde(deserialize_with = "json::opt_dec")]
    pub regular_price: Option<Decimal>,
    #[serde(deserialize_with = "json::text")]
    pub tax_status: String,
    #[serde(deserialize_with = "json::text")]
    pub date_modified_gmt: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default)]
pub struct Webhook {
    pub id: i64,
    pub name: String,
    pub status: String,
    pub topic: String,
    pub delivery_url: String,
}

/// `GET /data/currencies/current`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CurrentCurrency {
    pub code: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_with_nulls_and_numbers_in_text_fields_parses() {
        let o: Order = serde_json::from_str(
            r#"{"id": 7, "number": 1007, "status": "processing", "total": "10.50",
                "billing": null, "line_items": null, "customer_note": null,
                "refunds": [{"id": 3, "reason": "", "total": "-1.00"}]}"#,
        )
        .unwrap();
        assert_eq!(o.number, "1007");
        assert_eq!(o.total.to_string(), "10.50");
        assert!(o.line_items.is_empty());
        assert_eq!(o.refunds[0].id, 3);
    }
}

//! Products (S13): the repository. Every write records its change in the
//! [journal](super::journal) in the same transaction.

mod checks;
mod entity;

use super::error::{Result, StoreError};
use super::journal::record_one;
use super::sql::{Arg, CHUNK, bind_args, for_update, now, placeholders};
use super::warnings::{put_warnings, warning_filter, warnings_in_op, warnings_of};
use super::{Db, Tx};
use crate::crm::kinds::{EntityKind, Operation};
use crate::crm::{Actor, NewProduct, Product, WarningRule};
use checks::duplicate_code;
use entity::{PRODUCT_COLS, ProductRow, product_args, product_from_new};
use std::collections::HashMap;

/// Create a product in the caller's transaction.
pub async fn create_product_in_op(tx: &mut Tx, actor: &Actor, new: &NewProduct) -> Result<Product> {
    let at = now();
    let sql = "INSERT INTO crm_products (code, name, unit, sales_price, currency, tax_percent, \
        toll_percent, tax_exempt, tenant, origin, version, created_at, updated_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $11) RETURNING id";
    let mut args = product_args(new);
    args.extend([
        Arg::Text(actor.tenant.clone()),
        Arg::Text(actor.origin.clone()),
        Arg::Text(at.clone()),
    ]);
    let id: i64 =
        on_tx!(tx, c => bind_args!(sqlx::query_scalar(sql), &args).fetch_one(&mut *c).await)
            .map_err(|e| duplicate_code(e, new))?;
    put_warnings(tx, &actor.tenant, EntityKind::Product, id, &new.warnings).await?;
    let product = product_from_new(id, new, &actor.origin, 1, at.clone(), at);
    record_one(
        tx,
        actor,
        EntityKind::Product,
        id,
        Operation::Create,
        None,
        Some(&product),
    )
    .await?;
    Ok(product)
}

/// Create a product in its own transaction.
pub async fn create_product(db: &Db, actor: &Actor, new: &NewProduct) -> Result<Product> {
    let mut tx = db.begin().await?;
    let p = create_product_in_op(&mut tx, actor, new).await?;
    tx.commit().await?;
    Ok(p)
}

/// One product of the tenant.
pub async fn get_product(db: &Db, tenant: &str, id: i64) -> Result<Product> {
    let sql = format!("SELECT {PRODUCT_COLS} FROM crm_products WHERE tenant = $1 AND id = $2");
    let row: Option<ProductRow> =
        on_pool!(db, p => sqlx::query_as(&sql).bind(tenant).bind(id).fetch_optional(p).await)?;
    let mut product: Product = row
        .ok_or(StoreError::NotFound {
            kind: EntityKind::Product.as_str(),
            id,
        })?
        .try_into()?;
    product.warnings = warnings_of(db, tenant, EntityKind::Product, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    Ok(product)
}

/// The tenant's products among `ids` (missing ids are simply absent).
pub async fn products_by_id(db: &Db, tenant: &str, ids: &[i64]) -> Result<HashMap<i64, Product>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let list = placeholders(1, chunk.len(), 1);
        let sql =
            format!("SELECT {PRODUCT_COLS} FROM crm_products WHERE tenant = $1 AND id IN {list}");
        let mut args = vec![Arg::Text(tenant.into())];
        args.extend(chunk.iter().map(|i| Arg::I64(*i)));
        let rows: Vec<ProductRow> =
            on_pool!(db, p => bind_args!(sqlx::query_as(&sql), &args).fetch_all(p).await)?;
        for r in rows {
            let p = Product::try_from(r)?;
            out.insert(p.id, p);
        }
    }
    Ok(out)
}

/// List filters for products.
#[derive(Debug, Clone, Default)]
pub struct ProductFilter {
    /// Exact item code.
    pub code: Option<String>,
    /// With (`true`) or without (`false`) data-quality warnings.
    pub has_warnings: Option<bool>,
    /// With a warning of this rule.
    pub warning: Option<WarningRule>,
}

/// One page of products with `id > after` (`limit + 1` rows).
pub async fn list_products(
    db: &Db,
    tenant: &str,
    filter: &ProductFilter,
    after: i64,
    limit: u32,
) -> Result<Vec<Product>> {
    let mut sql = format!("SELECT {PRODUCT_COLS} FROM crm_products WHERE tenant = $1 AND id > $2");
    let mut args = vec![Arg::Text(tenant.into()), Arg::I64(after)];
    if let Some(c) = &filter.code {
        args.push(Arg::Text(c.clone()));
        sql.push_str(" AND code = $3");
    }
    warning_filter(
        "crm_products",
        EntityKind::Product,
        filter.has_warnings,
        filter.warning,
        &mut args,
        &mut sql,
    );
    sql.push_str(&format!(" ORDER BY id LIMIT {}", u64::from(limit) + 1));
    let rows: Vec<ProductRow> =
        on_pool!(db, p => bind_args!(sqlx::query_as(&sql), &args).fetch_all(p).await)?;
    let mut products = rows
        .into_iter()
        .map(Product::try_from)
        .collect::<Result<Vec<_>>>()?;
    let ids: Vec<i64> = products.iter().map(|p| p.id).collect();
    let mut warnings = warnings_of(db, tenant, EntityKind::Product, &ids).await?;
    for p in &mut products {
        p.warnings = warnings.remove(&p.id).unwrap_or_default();
    }
    Ok(products)
}

/// Replace a product's fields.
pub async fn update_product(db: &Db, actor: &Actor, id: i64, new: &NewProduct) -> Result<Product> {
    let mut tx = db.begin().await?;
    let after = update_product_in_op(&mut tx, actor, id, new).await?;
    tx.commit().await?;
    Ok(after)
}

/// A product, locked for the rest of the transaction (PostgreSQL).
async fn product_in_op(tx: &mut Tx, tenant: &str, id: i64) -> Result<Product> {
    let sql = format!(
        "SELECT {PRODUCT_COLS} FROM crm_products WHERE tenant = $1 AND id = $2{}",
        for_update(tx)
    );
    let row: Option<ProductRow> =
        on_tx!(tx, c => sqlx::query_as(&sql).bind(tenant).bind(id).fetch_optional(&mut *c).await)?;
    let mut product: Product = row
        .ok_or(StoreError::NotFound {
            kind: EntityKind::Product.as_str(),
            id,
        })?
        .try_into()?;
    product.warnings = warnings_in_op(tx, tenant, EntityKind::Product, id).await?;
    Ok(product)
}

/// Replace a product in the caller's transaction.
pub async fn update_product_in_op(
    tx: &mut Tx,
    actor: &Actor,
    id: i64,
    new: &NewProduct,
) -> Result<Product> {
    let before = product_in_op(tx, &actor.tenant, id).await?;
    let at = now();
    let sql = "UPDATE crm_products SET code = $1, name = $2, unit = $3, sales_price = $4, \
        currency = $5, tax_percent = $6, toll_percent = $7, tax_exempt = $8, \
        version = version + 1, updated_at = $9 WHERE tenant = $10 AND id = $11";
    let mut args = product_args(new);
    args.extend([
        Arg::Text(at.clone()),
        Arg::Text(actor.tenant.clone()),
        Arg::I64(id),
    ]);
    on_tx!(tx, c => bind_args!(sqlx::query(sql), &args).execute(&mut *c).await.map(|_| ()))
        .map_err(|e| duplicate_code(e, new))?;
    put_warnings(tx, &actor.tenant, EntityKind::Product, id, &new.warnings).await?;
    let after = product_from_new(
        id,
        new,
        &before.origin,
        before.version + 1,
        before.created_at.clone(),
        at,
    );
    record_one(
        tx,
        actor,
        EntityKind::Product,
        id,
        Operation::Update,
        Some(&before),
        Some(&after),
    )
    .await?;
    Ok(after)
}

/// Delete a product (lines keep their amounts; the product id on them
/// remains as history).
pub async fn delete_product(db: &Db, actor: &Actor, id: i64) -> Result<()> {
    let mut tx = db.begin().await?;
    delete_product_in_op(&mut tx, actor, id).await?;
    tx.commit().await?;
    Ok(())
}

/// Delete a product in the caller's transaction.
pub async fn delete_product_in_op(tx: &mut Tx, actor: &Actor, id: i64) -> Result<()> {
    let before = product_in_op(tx, &actor.tenant, id).await?;
    on_tx!(tx, c => sqlx::query("DELETE FROM crm_products WHERE tenant = $1 AND id = $2")
        .bind(&actor.tenant).bind(id).execute(&mut *c).await.map(|_| ()))?;
    put_warnings(tx, &actor.tenant, EntityKind::Product, id, &[]).await?;
    record_one(
        tx,
        actor,
        EntityKind::Product,
        id,
        Operation::Delete,
        Some(&before),
        None,
    )
    .await
}

//! A party as stored: its row, its columns, and the conversions between
//! the row, the new party and the party the API shows.

use crate::crm::{Address, NewParty, Party, PartyKind, PhoneEntry};
use crate::store::error::{Result, StoreError, corrupt};
use crate::store::sql::{Arg, jalali, json};

pub(super) const PARTY_COLS: &str = "id, kind, first_name, last_name, name, customer_number, company_code, \
    national_id, registration_number, economic_code, birth_date, email, phones, addresses, \
    origin, version, created_at, updated_at";

#[derive(sqlx::FromRow)]
pub(super) struct PartyRow {
    id: i64,
    kind: String,
    first_name: Option<String>,
    last_name: Option<String>,
    name: Option<String>,
    customer_number: String,
    company_code: i32,
    national_id: Option<String>,
    registration_number: Option<String>,
    economic_code: Option<String>,
    birth_date: Option<String>,
    email: Option<String>,
    phones: String,
    addresses: String,
    origin: String,
    version: i64,
    created_at: String,
    updated_at: String,
}

impl TryFrom<PartyRow> for Party {
    type Error = StoreError;
    fn try_from(r: PartyRow) -> Result<Party> {
        Ok(Party {
            id: r.id,
            kind: PartyKind::parse(&r.kind).ok_or_else(|| corrupt("party kind", &r.kind))?,
            first_name: r.first_name,
            last_name: r.last_name,
            name: r.name,
            customer_number: r.customer_number,
            company_code: u16::try_from(r.company_code).map_err(|e| corrupt("company_code", e))?,
            national_id: r.national_id,
            registration_number: r.registration_number,
            economic_code: r.economic_code,
            birth_date: r.birth_date.map(|d| jalali("birth_date", &d)).transpose()?,
            email: r.email,
            phones: serde_json::from_str::<Vec<PhoneEntry>>(&r.phones)
                .map_err(|e| corrupt("phones", e))?,
            addresses: serde_json::from_str::<Vec<Address>>(&r.addresses)
                .map_err(|e| corrupt("addresses", e))?,
            origin: r.origin,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
            // Read from `crm_warnings` by the caller.
            warnings: Vec::new(),
        })
    }
}

pub(super) fn party_args(p: &NewParty) -> Result<Vec<Arg>> {
    Ok(vec![
        Arg::Text(p.kind.as_str().into()),
        Arg::OptText(p.first_name.clone()),
        Arg::OptText(p.last_name.clone()),
        Arg::OptText(p.name.clone()),
        Arg::Text(p.customer_number.clone()),
        Arg::I64(i64::from(p.company_code)),
        Arg::OptText(p.national_id.clone()),
        Arg::OptText(p.registration_number.clone()),
        Arg::OptText(p.economic_code.clone()),
        Arg::OptText(p.birth_date.map(|d| d.to_string())),
        Arg::OptText(p.email.clone()),
        Arg::Text(json(&p.phones)?),
        Arg::Text(json(&p.addresses)?),
    ])
}

pub(super) fn party_from_new(
    id: i64,
    p: &NewParty,
    origin: &str,
    version: i64,
    created_at: String,
    updated_at: String,
) -> Party {
    Party {
        id,
        kind: p.kind,
        first_name: p.first_name.clone(),
        last_name: p.last_name.clone(),
        name: p.name.clone(),
        customer_number: p.customer_number.clone(),
        company_code: p.company_code,
        national_id: p.national_id.clone(),
        registration_number: p.registration_number.clone(),
        economic_code: p.economic_code.clone(),
        birth_date: p.birth_date,
        email: p.email.clone(),
        phones: p.phones.clone(),
        addresses: p.addresses.clone(),
        origin: origin.to_owned(),
        version,
        created_at,
        updated_at,
        warnings: p.warnings.clone(),
    }
}

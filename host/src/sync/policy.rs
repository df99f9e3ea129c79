//! Whether a CRM change travels to a ledger, and where: the seed rules
//! (S8–S16, H10's onward rules for a shop) in one place.
//!
//! [`decide`] is the only function that answers. The outbox is routed with
//! [`Stage::Route`] (kind, operation, origin, the tenant's connectors with
//! their roles, company codes and declared directions); the delivery to
//! the chosen instance asks again with [`Stage::Deliver`], because the
//! facts that only exist then — the record's link in that instance (a shop
//! product is linked by code on the shop's next pull), a document's
//! approval — decide the rest. A change that stays carries a typed
//! [`Stay`] that renders as the message people see on the outbox row.

use crate::crm::Status;
use crate::crm::kinds::{CompanyCode, EntityKind, LinkOrigin, LinkStatus, Operation, Origin};
use crate::runtime::bindings::connector::exports::hamgam::ledger0_1_0::connector as ledger;
use crate::runtime::bindings::types as wit;
use std::fmt;

/// The requirement a decision applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleId {
    /// Edits only from the origin side; nothing goes back where it came from.
    S8,
    /// A CRM party (and its type change) goes to the books (S2, S9).
    S9,
    /// CRM quotes (and orders) go to the books.
    S10,
    /// A quote from the ledger is edited there.
    S11,
    /// Deleting a CRM-origin quote leaves the ledger's copy.
    S12,
    /// Products only ledger → CRM.
    S13,
    /// Sales invoices and returns only ledger → CRM.
    S14,
    /// Purchase documents only ledger → CRM.
    S15,
    /// Receipts and payments only ledger → CRM.
    S16,
    /// S17: the company code picks the instance.
    S17,
    /// A shop's customers and invoices go on to the books; the books'
    /// prices go on to the shop.
    H10,
    /// F1: only approved (numbered) documents travel.
    F1,
    /// No requirement sends it: party deletions, rejections, kinds no
    /// ledger takes, records gone before they were routed.
    House,
}

/// Which side a change came from, as the rules tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The CRM's own API.
    Crm,
    /// A connector whose role is the books (or one not running now).
    Books,
    /// A connector that is a sales channel (a shop).
    Channel,
}

/// Which operations a rule covers.
#[derive(Debug, Clone, Copy)]
pub enum Ops {
    /// Every operation.
    Any,
    /// Only these.
    Only(&'static [Operation]),
    /// All but these.
    Except(&'static [Operation]),
}

impl Ops {
    fn covers(self, op: Operation) -> bool {
        match self {
            Ops::Any => true,
            Ops::Only(ops) => ops.contains(&op),
            Ops::Except(ops) => !ops.contains(&op),
        }
    }
}

/// Why a change stays, without its particulars (the table's word).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Because {
    /// It came from a connector; it is not sent back (S8).
    CameFromConnector,
    /// Party deletions stay in the CRM.
    PartyDeletion,
    /// S12.
    QuoteDeletion,
    /// Rejected items are not sent.
    Rejected,
    /// S13.
    ProductsFromLedgerOnly,
    /// S14.
    SalesDocumentsFromLedgerOnly,
    /// S15.
    PurchaseDocumentsFromLedgerOnly,
    /// S16.
    MoneyFromLedgerOnly,
    /// No ledger takes this kind from the CRM.
    NotForLedgers,
}

/// What a seed rule says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// To the books of the record's company.
    ToBooks,
    /// To the sales channel of the record's company that takes the kind.
    ToChannel,
    /// Nowhere.
    Stay(Because),
}

/// One seed rule of the routing table.
#[derive(Debug, Clone, Copy)]
pub struct SeedRule {
    /// The requirement.
    pub rule: RuleId,
    /// The side the change came from.
    pub from: Side,
    /// The kinds it covers.
    pub kinds: &'static [EntityKind],
    /// The operations it covers.
    pub ops: Ops,
    /// What happens.
    pub verdict: Verdict,
}

use EntityKind as K;
use Operation as Op;

const ALL_KINDS: &[EntityKind] = EntityKind::ALL;

/// The routing rules, first match wins. Every (side, kind, operation) is
/// covered: each side ends with a rule for every kind.
pub const SEED_RULES: &[SeedRule] = &[
    // From a shop: its customers and invoices go on to the company's books
    // (never back to the shop); nothing else leaves.
    SeedRule {
        rule: RuleId::H10,
        from: Side::Channel,
        kinds: &[K::Party, K::SalesInvoice],
        ops: Ops::Except(&[Op::Delete]),
        verdict: Verdict::ToBooks,
    },
    SeedRule {
        rule: RuleId::S8,
        from: Side::Channel,
        kinds: ALL_KINDS,
        ops: Ops::Any,
        verdict: Verdict::Stay(Because::CameFromConnector),
    },
    // From the books: their prices go on to the company's shop.
    SeedRule {
        rule: RuleId::H10,
        from: Side::Books,
        kinds: &[K::Product],
        ops: Ops::Except(&[Op::Delete]),
        verdict: Verdict::ToChannel,
    },
    SeedRule {
        rule: RuleId::S8,
        from: Side::Books,
        kinds: ALL_KINDS,
        ops: Ops::Any,
        verdict: Verdict::Stay(Because::CameFromConnector),
    },
    // From the CRM.
    SeedRule {
        rule: RuleId::House,
        from: Side::Crm,
        kinds: &[K::Party],
        ops: Ops::Only(&[Op::Delete]),
        verdict: Verdict::Stay(Because::PartyDeletion),
    },
    SeedRule {
        rule: RuleId::S9,
        from: Side::Crm,
        kinds: &[K::Party],
        ops: Ops::Any,
        verdict: Verdict::ToBooks,
    },
    SeedRule {
        rule: RuleId::S13,
        from: Side::Crm,
        kinds: &[K::Product],
        ops: Ops::Any,
        verdict: Verdict::Stay(Because::ProductsFromLedgerOnly),
    },
    SeedRule {
        rule: RuleId::S12,
        from: Side::Crm,
        kinds: &[K::Quote, K::SalesOrder],
        ops: Ops::Only(&[Op::Delete]),
        verdict: Verdict::Stay(Because::QuoteDeletion),
    },
    SeedRule {
        rule: RuleId::House,
        from: Side::Crm,
        kinds: &[K::Quote, K::SalesOrder],
        ops: Ops::Only(&[Op::Reject]),
        verdict: Verdict::Stay(Because::Rejected),
    },
    SeedRule {
        rule: RuleId::S10,
        from: Side::Crm,
        kinds: &[K::Quote, K::SalesOrder],
        ops: Ops::Any,
        verdict: Verdict::ToBooks,
    },
    SeedRule {
        rule: RuleId::S14,
        from: Side::Crm,
        kinds: &[K::SalesInvoice, K::SalesReturn],
        ops: Ops::Any,
        verdict: Verdict::Stay(Because::SalesDocumentsFromLedgerOnly),
    },
    SeedRule {
        rule: RuleId::S15,
        from: Side::Crm,
        kinds: &[K::PurchaseInvoice, K::PurchaseReturn],
        ops: Ops::Any,
        verdict: Verdict::Stay(Because::PurchaseDocumentsFromLedgerOnly),
    },
    SeedRule {
        rule: RuleId::S16,
        from: Side::Crm,
        kinds: &[K::Receipt, K::Payment],
        ops: Ops::Any,
        verdict: Verdict::Stay(Because::MoneyFromLedgerOnly),
    },
    SeedRule {
        rule: RuleId::House,
        from: Side::Crm,
        kinds: ALL_KINDS,
        ops: Ops::Any,
        verdict: Verdict::Stay(Because::NotForLedgers),
    },
];

/// The change an outbox row records.
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    /// The record's kind.
    pub kind: EntityKind,
    /// The record's id.
    pub id: i64,
    /// What happened to it.
    pub operation: Operation,
    /// Where the change came from.
    pub origin: &'a Origin,
}

/// A running connector instance as the rules see it.
#[derive(Debug, Clone, Copy)]
pub struct Connector<'a> {
    /// Instance name.
    pub instance: &'a str,
    /// Books or sales channel.
    pub role: ledger::ConnectorRole,
    /// The company it serves (`describe`).
    pub company: Option<CompanyCode>,
    /// The kinds it declares, with their directions (`describe`).
    pub entities: &'a [ledger::EntitySupport],
}

impl Connector<'_> {
    /// Whether it declares `kind` as taken from the CRM.
    fn takes(&self, kind: EntityKind) -> bool {
        let wanted = wit_kind(kind);
        self.entities.iter().any(|e| {
            e.kind == wanted
                && matches!(
                    e.direction,
                    ledger::Direction::CrmToLedger | ledger::Direction::Both
                )
        })
    }
}

/// What is known of the record's link in the delivering instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkFacts {
    /// Which side created the record.
    pub origin: LinkOrigin,
    /// The link's state.
    pub status: LinkStatus,
}

/// The record's company, as far as it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Company {
    /// Not read yet: it costs a query, and most changes stay by a rule
    /// before it matters ([`Decision::ReadCompany`] asks for it).
    Unread,
    /// The record no longer exists.
    Gone,
    /// The record's company.
    Is(CompanyCode),
}

/// When the question is asked, with the facts known then.
#[derive(Debug, Clone, Copy)]
pub enum Stage<'a> {
    /// Routing a new outbox row: the record's company (none: the record
    /// no longer exists) and the tenant's running connectors.
    Route {
        /// The record's company (S17).
        company: Company,
        /// The tenant's running connector instances.
        connectors: &'a [Connector<'a>],
    },
    /// Delivering to the instance it was routed to.
    Deliver {
        /// The instance.
        instance: &'a str,
        /// The record's link there.
        link: Option<LinkFacts>,
        /// A document's approval status (none for other kinds).
        status: Option<Status>,
    },
}

/// Why a change stays where it is; renders as the outbox row's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stay {
    /// A seed rule of the table.
    Seed {
        /// The rule's word.
        because: Because,
        /// The change's kind.
        kind: EntityKind,
        /// The connector it came from, for [`Because::CameFromConnector`].
        from: Option<String>,
    },
    /// The record was deleted before it was routed.
    Gone,
    /// No shop of the company takes prices.
    NoShop(CompanyCode),
    /// No books instance serves the company.
    NoBooks(CompanyCode),
    /// The company's books do not declare the kind as taken from the CRM.
    NotTaken {
        /// The company.
        company: CompanyCode,
        /// The kind.
        kind: EntityKind,
    },
    /// S8/S11: the record came from the ledger; it is edited there.
    LedgerOwned {
        /// Kind.
        kind: EntityKind,
        /// Id.
        id: i64,
    },
    /// S14: a shop's invoice already in the books is edited there.
    InvoiceInLedger(i64),
    /// H10: no shop product has the product's code.
    NotInShop(i64),
    /// F1: the document is not approved (and numbered) yet.
    NotApproved {
        /// Kind.
        kind: EntityKind,
        /// Its status.
        status: Status,
    },
}

impl Stay {
    /// The requirement that keeps the change.
    pub fn rule(&self) -> RuleId {
        match self {
            Stay::Seed { because, .. } => match because {
                Because::CameFromConnector => RuleId::S8,
                Because::PartyDeletion | Because::Rejected | Because::NotForLedgers => {
                    RuleId::House
                }
                Because::QuoteDeletion => RuleId::S12,
                Because::ProductsFromLedgerOnly => RuleId::S13,
                Because::SalesDocumentsFromLedgerOnly => RuleId::S14,
                Because::PurchaseDocumentsFromLedgerOnly => RuleId::S15,
                Because::MoneyFromLedgerOnly => RuleId::S16,
            },
            Stay::Gone => RuleId::House,
            Stay::NoShop(_) | Stay::NotInShop(_) => RuleId::H10,
            Stay::NoBooks(_) | Stay::NotTaken { .. } => RuleId::S17,
            Stay::LedgerOwned { .. } => RuleId::S11,
            Stay::InvoiceInLedger(_) => RuleId::S14,
            Stay::NotApproved { .. } => RuleId::F1,
        }
    }
}

impl fmt::Display for Stay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stay::Seed {
                because: Because::CameFromConnector,
                from,
                ..
            } => write!(
                f,
                "came from connector {}; changes are never sent back to where they came from",
                from.as_deref().unwrap_or("?")
            ),
            Stay::Seed { because, kind, .. } => match because {
                Because::CameFromConnector => unreachable!("rendered above"),
                Because::PartyDeletion => {
                    f.write_str("party deletions do not propagate to the ledger")
                }
                Because::QuoteDeletion => f.write_str(
                    "S12: deleting a CRM-origin quote leaves the ledger's copy untouched",
                ),
                Because::Rejected => f.write_str("rejected: not sent"),
                Because::ProductsFromLedgerOnly => {
                    f.write_str("S13: products travel only ledger → CRM")
                }
                Because::SalesDocumentsFromLedgerOnly => {
                    f.write_str("S14: sales invoices and returns travel only ledger → CRM")
                }
                Because::PurchaseDocumentsFromLedgerOnly => {
                    f.write_str("S15: purchase documents travel only ledger → CRM")
                }
                Because::MoneyFromLedgerOnly => {
                    f.write_str("S16: receipts and payments travel only ledger → CRM")
                }
                Because::NotForLedgers => write!(f, "{kind} records do not travel to a ledger"),
            },
            Stay::Gone => f.write_str("the record no longer exists"),
            Stay::NoShop(company) => write!(
                f,
                "no shop of company {company} takes prices (`push_stock`)"
            ),
            Stay::NoBooks(company) => {
                write!(f, "no connector instance serves company {company} (S17)")
            }
            Stay::NotTaken { company, kind } => write!(
                f,
                "the books of company {company} do not take {kind} records from the CRM \
                 (their connector's describe)"
            ),
            Stay::LedgerOwned { kind, id } => write!(
                f,
                "S8/S11: {kind} {id} came from the ledger; edits travel only from the side \
                 that created it"
            ),
            Stay::InvoiceInLedger(id) => write!(
                f,
                "sales invoice {id} is already in the ledger; invoices are edited there (S14)"
            ),
            Stay::NotInShop(id) => write!(
                f,
                "product {id} is not sold in the shop (no shop product has its code)"
            ),
            Stay::NotApproved { kind, status } => write!(
                f,
                "{kind} is {}: it travels to the ledger once approved (and numbered)",
                status.as_str()
            ),
        }
    }
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision<'a> {
    /// Send it to this instance.
    Travel {
        /// The instance.
        to: &'a str,
        /// The rule that sends it.
        rule: RuleId,
    },
    /// The ledger already has what this change creates (an earlier
    /// attempt's answer was lost; a pull recognised it).
    AlreadyThere,
    /// It does not travel.
    Stay(Stay),
    /// A rule sends it; ask again with the record's company, which picks
    /// the instance (S17).
    ReadCompany,
}

/// The side a change came from, by its origin and the connectors running.
fn side(origin: &Origin, connectors: &[Connector<'_>]) -> Side {
    match origin.connector() {
        None => Side::Crm,
        Some(instance) => {
            let channel = connectors
                .iter()
                .any(|c| c.instance == instance && c.role == ledger::ConnectorRole::SalesChannel);
            if channel { Side::Channel } else { Side::Books }
        }
    }
}

/// The first seed rule that covers a change from `from`.
pub fn seed_rule(from: Side, kind: EntityKind, op: Operation) -> &'static SeedRule {
    SEED_RULES
        .iter()
        .find(|r| r.from == from && r.kinds.contains(&kind) && r.ops.covers(op))
        .expect("every side ends with a rule for every kind")
}

/// Whether and where `change` travels, from the facts of `stage`.
pub fn decide<'a>(change: &Change<'_>, stage: &Stage<'a>) -> Decision<'a> {
    match *stage {
        Stage::Route {
            company,
            connectors,
        } => route(change, company, connectors),
        Stage::Deliver {
            instance,
            link,
            status,
        } => deliver(change, instance, link, status),
    }
}

fn route<'a>(
    change: &Change<'_>,
    company: Company,
    connectors: &'a [Connector<'a>],
) -> Decision<'a> {
    let from = side(change.origin, connectors);
    let seed = seed_rule(from, change.kind, change.operation);
    let stay = |because| {
        Decision::Stay(Stay::Seed {
            because,
            kind: change.kind,
            from: change.origin.connector().map(str::to_owned),
        })
    };
    let want = match seed.verdict {
        Verdict::Stay(because) => return stay(because),
        // Prices go on to a shop only where the tenant has one.
        Verdict::ToChannel
            if !connectors
                .iter()
                .any(|c| c.role == ledger::ConnectorRole::SalesChannel) =>
        {
            return stay(Because::CameFromConnector);
        }
        Verdict::ToChannel => ledger::ConnectorRole::SalesChannel,
        Verdict::ToBooks => ledger::ConnectorRole::Books,
    };
    let company = match company {
        Company::Unread => return Decision::ReadCompany,
        Company::Gone => return Decision::Stay(Stay::Gone),
        Company::Is(code) => code,
    };
    let of_company: Vec<&Connector<'a>> = connectors
        .iter()
        .filter(|c| c.role == want && c.company == Some(company))
        .collect();
    match of_company.iter().find(|c| c.takes(change.kind)) {
        Some(c) => Decision::Travel {
            to: c.instance,
            rule: seed.rule,
        },
        None if want == ledger::ConnectorRole::SalesChannel => {
            Decision::Stay(Stay::NoShop(company))
        }
        None if of_company.is_empty() => Decision::Stay(Stay::NoBooks(company)),
        None => Decision::Stay(Stay::NotTaken {
            company,
            kind: change.kind,
        }),
    }
}

fn deliver<'a>(
    change: &Change<'_>,
    instance: &'a str,
    link: Option<LinkFacts>,
    status: Option<Status>,
) -> Decision<'a> {
    let (kind, id) = (change.kind, change.id);
    // S8/S11: a record the ledger created is edited there. A price is the
    // exception: it goes to the shop's own product (matched by code).
    if link.is_some_and(|l| l.origin == LinkOrigin::Ledger) && kind != K::Product {
        return Decision::Stay(Stay::LedgerOwned { kind, id });
    }
    // S14: a shop's invoice is in the books once; later edits happen there.
    if kind == K::SalesInvoice && link.is_some() {
        return if change.operation == Op::Create {
            Decision::AlreadyThere
        } else {
            Decision::Stay(Stay::InvoiceInLedger(id))
        };
    }
    if kind == K::Product && link.is_none_or(|l| l.status == LinkStatus::Deleted) {
        return Decision::Stay(Stay::NotInShop(id));
    }
    if let Some(status) = status
        && status != Status::Approved
    {
        return Decision::Stay(Stay::NotApproved { kind, status });
    }
    Decision::Travel {
        to: instance,
        rule: RuleId::S8,
    }
}

/// The WIT kind a CRM kind is pushed as.
pub fn wit_kind(kind: EntityKind) -> wit::EntityKind {
    match kind {
        K::Party => wit::EntityKind::Party,
        K::Product => wit::EntityKind::Product,
        K::Quote => wit::EntityKind::Quote,
        K::SalesOrder => wit::EntityKind::SalesOrder,
        K::SalesInvoice => wit::EntityKind::SalesInvoice,
        K::SalesReturn => wit::EntityKind::SalesReturn,
        K::PurchaseInvoice => wit::EntityKind::PurchaseInvoice,
        K::PurchaseReturn => wit::EntityKind::PurchaseReturn,
        K::CorrectionNote => wit::EntityKind::CorrectionNote,
        K::Receipt => wit::EntityKind::Receipt,
        K::Payment => wit::EntityKind::Payment,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::{ConnectorRole, Direction, EntitySupport};

    fn support(kind: wit::EntityKind, direction: Direction) -> EntitySupport {
        EntitySupport {
            kind,
            direction,
            reports_deletes: false,
        }
    }

    /// What the seed rules say, one row per rule and origin: the CRM's API
    /// and a ledger (the books; and the shop where H10 speaks).
    struct Case {
        rule: RuleId,
        from: Side,
        kind: EntityKind,
        op: Operation,
        /// `Ok(instance)`: travels there; `Err(rule)`: stays by that rule.
        expect: Result<&'static str, RuleId>,
    }

    const fn case(
        rule: RuleId,
        from: Side,
        kind: EntityKind,
        op: Operation,
        expect: Result<&'static str, RuleId>,
    ) -> Case {
        Case {
            rule,
            from,
            kind,
            op,
            expect,
        }
    }

    const BOOKS: &str = "sepidar-300";
    const SHOP: &str = "shop-300";

    use RuleId as R;
    use Side::{Books, Channel, Crm};

    /// Every seed rule S8–S16 for both origins (CRM and ledger), and H10.
    const CASES: &[Case] = &[
        // S8: edits only from the origin side; nothing returns to its source.
        case(R::S8, Crm, K::Party, Op::Update, Ok(BOOKS)),
        case(R::S8, Books, K::Party, Op::Update, Err(R::S8)),
        case(R::S8, Books, K::Quote, Op::Create, Err(R::S8)),
        case(R::S8, Channel, K::Product, Op::Update, Err(R::S8)),
        case(R::S8, Channel, K::Receipt, Op::Create, Err(R::S8)),
        // S9: a party's type change in the CRM goes to the books.
        case(R::S9, Crm, K::Party, Op::Update, Ok(BOOKS)),
        case(R::S9, Crm, K::Party, Op::Create, Ok(BOOKS)),
        case(R::S9, Books, K::Party, Op::Update, Err(R::S8)),
        // S10: quotes both ways — from the CRM to the books; from the
        // ledger they were applied, not sent back.
        case(R::S10, Crm, K::Quote, Op::Create, Ok(BOOKS)),
        case(R::S10, Crm, K::Quote, Op::Approve, Ok(BOOKS)),
        case(R::S10, Crm, K::SalesOrder, Op::Update, Ok(BOOKS)),
        case(R::S10, Books, K::Quote, Op::Update, Err(R::S8)),
        // S11: quote edits only from the origin side (the link rule below
        // for the delivery stage); rejected quotes do not go.
        case(R::S11, Crm, K::Quote, Op::Reject, Err(R::House)),
        case(R::S11, Books, K::Quote, Op::Approve, Err(R::S8)),
        // S12: deleting a CRM quote leaves the ledger's copy; a ledger
        // deletion was applied and is not echoed.
        case(R::S12, Crm, K::Quote, Op::Delete, Err(R::S12)),
        case(R::S12, Crm, K::SalesOrder, Op::Delete, Err(R::S12)),
        case(R::S12, Books, K::Quote, Op::Delete, Err(R::S8)),
        // S13: products only ledger → CRM; the books' prices go on to the
        // company's shop (H10).
        case(R::S13, Crm, K::Product, Op::Create, Err(R::S13)),
        case(R::S13, Crm, K::Product, Op::Update, Err(R::S13)),
        case(R::S13, Books, K::Product, Op::Update, Ok(SHOP)),
        case(R::S13, Books, K::Product, Op::Delete, Err(R::S8)),
        // S14: sales invoices and returns only ledger → CRM; a shop's go on
        // to the books (H10).
        case(R::S14, Crm, K::SalesInvoice, Op::Create, Err(R::S14)),
        case(R::S14, Crm, K::SalesReturn, Op::Update, Err(R::S14)),
        case(R::S14, Books, K::SalesInvoice, Op::Create, Err(R::S8)),
        case(R::S14, Channel, K::SalesInvoice, Op::Create, Ok(BOOKS)),
        case(R::S14, Channel, K::SalesInvoice, Op::Delete, Err(R::S8)),
        // A receipt approved in the CRM settles its invoice (H5): the
        // invoice's change stays, as every CRM change of a sales invoice.
        case(R::S14, Crm, K::SalesInvoice, Op::Settle, Err(R::S14)),
        // S15: purchase documents only ledger → CRM.
        case(R::S15, Crm, K::PurchaseInvoice, Op::Create, Err(R::S15)),
        case(R::S15, Crm, K::PurchaseReturn, Op::Delete, Err(R::S15)),
        case(R::S15, Books, K::PurchaseInvoice, Op::Update, Err(R::S8)),
        // S16: receipts and payments only ledger → CRM.
        case(R::S16, Crm, K::Receipt, Op::Create, Err(R::S16)),
        case(R::S16, Crm, K::Payment, Op::Approve, Err(R::S16)),
        case(R::S16, Books, K::Receipt, Op::Update, Err(R::S8)),
        case(R::S16, Channel, K::Receipt, Op::Update, Err(R::S8)),
        // H10: a shop's customers go on to the books.
        case(R::H10, Channel, K::Party, Op::Create, Ok(BOOKS)),
        case(R::H10, Channel, K::Party, Op::Delete, Err(R::S8)),
        // Party deletions stay.
        case(R::House, Crm, K::Party, Op::Delete, Err(R::House)),
        case(R::House, Crm, K::CorrectionNote, Op::Create, Err(R::House)),
    ];

    fn connectors<'a>(books: &'a [EntitySupport], shop: &'a [EntitySupport]) -> [Connector<'a>; 2] {
        [
            Connector {
                instance: BOOKS,
                role: ConnectorRole::Books,
                company: Some(CompanyCode(300)),
                entities: books,
            },
            Connector {
                instance: SHOP,
                role: ConnectorRole::SalesChannel,
                company: Some(CompanyCode(300)),
                entities: shop,
            },
        ]
    }

    fn origin(from: Side) -> Origin {
        match from {
            Crm => Origin::Api("acme".into()),
            Books => Origin::Connector(BOOKS.into()),
            Channel => Origin::Connector(SHOP.into()),
        }
    }

    #[test]
    fn s8_to_s16_seed_rules_route_as_the_table_says_for_crm_and_ledger_origins() {
        use wit::EntityKind as W;
        // As Sepidar and WooCommerce describe themselves.
        let books = [
            support(W::Party, Direction::Both),
            support(W::Product, Direction::LedgerToCrm),
            support(W::Quote, Direction::Both),
            support(W::SalesOrder, Direction::Both),
            support(W::SalesInvoice, Direction::Both),
        ];
        let shop = [
            support(W::Party, Direction::LedgerToCrm),
            support(W::Product, Direction::Both),
        ];
        let running = connectors(&books, &shop);
        for c in CASES {
            let origin = origin(c.from);
            let change = Change {
                kind: c.kind,
                id: 7,
                operation: c.op,
                origin: &origin,
            };
            let stage = Stage::Route {
                company: Company::Is(CompanyCode(300)),
                connectors: &running,
            };
            let got = match decide(&change, &stage) {
                Decision::Travel { to, .. } => Ok(to),
                Decision::Stay(stay) => Err(stay.rule()),
                other => panic!("routing with the company answered {other:?}"),
            };
            assert_eq!(
                got, c.expect,
                "{:?} {:?} {} {} from {:?}",
                c.rule, c.from, c.kind, c.op, c.from
            );
        }
        // Every seed rule S8–S16 is in the table for both origins.
        for rule in [
            R::S8,
            R::S9,
            R::S10,
            R::S11,
            R::S12,
            R::S13,
            R::S14,
            R::S15,
            R::S16,
        ] {
            for side in [Crm, Books] {
                assert!(
                    CASES.iter().any(|c| c.rule == rule && c.from == side),
                    "{rule:?} has no case from {side:?}"
                );
            }
        }
        // Every (side, kind, operation) has a rule.
        for side in [Crm, Books, Channel] {
            for kind in EntityKind::ALL {
                for op in Operation::ALL {
                    let _ = seed_rule(side, *kind, *op);
                }
            }
        }
    }

    #[test]
    fn s8_s11_s14_h10_f1_delivery_decides_by_the_link_and_the_approval() {
        let api = Origin::Api("acme".into());
        let shop = Origin::Connector(SHOP.into());
        let change = |kind, operation, origin| Change {
            kind,
            id: 9,
            operation,
            origin,
        };
        let linked = |origin, status| Some(LinkFacts { origin, status });
        let at = |link, status| Stage::Deliver {
            instance: BOOKS,
            link,
            status,
        };
        let stays = |d: Decision<'_>| match d {
            Decision::Stay(s) => Some((s.rule(), s.to_string())),
            _ => None,
        };
        // S8/S11: a quote the ledger created is edited there, whoever asks.
        let (rule, why) = stays(decide(
            &change(K::Quote, Op::Update, &api),
            &at(
                linked(LinkOrigin::Ledger, LinkStatus::Synced),
                Some(Status::Approved),
            ),
        ))
        .unwrap();
        assert_eq!(rule, R::S11);
        assert!(
            why.starts_with("S8/S11: quote 9 came from the ledger"),
            "{why}"
        );
        // S10/S11: the CRM's own quote goes, edits included, once approved.
        assert_eq!(
            decide(
                &change(K::Quote, Op::Update, &api),
                &at(
                    linked(LinkOrigin::Crm, LinkStatus::Synced),
                    Some(Status::Approved)
                ),
            ),
            Decision::Travel {
                to: BOOKS,
                rule: R::S8
            }
        );
        let (rule, why) = stays(decide(
            &change(K::Quote, Op::Create, &api),
            &at(None, Some(Status::Pending)),
        ))
        .unwrap();
        assert_eq!(
            (rule, why.as_str()),
            (
                R::F1,
                "quote is pending: it travels to the ledger once approved (and numbered)"
            )
        );
        // S14: a shop invoice already in the books: a lost answer's create
        // is there; an edit stays.
        assert_eq!(
            decide(
                &change(K::SalesInvoice, Op::Create, &shop),
                &at(
                    linked(LinkOrigin::Crm, LinkStatus::Synced),
                    Some(Status::Approved)
                ),
            ),
            Decision::AlreadyThere
        );
        assert_eq!(
            stays(decide(
                &change(K::SalesInvoice, Op::Update, &shop),
                &at(
                    linked(LinkOrigin::Crm, LinkStatus::Synced),
                    Some(Status::Approved)
                ),
            ))
            .map(|s| s.0),
            Some(R::S14)
        );
        // H10: a price goes to the shop's own product (a ledger link), and
        // only when the shop has one.
        let books = Origin::Connector(BOOKS.into());
        assert!(matches!(
            decide(
                &change(K::Product, Op::Update, &books),
                &at(linked(LinkOrigin::Ledger, LinkStatus::Synced), None),
            ),
            Decision::Travel { .. }
        ));
        for link in [None, linked(LinkOrigin::Ledger, LinkStatus::Deleted)] {
            assert_eq!(
                stays(decide(
                    &change(K::Product, Op::Update, &books),
                    &at(link, None)
                )),
                Some((
                    R::H10,
                    "product 9 is not sold in the shop (no shop product has its code)".into()
                ))
            );
        }
    }

    #[test]
    fn s17_routing_needs_a_connector_of_the_company_that_takes_the_kind() {
        use wit::EntityKind as W;
        let api = Origin::Api("acme".into());
        let quote = Change {
            kind: K::Quote,
            id: 1,
            operation: Op::Create,
            origin: &api,
        };
        let books = [support(W::Party, Direction::Both)];
        let running = connectors(&books, &[]);
        let route = |company| Stage::Route {
            company,
            connectors: &running,
        };
        let why = |d: Decision<'_>| match d {
            Decision::Stay(s) => s.to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            why(decide(&quote, &route(Company::Is(CompanyCode(400))))),
            "no connector instance serves company 400 (S17)"
        );
        assert!(
            why(decide(&quote, &route(Company::Is(CompanyCode(300)))))
                .contains("do not take quote")
        );
        assert_eq!(
            why(decide(&quote, &route(Company::Gone))),
            "the record no longer exists"
        );
        assert_eq!(
            decide(&quote, &route(Company::Unread)),
            Decision::ReadCompany
        );
        // Rules before facts: a product from the CRM stays by S13 even when
        // its company is not read.
        let product = Change {
            kind: K::Product,
            ..quote
        };
        assert_eq!(
            why(decide(&product, &route(Company::Unread))),
            "S13: products travel only ledger → CRM"
        );
    }
}

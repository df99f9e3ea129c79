-- The subset of Sepidar's SQL Server schema the Sepidar connector reads,
-- as PostgreSQL DDL, so tests can load it and insert rows as Sepidar would.
--
-- Source: Sepidar 5.8.7 table scripts, repository baapar1101/Sepidar,
-- SqlScripts/Table/{FMK_FiscalYear, ACC_DL, GNR_Party, GNR_PartyPhone,
-- GNR_PartyAddress, RPA_Bank, RPA_BankAccount, RPA_ReceiptHeader,
-- RPA_ReceiptDraft, RPA_ReceiptCheque, RPA_ReceiptPos, RPA_PaymentHeader,
-- RPA_PaymentDraft, RPA_PaymentCheque, INV_InventoryReceipt,
-- INV_InventoryReceiptItem, INV_InventoryPurchaseInvoice,
-- INV_InventoryPurchaseInvoiceItem}.sql. Names are Sepidar's, quoted and
-- mixed case; every column of those tables is kept (NULL-ability as in the
-- final ALTERs), foreign keys only where the connector joins.
--
-- Type mapping: int → integer, bit → boolean (the connector compares bits
-- with '1'/'0', which both servers accept), decimal(p,s) → numeric(p,s),
-- datetime → timestamp, nvarchar/varchar/char → varchar/char. Computed
-- columns become STORED generated columns with the same formula.
--
-- Lookups (FMK.spAddLookup) the connector relies on:
--   GNR.Party.Type            1 person, 2 company
--   GNR.PartyPhone.Type       1 office, 2 mobile, 3 home, 4 other,
--                             5 office fax, 6 home fax, 7 other fax
--   RPA.ReceiptHeader.ItemType 1 cash, 2 card reader, 4 cheque, 8 draft,
--                             16 petty cash (flags)
--   INV.InventoryReceipt.Type 1 purchase, 2 production, 3 other,
--                             4 opening, 5 transfer; IsReturn 1 = برگشت رسید
--   INV.InventoryPurchaseInvoice.Type 1 normal, 2 service

CREATE SCHEMA IF NOT EXISTS "FMK";
CREATE SCHEMA IF NOT EXISTS "ACC";
CREATE SCHEMA IF NOT EXISTS "GNR";
CREATE SCHEMA IF NOT EXISTS "RPA";
CREATE SCHEMA IF NOT EXISTS "INV";

CREATE TABLE "FMK"."FiscalYear" (
    "FiscalYearId" integer NOT NULL PRIMARY KEY,
    "Title" varchar(10) NOT NULL,
    "Title_En" varchar(10) NOT NULL,
    "StartDate" timestamp NOT NULL,
    "EndDate" timestamp NOT NULL,
    "Status" integer NOT NULL,
    "Creator" integer NOT NULL,
    "CreationDate" timestamp NOT NULL,
    "LastModifier" integer NOT NULL,
    "LastModificationDate" timestamp NOT NULL,
    "Version" integer NOT NULL
);

CREATE TABLE "ACC"."DL" (
    "DLId" integer NOT NULL PRIMARY KEY,
    "Code" varchar(40) NOT NULL,
    "Title" varchar(250) NOT NULL,
    "Title_En" varchar(250) NOT NULL,
    "Type" integer NOT NULL,
    "Version" integer NOT NULL,
    "Creator" integer NOT NULL,
    "CreationDate" timestamp NOT NULL,
    "LastModifier" integer NOT NULL,
    "LastModificationDate" timestamp NOT NULL
);

CREATE TABLE "GNR"."Party" (
    "PartyId" integer NOT NULL PRIMARY KEY,
    "Type" integer NOT NULL,
    "SubType" integer NOT NULL,
    "Name" varchar(250) NOT NULL,
    "LastName" varchar(250) NULL,
    "Name_En" varchar(250) NOT NULL,
    "LastName_En" varchar(250) NULL,
    "EconomicCode" varchar(40) NULL,
    "IdentificationCode" varchar(40) NULL,
    "RegistrationCode" varchar(40) NULL,
    "Website" varchar(250) NULL,
    "Email" varchar(250) NULL,
    "DLRef" integer NOT NULL REFERENCES "ACC"."DL" ("DLId"),
    "IsActive" boolean NOT NULL,
    "IsInBlacklist" boolean NOT NULL,
    "IsVendor" boolean NOT NULL,
    "VendorGroupingRef" integer NULL,
    "IsBroker" boolean NOT NULL,
    "BrokerGroupingRef" integer NULL,
    "CommissionRate" numeric(5, 2) NULL,
    "BrokerOpeningBalance" numeric(19, 4) NULL,
    "BrokerOpeningBalanceType" integer NULL,
    "IsPurchasingAgent" boolean NOT NULL,
    "IsEmployee" boolean NOT NULL,
    "IsCustomer" boolean NOT NULL,
    "SalespersonPartyRef" integer NULL,
    "DiscountRate" numeric(13, 10) NULL,
    "MaximumCredit" numeric(19, 4) NULL,
    "CustomerGroupingRef" integer NULL,
    "CustomerCategoryForTax" integer NOT NULL,
    "BirthDate" timestamp NULL,
    "MarriageDate" timestamp NULL,
    "HasCredit" boolean NOT NULL DEFAULT false,
    "CreditCheckingType" integer NOT NULL DEFAULT 3,
    "Version" integer NOT NULL,
    "Creator" integer NOT NULL,
    "CreationDate" timestamp NOT NULL,
    "LastModifier" integer NOT NULL,
    "LastModificationDate" timestamp NOT NULL,
    "Guid" varchar(36) NULL,
    "PassportNumber" varchar(9) NULL,
    "MaximumQuantityCredit" integer NULL,
    "HasQuantityCredit" boolean NOT NULL DEFAULT false,
    "QuantityCreditCheckingType" integer NOT NULL DEFAULT 3
);

CREATE TABLE "GNR"."PartyPhone" (
    "PartyPhoneId" integer NOT NULL PRIMARY KEY,
    "PartyRef" integer NOT NULL REFERENCES "GNR"."Party" ("PartyId") ON DELETE CASCADE,
    "IsMain" integer NOT NULL,
    "Type" integer NOT NULL,
    "Phone" varchar(20) NOT NULL,
    "Version" integer NOT NULL
);

CREATE TABLE "GNR"."PartyAddress" (
    "PartyAddressId" integer NOT NULL PRIMARY KEY,
    "PartyRef" integer NOT NULL REFERENCES "GNR"."Party" ("PartyId") ON DELETE CASCADE,
    "IsMain" integer NOT NULL,
    "Type" integer NOT NULL,
    "Address" varchar(400) NOT NULL,
    "LocationRef" integer NULL,
    "ZipCode" varchar(40) NULL,
    "BranchCode" varchar(40) NULL,
    "Adress_En" varchar(400) NOT NULL,
    "Title" varchar(250) NULL,
    "Latitude" numeric(12, 9) NULL,
    "Longitude" numeric(12, 9) NULL,
    "Version" integer NOT NULL,
    "Guid" varchar(36) NULL
);

CREATE TABLE "RPA"."Bank" (
    "BankId" integer NOT NULL PRIMARY KEY,
    "Title" varchar(250) NOT NULL,
    "Title_En" varchar(250) NOT NULL,
    "Version" integer NOT NULL,
    "Creator" integer NULL,
    "CreationDate" timestamp NULL,
    "LastModifier" integer NULL,
    "LastModificationDate" timestamp NULL,
    "TaxFileCode" varchar(50) NULL
);

CREATE TABLE "RPA"."BankAccount" (
    "BankAccountId" integer NOT NULL PRIMARY KEY,
    "BankBranchRef" integer NOT NULL,
    "AccountNo" varchar(250) NOT NULL,
    "AccountTypeRef" integer NOT NULL,
    "DlRef" integer NOT NULL,
    "IsActive" boolean NOT NULL,
    "CurrencyRef" integer NOT NULL,
    "Rate" numeric(26, 16) NOT NULL,
    "FirstAmount" numeric(19, 4) NOT NULL,
    "FirstDate" timestamp NOT NULL,
    "Version" integer NOT NULL,
    "Creator" integer NULL,
    "CreationDate" timestamp NULL,
    "LastModifier" integer NULL,
    "LastModificationDate" timestamp NULL,
    "Balance" numeric(19, 4) NOT NULL,
    "BillFirstAmount" numeric(19, 4) NULL,
    "BlockedAmount" numeric(19, 4) NULL,
    "ShowBankFeeSeparately" boolean NOT NULL,
    "CreditCardNumber" varchar(16) NULL,
    "ShebaNumber" varchar(30) NULL
);

CREATE TABLE "RPA"."ReceiptHeader" (
    "ReceiptHeaderId" integer NOT NULL PRIMARY KEY,
    "Type" integer NOT NULL,
    "AccountSlRef" integer NULL,
    "DlRef" integer NOT NULL REFERENCES "ACC"."DL" ("DLId"),
    "Number" integer NOT NULL,
    "Date" timestamp NOT NULL,
    "CurrencyRef" integer NOT NULL,
    "Description" varchar(4000) NOT NULL,
    "Description_En" varchar(4000) NULL,
    "Discount" numeric(19, 4) NOT NULL,
    "TotalAmount" numeric(19, 4) NOT NULL,
    -- Sepidar's final script redefines it as TotalAmount + Discount.
    "ReceiptAmount" numeric(19, 4) GENERATED ALWAYS AS ("TotalAmount" + "Discount") STORED,
    "ItemType" integer NOT NULL,
    "State" integer NOT NULL,
    "CreatorForm" varchar(50) NOT NULL,
    "Creator" integer NULL,
    "CreationDate" timestamp NULL,
    "LastModifier" integer NULL,
    "LastModificationDate" timestamp NULL,
    "Version" integer NOT NULL,
    "Rate" numeric(26, 16) NOT NULL,
    "CashRef" integer NULL,
    "Amount" numeric(19, 4) NULL,
    "AmountInBaseCurrency" numeric(19, 4) NOT NULL,
    "FiscalYearRef" integer NOT NULL REFERENCES "FMK"."FiscalYear" ("FiscalYearId"),
    "VoucherRef" integer NULL,
    "DiscountRate" numeric(26, 16) NULL,
    "DiscountInBaseCurrency" numeric(19, 4) NULL,
    "TotalAmountInBaseCurrency" numeric(19, 4) NULL,
    "Guid" varchar(36) NULL
);

CREATE TABLE "RPA"."ReceiptDraft" (
    "ReceiptDraftId" integer NOT NULL PRIMARY KEY,
    "Number" varchar(100) NULL,
    "Date" timestamp NULL,
    "Amount" numeric(19, 4) NULL,
    "BankAccountRef" integer NULL REFERENCES "RPA"."BankAccount" ("BankAccountId"),
    "Description" varchar(4000) NULL,
    "Description_En" varchar(4000) NULL,
    "Version" integer NOT NULL,
    "ReceiptHeaderRef" integer NOT NULL REFERENCES "RPA"."ReceiptHeader" ("ReceiptHeaderId") ON DELETE CASCADE,
    "HeaderNumber" integer NOT NULL,
    "HeaderDate" timestamp NOT NULL,
    "CurrencyRef" integer NOT NULL,
    "Rate" numeric(26, 16) NOT NULL,
    "AmountInBaseCurrency" numeric(19, 4) NOT NULL
);

CREATE TABLE "RPA"."ReceiptCheque" (
    "ReceiptChequeId" integer NOT NULL PRIMARY KEY,
    "Number" varchar(50) NOT NULL,
    "SecondNumber" varchar(50) NULL,
    "SayadCode" char(20) NULL,
    "IsGuarantee" boolean NOT NULL,
    "AccountNo" varchar(50) NOT NULL,
    "Amount" numeric(19, 4) NOT NULL,
    "Date" timestamp NULL,
    "Description" varchar(4000) NULL,
    "Description_En" varchar(4000) NULL,
    "Version" integer NOT NULL,
    "State" integer NOT NULL,
    "CashRef" integer NULL,
    "ReceiptHeaderRef" integer NOT NULL REFERENCES "RPA"."ReceiptHeader" ("ReceiptHeaderId") ON DELETE CASCADE,
    "BankRef" integer NULL REFERENCES "RPA"."Bank" ("BankId"),
    "BranchCode" varchar(250) NULL,
    "BranchTitle" varchar(250) NULL,
    "LocationRef" integer NULL,
    "HeaderNumber" integer NOT NULL,
    "HeaderDate" timestamp NOT NULL,
    "CurrencyRef" integer NOT NULL,
    "Rate" numeric(26, 16) NOT NULL,
    "AmountInBaseCurrency" numeric(19, 4) NOT NULL,
    "BankBranchRef" integer NULL,
    "DlRef" integer NOT NULL,
    "Type" integer NOT NULL,
    "InitState" integer NULL,
    "ChequeOwner" varchar(250) NULL
);

CREATE TABLE "RPA"."ReceiptPos" (
    "ReceiptPosId" integer NOT NULL PRIMARY KEY,
    "PosRef" integer NOT NULL,
    "Amount" numeric(19, 4) NOT NULL,
    "state" integer NOT NULL,
    "Version" integer NOT NULL,
    "ReceiptHeaderRef" integer NOT NULL REFERENCES "RPA"."ReceiptHeader" ("ReceiptHeaderId") ON DELETE CASCADE,
    "HeaderNumber" integer NOT NULL,
    "HeaderDate" timestamp NOT NULL,
    "CurrencyRef" integer NOT NULL,
    "Rate" numeric(26, 16) NOT NULL,
    "AmountInBaseCurrency" numeric(19, 4) NOT NULL,
    "TrackingCode" varchar(100) NULL
);

CREATE TABLE "RPA"."PaymentHeader" (
    "PaymentHeaderId" integer NOT NULL PRIMARY KEY,
    "Type" integer NOT NULL,
    "AccountSlRef" integer NULL,
    "DlRef" integer NOT NULL REFERENCES "ACC"."DL" ("DLId"),
    "Number" integer NOT NULL,
    "Date" timestamp NOT NULL,
    "CurrencyRef" integer NOT NULL,
    "Description" varchar(4000) NOT NULL,
    "Description_En" varchar(4000) NULL,
    "Discount" numeric(19, 4) NULL,
    "TotalAmount" numeric(19, 4) NULL,
    "PaymentAmount" numeric(19, 4) GENERATED ALWAYS AS ("TotalAmount" + "Discount") STORED,
    "ItemType" integer NOT NULL,
    "State" integer NOT NULL,
    "CreatorForm" varchar(50) NOT NULL,
    "Creator" integer NULL,
    "CreationDate" timestamp NULL,
    "LastModifier" integer NULL,
    "LastModificationDate" timestamp NULL,
    "Version" integer NOT NULL,
    "Rate" numeric(26, 16) NOT NULL,
    "CashRef" integer NULL,
    "Amount" numeric(19, 4) NULL,
    "AmountInBaseCurrency" numeric(19, 4) NOT NULL,
    "ReceiptHeaderRef" integer NULL,
    "FiscalYearRef" integer NOT NULL REFERENCES "FMK"."FiscalYear" ("FiscalYearId"),
    "VoucherRef" integer NULL,
    "DiscountRate" numeric(26, 16) NULL,
    "DiscountInBaseCurrency" numeric(19, 4) NULL,
    "TotalAmountInBaseCurrency" numeric(19, 4) NULL,
    "BankFeeSlRef" integer NULL
);

CREATE TABLE "RPA"."PaymentDraft" (
    "PaymentDraftId" integer NOT NULL PRIMARY KEY,
    "Number" varchar(50) NULL,
    "Date" timestamp NULL,
    "Amount" numeric(19, 4) NOT NULL,
    "BankAccountRef" integer NULL REFERENCES "RPA"."BankAccount" ("BankAccountId"),
    "Description" varchar(4000) NULL,
    "Description_En" varchar(4000) NULL,
    "Version" integer NOT NULL,
    "PaymentHeaderRef" integer NOT NULL REFERENCES "RPA"."PaymentHeader" ("PaymentHeaderId") ON DELETE CASCADE,
    "HeaderNumber" integer NOT NULL,
    "HeaderDate" timestamp NOT NULL,
    "CurrencyRef" integer NOT NULL,
    "Rate" numeric(26, 16) NOT NULL,
    "AmountInBaseCurrency" numeric(19, 4) NOT NULL,
    "BankFeeAmount" numeric(19, 4) NULL,
    "BankFeeAmountInBaseCurrency" numeric(19, 4) NULL,
    "BankFeeAmountRate" numeric(26, 16) NULL
);

CREATE TABLE "RPA"."PaymentCheque" (
    "PaymentChequeId" integer NOT NULL PRIMARY KEY,
    "Number" varchar(50) NOT NULL,
    "SecondNumber" varchar(50) NULL,
    "SayadCode" char(20) NULL,
    "IsGuarantee" boolean NOT NULL,
    "Amount" numeric(19, 4) NOT NULL,
    "Date" timestamp NULL,
    "Description" varchar(4000) NULL,
    "Description_En" varchar(4000) NULL,
    "Version" integer NOT NULL,
    "State" integer NOT NULL,
    "PaymentHeaderRef" integer NOT NULL REFERENCES "RPA"."PaymentHeader" ("PaymentHeaderId") ON DELETE CASCADE,
    "BankAccountRef" integer NOT NULL REFERENCES "RPA"."BankAccount" ("BankAccountId"),
    "HeaderNumber" integer NOT NULL,
    "HeaderDate" timestamp NOT NULL,
    "CurrencyRef" integer NOT NULL,
    "Rate" numeric(26, 16) NOT NULL,
    "AmountInBaseCurrency" numeric(19, 4) NOT NULL,
    "DurationType" integer NOT NULL,
    "DlRef" integer NOT NULL,
    "Type" integer NOT NULL
);

CREATE TABLE "INV"."InventoryReceipt" (
    "InventoryReceiptID" integer NOT NULL PRIMARY KEY,
    "IsReturn" boolean NOT NULL DEFAULT false,
    "Type" integer NOT NULL,
    "PurchaseType" integer NOT NULL DEFAULT 1,
    "StockRef" integer NOT NULL,
    "DelivererDLRef" integer NULL REFERENCES "ACC"."DL" ("DLId"),
    "SLAccountRef" integer NULL,
    "Number" integer NOT NULL,
    "Date" timestamp NOT NULL,
    "AccountingVoucherRef" integer NULL,
    "PaymentHeaderRef" integer NULL,
    "TransportBrokerSLAccountRef" integer NULL,
    "TransporterDLRef" integer NULL,
    "TotalPrice" numeric(19, 3) NULL,
    "TotalTax" numeric(19, 3) NULL,
    "TotalDuty" numeric(19, 3) NULL,
    "TotalTransportPrice" numeric(19, 3) NULL,
    "TotalOtherCost" numeric(19, 3) NULL,
    "TotalNetPrice" numeric(19, 3) NULL,
    "TotalReturnedPrice" numeric(19, 4) NULL,
    "TotalReturnedNetPrice" numeric(19, 4) NULL,
    "FiscalYearRef" integer NOT NULL REFERENCES "FMK"."FiscalYear" ("FiscalYearId"),
    "CreatorForm" integer NOT NULL DEFAULT 1,
    "Creator" integer NOT NULL,
    "CreationDate" timestamp NOT NULL,
    "LastModifier" integer NOT NULL,
    "LastModificationDate" timestamp NOT NULL,
    "Version" integer NOT NULL,
    "BasePurchaseInvoiceRef" integer NULL,
    "BaseInventoryDeliveryRef" integer NULL,
    "BaseImportPurchaseInvoiceRef" integer NULL,
    "Description" varchar(4000) NULL
);

CREATE TABLE "INV"."InventoryReceiptItem" (
    "InventoryReceiptItemID" integer NOT NULL PRIMARY KEY,
    "InventoryReceiptRef" integer NOT NULL REFERENCES "INV"."InventoryReceipt" ("InventoryReceiptID") ON DELETE CASCADE,
    "IsReturn" boolean NOT NULL DEFAULT false,
    "RowNumber" integer NOT NULL,
    "Base" integer NULL,
    "ReturnBase" integer NULL REFERENCES "INV"."InventoryReceiptItem" ("InventoryReceiptItemID"),
    "ItemRef" integer NOT NULL,
    "TracingRef" integer NULL,
    "Quantity" numeric(19, 4) NOT NULL,
    "SecondaryQuantity" numeric(19, 4) NULL,
    "RemainingQuantity" numeric(19, 4) NOT NULL DEFAULT 0,
    "RemainingSecondaryQuantity" numeric(19, 4) NULL,
    "CurrencyRef" integer NULL,
    "CurrencyRate" numeric(26, 16) NULL,
    "CurrencyValue" numeric(19, 4) NULL,
    "Price" numeric(19, 4) NULL,
    "Tax" numeric(19, 4) NULL,
    "TaxCurrencyValue" numeric(19, 4) NULL,
    "Duty" numeric(19, 4) NULL,
    "DutyCurrencyValue" numeric(19, 4) NULL,
    "TransportPrice" numeric(19, 4) NULL,
    "TransportTax" numeric(19, 4) NULL,
    "TransportDuty" numeric(19, 4) NULL,
    "TransportDescription" varchar(250) NULL,
    "Description" varchar(4000) NULL,
    "Description_En" varchar(4000) NULL,
    "Version" integer NOT NULL,
    "BasePurchaseInvoiceItemRef" integer NULL,
    "BaseImportPurchaseInvoiceItemRef" integer NULL,
    "ParityCheck" varchar(250) NULL,
    "ProductOrderRef" integer NULL,
    "InventoryDeliveryItemRef" integer NULL,
    "WeighingRef" integer NULL,
    "ReturnedPrice" numeric(19, 4) NULL,
    "AllotmenedOtherCostInBaseCurrency" numeric(19, 4) NULL,
    "ImportOrderFinalFee" numeric(19, 4) NULL,
    "ServiceInventoryPurchaseInvoiceRef" integer NULL
);

CREATE TABLE "INV"."InventoryPurchaseInvoice" (
    "InventoryPurchaseInvoiceID" integer NOT NULL PRIMARY KEY,
    "VendorDLRef" integer NOT NULL REFERENCES "ACC"."DL" ("DLId"),
    "PurchaseOrderRef" integer NULL,
    "PurchasingAgentPartyRef" integer NULL,
    "Number" integer NOT NULL,
    "InvoiceNumber" integer NULL,
    "Date" timestamp NOT NULL,
    "CurrencyRef" integer NOT NULL,
    "CurrencyRate" numeric(26, 16) NOT NULL,
    "TotalPrice" numeric(19, 4) NULL,
    "TotalPriceInBaseCurrency" numeric(19, 4) NULL,
    "TotalTax" numeric(19, 4) NULL,
    "TotalDuty" numeric(19, 4) NULL,
    "TotalTransportPrice" numeric(19, 4) NULL,
    "TotalNetPrice" numeric(19, 4) NULL,
    "TotalNetPriceInBaseCurrency" numeric(19, 4) NULL,
    "TotalWithHoldingTaxAmount" numeric(19, 4) NULL,
    "TotalInsuranceAmount" numeric(19, 4) NULL,
    "FiscalYearRef" integer NOT NULL REFERENCES "FMK"."FiscalYear" ("FiscalYearId"),
    "Creator" integer NOT NULL,
    "CreationDate" timestamp NOT NULL,
    "LastModifier" integer NOT NULL,
    "LastModificationDate" timestamp NOT NULL,
    "Version" integer NOT NULL,
    "PaymentHeaderRef" integer NULL,
    "Type" integer NOT NULL DEFAULT 1,
    "AccountingVoucherRef" integer NULL,
    "SLAccountRef" integer NULL,
    "CostCenterRef" integer NULL,
    "AssetAcquisitionPurchaseSLRef" integer NULL,
    "PartyAddressRef" integer NULL,
    "Description" varchar(400) NULL,
    "Description_En" varchar(400) NULL
);

CREATE TABLE "INV"."InventoryPurchaseInvoiceItem" (
    "InventoryPurchaseInvoiceItemID" integer NOT NULL PRIMARY KEY,
    "InventoryPurchaseInvoiceRef" integer NOT NULL REFERENCES "INV"."InventoryPurchaseInvoice" ("InventoryPurchaseInvoiceID") ON DELETE CASCADE,
    "PurchaseOrderItemRef" integer NULL,
    "RowNumber" integer NOT NULL,
    "ItemRef" integer NOT NULL,
    "Quantity" numeric(19, 4) NOT NULL,
    "SecondaryQuantity" numeric(19, 4) NULL,
    "RemainingQuantity" numeric(19, 4) NOT NULL DEFAULT 0,
    "RemainingSecondaryQuantity" numeric(19, 4) NULL,
    "CurrencyRate" numeric(26, 16) NOT NULL,
    "Fee" numeric(19, 4) NOT NULL,
    "FeeInBaseCurrency" numeric(19, 4) NULL,
    "Price" numeric(19, 4) NOT NULL,
    "PriceInBaseCurrency" numeric(19, 4) NULL,
    "Discount" numeric(19, 4) NULL,
    "DiscountInBaseCurrentcy" numeric(19, 4) NULL,
    "Addition" numeric(19, 4) NULL,
    "AdditionInBaseCurrency" numeric(19, 4) NULL,
    "Tax" numeric(19, 4) NULL,
    "TaxInBaseCurrency" numeric(19, 4) NULL,
    "Duty" numeric(19, 4) NULL,
    "DutyInBaseCurrency" numeric(19, 4) NULL,
    "TransportPrice" numeric(19, 4) NULL,
    "TransportPriceInBaseCurrency" numeric(19, 4) GENERATED ALWAYS AS (CAST("TransportPrice" * "CurrencyRate" AS numeric(19, 4))) STORED,
    "TransportTax" numeric(19, 4) NULL,
    "TransportTaxInBaseCurrency" numeric(19, 4) GENERATED ALWAYS AS (CAST("TransportTax" * "CurrencyRate" AS numeric(19, 4))) STORED,
    "TransportDuty" numeric(19, 4) NULL,
    "TransportDutyInBaseCurrency" numeric(19, 4) GENERATED ALWAYS AS (CAST("TransportDuty" * "CurrencyRate" AS numeric(19, 4))) STORED,
    "TransportDescription" varchar(250) NULL,
    "Description" varchar(500) NULL,
    "Description_En" varchar(500) NULL,
    "Version" integer NOT NULL,
    "CostServiceAccountSLRef" integer NULL,
    "InsuranceAmount" numeric(19, 4) NULL,
    "InsuranceAmountInBaseCurrency" numeric(19, 4) NULL,
    "WithHoldingTaxAmount" numeric(19, 4) NULL,
    "WithHoldingTaxAmountInBaseCurrency" numeric(19, 4) NULL,
    "NetPrice" numeric(19, 4) GENERATED ALWAYS AS (CAST(
        "Price"
        - COALESCE("Discount", 0)
        + COALESCE("Tax", 0)
        + COALESCE("Duty", 0)
        + COALESCE("TransportPrice", 0)
        + COALESCE("TransportTax", 0)
        + COALESCE("TransportDuty", 0)
        + COALESCE("Addition", 0)
        - COALESCE("InsuranceAmount", 0)
        - COALESCE("WithHoldingTaxAmount", 0) AS numeric(19, 4))) STORED,
    "NetPriceInBaseCurrency" numeric(19, 4) NULL,
    "TracingRef" integer NULL
);

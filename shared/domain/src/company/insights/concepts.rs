//! The XBRL concepts each indicator reads, in the order they are tried for a period.

/// How a family's values are measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Money over a fiscal year.
    Flow,
    /// Money per share over a fiscal year.
    PerShare,
    /// Money at an instant.
    Balance,
}

impl Kind {
    pub(super) fn accepts_unit(self, unit: &str) -> bool {
        match self {
            Self::Flow | Self::Balance => !unit.contains('/') && unit != "shares" && unit != "pure",
            Self::PerShare => unit.ends_with("/shares"),
        }
    }

    pub(super) const fn preposition(self) -> &'static str {
        match self {
            Self::Flow | Self::PerShare => "for the fiscal year ending",
            Self::Balance => "at",
        }
    }
}

/// Concepts that measure one thing, the preferred first.
#[derive(Debug)]
pub(super) struct Family {
    /// What it measures, for reasons: "revenue".
    pub name: &'static str,
    pub kind: Kind,
    pub concepts: &'static [&'static str],
}

pub(super) const REVENUE: Family = Family {
    name: "revenue",
    kind: Kind::Flow,
    concepts: &[
        "us-gaap:Revenues",
        "us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax",
        "us-gaap:RevenueFromContractWithCustomerIncludingAssessedTax",
        "us-gaap:SalesRevenueNet",
        "ifrs-full:Revenue",
    ],
};

pub(super) const NET_INCOME: Family = Family {
    name: "net income",
    kind: Kind::Flow,
    concepts: &[
        "us-gaap:NetIncomeLoss",
        "us-gaap:ProfitLoss",
        "ifrs-full:ProfitLossAttributableToOwnersOfParent",
        "ifrs-full:ProfitLoss",
    ],
};

pub(super) const EPS_DILUTED: Family = Family {
    name: "diluted EPS",
    kind: Kind::PerShare,
    concepts: &[
        "us-gaap:EarningsPerShareDiluted",
        "us-gaap:EarningsPerShareBasicAndDiluted",
        "ifrs-full:DilutedEarningsLossPerShare",
    ],
};

pub(super) const LIABILITIES: Family = Family {
    name: "total liabilities",
    kind: Kind::Balance,
    concepts: &["us-gaap:Liabilities", "ifrs-full:Liabilities"],
};

/// What total liabilities are derived from when a filing does not report them: liabilities
/// and equity, less total equity (noncontrolling interests included), less temporary
/// (mezzanine) equity.
pub(super) const LIABILITIES_AND_EQUITY: Family = Family {
    name: "total liabilities and equity",
    kind: Kind::Balance,
    concepts: &[
        "us-gaap:LiabilitiesAndStockholdersEquity",
        "ifrs-full:EquityAndLiabilities",
    ],
};

pub(super) const TOTAL_EQUITY: Family = Family {
    name: "total equity including noncontrolling interests",
    kind: Kind::Balance,
    concepts: &[
        "us-gaap:StockholdersEquityIncludingPortionAttributableToNoncontrollingInterest",
        "ifrs-full:Equity",
    ],
};

/// Temporary equity, as a filing names it; the first listed it reports is taken (the others
/// are parts of it).
pub(super) const TEMPORARY_EQUITY: Family = Family {
    name: "temporary equity",
    kind: Kind::Balance,
    concepts: &[
        "us-gaap:TemporaryEquityCarryingAmountIncludingPortionAttributableToNoncontrollingInterest",
        "us-gaap:TemporaryEquityCarryingAmountAttributableToParent",
        "us-gaap:RedeemableNoncontrollingInterestEquityCarryingAmount",
    ],
};

pub(super) const EQUITY: Family = Family {
    name: "stockholders' equity",
    kind: Kind::Balance,
    concepts: &[
        "us-gaap:StockholdersEquity",
        "ifrs-full:EquityAttributableToOwnersOfParent",
    ],
};

pub(super) const ASSETS_CURRENT: Family = Family {
    name: "current assets",
    kind: Kind::Balance,
    concepts: &["us-gaap:AssetsCurrent", "ifrs-full:CurrentAssets"],
};

pub(super) const LIABILITIES_CURRENT: Family = Family {
    name: "current liabilities",
    kind: Kind::Balance,
    concepts: &["us-gaap:LiabilitiesCurrent", "ifrs-full:CurrentLiabilities"],
};

/// The flows whose latest year is the fiscal year the insights describe.
pub(super) const FLOWS: [&Family; 3] = [&REVENUE, &NET_INCOME, &EPS_DILUTED];

const FAMILIES: [&Family; 10] = [
    &REVENUE,
    &NET_INCOME,
    &EPS_DILUTED,
    &LIABILITIES,
    &LIABILITIES_AND_EQUITY,
    &TOTAL_EQUITY,
    &TEMPORARY_EQUITY,
    &EQUITY,
    &ASSETS_CURRENT,
    &LIABILITIES_CURRENT,
];

/// Every concept an insight may read: what storage needs to hand over.
#[must_use]
pub fn insight_concepts() -> Vec<&'static str> {
    FAMILIES
        .iter()
        .flat_map(|family| family.concepts.iter().copied())
        .collect()
}

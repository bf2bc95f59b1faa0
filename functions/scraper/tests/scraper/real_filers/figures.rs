//! Each company's latest fiscal year, worked out by hand from its filing: every input figure
//! with its concept and the accession number of the filing that reported it, so a reader can
//! check it on EDGAR; and what each indicator must read from them.

use chrono::NaiveDate;
use lzstock_domain::dashboard::Indicator;

/// A figure a filing reported.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Figure {
    pub(crate) concept: &'static str,
    pub(crate) accession: &'static str,
    pub(crate) value: f64,
}

pub(crate) const fn fig(concept: &'static str, accession: &'static str, value: f64) -> Figure {
    Figure {
        concept,
        accession,
        value,
    }
}

/// Total liabilities: as reported, or derived from the same filing's balance sheet.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Liabilities {
    Reported(Figure),
    Derived {
        liabilities_and_equity: Figure,
        total_equity: Figure,
        temporary_equity: Option<Figure>,
    },
}

/// A company's latest fiscal year, worked out by hand.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Year {
    pub(crate) ticker: &'static str,
    /// The fiscal year: its first and last day.
    pub(crate) start: &'static str,
    pub(crate) end: &'static str,
    /// The previous fiscal year's first and last day.
    pub(crate) previous: (&'static str, &'static str),
    pub(crate) revenue: Figure,
    pub(crate) previous_revenue: Figure,
    pub(crate) net_income: Figure,
    pub(crate) eps_diluted: Figure,
    pub(crate) liabilities: Liabilities,
    pub(crate) equity: Figure,
    pub(crate) current_assets: Figure,
    pub(crate) current_liabilities: Figure,
}

pub(crate) const APPLE_10K_FY2025: &str = "0000320193-25-000079";
pub(crate) const NVIDIA_10K_FY2026: &str = "0001045810-26-000021";
pub(crate) const WALMART_10K_FY2026: &str = "0000104169-26-000055";
pub(crate) const ALPHABET_10K_FY2025: &str = "0001652044-26-000018";
pub(crate) const LPA_20F_FY2024: &str = "0001997711-25-000030";

/// Apple's fiscal 2025 (52 weeks to 2025-09-27), its 10-K filed 2025-10-31.
pub(crate) const APPLE: Year = Year {
    ticker: "AAPL",
    start: "2024-09-29",
    end: "2025-09-27",
    previous: ("2023-10-01", "2024-09-28"),
    revenue: fig(
        "us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax",
        APPLE_10K_FY2025,
        416_161_000_000.0,
    ),
    previous_revenue: fig(
        "us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax",
        APPLE_10K_FY2025,
        391_035_000_000.0,
    ),
    net_income: fig("us-gaap:NetIncomeLoss", APPLE_10K_FY2025, 112_010_000_000.0),
    eps_diluted: fig("us-gaap:EarningsPerShareDiluted", APPLE_10K_FY2025, 7.46),
    liabilities: Liabilities::Reported(fig(
        "us-gaap:Liabilities",
        APPLE_10K_FY2025,
        285_508_000_000.0,
    )),
    equity: fig(
        "us-gaap:StockholdersEquity",
        APPLE_10K_FY2025,
        73_733_000_000.0,
    ),
    current_assets: fig("us-gaap:AssetsCurrent", APPLE_10K_FY2025, 147_957_000_000.0),
    current_liabilities: fig(
        "us-gaap:LiabilitiesCurrent",
        APPLE_10K_FY2025,
        165_631_000_000.0,
    ),
};

/// NVIDIA's fiscal 2026 (52 weeks to 2026-01-25), its 10-K filed 2026-02-25.
pub(crate) const NVIDIA: Year = Year {
    ticker: "NVDA",
    start: "2025-01-27",
    end: "2026-01-25",
    previous: ("2024-01-29", "2025-01-26"),
    revenue: fig("us-gaap:Revenues", NVIDIA_10K_FY2026, 215_938_000_000.0),
    previous_revenue: fig("us-gaap:Revenues", NVIDIA_10K_FY2026, 130_497_000_000.0),
    net_income: fig(
        "us-gaap:NetIncomeLoss",
        NVIDIA_10K_FY2026,
        120_067_000_000.0,
    ),
    eps_diluted: fig("us-gaap:EarningsPerShareDiluted", NVIDIA_10K_FY2026, 4.90),
    liabilities: Liabilities::Reported(fig(
        "us-gaap:Liabilities",
        NVIDIA_10K_FY2026,
        49_510_000_000.0,
    )),
    equity: fig(
        "us-gaap:StockholdersEquity",
        NVIDIA_10K_FY2026,
        157_293_000_000.0,
    ),
    current_assets: fig(
        "us-gaap:AssetsCurrent",
        NVIDIA_10K_FY2026,
        125_605_000_000.0,
    ),
    current_liabilities: fig(
        "us-gaap:LiabilitiesCurrent",
        NVIDIA_10K_FY2026,
        32_163_000_000.0,
    ),
};

/// Walmart's fiscal 2026 (to 2026-01-31), its 10-K filed 2026-03-13. It reports no
/// `Liabilities`: 284,668 − 105,887 − 293 = 178,488 million.
pub(crate) const WALMART: Year = Year {
    ticker: "WMT",
    start: "2025-02-01",
    end: "2026-01-31",
    previous: ("2024-02-01", "2025-01-31"),
    revenue: fig("us-gaap:Revenues", WALMART_10K_FY2026, 713_163_000_000.0),
    previous_revenue: fig("us-gaap:Revenues", WALMART_10K_FY2026, 680_985_000_000.0),
    net_income: fig(
        "us-gaap:NetIncomeLoss",
        WALMART_10K_FY2026,
        21_893_000_000.0,
    ),
    eps_diluted: fig("us-gaap:EarningsPerShareDiluted", WALMART_10K_FY2026, 2.73),
    liabilities: Liabilities::Derived {
        liabilities_and_equity: fig(
            "us-gaap:LiabilitiesAndStockholdersEquity",
            WALMART_10K_FY2026,
            284_668_000_000.0,
        ),
        total_equity: fig(
            "us-gaap:StockholdersEquityIncludingPortionAttributableToNoncontrollingInterest",
            WALMART_10K_FY2026,
            105_887_000_000.0,
        ),
        temporary_equity: Some(fig(
            "us-gaap:RedeemableNoncontrollingInterestEquityCarryingAmount",
            WALMART_10K_FY2026,
            293_000_000.0,
        )),
    },
    equity: fig(
        "us-gaap:StockholdersEquity",
        WALMART_10K_FY2026,
        99_617_000_000.0,
    ),
    current_assets: fig(
        "us-gaap:AssetsCurrent",
        WALMART_10K_FY2026,
        84_874_000_000.0,
    ),
    current_liabilities: fig(
        "us-gaap:LiabilitiesCurrent",
        WALMART_10K_FY2026,
        107_469_000_000.0,
    ),
};

/// Alphabet's 2025, its 10-K filed 2026-02-05.
pub(crate) const ALPHABET: Year = Year {
    ticker: "GOOGL",
    start: "2025-01-01",
    end: "2025-12-31",
    previous: ("2024-01-01", "2024-12-31"),
    revenue: fig("us-gaap:Revenues", ALPHABET_10K_FY2025, 402_836_000_000.0),
    previous_revenue: fig("us-gaap:Revenues", ALPHABET_10K_FY2025, 350_018_000_000.0),
    net_income: fig(
        "us-gaap:NetIncomeLoss",
        ALPHABET_10K_FY2025,
        132_170_000_000.0,
    ),
    eps_diluted: fig(
        "us-gaap:EarningsPerShareDiluted",
        ALPHABET_10K_FY2025,
        10.81,
    ),
    liabilities: Liabilities::Reported(fig(
        "us-gaap:Liabilities",
        ALPHABET_10K_FY2025,
        180_016_000_000.0,
    )),
    equity: fig(
        "us-gaap:StockholdersEquity",
        ALPHABET_10K_FY2025,
        415_265_000_000.0,
    ),
    current_assets: fig(
        "us-gaap:AssetsCurrent",
        ALPHABET_10K_FY2025,
        206_038_000_000.0,
    ),
    current_liabilities: fig(
        "us-gaap:LiabilitiesCurrent",
        ALPHABET_10K_FY2025,
        102_745_000_000.0,
    ),
};

/// Logistic Properties of the Americas' 2024 (IFRS, in USD), its 20-F filed 2025-04-02: a
/// loss, so a negative net margin and EPS.
pub(crate) const LPA: Year = Year {
    ticker: "LPA",
    start: "2024-01-01",
    end: "2024-12-31",
    previous: ("2023-01-01", "2023-12-31"),
    revenue: fig("ifrs-full:Revenue", LPA_20F_FY2024, 43_862_372.0),
    previous_revenue: fig("ifrs-full:Revenue", LPA_20F_FY2024, 39_436_343.0),
    net_income: fig(
        "ifrs-full:ProfitLossAttributableToOwnersOfParent",
        LPA_20F_FY2024,
        -29_285_428.0,
    ),
    eps_diluted: fig(
        "ifrs-full:DilutedEarningsLossPerShare",
        LPA_20F_FY2024,
        -0.94,
    ),
    liabilities: Liabilities::Reported(fig("ifrs-full:Liabilities", LPA_20F_FY2024, 336_218_160.0)),
    equity: fig(
        "ifrs-full:EquityAttributableToOwnersOfParent",
        LPA_20F_FY2024,
        228_964_876.0,
    ),
    current_assets: fig("ifrs-full:CurrentAssets", LPA_20F_FY2024, 40_001_754.0),
    current_liabilities: fig("ifrs-full:CurrentLiabilities", LPA_20F_FY2024, 26_524_836.0),
};

pub(crate) const YEARS: [Year; 5] = [APPLE, NVIDIA, WALMART, ALPHABET, LPA];

pub(crate) fn day(text: &str) -> NaiveDate {
    text.parse().expect("a date")
}

/// What an indicator should read.
pub(crate) struct Want {
    pub(crate) indicator: Indicator,
    pub(crate) value: f64,
    pub(crate) concepts: Vec<&'static str>,
    pub(crate) derived: bool,
    /// The period's first day; `None` for a balance at the year end.
    pub(crate) start: Option<&'static str>,
}

/// What each indicator of `year` should read.
pub(crate) fn expected(year: &Year) -> Vec<Want> {
    let (total, liability_concepts, derived) = match year.liabilities {
        Liabilities::Reported(total) => (total.value, vec![total.concept], false),
        Liabilities::Derived {
            liabilities_and_equity,
            total_equity,
            temporary_equity,
        } => (
            liabilities_and_equity.value
                - total_equity.value
                - temporary_equity.map_or(0.0, |t| t.value),
            [
                Some(liabilities_and_equity),
                Some(total_equity),
                temporary_equity,
            ]
            .into_iter()
            .flatten()
            .map(|f| f.concept)
            .collect(),
            true,
        ),
    };
    let revenue_concepts = if year.previous_revenue.concept == year.revenue.concept {
        vec![year.revenue.concept]
    } else {
        vec![year.previous_revenue.concept, year.revenue.concept]
    };
    vec![
        Want {
            indicator: Indicator::RevenueGrowthYoy,
            value: (year.revenue.value - year.previous_revenue.value) / year.previous_revenue.value,
            concepts: revenue_concepts,
            derived: false,
            start: Some(year.start),
        },
        Want {
            indicator: Indicator::NetMargin,
            value: year.net_income.value / year.revenue.value,
            concepts: vec![year.net_income.concept, year.revenue.concept],
            derived: false,
            start: Some(year.start),
        },
        Want {
            indicator: Indicator::EpsDiluted,
            value: year.eps_diluted.value,
            concepts: vec![year.eps_diluted.concept],
            derived: false,
            start: Some(year.start),
        },
        Want {
            indicator: Indicator::DebtToEquity,
            value: total / year.equity.value,
            concepts: liability_concepts
                .into_iter()
                .chain([year.equity.concept])
                .collect(),
            derived,
            start: None,
        },
        Want {
            indicator: Indicator::CurrentRatio,
            value: year.current_assets.value / year.current_liabilities.value,
            concepts: vec![
                year.current_assets.concept,
                year.current_liabilities.concept,
            ],
            derived: false,
            start: None,
        },
    ]
}

/// Every figure `year` is worked out from, with the period it belongs to.
pub(crate) fn figures(year: &Year) -> Vec<(Figure, Option<&'static str>, &'static str)> {
    let flow = Some(year.start);
    let mut all = vec![
        (year.revenue, flow, year.end),
        (
            year.previous_revenue,
            Some(year.previous.0),
            year.previous.1,
        ),
        (year.net_income, flow, year.end),
        (year.eps_diluted, flow, year.end),
        (year.equity, None, year.end),
        (year.current_assets, None, year.end),
        (year.current_liabilities, None, year.end),
    ];
    match year.liabilities {
        Liabilities::Reported(total) => all.push((total, None, year.end)),
        Liabilities::Derived {
            liabilities_and_equity,
            total_equity,
            temporary_equity,
        } => {
            for figure in [
                Some(liabilities_and_equity),
                Some(total_equity),
                temporary_equity,
            ]
            .into_iter()
            .flatten()
            {
                all.push((figure, None, year.end));
            }
        }
    }
    all
}

pub(crate) fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

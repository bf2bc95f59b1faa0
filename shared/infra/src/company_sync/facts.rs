//! One company's facts stored idempotently, with its sync state and, when a fact changed,
//! the `facts_updated` event, in one transaction.

use std::collections::{BTreeMap, BTreeSet};

use lzstock_domain::company::{Fact, Filing};
use lzstock_domain::events::FACTS_UPDATED;
use lzstock_domain::Ticker;
use serde_json::json;

use super::PgCompanySync;
use crate::outbox::{self, OutboxEvent};

/// What storing one company's facts did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredFacts {
    /// Concepts with a fact inserted or changed, sorted; empty when nothing changed.
    pub changed_concepts: Vec<String>,
    /// Facts the database's rules refused (kept out; counted).
    pub rejected: usize,
}

/// Whether a fact fits the `company_facts` table's rules, which repeat the domain's.
fn storable(f: &Fact) -> bool {
    let concept_ok = f.concept.split_once(':').is_some_and(|(taxonomy, name)| {
        !taxonomy.is_empty()
            && !name.is_empty()
            && taxonomy
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    });
    let accession_ok = f.accession.len() == 20
        && f.accession.char_indices().all(|(i, c)| match i {
            10 | 13 => c == '-',
            _ => c.is_ascii_digit(),
        });
    concept_ok
        && accession_ok
        && !f.unit.is_empty()
        && !f.form.is_empty()
        && (1900..=2200).contains(&f.fiscal_year)
        && ["FY", "Q1", "Q2", "Q3", "Q4", "H1", "H2"].contains(&f.fiscal_period.as_str())
        && f.period_start.is_none_or(|start| start <= f.period_end)
        && f.value.is_finite()
}

impl PgCompanySync {
    /// Stores `facts` of `ticker` as of `filing`, in one transaction: facts upserted (a fact
    /// identical to the stored one writes nothing), the sync state advanced, and, when a
    /// fact changed, one `facts_updated` event naming the changed concepts.
    ///
    /// # Errors
    /// When PostgreSQL fails; nothing is stored then.
    pub async fn store_facts(
        &self,
        ticker: &Ticker,
        filing: &Filing,
        facts: &[Fact],
    ) -> Result<StoredFacts, sqlx::Error> {
        // One row per key (the table's unique key): a document listing a fact twice must
        // not make one statement touch a row twice.
        let mut rows: BTreeMap<
            (
                &str,
                &str,
                Option<chrono::NaiveDate>,
                chrono::NaiveDate,
                &str,
            ),
            &Fact,
        > = BTreeMap::new();
        let mut rejected = 0;
        for fact in facts {
            if storable(fact) {
                rows.insert(
                    (
                        &fact.concept,
                        &fact.unit,
                        fact.period_start,
                        fact.period_end,
                        &fact.accession,
                    ),
                    fact,
                );
            } else {
                rejected += 1;
            }
        }
        let rows: Vec<&Fact> = rows.into_values().collect();
        let column = |get: fn(&Fact) -> String| rows.iter().map(|r| get(r)).collect::<Vec<_>>();
        let concepts = column(|r| r.concept.clone());
        let units = column(|r| r.unit.clone());
        let periods_of = |r: &&Fact| r.period_start;
        let starts: Vec<Option<chrono::NaiveDate>> = rows.iter().map(periods_of).collect();
        let ends: Vec<chrono::NaiveDate> = rows.iter().map(|r| r.period_end).collect();
        let years: Vec<i32> = rows.iter().map(|r| r.fiscal_year).collect();
        let periods = column(|r| r.fiscal_period.clone());
        let forms = column(|r| r.form.clone());
        let filed: Vec<chrono::NaiveDate> = rows.iter().map(|r| r.filed).collect();
        let accessions = column(|r| r.accession.clone());
        let values: Vec<f64> = rows.iter().map(|r| r.value).collect();

        let mut tx = self.pool.begin().await?;
        let changed: Vec<String> = sqlx::query_scalar!(
            r#"INSERT INTO company_facts (ticker, concept, unit, period_start, period_end,
                                          fiscal_year, fiscal_period, form, filed, accession, value)
               SELECT $1, * FROM UNNEST($2::text[], $3::text[], $4::date[], $5::date[],
                                        $6::int[], $7::text[], $8::text[], $9::date[],
                                        $10::text[], $11::float8[])
               ON CONFLICT (ticker, concept, unit, period_start, period_end, accession)
               DO UPDATE SET fiscal_year = EXCLUDED.fiscal_year,
                             fiscal_period = EXCLUDED.fiscal_period,
                             form = EXCLUDED.form, filed = EXCLUDED.filed,
                             value = EXCLUDED.value
               WHERE (company_facts.fiscal_year, company_facts.fiscal_period, company_facts.form,
                      company_facts.filed, company_facts.value)
                     IS DISTINCT FROM
                     (EXCLUDED.fiscal_year, EXCLUDED.fiscal_period, EXCLUDED.form,
                      EXCLUDED.filed, EXCLUDED.value)
               RETURNING concept"#,
            ticker.as_str(),
            &concepts,
            &units,
            &starts as &[Option<chrono::NaiveDate>],
            &ends,
            &years,
            &periods,
            &forms,
            &filed,
            &accessions,
            &values,
        )
        .fetch_all(&mut *tx)
        .await?;
        let changed_concepts: Vec<String> = changed
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        sqlx::query!(
            "INSERT INTO company_syncs (ticker, last_accession, last_filed, synced_at)
             VALUES ($1, $2, $3, now())
             ON CONFLICT (ticker) DO UPDATE SET last_accession = EXCLUDED.last_accession,
                 last_filed = EXCLUDED.last_filed, synced_at = now()",
            ticker.as_str(),
            filing.accession,
            filing.filed,
        )
        .execute(&mut *tx)
        .await?;
        if !changed_concepts.is_empty() {
            let cik: String = sqlx::query_scalar!(
                "SELECT cik FROM companies WHERE ticker = $1",
                ticker.as_str()
            )
            .fetch_one(&mut *tx)
            .await?;
            let event = facts_updated(
                &self.subject_root,
                ticker.as_str(),
                &cik,
                &changed_concepts,
                filing.filed,
                &filing.accession,
            );
            outbox::insert(&mut tx, &event).await?;
        }
        tx.commit().await?;
        Ok(StoredFacts {
            changed_concepts,
            rejected,
        })
    }
}

/// `<root>.companies.facts_updated`: `{"ticker"}` and `{"ticker", "cik",
/// "changedConcepts", "latestFiled", "accession"}`.
fn facts_updated(
    subject_root: &str,
    ticker: &str,
    cik: &str,
    changed_concepts: &[String],
    latest_filed: chrono::NaiveDate,
    accession: &str,
) -> OutboxEvent {
    OutboxEvent::new(
        uuid::Uuid::now_v7(),
        subject_root,
        FACTS_UPDATED,
        None,
        chrono::Utc::now(),
        json!({ "ticker": ticker }),
        json!({
            "ticker": ticker,
            "cik": cik,
            "changedConcepts": changed_concepts,
            "latestFiled": latest_filed.to_string(),
            "accession": accession,
        }),
    )
}

//! Property tests of the value types' parsers: whatever the input, a parser answers (no
//! panic), what it accepts keeps the type's rule, and what it accepts it gives back
//! unchanged, through `parse` and through deserialisation alike.

use lzstock_domain::common::OwnerId;
use lzstock_domain::dashboard::DashboardName;
use lzstock_domain::email::EmailAddress;
use lzstock_domain::{Cik, Ticker};
use proptest::prelude::*;

/// The ticker rule, written out independently of the parser.
fn is_ticker(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && text.len() <= 10
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '.' || c == '-')
}

proptest! {
    #[test]
    fn a_cik_is_1_to_10_digits_written_back_zero_padded(text in "[0-9]{0,12}|\\PC{0,12}") {
        let expected = (1..=10).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
        let parsed = Cik::parse(&text);
        prop_assert_eq!(parsed.is_ok(), expected, "{:?}", text);
        if let Ok(cik) = parsed {
            let written = cik.to_string();
            prop_assert_eq!(written.len(), 10);
            prop_assert_eq!(Cik::parse(&written).expect("reads back"), cik);
            prop_assert_eq!(cik.value(), text.parse::<u64>().expect("digits"));
            let json = serde_json::to_string(&cik).expect("serialises");
            prop_assert_eq!(serde_json::from_str::<Cik>(&json).expect("reads back"), cik);
        }
    }

    #[test]
    fn a_ticker_is_accepted_exactly_when_it_keeps_the_rule(text in "\\PC{0,12}|[A-Z0-9.a-z-]{0,12}") {
        let parsed = Ticker::parse(&text);
        prop_assert_eq!(parsed.is_ok(), is_ticker(&text), "{:?}", text);
        if let Ok(ticker) = parsed {
            prop_assert_eq!(ticker.as_str(), text.as_str());
            let json = serde_json::to_string(&ticker).expect("serialises");
            prop_assert_eq!(serde_json::from_str::<Ticker>(&json).expect("reads back"), ticker);
        }
    }

    #[test]
    fn every_address_of_the_documented_pattern_parses_and_round_trips(
        text in "[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.){1,3}([A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})"
    ) {
        prop_assume!(text.len() <= EmailAddress::MAX_LEN);
        let address = EmailAddress::parse(&text).expect("the document's pattern is accepted");
        prop_assert_eq!(address.as_str(), text.as_str());
        let json = serde_json::to_string(&address).expect("serialises");
        prop_assert_eq!(serde_json::from_str::<EmailAddress>(&json).expect("reads back"), address);
    }

    #[test]
    fn an_accepted_address_has_one_at_no_space_and_fits(text in "\\PC{0,80}|[a-z.@-]{0,30}") {
        if let Ok(address) = EmailAddress::parse(&text) {
            let text = address.as_str();
            prop_assert_eq!(text.matches('@').count(), 1);
            prop_assert!(!text.chars().any(|c| c.is_whitespace() || c.is_control()));
            prop_assert!(text.len() <= EmailAddress::MAX_LEN);
        }
        // Deserialisation applies the same rule.
        let json = serde_json::to_string(&text).expect("a JSON string");
        prop_assert_eq!(
            serde_json::from_str::<EmailAddress>(&json).is_ok(),
            EmailAddress::parse(&text).is_ok()
        );
    }

    #[test]
    fn an_owner_is_accepted_exactly_when_unpadded_and_1_to_255_bytes(text in "\\PC{0,260}|[ a-z]{0,5}") {
        let expected = !text.is_empty() && text.len() <= 255 && text.trim() == text;
        prop_assert_eq!(OwnerId::parse(&text).is_ok(), expected, "{:?}", text);
    }

    #[test]
    fn a_dashboard_name_is_kept_trimmed_and_within_its_characters(text in "\\PC{0,120}|[ \\t\\nA-Za-z]{0,8}") {
        if let Ok(name) = DashboardName::parse(&text) {
            prop_assert_eq!(name.as_str(), text.trim());
            prop_assert!(!name.as_str().is_empty());
            prop_assert!(text.chars().count() <= DashboardName::MAX_CHARS);
            prop_assert!(!name.as_str().chars().any(char::is_control));
        }
    }
}

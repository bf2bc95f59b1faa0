//! SEC's companyfacts document (`/api/xbrl/companyfacts/CIK##########.json`), any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = lzstock_infra::sec::documents::parse_company_facts(data);
});

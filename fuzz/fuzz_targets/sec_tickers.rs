//! SEC's ticker map (`/files/company_tickers.json`), any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = lzstock_infra::sec::documents::parse_tickers(data);
});

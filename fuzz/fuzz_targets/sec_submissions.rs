//! SEC's submissions document and its older pages (`/submissions/CIK##########.json`,
//! `…-submissions-001.json`), any bytes: the page names it follows come from the document.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(submissions) = lzstock_infra::sec::documents::parse_submissions(data) {
        // Only plain JSON file names are ever followed (never a path or a URL).
        for page in &submissions.older_pages {
            assert!(
                !page.contains('/') && !page.contains('\\') && page.ends_with(".json"),
                "{page:?}"
            );
        }
    }
    let _ = lzstock_infra::sec::documents::parse_submissions_page(data);
});

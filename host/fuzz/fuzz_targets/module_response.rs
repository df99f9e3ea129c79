//! A module's answer to a route: any status and headers, and any text it
//! logs. What the host sends on must never carry a header the host owns
//! or a status a module may not answer, and a logged message must stay
//! one bounded line.
#![no_main]
use arbitrary::Arbitrary;
use hamgam::api::module_response::{filter_module_response, host_owns, module_may_answer};
use hamgam::runtime::log_line::escape;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    status: u16,
    headers: Vec<(String, String)>,
    log: String,
}

fuzz_target!(|input: Input| {
    match filter_module_response(input.status, &input.headers) {
        Ok(filtered) => {
            assert!(module_may_answer(filtered.status.as_u16()));
            assert_eq!(filtered.status.as_u16(), input.status);
            for name in filtered.headers.keys() {
                assert!(!host_owns(name), "{name} passed the filter");
            }
        }
        Err(refused) => assert!(!module_may_answer(refused.0)),
    }
    let line = escape(&input.log);
    assert!(
        !line.contains(['\n', '\r', '\u{2028}', '\u{2029}', '\u{1b}']),
        "escaped line still breaks: {line:?}"
    );
});

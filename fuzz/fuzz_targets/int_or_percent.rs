//! maxSurge / maxUnavailable as users write them: any text (or integer) of any replica
//! count resolves without panicking to 0 … MAX_SCALED, and a percentage up to 100 % of a
//! count is at most the count (one more when rounding up a fraction is impossible).
#![no_main]

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use libfuzzer_sys::fuzz_target;
use minik8s::controllers::deployment::util::{MAX_SCALED, scaled_value};

#[derive(arbitrary::Arbitrary, Debug)]
struct Input {
    value: Value,
    total: i32,
    round_up: bool,
}

#[derive(arbitrary::Arbitrary, Debug)]
enum Value {
    Int(i32),
    Text(String),
}

fuzz_target!(|input: Input| {
    let value = match &input.value {
        Value::Int(n) => IntOrString::Int(*n),
        Value::Text(s) => IntOrString::String(s.clone()),
    };
    let scaled = scaled_value(&value, input.total, input.round_up);
    assert!((0..=MAX_SCALED).contains(&scaled), "{value:?} of {} gave {scaled}", input.total);
    if let Value::Text(s) = &input.value
        && let Some(percent) = s.strip_suffix('%').and_then(|d| d.parse::<u32>().ok())
        && percent <= 100
        && input.total >= 0
    {
        assert!(scaled <= input.total, "{s} of {} gave {scaled}", input.total);
    }
});

//! Resource quantities (`100m`, `1.5Gi`, `2e3`): any text parses or not without panicking,
//! and what parses prints in canonical form that parses back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minik8s::api::quantity::Quantity;

fuzz_target!(|text: &str| {
    let Some(quantity) = Quantity::parse(text) else {
        return;
    };
    let canonical = quantity.canonical();
    assert_eq!(Quantity::parse(&canonical), Some(quantity), "{text:?} printed as {canonical:?}");
    let _ = quantity.rounded_up_to_milli();
    let _ = quantity.value_in(0);
    let _ = quantity.value_in(-3);
});

//! The module.yaml reader, `stateful_functions::module_yaml::Module::parse`, on
//! arbitrary UTF-8 text (the first byte picks whether unknown keys are
//! refused): it never panics, and a module it accepts renders
//! (`module_yaml::render`) to text it reads back to the same components.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stateful_functions::TypeName;
use stateful_functions::module_yaml::{Component, Module, ReadOptions, UnknownKeys, render};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, text)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return;
    };
    let unknown = if mode & 1 == 0 {
        UnknownKeys::Ignore
    } else {
        UnknownKeys::Refuse
    };
    let options = ReadOptions::new().unknown_keys(unknown);
    let Ok(module) = Module::parse(text, options) else {
        return;
    };
    let _ = module.endpoint_for(&TypeName::from_static("com.example/cart"));
    let components: Vec<Component> = module
        .documents()
        .iter()
        .map(|d| d.component.clone())
        .collect();
    let rendered = render(&components);
    match Module::parse(&rendered, ReadOptions::new()) {
        Ok(again) => {
            let again: Vec<Component> = again
                .documents()
                .iter()
                .map(|d| d.component.clone())
                .collect();
            assert_eq!(
                components, again,
                "render does not read back the same:\n{rendered}"
            );
        }
        Err(e) => panic!("render wrote a module.yaml it refuses ({e}):\n{rendered}"),
    }
});

//! The WebAssembly entry point: hydrate the server-rendered page.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // Lets end-to-end tests (and curious operators) tell that the page is interactive.
    let _ = js_sys::Reflect::set(&js_sys::global(), &"__vigil_hydrated".into(), &true.into());
}

//! The signed-in user's own account: sign in and out, language, time zone, password.

pub mod login_page;
pub mod server_fns;
pub mod settings_page;

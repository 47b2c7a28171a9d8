//! `sqlx::migrate!` embeds the migration files at compile time but does not tell Cargo to
//! rebuild when a file is added; this does.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}

//! Administration: users and roles, API keys, the audit log. Admins only.

mod pages;
pub mod server_fns;

pub use pages::{ApiKeysPage, AuditPage, UsersPage};

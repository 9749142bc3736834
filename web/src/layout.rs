//! What every page shares: who is logged in, the navigation their role opens, and the
//! CSRF token htmx sends with each request (`<body hx-headers=...>`).

use audit_log::Role;

use crate::auth::CurrentUser;

/// The frame around a page, given to `base.html`.
pub struct Chrome {
    pub user: String,
    pub role: &'static str,
    pub csrf: String,
    pub nav: Vec<(&'static str, &'static str)>,
    /// The `href` of the current section, marked in the navigation.
    pub active: &'static str,
}

impl Chrome {
    pub fn new(user: &CurrentUser, active: &'static str) -> Self {
        Chrome {
            user: user.name.clone(),
            role: user.role.as_str(),
            csrf: user.csrf.clone(),
            nav: nav_for(user.role),
            active,
        }
    }

    /// The JSON of `hx-headers`: the token under the header `authenticate` reads.
    pub fn hx_headers(&self) -> String {
        format!("{{\"{}\": \"{}\"}}", crate::auth::CSRF_HEADER, self.csrf)
    }
}

/// The first page of each role (where `/` and a fresh login go).
pub fn home_of(role: Role) -> &'static str {
    match role {
        Role::Clinician => "/patients",
        Role::Auditor => "/audit",
        Role::Governance => "/governance",
        Role::Admin | Role::System => "/admin",
        // A system's token reaches `/fhir` only; it has no pages.
        Role::Integration => "/login",
    }
}

fn nav_for(role: Role) -> Vec<(&'static str, &'static str)> {
    match role {
        Role::Clinician => vec![("/patients", "Patients")],
        Role::Auditor => vec![("/audit", "Audit trail")],
        Role::Governance => vec![("/governance", "Model registry")],
        Role::Admin | Role::System => vec![("/admin", "Administration"), ("/metrics", "Metrics")],
        Role::Integration => Vec::new(),
    }
}

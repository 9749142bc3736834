//! RDT web: axum + askama + htmx pages (chat, patient journeys, consult summaries,
//! auditor and governance consoles) and the JSON API.
//!
//! No pages exist before the web issue; this crate holds no code yet.

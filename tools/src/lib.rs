//! RDT tools: the typed functions the assistant and the web call into the twin.
//!
//! Each tool declares its input and output types (JSON schema derived), the role and
//! patient scope it needs, and an output bound. This crate depends on `twin-core` and
//! `audit-log` only; it never knows about `assistant` or `web`.
//!
//! The tools themselves arrive with the tools/assistant issue; until then this crate
//! holds no code.

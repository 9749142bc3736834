//! Who may call a tool (role) and on which patients (scope).
//!
//! Both come from the caller: the principal of the logged-in user and the patient
//! scope of their session. Nothing in a tool's input can widen them: the input names a
//! patient, and the scope decides whether that patient may be read.

use std::collections::BTreeSet;

use audit_log::{Principal, Role};
use journey::PatientId;

use crate::error::ToolError;
use crate::registry::ToolName;

/// The patients a session may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// These patients and no others (a clinician's list, a demo's patients).
    Patients(BTreeSet<PatientId>),
    /// Every patient: honoured only for [`Role::System`] (batch work no person
    /// started). A person's session given `All` by mistake reaches nobody.
    All,
}

impl Scope {
    pub fn patients<I: IntoIterator<Item = PatientId>>(ids: I) -> Self {
        Scope::Patients(ids.into_iter().collect())
    }

    /// The scope of patient ids given by hand (`rdt tool --patient`): those patients;
    /// none given, no patient, or every patient for [`Role::System`]. `None` when an
    /// id is empty.
    pub fn of_ids(ids: &[String], role: Role) -> Option<Self> {
        let ids = ids.iter().map(|p| PatientId::new(p.clone())).collect::<Option<BTreeSet<_>>>()?;
        Some(if ids.is_empty() && role == Role::System { Scope::All } else { Scope::Patients(ids) })
    }

    /// Whether `principal` may read `patient` in this scope.
    pub fn permits(&self, principal: &Principal, patient: &PatientId) -> bool {
        match self {
            Scope::All => principal.role == Role::System,
            Scope::Patients(ids) => ids.contains(patient),
        }
    }

    /// Refuses with [`ToolError::OutOfScope`] unless every patient is permitted.
    pub fn check<'a>(
        &self,
        principal: &Principal,
        patients: impl IntoIterator<Item = &'a PatientId>,
    ) -> Result<(), ToolError> {
        for patient in patients {
            if !self.permits(principal, patient) {
                return Err(ToolError::OutOfScope { patient: patient.to_string() });
            }
        }
        Ok(())
    }
}

/// Whether `actual` may use a tool that needs `required`. `System` may use every tool
/// (it runs for no person, with its own scope); every other role only its own.
pub fn role_permits(required: Role, actual: Role) -> bool {
    actual == required || actual == Role::System
}

pub(crate) fn check_role(tool: ToolName, required: Role, principal: &Principal) -> Result<(), ToolError> {
    if role_permits(required, principal.role) {
        Ok(())
    } else {
        Err(ToolError::WrongRole { tool, role: principal.role, required })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_by_hand_scope_those_patients_or_all_for_the_system() {
        let one = Scope::of_ids(&["p1".to_owned(), "p1".to_owned()], Role::Clinician).unwrap();
        assert_eq!(one, Scope::patients([PatientId::new("p1").unwrap()]));
        assert_eq!(Scope::of_ids(&[], Role::Clinician), Some(Scope::Patients(BTreeSet::new())));
        assert_eq!(Scope::of_ids(&[], Role::System), Some(Scope::All));
        assert_eq!(Scope::of_ids(&[" ".to_owned()], Role::System), None);
    }

    fn id(s: &str) -> PatientId {
        PatientId::new(s).unwrap()
    }

    #[test]
    fn a_clinician_reaches_only_the_patients_in_scope() {
        let doc = Principal::new("dr-a", Role::Clinician);
        let scope = Scope::patients([id("p1")]);
        assert!(scope.permits(&doc, &id("p1")));
        assert!(!scope.permits(&doc, &id("p2")));
        assert!(
            matches!(scope.check(&doc, [&id("p1"), &id("p2")]), Err(ToolError::OutOfScope { patient }) if patient == "p2")
        );
    }

    #[test]
    fn scope_all_is_for_the_system_only() {
        for role in Role::ALL {
            let who = Principal::new("x", role);
            assert_eq!(Scope::All.permits(&who, &id("p1")), role == Role::System, "{role}");
        }
    }

    #[test]
    fn clinical_tools_refuse_auditors_governance_and_admins() {
        for role in Role::ALL {
            let allowed = check_role(ToolName::LabTrend, Role::Clinician, &Principal::new("x", role)).is_ok();
            assert_eq!(allowed, matches!(role, Role::Clinician | Role::System), "{role}");
        }
    }
}

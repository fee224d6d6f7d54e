//! A template's field specifiers as the wire carries them: what the plan compiler reads, the
//! cache stores and the state file persists.

/// Template field length meaning "variable length" (RFC 7011 §7).
pub const VARLEN: u16 = 0xFFFF;

/// One field specifier as the template carried it (`pen` 0: IANA element).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct FieldSpec {
    pub id: u16,
    pub len: u16,
    pub pen: u32,
}

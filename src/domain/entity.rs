//! The business register (经济户口): market entities and their records as parsed, valid values.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The 31 characters of GB 32100-2015 (digits and capitals without I, O, Z, S, V).
const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights of positions 1..=17 (3^(i-1) mod 31), from the standard.
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

fn uscc_value(c: u8) -> Option<u32> {
    USCC_ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// The check character that GB 32100-2015 puts after the given 17 characters,
/// or `None` if one of them is not in the code's alphabet.
pub fn uscc_check_character(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (c, w) in bytes.iter().zip(USCC_WEIGHTS) {
        sum += uscc_value(*c)? * w;
    }
    let check = (31 - sum % 31) % 31;
    Some(USCC_ALPHABET[check as usize] as char)
}

/// A unified social credit code (统一社会信用代码) whose check character is right.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct UnifiedCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnifiedCodeError {
    #[error("a unified social credit code has 18 characters, this one has {0}")]
    Length(usize),
    #[error("character {position} ('{found}') is not allowed in a unified social credit code")]
    Character { position: usize, found: char },
    #[error("check character is '{found}' but GB 32100-2015 gives '{expected}'")]
    CheckCharacter { found: char, expected: char },
}

impl UnifiedCode {
    pub fn parse(text: &str) -> Result<Self, UnifiedCodeError> {
        let n = text.chars().count();
        if n != 18 {
            return Err(UnifiedCodeError::Length(n));
        }
        if let Some((i, c)) = text
            .chars()
            .enumerate()
            .find(|(_, c)| !c.is_ascii() || uscc_value(*c as u8).is_none())
        {
            return Err(UnifiedCodeError::Character {
                position: i + 1,
                found: c,
            });
        }
        let expected = uscc_check_character(&text[..17]).ok_or(UnifiedCodeError::Length(n))?;
        let found = text.as_bytes()[17] as char;
        if found != expected {
            return Err(UnifiedCodeError::CheckCharacter { found, expected });
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether a text is shaped like a unified social credit code (18 characters of its
/// alphabet); such an identifier must then carry the right check character.
pub fn looks_like_unified_code(text: &str) -> bool {
    text.len() == 18 && text.bytes().all(|c| uscc_value(c).is_some())
}

/// A business identifier: a unified social credit code when it is shaped like one
/// (and then its check character must be right), else a registration number or
/// another register key such as `osm:n123`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EntityId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntityIdError {
    #[error("identifier is empty")]
    Empty,
    #[error("identifier '{0}' has white space or a control character")]
    WhiteSpace(String),
    #[error("identifier is longer than 64 characters")]
    TooLong,
    #[error("identifier '{id}' looks like a unified social credit code: {source}")]
    Code {
        id: String,
        source: UnifiedCodeError,
    },
}

impl EntityId {
    pub fn parse(text: &str) -> Result<Self, EntityIdError> {
        if text.is_empty() {
            return Err(EntityIdError::Empty);
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EntityIdError::WhiteSpace(text.to_owned()));
        }
        if text.chars().count() > 64 {
            return Err(EntityIdError::TooLong);
        }
        if looks_like_unified_code(text) {
            UnifiedCode::parse(text).map_err(|source| EntityIdError::Code {
                id: text.to_owned(),
                source,
            })?;
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EntityId {
    type Error = EntityIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<EntityId> for String {
    fn from(id: EntityId) -> Self {
        id.0
    }
}

impl fmt::Display for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Declares a closed vocabulary: the enum, its canonical lowercase words, parsing and display.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($variant:ident => $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub const WORDS: &'static [&'static str] = &[$($word),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> {
                match text {
                    $($word => Ok($name::$variant),)+
                    other => Err(format!(
                        "unknown {} '{}' (expected one of: {})",
                        $what, other, Self::WORDS.join(", ")
                    )),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary!(
    /// Licence status of a market entity.
    Licence, "licence status" {
        Licensed => "licensed",
        Unlicensed => "unlicensed",
        Suspended => "suspended",
        Revoked => "revoked",
        Deregistered => "deregistered",
    }
);

vocabulary!(
    /// Severity of a violation record.
    Severity, "severity" {
        Minor => "minor",
        General => "general",
        Serious => "serious",
    }
);

vocabulary!(
    /// Result of an annual report (年报) for one year.
    ReportResult, "annual report result" {
        Pass => "pass",
        Fail => "fail",
        Missing => "missing",
    }
);

vocabulary!(
    /// The three ways of inspecting (市场巡查方式), plus the follow-up of a rectification notice.
    InspectionKind, "inspection kind" {
        Routine => "routine",
        Special => "special",
        Targeted => "targeted",
        FollowUp => "follow_up",
    }
);

vocabulary!(
    /// What an inspection found.
    Outcome, "inspection outcome" {
        Ok => "ok",
        Findings => "findings",
        Rectification => "rectification",
        Case => "case",
        Refused => "refused",
        Closed => "closed",
    }
);

vocabulary!(
    /// What an officer does (所长, 副所长, 网格责任人, 协管员).
    Role, "officer role" {
        Chief => "chief",
        Deputy => "deputy",
        Officer => "officer",
        Helper => "helper",
    }
);

/// A market entity on the register.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Business {
    pub id: EntityId,
    pub name: String,
    pub industry: String,
    pub licence: Licence,
    /// WGS84 longitude and latitude; `None` when the register has no position.
    pub location: Option<(f64, f64)>,
    pub address: String,
    pub registered_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub date: NaiveDate,
    pub severity: Severity,
    /// The violation led to an order to stop business (责令停业).
    pub suspended: bool,
    /// The violation led to revocation of the licence (吊销).
    pub revoked: bool,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Complaint {
    pub date: NaiveDate,
    pub channel: String,
    pub substantiated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnualReport {
    pub year: i32,
    pub result: ReportResult,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inspection {
    pub date: NaiveDate,
    pub officer_id: String,
    pub kind: InspectionKind,
    pub outcome: Outcome,
}

/// Everything on record about one business that classification reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Records {
    pub violations: Vec<Violation>,
    pub complaints: Vec<Complaint>,
    pub annual_reports: Vec<AnnualReport>,
    pub inspections: Vec<Inspection>,
}

/// An officer on the roster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Officer {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub years_of_service: u32,
    pub hours_per_month: f64,
    pub certified: bool,
    pub skills: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_character_of_published_codes() {
        // Codes printed on real business licences.
        for code in [
            "91350100M000100Y43",
            "91110000802100433B",
            "91440300708461136T",
        ] {
            let expected = uscc_check_character(&code[..17]).unwrap();
            assert_eq!(code.as_bytes()[17] as char, expected, "{code}");
            assert!(UnifiedCode::parse(code).is_ok(), "{code}");
        }
    }

    #[test]
    fn wrong_check_character_is_named() {
        let err = UnifiedCode::parse("91350100M000100Y44").unwrap_err();
        assert_eq!(
            err,
            UnifiedCodeError::CheckCharacter {
                found: '4',
                expected: '3'
            }
        );
        assert!(EntityId::parse("91350100M000100Y44").is_err());
    }

    #[test]
    fn other_identifiers_are_registration_numbers() {
        assert!(EntityId::parse("osm:n55211772").is_ok());
        assert!(EntityId::parse("420102000123456").is_ok());
        assert!(EntityId::parse("").is_err());
        assert!(EntityId::parse("a b").is_err());
    }

    #[test]
    fn vocabularies_round_trip() {
        for l in Licence::ALL {
            assert_eq!(l.as_str().parse::<Licence>().unwrap(), *l);
        }
        assert!(
            "closed_down"
                .parse::<Licence>()
                .unwrap_err()
                .contains("licensed")
        );
    }
}

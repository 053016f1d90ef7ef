//! Import problems: what is wrong and exactly where (file, line, column or feature).

use std::collections::BTreeMap;
use std::fmt;

/// Where in an input a problem is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Location {
    File,
    Line { line: u64, column: Option<String> },
    Feature { index: usize, name: Option<String> },
}

/// The class of a problem, for the summary's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProblemKind {
    Unreadable,
    Syntax,
    MissingColumn,
    MissingProperty,
    BadValue,
    BadDate,
    UnknownIndustry,
    BadCreditCode,
    DuplicateId,
    DuplicateCode,
    UnknownEntity,
    InvalidGeometry,
    UnclosedRing,
    CoordinatesOutOfRange,
    OverlappingUnits,
}

impl ProblemKind {
    pub fn label(self) -> &'static str {
        match self {
            ProblemKind::Unreadable => "unreadable file",
            ProblemKind::Syntax => "syntax",
            ProblemKind::MissingColumn => "missing column",
            ProblemKind::MissingProperty => "missing property",
            ProblemKind::BadValue => "bad value",
            ProblemKind::BadDate => "bad date",
            ProblemKind::UnknownIndustry => "unknown industry",
            ProblemKind::BadCreditCode => "bad credit code",
            ProblemKind::DuplicateId => "duplicate id",
            ProblemKind::DuplicateCode => "duplicate code",
            ProblemKind::UnknownEntity => "unknown entity",
            ProblemKind::InvalidGeometry => "invalid polygon",
            ProblemKind::UnclosedRing => "unclosed ring",
            ProblemKind::CoordinatesOutOfRange => "coordinates out of range",
            ProblemKind::OverlappingUnits => "overlapping units",
        }
    }
}

/// One thing wrong with the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub location: Location,
    pub kind: ProblemKind,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Location::File => write!(f, "{}: {}", self.file, self.message),
            Location::Line {
                line,
                column: Some(column),
            } => {
                write!(f, "{}:{line}: column {column}: {}", self.file, self.message)
            }
            Location::Line { line, column: None } => {
                write!(f, "{}:{line}: {}", self.file, self.message)
            }
            Location::Feature {
                index,
                name: Some(name),
            } => {
                write!(
                    f,
                    "{}: feature {index} ({name}): {}",
                    self.file, self.message
                )
            }
            Location::Feature { index, name: None } => {
                write!(f, "{}: feature {index}: {}", self.file, self.message)
            }
        }
    }
}

/// How many problems are kept in full; the rest are only counted.
pub const PROBLEMS_KEPT: usize = 200;

/// Collects problems while an import reads everything, so that one run shows them all.
#[derive(Debug, Default)]
pub struct Problems {
    kept: Vec<Problem>,
    by_kind: BTreeMap<ProblemKind, usize>,
    total: usize,
}

impl Problems {
    pub fn push(
        &mut self,
        file: &str,
        location: Location,
        kind: ProblemKind,
        message: impl Into<String>,
    ) {
        self.total += 1;
        *self.by_kind.entry(kind).or_default() += 1;
        if self.kept.len() < PROBLEMS_KEPT {
            self.kept.push(Problem {
                file: file.to_owned(),
                location,
                kind,
                message: message.into(),
            });
        }
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Adds another file's problems after these.
    pub fn append(&mut self, other: Problems) {
        self.total += other.total;
        for (kind, n) in other.by_kind {
            *self.by_kind.entry(kind).or_default() += n;
        }
        let room = PROBLEMS_KEPT.saturating_sub(self.kept.len());
        self.kept.extend(other.kept.into_iter().take(room));
    }

    /// Orders the kept problems top to bottom (stable: a line's problems keep their order).
    pub fn sort_by_line(&mut self) {
        self.kept.sort_by_key(|p| match p.location {
            Location::Line { line, .. } => line,
            _ => 0,
        });
    }

    pub fn into_result<T>(self, value: T) -> Result<T, ImportError> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(ImportError {
                problems: self.kept,
                by_kind: self.by_kind.into_iter().collect(),
                total: self.total,
            })
        }
    }
}

/// A rejected import: nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ImportError {
    /// The first problems, in the order they were found (file by file, top to bottom).
    pub problems: Vec<Problem>,
    pub by_kind: Vec<(ProblemKind, usize)>,
    pub total: usize,
}

impl ImportError {
    pub fn single(
        file: &str,
        location: Location,
        kind: ProblemKind,
        message: impl Into<String>,
    ) -> Self {
        let mut p = Problems::default();
        p.push(file, location, kind, message);
        match p.into_result(()) {
            Err(e) => e,
            Ok(()) => unreachable!("one problem was pushed"),
        }
    }

    pub fn first(&self) -> Option<&Problem> {
        self.problems.first()
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts: Vec<String> = self
            .by_kind
            .iter()
            .map(|(k, n)| format!("{n} {}", k.label()))
            .collect();
        writeln!(
            f,
            "import rejected, nothing was written: {} problem(s): {}",
            self.total,
            counts.join(", ")
        )?;
        for p in self.problems.iter().take(20) {
            writeln!(f, "  {p}")?;
        }
        if self.total > 20 {
            writeln!(f, "  … and {} more", self.total - 20)?;
        }
        Ok(())
    }
}

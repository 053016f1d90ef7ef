//! CSV region files read by column name, every field checked, problems named by line and column.

use std::io::Read;
use std::str::FromStr;

use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};

use super::problem::{Location, ProblemKind, Problems};

/// One CSV file being read: header positions and the current line.
pub struct Table<'p> {
    pub file: String,
    /// Header names and positions: a handful, so a scan beats hashing on every field.
    columns: Vec<(String, usize)>,
    problems: &'p mut Problems,
}

/// A row of a [`Table`], with getters that report bad fields and return `None`.
pub struct Row<'t, 'p> {
    table: &'t mut Table<'p>,
    record: &'t csv::StringRecord,
    pub line: u64,
}

/// Files above this size (about two thousand rows) get a progress bar on standard error
/// when it is a terminal.
const PROGRESS_BYTES: u64 = 200 * 1024;

impl<'p> Table<'p> {
    /// Reads every row of `reader`, calling `each` with a checked accessor. Columns in
    /// `required` must be in the header; other columns are allowed and ignored.
    pub fn read(
        file: &str,
        reader: impl Read,
        size: u64,
        required: &[&str],
        problems: &'p mut Problems,
        progress: &indicatif::MultiProgress,
        mut each: impl FnMut(&mut Row<'_, 'p>),
    ) -> usize {
        let mut csv = csv::ReaderBuilder::new()
            .flexible(false)
            .from_reader(reader);
        let headers = match csv.headers() {
            Ok(h) => h.clone(),
            Err(e) => {
                problems.push(
                    file,
                    Location::Line {
                        line: 1,
                        column: None,
                    },
                    ProblemKind::Syntax,
                    e.to_string(),
                );
                return 0;
            }
        };
        let columns: Vec<(String, usize)> = headers
            .iter()
            .enumerate()
            .map(|(i, h)| (h.trim_start_matches('\u{feff}').to_owned(), i))
            .collect();
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|c| !columns.iter().any(|(name, _)| name == *c))
            .collect();
        if !missing.is_empty() {
            problems.push(
                file,
                Location::Line {
                    line: 1,
                    column: None,
                },
                ProblemKind::MissingColumn,
                format!(
                    "header lacks column(s) {} (it has: {})",
                    missing.join(", "),
                    headers.iter().collect::<Vec<_>>().join(",")
                ),
            );
            return 0;
        }
        let progress = if size > PROGRESS_BYTES {
            let bar = progress.add(ProgressBar::new(size));
            if let Ok(style) =
                ProgressStyle::with_template("{msg:>20} [{bar:40}] {bytes}/{total_bytes} {eta}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(file.to_owned());
            bar
        } else {
            ProgressBar::hidden()
        };
        let mut table = Table {
            file: file.to_owned(),
            columns,
            problems,
        };
        let mut record = csv::StringRecord::new();
        let mut rows = 0;
        loop {
            match csv.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {
                    rows += 1;
                    let line = record.position().map_or(0, csv::Position::line);
                    if rows % 4096 == 0 {
                        progress.set_position(record.position().map_or(0, csv::Position::byte));
                    }
                    let mut row = Row {
                        table: &mut table,
                        record: &record,
                        line,
                    };
                    each(&mut row);
                }
                Err(e) => {
                    let line = e.position().map_or(0, csv::Position::line);
                    table.problems.push(
                        file,
                        Location::Line { line, column: None },
                        ProblemKind::Syntax,
                        e.to_string(),
                    );
                    break;
                }
            }
        }
        progress.finish_and_clear();
        rows
    }
}

impl<'t> Row<'t, '_> {
    pub fn problem(&mut self, column: Option<&str>, kind: ProblemKind, message: impl Into<String>) {
        let location = Location::Line {
            line: self.line,
            column: column.map(str::to_owned),
        };
        self.table
            .problems
            .push(&self.table.file, location, kind, message);
    }

    /// The raw text of a column ("" for an optional column the file does not have).
    pub fn text(&self, column: &str) -> &'t str {
        let record: &'t csv::StringRecord = self.record;
        self.table
            .columns
            .iter()
            .find(|(name, _)| name == column)
            .and_then(|&(_, i)| record.get(i))
            .unwrap_or("")
    }

    pub fn required(&mut self, column: &str) -> Option<String> {
        let text = self.text(column).trim();
        if text.is_empty() {
            self.problem(Some(column), ProblemKind::BadValue, "is empty");
            return None;
        }
        Some(text.to_owned())
    }

    pub fn parse<T: FromStr<Err = String>>(&mut self, column: &str) -> Option<T> {
        let text = self.text(column).trim();
        match text.parse::<T>() {
            Ok(v) => Some(v),
            Err(message) => {
                self.problem(Some(column), ProblemKind::BadValue, message);
                None
            }
        }
    }

    pub fn date(&mut self, column: &str) -> Option<NaiveDate> {
        let text = self.text(column).trim();
        match parse_date(text) {
            Ok(d) => Some(d),
            Err(message) => {
                self.problem(Some(column), ProblemKind::BadDate, message);
                None
            }
        }
    }

    /// An empty field is `Some(None)`; a bad one is reported and `None`.
    pub fn optional_date(&mut self, column: &str) -> Option<Option<NaiveDate>> {
        if self.text(column).trim().is_empty() {
            Some(None)
        } else {
            self.date(column).map(Some)
        }
    }

    pub fn boolean(&mut self, column: &str) -> Option<bool> {
        match self.text(column).trim() {
            "true" => Some(true),
            "false" => Some(false),
            other => {
                let message = format!("'{other}' is not a boolean (true or false)");
                self.problem(Some(column), ProblemKind::BadValue, message);
                None
            }
        }
    }

    pub fn number<T: FromStr>(&mut self, column: &str, what: &str) -> Option<T> {
        let text = self.text(column).trim();
        match text.parse::<T>() {
            Ok(v) => Some(v),
            Err(_) => {
                self.problem(
                    Some(column),
                    ProblemKind::BadValue,
                    format!("'{text}' is not {what}"),
                );
                None
            }
        }
    }
}

/// ISO 8601 calendar date, `YYYY-MM-DD`, nothing else.
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let date = if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        match (digits(0..4), digits(5..7), digits(8..10)) {
            (Some(y), Some(m), Some(d)) => i32::try_from(y)
                .ok()
                .and_then(|y| NaiveDate::from_ymd_opt(y, m, d)),
            _ => None,
        }
    } else {
        None
    };
    date.ok_or_else(|| format!("'{text}' is not a date (expected YYYY-MM-DD)"))
}

#[cfg(test)]
mod tests {
    use super::parse_date;
    use chrono::NaiveDate;

    #[test]
    fn dates_are_iso_calendar_dates_and_nothing_else() {
        assert_eq!(
            parse_date("2024-02-29"),
            Ok(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap())
        );
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "2026-1-01",
            "2026/01/01",
            "20260101",
            "2026-01-0a",
            "+026-01-01",
            "2026-01-01 ",
            "",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn every_day_reads_back(days in 0i64..200_000) {
            let day = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap() + chrono::Duration::days(days);
            proptest::prop_assert_eq!(parse_date(&day.format("%Y-%m-%d").to_string()), Ok(day));
        }

        #[test]
        fn agrees_with_chrono_on_any_ten_characters(text in "[0-9+-]{10}") {
            let chrono = NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                .ok()
                .filter(|_| text.as_bytes()[4] == b'-' && text.as_bytes()[7] == b'-'
                    && text.bytes().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit()));
            proptest::prop_assert_eq!(parse_date(&text).ok(), chrono);
        }
    }
}

//! Timestamps: milliseconds since the Unix epoch, read from RFC 3339 and
//! written back in UTC.

/// The times jrule reads and writes: 0000-01-01T00:00:00Z to
/// 9999-12-31T23:59:59.999Z, in milliseconds since the epoch.
pub const IN_RANGE: std::ops::RangeInclusive<i64> = -62_167_219_200_000..=253_402_300_799_999;

/// Parses an RFC 3339 timestamp (`2026-03-01T22:15:00Z`,
/// `2026-03-01T23:15:00.250+01:00`) into milliseconds since the epoch.
/// Digits of a fraction beyond milliseconds are dropped.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |from: usize, len: usize| -> Option<i64> {
        let digits = b.get(from..from + len)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(
            digits
                .iter()
                .fold(0i64, |n, d| n * 10 + i64::from(d - b'0')),
        )
    };
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 3 {
                millis = millis * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let digits = i - start;
        if digits == 0 {
            return None;
        }
        for _ in digits..3 {
            millis *= 10;
        }
    }
    let offset_minutes = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let (h, m) = (num(i + 1, 2)?, num(i + 4, 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let minutes = h * 60 + m;
            if *sign == b'-' {
                -minutes
            } else {
                minutes
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second.min(59) - offset_minutes * 60;
    Some(seconds * 1_000 + millis)
}

/// Formats milliseconds since the epoch as RFC 3339 in UTC, with a
/// fraction only when it is not zero.
pub fn format_rfc3339(ms: i64) -> String {
    let seconds = ms.div_euclid(1_000);
    let millis = ms.rem_euclid(1_000);
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (rest / 3_600, rest % 3_600 / 60, rest % 60);
    if millis == 0 {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{millis:03}Z")
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Milliseconds of a duration written as the language writes it: digits
/// and a unit, `s`, `m`, `h` or `d` (`30s`, `5m`, `2h`, `1d`); `None` for
/// anything else, or past `i64::MAX` milliseconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    let unit = match text.as_bytes().last()? {
        b's' => 1_000,
        b'm' => 60_000,
        b'h' => 3_600_000,
        b'd' => 86_400_000,
        _ => return None,
    };
    let digits = &text[..text.len() - 1];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<i64>().ok()?.checked_mul(unit)
}

/// A duration in milliseconds as the language writes it, in the largest
/// unit that divides it (`90m`, `2h`, `3d`); one that is not a whole number
/// of seconds, which no literal says, in `ms`.
pub fn format_duration(ms: i64) -> String {
    match u64::try_from(ms) {
        Ok(whole) if whole > 0 && whole % 1_000 == 0 => duration_literal(whole),
        _ => format!("{ms}ms"),
    }
}

/// A duration literal for `ms`, in the largest unit that divides it (the
/// formatter writes these).
pub fn duration_literal(ms: u64) -> String {
    const UNITS: [(u64, char); 4] = [
        (86_400_000, 'd'),
        (3_600_000, 'h'),
        (60_000, 'm'),
        (1_000, 's'),
    ];
    for (size, unit) in UNITS {
        if ms % size == 0 && (ms > 0 || unit == 's') {
            return format!("{}{unit}", ms / size);
        }
    }
    // Not a whole number of seconds: no literal says it; the nearest does.
    format!("{}s", ms / 1_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for s in [
            "1970-01-01T00:00:00Z",
            "2026-03-01T22:15:00Z",
            "2024-02-29T23:59:59.250Z",
            "1969-12-31T23:59:59.999Z",
        ] {
            let ms = parse_rfc3339(s).unwrap();
            assert_eq!(format_rfc3339(ms), s);
        }
        assert_eq!(
            parse_rfc3339("2026-03-01T22:15:00Z"),
            Some(1_772_403_300_000)
        );
    }

    #[test]
    fn range_ends() {
        assert_eq!(
            parse_rfc3339("0000-01-01T00:00:00Z"),
            Some(*IN_RANGE.start())
        );
        assert_eq!(
            parse_rfc3339("9999-12-31T23:59:59.999Z"),
            Some(*IN_RANGE.end())
        );
    }

    #[test]
    fn offsets_and_fractions() {
        let utc = parse_rfc3339("2026-03-01T22:15:00Z").unwrap();
        assert_eq!(parse_rfc3339("2026-03-01T23:15:00+01:00"), Some(utc));
        assert_eq!(parse_rfc3339("2026-03-01T17:45:00-04:30"), Some(utc));
        assert_eq!(parse_rfc3339("2026-03-01T22:15:00.5Z"), Some(utc + 500));
        assert_eq!(
            parse_rfc3339("2026-03-01T22:15:00.123456Z"),
            Some(utc + 123)
        );
    }

    #[test]
    fn rejects_malformed() {
        for s in [
            "",
            "2026-03-01",
            "2026-13-01T00:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-03-01T24:00:00Z",
            "2026-03-01T22:15:00",
            "2026-03-01T22:15:00.Z",
            "2026-03-01T22:15:00+0100",
            "2026-03-01T22:15:00Zjunk",
            "२०२६-03-01T22:15:00Z",
        ] {
            assert_eq!(parse_rfc3339(s), None, "{s}");
        }
    }
}

//! The two ways S3 writes a time: ISO 8601 in listings, the HTTP date in `Last-Modified`.

/// Year, month, day and weekday (0 = Sunday) of a day counted from 1970-01-01 (the civil
/// calendar algorithm of H. Hinnant).
fn civil(days: i64) -> (i64, u32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, (days + 4).rem_euclid(7) as u32)
}

/// `2026-11-30T19:40:23.123Z`, as S3 listings write times.
pub fn iso_date((seconds, nanos): (u64, u32)) -> String {
    let (year, month, day, _) = civil((seconds / 86_400) as i64);
    let time = seconds % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        time / 3600,
        time / 60 % 60,
        time % 60,
        nanos / 1_000_000
    )
}

/// `Mon, 30 Nov 2026 19:40:23 GMT`, the HTTP date of `Last-Modified`.
pub fn http_date(seconds: u64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (year, month, day, weekday) = civil((seconds / 86_400) as i64);
    let time = seconds % 86_400;
    format!(
        "{}, {day:02} {} {year:04} {:02}:{:02}:{:02} GMT",
        DAYS[weekday as usize],
        MONTHS[month as usize - 1],
        time / 3600,
        time / 60 % 60,
        time % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_in_both_s3_forms() {
        // 2024-02-29 12:34:56 UTC was a Thursday.
        let seconds = 1_709_210_096;
        assert_eq!(iso_date((seconds, 7_000_000)), "2024-02-29T12:34:56.007Z");
        assert_eq!(http_date(seconds), "Thu, 29 Feb 2024 12:34:56 GMT");
    }
}

//! Natural ("human") ordering of relative paths: digit runs compare as numbers.

use std::cmp::Ordering;

/// Compares two paths so that `slice_2` sorts before `slice_10`.
///
/// Runs of ASCII digits compare by numeric value (leading zeros ignored, then fewer leading zeros
/// first), other runs bytewise; if the paths are still equal, plain bytewise order decides, so the
/// order is total and deterministic.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    natural_runs_cmp(a.as_bytes(), b.as_bytes()).then_with(|| a.cmp(b))
}

fn natural_runs_cmp(mut a: &[u8], mut b: &[u8]) -> Ordering {
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let (run_a, rest_a) = split_run(a, |c| c.is_ascii_digit());
                let (run_b, rest_b) = split_run(b, |c| c.is_ascii_digit());
                let order = digits_cmp(run_a, run_b);
                if order != Ordering::Equal {
                    return order;
                }
                a = rest_a;
                b = rest_b;
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

fn split_run(bytes: &[u8], in_run: impl Fn(u8) -> bool) -> (&[u8], &[u8]) {
    let end = bytes
        .iter()
        .position(|&c| !in_run(c))
        .unwrap_or(bytes.len());
    bytes.split_at(end)
}

/// Numeric comparison of two digit runs of any length (no overflow).
fn digits_cmp(a: &[u8], b: &[u8]) -> Ordering {
    let trim = |d: &[u8]| {
        let start = d.iter().position(|&c| c != b'0').unwrap_or(d.len());
        d.len() - start
    };
    let (sig_a, sig_b) = (trim(a), trim(b));
    sig_a
        .cmp(&sig_b)
        .then_with(|| a[a.len() - sig_a..].cmp(&b[b.len() - sig_b..]))
        .then_with(|| a.len().cmp(&b.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_runs_compare_as_numbers() {
        assert_eq!(natural_cmp("slice_2", "slice_10"), Ordering::Less);
        assert_eq!(natural_cmp("a/9/x", "a/10/x"), Ordering::Less);
        assert_eq!(
            natural_cmp("IM99999999999999999999999", "IM100000000000000000000000"),
            Ordering::Less
        );
    }

    #[test]
    fn leading_zeros_tie_break_then_bytewise() {
        assert_eq!(natural_cmp("s02", "s2"), Ordering::Greater);
        assert_eq!(natural_cmp("s2", "s02"), Ordering::Less);
        assert_eq!(natural_cmp("x", "x"), Ordering::Equal);
        assert_eq!(natural_cmp("X 2.dcm", "X.dcm"), Ordering::Less); // ' ' < '.'
    }

    #[test]
    fn prefixes_sort_first() {
        assert_eq!(natural_cmp("a", "a1"), Ordering::Less);
        assert_eq!(natural_cmp("", "a"), Ordering::Less);
    }

    #[test]
    fn sorting_is_total_and_natural() {
        let mut paths = vec!["s10", "s9", "s1", "s01", "t", "s"];
        paths.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(paths, vec!["s", "s1", "s01", "s9", "s10", "t"]);
    }
}

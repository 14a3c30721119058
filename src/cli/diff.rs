//! Line diffs for people: what `fmt --check` and `test` show.

/// The lines of `old` and `new` as a shortest edit script, by longest
/// common subsequence: `(' ', line)` kept, `('-', line)` only in `old`,
/// `('+', line)` only in `new`, removals before additions. `None` when the
/// table would be too big (more than about four million cells).
pub fn lines<'a, S: AsRef<str> + PartialEq>(
    old: &'a [S],
    new: &'a [S],
) -> Option<Vec<(char, &'a str)>> {
    let (n, m) = (old.len(), new.len());
    if n.saturating_mul(m) > 4_000_000 {
        return None;
    }
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if old[i] == new[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(n.max(m));
    while i < n || j < m {
        if i < n && j < m && old[i] == new[j] {
            out.push((' ', old[i].as_ref()));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push(('-', old[i].as_ref()));
            i += 1;
        } else {
            out.push(('+', new[j].as_ref()));
            j += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_line_is_removed_then_added() {
        let old = ["a", "b", "c"];
        let new = ["a", "x", "c", "d"];
        assert_eq!(
            lines(&old, &new),
            Some(vec![
                (' ', "a"),
                ('-', "b"),
                ('+', "x"),
                (' ', "c"),
                ('+', "d")
            ])
        );
    }
}

//! "Did you mean" suggestions: nearest known name by edit distance or prefix.

/// The candidate closest to `word` (case-insensitive): optimal string
/// alignment distance ≤ 2 (≤ 1 for words of up to 3 characters), else a
/// candidate sharing a prefix of at least 3 characters with it. Ties go to
/// the earliest candidate. `None` when nothing is close.
pub fn suggest(word: &str, candidates: &[String]) -> Option<String> {
    let w: Vec<char> = word.to_lowercase().chars().collect();
    if w.is_empty() {
        return None;
    }
    let limit = if w.len() <= 3 { 1 } else { 2 };
    let mut best: Option<(usize, &String)> = None;
    for c in candidates {
        let cv: Vec<char> = c.to_lowercase().chars().collect();
        let d = distance(&w, &cv);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    if let Some((_, c)) = best {
        return Some(c.clone());
    }
    // shared prefix: `purch` → `purchase`, `consent` → `consent.email`
    let mut best: Option<(usize, &String)> = None;
    for c in candidates {
        let cv: Vec<char> = c.to_lowercase().chars().collect();
        let common = w.iter().zip(&cv).take_while(|(a, b)| a == b).count();
        let whole = common == w.len().min(cv.len());
        if common >= 3 && whole && best.is_none_or(|(bc, _)| common > bc) {
            best = Some((common, c));
        }
    }
    best.map(|(_, c)| c.clone())
}

/// Optimal string alignment distance (Levenshtein plus adjacent swaps).
pub fn distance(a: &[char], b: &[char]) -> usize {
    let (n, m) = (a.len(), b.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[n][m]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn nearest_names() {
        let c = names(&["city", "country", "score", "purchase", "consent.email"]);
        assert_eq!(suggest("citty", &c).as_deref(), Some("city"));
        assert_eq!(suggest("purchse", &c).as_deref(), Some("purchase"));
        assert_eq!(suggest("scroe", &c).as_deref(), Some("score"));
        assert_eq!(suggest("purch", &c).as_deref(), Some("purchase"));
        assert_eq!(suggest("consent", &c).as_deref(), Some("consent.email"));
        assert_eq!(suggest("CITY", &c).as_deref(), Some("city"));
        assert_eq!(suggest("zzzzzz", &c), None);
        assert_eq!(suggest("", &c), None);
        assert_eq!(suggest("ab", &c), None);
    }
}

//! Text helpers shared by definition-file functions (`words`, `mask`) and Rust topologies, so a
//! topology and its YAML twin cut and mask text the same way.
//!
//! A word is a maximal run of alphanumeric characters (Unicode); words compare in lower case
//! (Unicode's, not ASCII's: `ДУРАК` is `дурак`), or caseless by [`fold`].

/// The words of `text`, lower-cased, in order (repeats kept).
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// `text` with every word for which `masked` (given the lower-cased word) holds replaced by as
/// many `*` as it has characters; everything between words is kept as it is.
pub fn mask(text: &str, masked: impl Fn(&str) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if word.is_empty() {
            return;
        }
        if masked(&word.to_lowercase()) {
            out.extend(std::iter::repeat_n('*', word.chars().count()));
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// The caseless form of `text`, for comparing words whatever their case: Unicode full case
/// folding, computed per character as the lower case of the upper case of the lower case, so
/// `ß`, `ẞ` and `SS` all fold to `ss`, final `ς` and `Σ` to `σ`, `ﬁ` to `fi`. Turkish dotless
/// `ı` stays apart from `i` (as in Unicode's folding; its upper case `I` would merge them).
/// No locale rules beyond that, and no normalization (a precomposed `é` is not `e` + accent).
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == 'ı' {
            out.push(c);
            continue;
        }
        for l in c.to_lowercase() {
            for u in l.to_uppercase() {
                out.extend(u.to_lowercase());
            }
        }
    }
    out
}

/// The valid name closest to `word` by edit distance, if close enough to be a likely typo
/// (at most a third of the word's length, at least 1; ties go to the first listed).
pub fn closest<'a, S: AsRef<str>>(word: &str, valid: &'a [S]) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    valid
        .iter()
        .map(|v| (edit_distance(word, v.as_ref()), v.as_ref()))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, v)| v)
}

/// Levenshtein distance over characters, with an adjacent swap counted as one edit.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lower_cased_alphanumeric_runs() {
        assert_eq!(
            words("Buy CHEAP pills, now!! 2x"),
            ["buy", "cheap", "pills", "now", "2x"]
        );
        assert!(words(" ,.!").is_empty());
        assert_eq!(words("Grüße, Ünal"), ["grüße", "ünal"]);
        assert_eq!(words("Ты ДУРАК!"), ["ты", "дурак"]);
    }

    #[test]
    fn fold_is_caseless_by_unicode_rules() {
        assert_eq!(fold("ДУРАК"), "дурак");
        assert_eq!(fold("Straße"), fold("STRASSE"));
        assert_eq!(fold("STRAẞE"), "strasse");
        assert_eq!(fold("ΟΔΟΣ"), fold("οδος"));
        assert_eq!(fold("ΟΔΟΣ"), "οδοσ");
        assert_eq!(fold("ﬁne"), "fine");
        assert_eq!(fold("İ"), "i\u{307}");
        assert_ne!(fold("sık"), fold("sik"));
        assert_eq!(fold("plain ascii 42"), "plain ascii 42");
    }

    #[test]
    fn mask_keeps_punctuation_and_length() {
        let bad = |w: &str| w == "cheap" || w == "pills";
        assert_eq!(mask("Buy CHEAP pills, now!", bad), "Buy ***** *****, now!");
        assert_eq!(mask("", bad), "");
        assert_eq!(mask("pills", bad), "*****");
        assert_eq!(mask("cheapest", bad), "cheapest");
    }
}

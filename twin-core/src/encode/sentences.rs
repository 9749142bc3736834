//! Clinical notes -> sentences: the units the note encoder embeds and caches
//! ([`super::note`]).
//!
//! Notes are written in lines (SOAP sections, bullets, a letter's greeting and
//! signature) and in sentences within a line, with the full stops of abbreviations
//! ("approx. 5 mg", "e.g. Methotrexate", "Dr M. Lindqvist"), decimals ("2.5 mg") and
//! dates ("05.12.2026") in between. The rules, in order:
//!
//! 1. A blank line or a bullet (`-`, `*`, `•` at the start of a line) ends a
//!    sentence. Any other line break ends one too, unless it looks like a hard wrap:
//!    the line before ends without `.`, `!`, `?`, `:` or `;` and the next line starts
//!    with a lower-case letter or a digit.
//! 2. A line that is only a heading ("History:", "Plan:") is no sentence: it says
//!    nothing alone, and in a note's mean it would only weigh the author's layout.
//! 3. Within a line, `.`, `!` or `?` (with any closing brackets or quotes after it)
//!    ends a sentence when whitespace and then an upper-case letter, a digit or an
//!    opening bracket or quote follow. A lower-case word after it continues the
//!    sentence ("approx. five"); a decimal or a date has no space after its stop.
//! 4. A full stop does not end a sentence after a known abbreviation
//!    ([`ABBREVIATIONS`]: "e.g.", "Dr.", "approx.", "vs.", months), after a single
//!    capital (an initial: "Dr M. Lindqvist"), after an initialism with inner stops
//!    ("a.m.", "U.K."), or after the number of a list item ("1. Start MTX").
//!
//! Sentences come out with runs of whitespace collapsed to one space, trimmed, in
//! their own case; [`normalise`] gives the text that is embedded and hashed.
//!
//! Why not a crate: Unicode's sentence boundaries (UAX #29, `unicode-segmentation`)
//! break after "e.g." or "Dr." before a capital and know nothing of bullets or
//! headings, so they would need this abbreviation pass anyway; the rules above are
//! short enough to own and test case by case (the tests at the foot of this file).

/// Words whose full stop never ends a sentence, lower case, without the stop.
/// Titles, Latin and English abbreviations that a sentence goes on after, and month
/// names. "etc." is not among them: it often ends a sentence.
pub const ABBREVIATIONS: &[&str] = &[
    "dr", "mr", "mrs", "ms", "prof", "st", "sr", "jr", "vs", "cf", "approx", "appt", "ca", "incl", "esp", "e.g", "i.e",
    "eg", "ie", "fig", "ref", "pt", "pts", "dept", "no", "nos", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
    "sept", "oct", "nov", "dec",
];

/// The sentences of a note, in order, each with its whitespace collapsed.
pub fn split(note: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut run = String::new();
    let mut previous_line_ends_open = false;
    for line in note.lines() {
        let line = line.trim();
        if line.is_empty() {
            split_run(&run, &mut out);
            run.clear();
            previous_line_ends_open = false;
            continue;
        }
        let (bullet, content) = match strip_bullet(line) {
            Some(rest) => (true, rest),
            None => (false, line),
        };
        if is_heading(content) {
            split_run(&run, &mut out);
            run.clear();
            previous_line_ends_open = false;
            continue;
        }
        let wraps = !bullet
            && previous_line_ends_open
            && content.chars().next().is_some_and(|c| c.is_lowercase() || c.is_ascii_digit());
        if !wraps {
            split_run(&run, &mut out);
            run.clear();
        }
        if !run.is_empty() {
            run.push(' ');
        }
        run.push_str(content);
        previous_line_ends_open = !content.ends_with(['.', '!', '?', ':', ';']);
    }
    split_run(&run, &mut out);
    out
}

/// The text of a sentence as it is embedded and hashed: whitespace collapsed,
/// trimmed, lower case. MiniLM's tokenizer lower-cases and splits on whitespace
/// itself (its `BertNormalizer`), so a sentence and its normalised text have the same
/// vector, and sentences that differ only in case or spacing share one cache entry.
pub fn normalise(sentence: &str) -> String {
    collapse_whitespace(sentence).to_lowercase()
}

/// The rest of a line after its bullet marker, if it starts with one.
fn strip_bullet(line: &str) -> Option<&str> {
    ["- ", "* ", "• ", "· "].iter().find_map(|marker| line.strip_prefix(marker)).map(str::trim_start)
}

/// A line that is only a heading: ends with a colon, at most three words.
fn is_heading(line: &str) -> bool {
    line.ends_with(':') && line.split_whitespace().count() <= 3
}

/// Splits one run of text (lines joined) at the ends of sentences (rules 3 and 4)
/// and appends the sentences that hold a letter or digit.
fn split_run(run: &str, out: &mut Vec<String>) {
    let chars: Vec<(usize, char)> = run.char_indices().collect();
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        if !matches!(c, '.' | '!' | '?') {
            i += 1;
            continue;
        }
        // The whole terminator: repeated stops ("?!", "...") and closers after them.
        let mut j = i + 1;
        while j < chars.len() && matches!(chars[j].1, '.' | '!' | '?' | ')' | ']' | '"' | '\'' | '”' | '’') {
            j += 1;
        }
        let mut k = j;
        while k < chars.len() && chars[k].1.is_whitespace() {
            k += 1;
        }
        let opens_sentence = |c: char| c.is_uppercase() || c.is_ascii_digit() || matches!(c, '(' | '[' | '"' | '“' | '‘');
        let ends = k > j
            && k < chars.len()
            && opens_sentence(chars[k].1)
            && !(c == '.' && j == i + 1 && stop_continues(&run[start..at]));
        if ends {
            push_sentence(&run[start..chars[j - 1].0 + chars[j - 1].1.len_utf8()], out);
            start = chars[k].0;
        }
        i = k.max(i + 1);
    }
    push_sentence(&run[start..], out);
}

/// Whether a full stop right after `before` (the sentence so far) belongs to an
/// abbreviation, an initial, an initialism or a list number (rule 4).
fn stop_continues(before: &str) -> bool {
    let word = before.rsplit(|c: char| c.is_whitespace() || c == '(').next().unwrap_or("");
    let lower = word.to_lowercase();
    if ABBREVIATIONS.contains(&lower.as_str()) {
        return true;
    }
    let mut letters = word.chars();
    if let (Some(first), None) = (letters.next(), letters.next()) {
        if first.is_uppercase() {
            return true;
        }
    }
    // "a.m", "U.K", "e.g" (the final stop is the one being read).
    if word.contains('.') && word.split('.').all(|part| (1..=2).contains(&part.chars().count()) && part.chars().all(char::is_alphabetic))
    {
        return true;
    }
    // "1. Start MTX": a number of at most two digits that opens the sentence or
    // follows a colon.
    if (1..=2).contains(&word.len()) && word.chars().all(|c| c.is_ascii_digit()) {
        let head = before[..before.len() - word.len()].trim_end();
        return head.is_empty() || head.ends_with(':');
    }
    false
}

fn push_sentence(text: &str, out: &mut Vec<String>) {
    let sentence = collapse_whitespace(text);
    if sentence.chars().any(char::is_alphanumeric) {
        out.push(sentence);
    }
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(note: &str, expected: &[&str]) {
        assert_eq!(split(note), expected, "note: {note:?}");
    }

    #[test]
    fn plain_sentences() {
        check("Feels well. No synovitis! Any stiffness? None.", &["Feels well.", "No synovitis!", "Any stiffness?", "None."]);
        check("Morning stiffness about 30 minutes.", &["Morning stiffness about 30 minutes."]);
        check("", &[]);
        check("  \n\n ", &[]);
    }

    #[test]
    fn abbreviations_do_not_end_sentences() {
        check("Seen by Dr. Okafor today. Well.", &["Seen by Dr. Okafor today.", "Well."]);
        check("Add a csDMARD, e.g. Sulfasalazine, if needed.", &["Add a csDMARD, e.g. Sulfasalazine, if needed."]);
        check("Prednisolone approx. 5 mg daily. Taper.", &["Prednisolone approx. 5 mg daily.", "Taper."]);
        check("MTX vs. Leflunomide discussed.", &["MTX vs. Leflunomide discussed."]);
        check("New pt. 54F, 6 mo hx of RA.", &["New pt. 54F, 6 mo hx of RA."]);
        check("Seen at 9 a.m. Then bloods.", &["Seen at 9 a.m. Then bloods."]);
        check("Last infusion 5 Dec. 2026 uneventful.", &["Last infusion 5 Dec. 2026 uneventful."]);
        // "etc." may end a sentence.
        check("Dry eyes, dry mouth etc. No cough.", &["Dry eyes, dry mouth etc.", "No cough."]);
    }

    #[test]
    fn initials_decimals_and_dates() {
        check("Yours sincerely,\nDr M. Lindqvist", &["Yours sincerely,", "Dr M. Lindqvist"]);
        check("Methotrexate 2.5 mg tablets. CRP 12.3 mg/L.", &["Methotrexate 2.5 mg tablets.", "CRP 12.3 mg/L."]);
        check("Bloods on 05.12.2026 normal. Review.", &["Bloods on 05.12.2026 normal.", "Review."]);
        check("Hb 10.5. 3 swollen joints.", &["Hb 10.5.", "3 swollen joints."]);
        check("DAS28-ESR 5.12: moderate disease activity.", &["DAS28-ESR 5.12: moderate disease activity."]);
    }

    #[test]
    fn a_lower_case_word_continues_the_sentence() {
        check("Takes 15 mg. daily with folic acid.", &["Takes 15 mg. daily with folic acid."]);
        check("Urgent slot, 54F RA, ?flare. EMS 30 min. TJC28 6.", &["Urgent slot, 54F RA, ?flare.", "EMS 30 min.", "TJC28 6."]);
    }

    #[test]
    fn closers_and_list_numbers() {
        check("Ultrasound done (PD 2.) Review (in 6 weeks).", &["Ultrasound done (PD 2.)", "Review (in 6 weeks)."]);
        check("He said \"better.\" Joints quiet.", &["He said \"better.\"", "Joints quiet."]);
        check("Plan: 1. Start MTX. 2. Review.", &["Plan: 1. Start MTX.", "2. Review."]);
        check("1. Start MTX.\n2. Bloods in 2 weeks.", &["1. Start MTX.", "2. Bloods in 2 weeks."]);
    }

    #[test]
    fn lines_bullets_and_headings() {
        check(
            "S: Follow-up of RA. Feels well.\nO: TJC28 0, SJC28 0.\nA: Remission.\nP: Continue MTX.",
            &["S: Follow-up of RA.", "Feels well.", "O: TJC28 0, SJC28 0.", "A: Remission.", "P: Continue MTX."],
        );
        check(
            "Review of RA.\nHistory:\n- Morning stiffness 30 min.\n- Dry cough\n* Fatigue\nPlan:\n- Continue MTX",
            &["Review of RA.", "Morning stiffness 30 min.", "Dry cough", "Fatigue", "Continue MTX"],
        );
        check("Dear Dr Patel,\n\nI saw her today. Well.\n\nYours sincerely,\nDr A. Okafor", &[
            "Dear Dr Patel,",
            "I saw her today.",
            "Well.",
            "Yours sincerely,",
            "Dr A. Okafor",
        ]);
    }

    #[test]
    fn hard_wrapped_lines_are_joined() {
        check("Morning stiffness for\n30 minutes, hands\nand feet. Well.", &["Morning stiffness for 30 minutes, hands and feet.", "Well."]);
        // A line that ends a sentence, or a capital after it, is not a wrap.
        check("Feels well.\nno cough.", &["Feels well.", "no cough."]);
        check("RF positive\nCRP 12", &["RF positive", "CRP 12"]);
    }

    #[test]
    fn whitespace_is_collapsed_and_fragments_without_words_dropped() {
        check("  Swollen   wrists.\t Tender  MCPs. ", &["Swollen wrists.", "Tender MCPs."]);
        check("- \n...\nWell.", &["Well."]);
        check("Non-ASCII: Schirmer’s test reduced. Über-fatigue.", &["Non-ASCII: Schirmer’s test reduced.", "Über-fatigue."]);
    }

    #[test]
    fn normalised_text_is_lower_case_single_spaced() {
        assert_eq!(normalise("  Feels   WELL.\n"), "feels well.");
        assert_eq!(normalise(&split("Feels well.")[0]), normalise(&split("feels\twell.")[0]));
    }
}

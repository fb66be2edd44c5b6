//! Canonical formatting of `.hcl` files, in the style of `terraform fmt`: two-space indents,
//! aligned `=` in runs of single-line attributes, one blank line at most, trimmed line ends.
//! Comments and heredoc bodies are kept as written.

/// Formats one file. Fails with the parser's message when the text is not valid HCL.
pub fn format_hcl(text: &str) -> Result<String, String> {
    hcl_edit::parser::parse_body(text).map_err(|e| e.to_string())?;
    let mut lines: Vec<Line> = Vec::new();
    // One indent level per line that opens brackets, however many it opens: `foo({` is one.
    let mut groups: Vec<usize> = Vec::new();
    let mut heredoc: Option<String> = None;
    let mut in_block_comment = false;
    for raw in text.lines() {
        let depth = groups.len();
        if let Some(end) = &heredoc {
            if raw.trim() == end {
                heredoc = None;
                lines.push(Line {
                    text: raw.to_string(),
                    depth,
                    verbatim: true,
                    attr: None,
                });
            } else {
                lines.push(Line {
                    text: raw.to_string(),
                    depth,
                    verbatim: true,
                    attr: None,
                });
            }
            continue;
        }
        if in_block_comment {
            in_block_comment = !raw.contains("*/");
            lines.push(Line {
                text: raw.trim_end().to_string(),
                depth,
                verbatim: true,
                attr: None,
            });
            continue;
        }
        let trimmed = raw.trim();
        let scan = scan(trimmed);
        let lead = trimmed
            .chars()
            .take_while(|c| matches!(c, '}' | ']' | ')'))
            .count();
        let line_depth = depth - closed_levels(&groups, lead);
        let attr = if scan.opens == 0 && scan.closes == 0 && scan.heredoc.is_none() {
            split_attr(trimmed)
        } else {
            None
        };
        lines.push(Line {
            text: trimmed.to_string(),
            depth: line_depth,
            verbatim: false,
            attr,
        });
        for _ in 0..scan.closes {
            match groups.last_mut() {
                Some(n) if *n > 1 => *n -= 1,
                Some(_) => {
                    groups.pop();
                }
                None => {}
            }
        }
        if scan.opens > 0 {
            groups.push(scan.opens);
        }
        heredoc = scan.heredoc;
        in_block_comment = scan.open_comment;
    }
    align(&mut lines);
    let mut out = String::new();
    let mut blank = 0;
    for l in &lines {
        if l.verbatim {
            out.push_str(&l.text);
            out.push('\n');
            blank = 0;
            continue;
        }
        if l.text.is_empty() {
            blank += 1;
            if blank > 1 || out.is_empty() {
                continue;
            }
            out.push('\n');
            continue;
        }
        blank = 0;
        out.push_str(&"  ".repeat(l.depth));
        out.push_str(&l.text);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    Ok(out)
}

/// How many indent levels `n` closing brackets at the start of a line end.
fn closed_levels(groups: &[usize], mut n: usize) -> usize {
    let mut levels = 0;
    for g in groups.iter().rev() {
        if n == 0 {
            break;
        }
        if n >= *g {
            n -= g;
            levels += 1;
        } else {
            break;
        }
    }
    levels
}

struct Line {
    text: String,
    depth: usize,
    verbatim: bool,
    /// `(key, value)` for a single-line attribute.
    attr: Option<(String, String)>,
}

struct Scan {
    opens: usize,
    closes: usize,
    heredoc: Option<String>,
    open_comment: bool,
}

/// Counts brackets outside strings and comments, and finds a heredoc opener.
fn scan(s: &str) -> Scan {
    let mut r = Scan {
        opens: 0,
        closes: 0,
        heredoc: None,
        open_comment: false,
    };
    let b = s.as_bytes();
    let mut i = 0;
    let mut in_str = false;
    let mut interp = 0usize;
    while i < b.len() {
        let c = b[i];
        if in_str {
            match c {
                b'\\' => i += 1,
                b'"' if interp == 0 => in_str = false,
                b'$' | b'%' if b.get(i + 1) == Some(&b'{') => {
                    interp += 1;
                    i += 1;
                }
                b'}' if interp > 0 => interp -= 1,
                _ => {}
            }
            i += 1;
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'#' => break,
            b'/' if b.get(i + 1) == Some(&b'/') => break,
            b'/' if b.get(i + 1) == Some(&b'*') => {
                if !s[i..].contains("*/") {
                    r.open_comment = true;
                }
                break;
            }
            b'{' | b'[' | b'(' => r.opens += 1,
            b'}' | b']' | b')' => {
                if r.opens > 0 {
                    r.opens -= 1;
                } else {
                    r.closes += 1;
                }
            }
            b'<' if b.get(i + 1) == Some(&b'<') => {
                let rest = s[i + 2..].trim_start_matches('-');
                let word: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !word.is_empty() {
                    r.heredoc = Some(word);
                }
                break;
            }
            _ => {}
        }
        i += 1;
    }
    r
}

fn split_attr(s: &str) -> Option<(String, String)> {
    let key_end = s.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))?;
    if key_end == 0 {
        return None;
    }
    let rest = s[key_end..].trim_start();
    let value = rest.strip_prefix('=')?;
    if value.starts_with('=') {
        return None;
    }
    Some((s[..key_end].to_string(), value.trim().to_string()))
}

/// Aligns `=` across consecutive attribute lines of the same depth.
fn align(lines: &mut [Line]) {
    let mut i = 0;
    while i < lines.len() {
        if lines[i].attr.is_none() || lines[i].verbatim {
            i += 1;
            continue;
        }
        let depth = lines[i].depth;
        let mut j = i;
        while j < lines.len()
            && lines[j].attr.is_some()
            && lines[j].depth == depth
            && !lines[j].verbatim
        {
            j += 1;
        }
        let width = lines[i..j]
            .iter()
            .filter_map(|l| l.attr.as_ref())
            .map(|(k, _)| k.len())
            .max()
            .unwrap_or(0)
            // Rust's formatter takes widths up to u16::MAX; a longer name is printed whole.
            .min(usize::from(u16::MAX));
        for l in &mut lines[i..j] {
            if let Some((k, v)) = &l.attr {
                l.text = format!("{k:<width$} = {v}");
            }
        }
        i = j.max(i + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::format_hcl;

    fn check(input: &str, expect: &str) {
        let got = format_hcl(input).unwrap();
        assert_eq!(got, expect);
        assert_eq!(
            format_hcl(&got).unwrap(),
            got,
            "formatting must be idempotent"
        );
    }

    #[test]
    fn indents_and_aligns() {
        check(
            "resource \"local_file\" \"a\" {\nfilename=\"x\"\n    content =   \"hello # not a comment\"\n\n\n  lifecycle {\n prevent_destroy = true\n}\n}\n\n\n",
            "resource \"local_file\" \"a\" {\n  filename = \"x\"\n  content  = \"hello # not a comment\"\n\n  lifecycle {\n    prevent_destroy = true\n  }\n}\n",
        );
    }

    #[test]
    fn keeps_heredocs_and_comments() {
        check(
            "locals {\n  # note\n  text = <<EOT\n  keep   this\nEOT\n  a = 1\n}\n",
            "locals {\n  # note\n  text = <<EOT\n  keep   this\nEOT\n  a = 1\n}\n",
        );
    }

    #[test]
    fn one_level_per_opening_line() {
        check(
            "locals {\nx = jsonencode({\na = 1\n})\n}\n",
            "locals {\n  x = jsonencode({\n    a = 1\n  })\n}\n",
        );
        check(
            "locals {\nx = [\n{\na = 1\n}, {\nb = 2\n},\n]\n}\n",
            "locals {\n  x = [\n    {\n      a = 1\n    }, {\n      b = 2\n    },\n  ]\n}\n",
        );
    }

    #[test]
    fn multi_line_values_break_alignment_groups() {
        check(
            "locals {\n  a = 1\n  long_name = [\n    1,\n  ]\n  bb = 2\n}\n",
            "locals {\n  a = 1\n  long_name = [\n    1,\n  ]\n  bb = 2\n}\n",
        );
    }
}

//! A workaround for the HCL parser (hcl-edit 0.10): an empty heredoc, whose end delimiter is
//! on the line right after `<<EOT`, is read up to the *next* delimiter line, so
//! `format("%s|%s", <<EOT`, `EOT`, `, <<EOT`, `b`, `EOT`, `)` lost an argument. Before
//! parsing, each empty heredoc is replaced by `""` padded with spaces to the same length and
//! lines, so spans and line numbers stay true.

use std::borrow::Cow;

/// `text` with each empty heredoc written as `""`.
pub(crate) fn empty_heredocs_as_strings(text: &str) -> Cow<'_, str> {
    if !text.contains("<<") {
        return Cow::Borrowed(text);
    }
    let mut out = text.to_string();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(pos) = text[i..].find("<<") {
        let start = i + pos;
        i = start + 2;
        // Only where an expression starts: after `=`, `(`, `[`, `,`, `:`, `?` or `{`. Text
        // such as `cat <<EOT` inside another heredoc is left alone.
        let before = text[..start].trim_end_matches([' ', '\t']);
        if !before.ends_with(['=', '(', '[', ',', ':', '?', '{']) {
            continue;
        }
        let mut j = i;
        if bytes.get(j) == Some(&b'-') {
            j += 1;
        }
        let id_start = j;
        while bytes
            .get(j)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
        {
            j += 1;
        }
        let id = &text[id_start..j];
        if id.is_empty() || !id.as_bytes()[0].is_ascii_alphabetic() && id.as_bytes()[0] != b'_' {
            continue;
        }
        let eol = match (bytes.get(j), bytes.get(j + 1)) {
            (Some(b'\n'), _) => j + 1,
            (Some(b'\r'), Some(b'\n')) => j + 2,
            _ => continue,
        };
        let mut k = eol;
        while matches!(bytes.get(k), Some(b' ' | b'\t')) {
            k += 1;
        }
        let after = k + id.len();
        let ends_here = text[k..].starts_with(id)
            && !bytes
                .get(after)
                .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-');
        if !ends_here {
            // A heredoc with a body: skip to its end, so text inside it stays as written.
            let mut pos = eol;
            i = loop {
                let line_end = text[pos..].find('\n').map_or(text.len(), |x| pos + x + 1);
                if text[pos..line_end].trim() == id || line_end >= text.len() {
                    break line_end;
                }
                pos = line_end;
            };
            continue;
        }
        // `<<EOT` becomes `""   `; the delimiter line becomes spaces.
        let pad = |n: usize| " ".repeat(n);
        out.replace_range(start..j, &format!("\"\"{}", pad(j - start - 2)));
        out.replace_range(k..after, &pad(after - k));
        i = after;
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_heredocs_become_empty_strings_of_the_same_length() {
        let text = "x = f(<<EOT\nEOT\n, <<EOT\nb\nEOT\n)\n";
        let fixed = empty_heredocs_as_strings(text);
        assert_eq!(fixed, "x = f(\"\"   \n   \n, <<EOT\nb\nEOT\n)\n");
        assert_eq!(fixed.len(), text.len());
        assert_eq!(
            empty_heredocs_as_strings("a = <<-X\n  X\n"),
            "a = \"\"  \n   \n"
        );
        assert_eq!(
            empty_heredocs_as_strings("a = <<EOT\nEOTX\nEOT\n"),
            "a = <<EOT\nEOTX\nEOT\n"
        );
        let script = "s = <<-EOF\n  cat <<EOT\n  EOT\nEOF\n";
        assert_eq!(empty_heredocs_as_strings(script), script);
        let nested = "c = <<-EOT\n  x = <<Y\n  Y\nEOT\nd = <<Z\nZ\n";
        assert_eq!(
            empty_heredocs_as_strings(nested),
            "c = <<-EOT\n  x = <<Y\n  Y\nEOT\nd = \"\" \n \n"
        );
    }
}

//! Delimited records: `RecordRowDelimiter` splits a record into rows and
//! `RecordColumnDelimiter` splits a row into fields. Both may be several characters (the
//! discovery example's row delimiter is `\r\n`). A field that starts with `"` is quoted:
//! delimiters inside it do not split, `""` is one quote (the CSVMappingParameters page shows
//! `"name1", "address1"`). Hand-written rather than the `csv` crate, which takes one-byte
//! delimiters only.

/// Splits `text` into rows of fields. Empty rows (two row delimiters in a row, a trailing
/// delimiter) give nothing.
pub fn split(text: &str, row_delim: &str, col_delim: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut row_has_content = false;
    let mut i = 0;
    let b = text.as_bytes();
    // Empty delimiters cannot split (validation rejects them; this keeps the loop finite).
    let row_d = (!row_delim.is_empty()).then_some(row_delim.as_bytes());
    let col_d = (!col_delim.is_empty()).then_some(col_delim.as_bytes());
    let at = |i: usize, d: Option<&[u8]>| d.is_some_and(|d| b[i..].starts_with(d));
    while i < b.len() {
        // A quoted field: only at the start of a field, after optional blanks.
        if field.trim_start_matches(' ').is_empty() && b[i] == b'"' {
            field.clear();
            i += 1;
            row_has_content = true;
            loop {
                match text[i..].find('"') {
                    None => {
                        field.push_str(&text[i..]);
                        i = b.len();
                        break;
                    }
                    Some(q) => {
                        field.push_str(&text[i..i + q]);
                        i += q + 1;
                        if b.get(i) == Some(&b'"') {
                            field.push('"');
                            i += 1;
                        } else {
                            break;
                        }
                    }
                }
            }
            // Text between the closing quote and the next delimiter is kept as is.
            continue;
        }
        // The longer delimiter wins when both match here (`\r\n` rows, `\r` columns).
        let (row_hit, col_hit) = (at(i, row_d), at(i, col_d));
        let row_first = match (row_hit, col_hit) {
            (true, true) => row_delim.len() >= col_delim.len(),
            (r, _) => r,
        };
        if row_hit && row_first {
            if row_has_content || !row.is_empty() || !field.is_empty() {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            row_has_content = false;
            i += row_delim.len();
        } else if col_hit {
            row.push(std::mem::take(&mut field));
            row_has_content = true;
            i += col_delim.len();
        } else {
            // Copy one whole character (the text is UTF-8).
            let ch_len = text[i..].chars().next().map_or(1, char::len_utf8);
            field.push_str(&text[i..i + ch_len]);
            row_has_content = true;
            i += ch_len;
        }
    }
    if row_has_content || !row.is_empty() || !field.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_fields() {
        assert_eq!(
            split("a,b\nc,d\n", "\n", ","),
            vec![vec!["a", "b"], vec!["c", "d"]]
        );
        assert_eq!(split("a,,c", "\n", ","), vec![vec!["a", "", "c"]]);
        assert_eq!(split("\n\nx\n\n", "\n", ","), vec![vec!["x"]]);
        assert!(split("", "\n", ",").is_empty());
    }

    #[test]
    fn multi_character_delimiters() {
        assert_eq!(
            split("1||2\r\n3||4", "\r\n", "||"),
            vec![vec!["1", "2"], vec!["3", "4"]]
        );
        // The discovery example's file: \r\n rows, comma columns.
        // https://docs.aws.amazon.com/kinesisanalytics/latest/dev/sch-dis-ref.html
        let rows = split("year,month,state\r\n2001,1,AK\r\n2001,1,AL", "\r\n", ",");
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[2], vec!["2001", "1", "AL"]);
    }

    #[test]
    fn quoted_fields() {
        // https://docs.aws.amazon.com/kinesisanalytics/latest/dev/API_CSVMappingParameters.html
        assert_eq!(
            split(
                "\"name1\", \"address1\"\n\"name2\", \"address2\"",
                "\n",
                ","
            ),
            vec![vec!["name1", "address1"], vec!["name2", "address2"]]
        );
        assert_eq!(
            split("\"a,b\",\"say \"\"hi\"\"\",\"x\ny\"", "\n", ","),
            vec![vec!["a,b", "say \"hi\"", "x\ny"]]
        );
        assert_eq!(split("\"open", "\n", ","), vec![vec!["open"]]);
    }
}

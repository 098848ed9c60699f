//! Control phrases read from the last user message.

/// What the last user message asks the fake to do.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Control {
    /// `#tool`: call `get_weather` with `{"city":"Paris"}`.
    pub tool: bool,
    /// `#error:NNN`: answer HTTP NNN with the provider's error body.
    pub error: Option<u16>,
    /// `#stream-error`: start streaming, then the provider's mid-stream error.
    pub stream_error: bool,
    /// `#cut`: send a few events, then drop the connection.
    pub cut: bool,
    /// `#slow`: 150 ms between streamed events.
    pub slow: bool,
    /// `#hang`: wait 30 s before the response headers.
    pub hang: bool,
    /// `#flaky:N`: the first N requests with this exact text get 503.
    pub flaky: Option<u32>,
}

impl Control {
    pub(crate) fn parse(text: &str) -> Control {
        Control {
            tool: text.contains("#tool"),
            error: number_after(text, "#error:")
                .and_then(|n| u16::try_from(n).ok())
                .filter(|n| (400..=599).contains(n)),
            stream_error: text.contains("#stream-error"),
            cut: text.contains("#cut"),
            slow: text.contains("#slow"),
            hang: text.contains("#hang"),
            flaky: number_after(text, "#flaky:"),
        }
    }
}

fn number_after(text: &str, marker: &str) -> Option<u32> {
    let start = text.find(marker)? + marker.len();
    let digits: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_phrase() {
        let c = Control::parse("hi #tool #error:429 #stream-error #cut #slow #hang #flaky:2");
        assert_eq!(
            c,
            Control {
                tool: true,
                error: Some(429),
                stream_error: true,
                cut: true,
                slow: true,
                hang: true,
                flaky: Some(2),
            }
        );
    }

    #[test]
    fn plain_text_and_bad_numbers_are_ignored() {
        assert_eq!(Control::parse("hello"), Control::default());
        let c = Control::parse("#error:abc #flaky: #error:200");
        assert_eq!(c.error, None);
        assert_eq!(c.flaky, None);
        // `#stream-error` must not be read as `#error:`.
        assert_eq!(Control::parse("#stream-error:500").error, None);
    }
}

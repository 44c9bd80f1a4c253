//! A streaming reader for Tally's XML answers. It walks the document once and hands over each
//! object (a `<LEDGER>`, `<GROUP>`, `<VOUCHER>`...: any element directly inside `<COLLECTION>` or
//! `<TALLYMESSAGE>`) as a small tree as soon as it closes, so memory follows the largest object,
//! not the answer. Tally's error answers become [`AnswerError`]s carrying Tally's own message.

use std::borrow::Cow;
use std::io::BufRead;

use quick_xml::events::{BytesCData, BytesRef, BytesStart, BytesText, Event};
use quick_xml::Reader;

/// One element of an object: attributes, text (control characters removed, trimmed) and children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    /// Tally's common keys and values (`TYPE="String"`...) are borrowed, not allocated.
    pub attrs: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The text of the first child called `name`, if it has any.
    pub fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name)
            .map(|c| c.text.as_str())
            .filter(|t| !t.is_empty())
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Every `<NAME>` under `LANGUAGENAME.LIST/NAME.LIST`: the name first, then its aliases.
    pub fn language_names(&self) -> Vec<String> {
        self.children_named("LANGUAGENAME.LIST")
            .flat_map(|l| l.children_named("NAME.LIST"))
            .flat_map(|n| n.children_named("NAME"))
            .map(|n| n.text.clone())
            .filter(|n| !n.is_empty())
            .collect()
    }
}

/// Tally answered, but with a failure instead of data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// `<LINEERROR>`: Tally refused the request (a company that is not open fails this way).
    #[error("Tally reported: {0}")]
    LineError(String),
    /// An `<EXCEPTION>` answer.
    #[error("Tally raised an exception: {0}")]
    Exception(String),
    /// A bare `<RESPONSE>` answer, such as "Unknown Request, cannot be processed".
    #[error("Tally answered: {0}")]
    Response(String),
    /// `<STATUS>0</STATUS>` with no message.
    #[error("Tally reported that the request failed, without saying why")]
    Failed,
    /// Not XML, cut short, or not the shape of a Tally answer.
    #[error("Tally's answer could not be read: {0}")]
    Unreadable(String),
}

/// What the reader saw besides the objects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnswerInfo {
    pub root: String,
    pub objects: usize,
}

/// True when `s` holds a control character other than white space (C0, DEL or C1), found
/// byte-wise because almost no text has one.
fn has_control(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().any(|(i, &c)| {
        (c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r'))
            || c == 0x7f
            || (c == 0xc2 && matches!(b.get(i + 1), Some(0x80..=0x9f)))
    })
}

/// Removes control characters (Tally's `&#4;` marker among them) and surrounding white space.
pub fn clean_text(raw: &str) -> String {
    clean_owned(raw.to_string())
}

/// [`clean_text`] reusing the string's buffer.
pub fn clean_owned(mut s: String) -> String {
    if has_control(&s) {
        s.retain(|c| !c.is_control() || c.is_whitespace());
    }
    let end = s.trim_end().len();
    s.truncate(end);
    let start = s.len() - s.trim_start().len();
    if start > 0 {
        s.drain(..start);
    }
    s
}

/// Attribute keys and values that Tally writes on nearly every element: matching them to a
/// static string spares two allocations per attribute on the hot path.
const COMMON: [&str; 12] = [
    "TYPE",
    "NAME",
    "RESERVEDNAME",
    "String",
    "Amount",
    "Number",
    "Logical",
    "Date",
    "",
    "Yes",
    "No",
    "Quantity",
];

fn interned(bytes: &[u8]) -> Option<Cow<'static, str>> {
    COMMON
        .iter()
        .find(|c| c.as_bytes() == bytes)
        .map(|c| Cow::Borrowed(*c))
}

fn start_element(e: &BytesStart<'_>) -> Element {
    let name = match std::str::from_utf8(e.name().as_ref()) {
        Ok(n) => n.to_owned(),
        Err(_) => String::from_utf8_lossy(e.name().as_ref()).into_owned(),
    };
    let mut attrs = Vec::new();
    for a in e.attributes().with_checks(false).flatten() {
        let key = interned(a.key.as_ref())
            .unwrap_or_else(|| Cow::Owned(String::from_utf8_lossy(a.key.as_ref()).into_owned()));
        let value = match interned(&a.value) {
            Some(v) => v,
            None => {
                let raw = match a.unescape_value() {
                    Ok(v) => v.into_owned(),
                    Err(_) => String::from_utf8_lossy(&a.value).into_owned(),
                };
                if raw.trim().len() == raw.len() && !has_control(&raw) {
                    Cow::Owned(raw)
                } else {
                    let clean = clean_text(&raw);
                    // A name goes back to Tally in requests exactly as Tally wrote it.
                    if key == "NAME" {
                        attrs.push((Cow::Borrowed(RAW_NAME), Cow::Owned(raw)));
                    }
                    Cow::Owned(clean)
                }
            }
        };
        attrs.push((key, value));
    }
    Element {
        name,
        attrs,
        ..Element::default()
    }
}

fn is_container(name: &[u8]) -> bool {
    name == b"COLLECTION" || name == b"TALLYMESSAGE"
}

/// The attribute holding an object's `NAME` exactly as Tally wrote it (spaces, control
/// characters and all), present only when that differs from the cleaned `NAME`.
pub const RAW_NAME: &str = "NAME.RAW";

/// A line of our own `TYPE Data` report is an object wherever Tally puts it.
const REPORT_ROW: &[u8] = b"AICFOROW";

/// Our report form's XMLTAG, which Tally makes the answer's root.
pub const REPORT_ROOT: &str = "AICFOBALANCES";

fn undecodable(e: impl std::fmt::Display) -> AnswerError {
    AnswerError::Unreadable(e.to_string())
}

/// What [`read_answer`] knows part way through an answer. Each XML event goes to one `on_*`
/// method; [`AnswerReader::finish`] turns what was seen into the answer's outcome.
#[derive(Default)]
struct AnswerReader {
    /// Names of the open elements outside any object.
    path: Vec<Vec<u8>>,
    /// The object being built, innermost element last.
    building: Vec<Element>,
    /// Text of LINEERROR / ERRORMSG / STATUS / a RESPONSE or EXCEPTION root.
    captured: String,
    capturing: bool,
    info: AnswerInfo,
    line_error: Option<String>,
    status: Option<String>,
    root_text: String,
}

impl AnswerReader {
    /// An element opens: either part of an object (which starts with any element directly
    /// inside a container, or with a row of our report) or part of the envelope around them.
    fn on_start(&mut self, e: &BytesStart<'_>) {
        if !self.building.is_empty()
            || self.path.last().is_some_and(|p| is_container(p))
            || e.name().as_ref() == REPORT_ROW
        {
            self.building.push(start_element(e));
        } else {
            let name = e.name().as_ref().to_vec();
            if self.path.is_empty() {
                self.info.root = String::from_utf8_lossy(&name).into_owned();
            }
            self.capturing = matches!(name.as_slice(), b"LINEERROR" | b"ERRORMSG" | b"STATUS")
                || self.path.is_empty();
            self.captured.clear();
            self.path.push(name);
        }
    }

    /// Where text goes: the innermost element of the object being built, else the captured
    /// text of a LINEERROR / STATUS / root, else nowhere.
    fn text_target(&mut self) -> Option<&mut String> {
        match self.building.last_mut() {
            Some(el) => Some(&mut el.text),
            None if self.capturing => Some(&mut self.captured),
            None => None,
        }
    }

    fn on_text(&mut self, t: &BytesText<'_>) -> Result<(), AnswerError> {
        if let Some(target) = self.text_target() {
            // Leading white space is trimmed anyway; not collecting it spares an
            // allocation for every indented parent element.
            if !(target.is_empty() && t.iter().all(u8::is_ascii_whitespace)) {
                target.push_str(&t.decode().map_err(undecodable)?);
            }
        }
        Ok(())
    }

    fn on_cdata(&mut self, t: &BytesCData<'_>) -> Result<(), AnswerError> {
        if let Some(target) = self.text_target() {
            target.push_str(&t.decode().map_err(undecodable)?);
        }
        Ok(())
    }

    /// A character reference (`&#4;`) or an entity (`&amp;`) inside text.
    fn on_general_ref(&mut self, r: &BytesRef<'_>) -> Result<(), AnswerError> {
        if let Some(target) = self.text_target() {
            match r.resolve_char_ref() {
                Ok(Some(c)) => target.push(c),
                _ => {
                    let name = r.decode().map_err(undecodable)?;
                    match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(s) => target.push_str(s),
                        // An entity Tally never defines: keep it as written.
                        None => target.push_str(&format!("&{name};")),
                    }
                }
            }
        }
        Ok(())
    }

    /// An element closes: a finished object goes to `on_object`, a finished child to its
    /// parent, and a closing envelope element may leave a message behind.
    fn on_end(
        &mut self,
        on_object: &mut dyn FnMut(Element) -> Result<(), AnswerError>,
    ) -> Result<(), AnswerError> {
        if let Some(mut el) = self.building.pop() {
            el.text = clean_owned(std::mem::take(&mut el.text));
            match self.building.last_mut() {
                Some(parent) => parent.children.push(el),
                None => {
                    self.info.objects += 1;
                    on_object(el)?;
                }
            }
        } else if let Some(name) = self.path.pop() {
            match name.as_slice() {
                // With no company open Tally may answer a bare `<ERRORMSG>Could not find
                // Company:…!</ERRORMSG>`: an error like a LINEERROR, never an empty answer.
                b"LINEERROR" | b"ERRORMSG" => {
                    let msg = clean_text(&self.captured);
                    self.line_error.get_or_insert(msg);
                }
                b"STATUS" => self.status = Some(clean_text(&self.captured)),
                _ => {}
            }
            if self.path.is_empty() {
                self.root_text = clean_text(&self.captured);
            }
            self.capturing = false;
        }
        Ok(())
    }

    /// After the last event: a whole document, with no error from Tally in it.
    fn finish(self) -> Result<AnswerInfo, AnswerError> {
        if !self.path.is_empty() || !self.building.is_empty() {
            return Err(AnswerError::Unreadable(
                "the answer ended in the middle of the document".into(),
            ));
        }
        if let Some(msg) = self.line_error {
            return Err(AnswerError::LineError(msg));
        }
        match self.info.root.as_str() {
            // A `TYPE Data` report whose form has an XMLTAG answers with that tag as the root
            // (tally-mcp-server reads its reports' rows from the root `DATA`).
            "ENVELOPE" | REPORT_ROOT => {}
            "EXCEPTION" => return Err(AnswerError::Exception(self.root_text)),
            "RESPONSE" => return Err(AnswerError::Response(self.root_text)),
            "" => return Err(AnswerError::Unreadable("the answer is empty".into())),
            other => {
                return Err(AnswerError::Unreadable(format!(
                    "unexpected root element <{other}>"
                )))
            }
        }
        if self.status.as_deref() == Some("0") {
            return Err(AnswerError::Failed);
        }
        Ok(self.info)
    }
}

/// Reads a UTF-8 answer, calling `on_object` for each object as it completes. An error from
/// `on_object` stops the read and is returned as it is.
pub fn read_answer<R: BufRead>(
    input: R,
    on_object: &mut dyn FnMut(Element) -> Result<(), AnswerError>,
) -> Result<AnswerInfo, AnswerError> {
    let mut reader = Reader::from_reader(input);
    reader.config_mut().expand_empty_elements = true;
    let mut buf = Vec::with_capacity(4096);
    let mut answer = AnswerReader::default();
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| {
            AnswerError::Unreadable(format!(
                "{e} (at byte {} of the UTF-8 text)",
                reader.error_position()
            ))
        })?;
        match event {
            Event::Start(e) => answer.on_start(&e),
            Event::Text(t) => answer.on_text(&t)?,
            Event::CData(t) => answer.on_cdata(&t)?,
            Event::GeneralRef(r) => answer.on_general_ref(&r)?,
            Event::End(_) => answer.on_end(on_object)?,
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    answer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects(xml: &str) -> Result<Vec<Element>, AnswerError> {
        let mut out = Vec::new();
        read_answer(xml.as_bytes(), &mut |e| {
            out.push(e);
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn objects_with_tally_quirks() {
        let xml = "<ENVELOPE><HEADER><STATUS>1</STATUS></HEADER><BODY><DATA><COLLECTION>\
            <GROUP NAME=\"Duties &amp; Taxes\" RESERVEDNAME=\"\"><PARENT TYPE=\"String\">&#4; Primary</PARENT>\
            <MASTERID TYPE=\"Number\"> 22</MASTERID><EMPTY/><NAME>A\u{7}B</NAME></GROUP>\
            </COLLECTION></DATA></BODY></ENVELOPE>";
        let objs = objects(xml).unwrap();
        assert_eq!(objs.len(), 1);
        let g = &objs[0];
        assert_eq!(g.attr("NAME"), Some("Duties & Taxes"));
        assert_eq!(g.child_text("PARENT"), Some("Primary"));
        assert_eq!(g.child_text("MASTERID"), Some("22"));
        assert_eq!(g.child_text("EMPTY"), None);
        assert_eq!(g.child_text("NAME"), Some("AB"));
    }

    /// Every answer's CMPINFO counters reuse object tags (`<LEDGER>59</LEDGER>`): they are
    /// not objects.
    #[test]
    fn cmpinfo_counters_are_not_objects() {
        let xml = "<ENVELOPE><HEADER><STATUS>1</STATUS></HEADER><BODY><DESC><CMPINFO>\
            <COMPANY>1</COMPANY><GROUP>30</GROUP><LEDGER>59</LEDGER><VOUCHER>16</VOUCHER></CMPINFO></DESC>\
            <DATA><COLLECTION><LEDGER NAME=\"Cash\"><GUID>g</GUID></LEDGER></COLLECTION></DATA></BODY></ENVELOPE>";
        let objs = objects(xml).unwrap();
        assert_eq!(objs.len(), 1);
        assert_eq!(objs[0].attr("NAME"), Some("Cash"));
    }

    #[test]
    fn tally_errors_are_typed() {
        let line = "<ENVELOPE><HEADER><VERSION>1</VERSION><STATUS>0</STATUS></HEADER><BODY><DATA>\
            <LINEERROR>Could not set &apos;SVCurrentCompany&apos; to &apos;X&apos;</LINEERROR></DATA></BODY></ENVELOPE>";
        assert_eq!(
            objects(line),
            Err(AnswerError::LineError(
                "Could not set 'SVCurrentCompany' to 'X'".into()
            ))
        );
        assert_eq!(
            objects("<RESPONSE>Unknown Request, cannot be processed</RESPONSE>"),
            Err(AnswerError::Response(
                "Unknown Request, cannot be processed".into()
            ))
        );
        assert_eq!(
            objects("<EXCEPTION>Memory</EXCEPTION>"),
            Err(AnswerError::Exception("Memory".into()))
        );
        assert_eq!(
            objects("<ENVELOPE><HEADER><STATUS>0</STATUS></HEADER></ENVELOPE>"),
            Err(AnswerError::Failed)
        );
        // No company open: a bare ERRORMSG, or one inside the envelope, is Tally's refusal.
        assert_eq!(
            objects("<ERRORMSG>Could not find Company: Sharma &amp; Sons!</ERRORMSG>"),
            Err(AnswerError::LineError(
                "Could not find Company: Sharma & Sons!".into()
            ))
        );
        assert_eq!(
            objects("<ENVELOPE><BODY><DATA><ERRORMSG>Could not find Company: X!</ERRORMSG></DATA></BODY></ENVELOPE>"),
            Err(AnswerError::LineError("Could not find Company: X!".into()))
        );
        assert!(matches!(
            objects("<ENVELOPE><BODY>"),
            Err(AnswerError::Unreadable(_))
        ));
        assert!(matches!(
            objects("garbage \u{0}\u{1} here"),
            Err(AnswerError::Unreadable(_))
        ));
        assert!(matches!(objects(""), Err(AnswerError::Unreadable(_))));
        assert!(matches!(
            objects("<A></B>"),
            Err(AnswerError::Unreadable(_))
        ));
    }
}

//! A desired-state file read into JSON, with the line every field came from, so an error
//! found anywhere later (a field the tool's argument type refuses, a literal credential) names
//! the file, the line and the field. YAML 1.2 (which JSON is a subset of) through yaml-rust2's
//! event parser; anchors, aliases and tags are refused (a desired-state file needs none, and an
//! alias can multiply a small file into a huge one).

use std::collections::HashMap;

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// The largest file read: a desired state of thousands of sources fits.
pub const MAX_DOCUMENT_BYTES: usize = 4 * 1024 * 1024;
const MAX_DEPTH: usize = 32;

/// A parsed file: its value, and the line of each field by its path (`bigid.data_sources[0].password`).
#[derive(Debug, Clone, Default)]
pub struct Document {
    pub value: Value,
    lines: HashMap<String, usize>,
}

impl Document {
    /// A document given as a value (an MCP call's argument): no lines to name.
    pub fn of(value: Value) -> Document {
        Document {
            value,
            lines: HashMap::new(),
        }
    }

    /// The line a field (or its closest enclosing field) is on.
    pub fn line_of(&self, path: &str) -> Option<usize> {
        let mut path = path.to_string();
        loop {
            if let Some(line) = self.lines.get(&path) {
                return Some(*line);
            }
            let cut = path.rfind(['.', '['])?;
            path.truncate(cut);
        }
    }
}

/// Why a file could not be read as a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

pub fn parse(text: &str) -> Result<Document, SyntaxError> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(SyntaxError {
            line: 1,
            message: format!("the file is larger than {} MiB", MAX_DOCUMENT_BYTES >> 20),
        });
    }
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, false).map_err(|e| SyntaxError {
        line: e.marker().line(),
        message: e.info().to_string(),
    })?;
    if let Some(e) = builder.error {
        return Err(e);
    }
    Ok(Document {
        value: builder.root.unwrap_or(Value::Null),
        lines: builder.lines,
    })
}

enum Frame {
    Map {
        map: Map<String, Value>,
        path: String,
        /// The key read, waiting for its value.
        key: Option<(String, usize)>,
    },
    Seq {
        items: Vec<Value>,
        path: String,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Value>,
    lines: HashMap<String, usize>,
    error: Option<SyntaxError>,
}

impl Builder {
    fn fail(&mut self, mark: Marker, message: &str) {
        if self.error.is_none() {
            self.error = Some(SyntaxError {
                line: mark.line(),
                message: message.to_string(),
            });
        }
    }

    /// The path the next value takes, and, in a mapping, whether it is a key.
    fn next_path(&self) -> (String, bool) {
        match self.stack.last() {
            None => (String::new(), false),
            Some(Frame::Seq { items, path }) => (format!("{path}[{}]", items.len()), false),
            Some(Frame::Map {
                key: None, path, ..
            }) => (path.clone(), true),
            Some(Frame::Map {
                key: Some((k, _)),
                path,
                ..
            }) => (join(path, k), false),
        }
    }

    /// Places a finished value where it belongs.
    fn put(&mut self, value: Value, mark: Marker) {
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map { map, key, .. }) => match key.take() {
                Some((k, _)) => {
                    map.insert(k, value);
                }
                None => match value {
                    Value::String(k) => {
                        if map.contains_key(&k) {
                            self.fail(mark, &format!("`{k}` appears twice in one mapping"));
                        }
                        if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
                            *key = Some((k, mark.line()));
                        }
                    }
                    _ => self.fail(mark, "a key must be text"),
                },
            },
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, event: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        match event {
            Event::Alias(_) => self.fail(mark, "aliases are not supported"),
            Event::Scalar(_, _, anchor, _)
            | Event::SequenceStart(anchor, _)
            | Event::MappingStart(anchor, _)
                if anchor != 0 =>
            {
                self.fail(mark, "anchors are not supported")
            }
            Event::Scalar(_, _, _, Some(_))
            | Event::SequenceStart(_, Some(_))
            | Event::MappingStart(_, Some(_)) => self.fail(mark, "tags are not supported"),
            Event::Scalar(text, style, _, None) => {
                let (path, is_key) = self.next_path();
                let value = if is_key {
                    Value::String(text)
                } else {
                    self.lines.insert(path, mark.line());
                    scalar(text, style)
                };
                self.put(value, mark);
            }
            Event::SequenceStart(_, None) | Event::MappingStart(_, None) => {
                if self.stack.len() >= MAX_DEPTH {
                    return self.fail(mark, "the document is nested too deeply");
                }
                let (path, is_key) = self.next_path();
                if is_key {
                    return self.fail(mark, "a key must be text");
                }
                self.lines.insert(path.clone(), mark.line());
                self.stack.push(match event {
                    Event::SequenceStart(..) => Frame::Seq {
                        items: Vec::new(),
                        path,
                    },
                    _ => Frame::Map {
                        map: Map::new(),
                        path,
                        key: None,
                    },
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let value = match self.stack.pop() {
                    Some(Frame::Seq { items, .. }) => Value::Array(items),
                    Some(Frame::Map { map, .. }) => Value::Object(map),
                    None => return,
                };
                self.put(value, mark);
            }
            Event::DocumentStart if self.root.is_some() => self.fail(mark, "one document per file"),
            _ => {}
        }
    }
}

/// A scalar by the YAML 1.2 core schema: quoted and block scalars are text; plain ones are
/// null, true/false, integers or floats when they read as such, else text.
fn scalar(text: String, style: TScalarStyle) -> Value {
    if style != TScalarStyle::Plain {
        return Value::String(text);
    }
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(n) = text.parse::<i64>() {
        return Value::Number(n.into());
    }
    if text.contains(['.', 'e', 'E'])
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
        && let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64)
    {
        return Value::Number(n);
    }
    Value::String(text)
}

/// A value written as YAML (what `state --out FILE` writes).
pub fn to_yaml(value: &Value) -> String {
    fn convert(value: &Value) -> yaml_rust2::Yaml {
        use yaml_rust2::Yaml;
        match value {
            Value::Null => Yaml::Null,
            Value::Bool(b) => Yaml::Boolean(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => Yaml::Integer(i),
                None => Yaml::Real(n.to_string()),
            },
            Value::String(s) => Yaml::String(s.clone()),
            Value::Array(items) => Yaml::Array(items.iter().map(convert).collect()),
            Value::Object(map) => Yaml::Hash(
                map.iter()
                    .map(|(k, v)| (Yaml::String(k.clone()), convert(v)))
                    .collect(),
            ),
        }
    }
    let mut out = String::new();
    let mut emitter = yaml_rust2::YamlEmitter::new(&mut out);
    let _ = emitter.dump(&convert(value));
    let body = out.strip_prefix("---\n").unwrap_or(&out);
    format!("{body}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_and_json_with_lines() {
        let doc = parse(
            "bigid:\n  managed: true\n  data_sources:\n    - name: Orders\n      port: 3306\n      password: \"${secret:PW}\"\n    - name: '007'\n",
        )
        .unwrap();
        assert_eq!(
            doc.value,
            json!({"bigid": {"managed": true, "data_sources": [
                {"name": "Orders", "port": 3306, "password": "${secret:PW}"}, {"name": "007"}]}})
        );
        assert_eq!(doc.line_of("bigid.data_sources[0].password"), Some(6));
        assert_eq!(doc.line_of("bigid.data_sources[1].name"), Some(7));
        // A field that is not there: its closest parent's line.
        assert_eq!(doc.line_of("bigid.data_sources[0].nope"), Some(4));
        let json = parse("{\"pdc\": {\"data_sources\": [\n {\"resourceName\": \"a\"}]}}").unwrap();
        assert_eq!(json.line_of("pdc.data_sources[0].resourceName"), Some(2));
    }

    #[test]
    fn yaml_written_reads_back_the_same() {
        let value = json!({"version": 1, "bigid": {"data_sources": [{"name": "Orders: EU", "port": 3306,
            "enabled": "yes", "owners": ["a@b.example"], "password": "${secret:BIGID_ORDERS_PASSWORD}",
            "note": "yes", "n": null, "t": true, "empty": [], "code": "007"}]}});
        let text = to_yaml(&value);
        assert_eq!(parse(&text).unwrap().value, value, "{text}");
    }

    #[test]
    fn what_is_refused() {
        for (text, line, what) in [
            ("a: &x 1\nb: *x\n", 1, "anchors"),
            ("a: !!str 1\n", 1, "tags"),
            ("a: 1\na: 2\n", 2, "twice"),
            ("a: [1\n", 2, ""),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, line, "{text}: {e:?}");
            assert!(e.message.contains(what), "{text}: {e:?}");
        }
    }
}

//! What one vendor request is made of, before any vendor, credential or transport is known:
//! the HTTP method and the parts an operation's arguments fill in (path parameters, query,
//! body). The bottom layer: every other module may use it, it uses none of them.

use serde_json::Value;

/// HTTP method of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// The parts of one request that come from the arguments.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestParts {
    /// Values for the `{placeholders}` of the path (unencoded).
    pub path_params: Vec<(&'static str, String)>,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Value>,
    /// For a polling row: poll until finished, for at most this long.
    pub wait: Option<std::time::Duration>,
}

impl RequestParts {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn path(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.path_params.push((name, value.into()));
        self
    }

    pub fn query(mut self, name: &'static str, value: impl ToString) -> Self {
        self.query.push((name, value.to_string()));
        self
    }

    pub fn query_opt(self, name: &'static str, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.query(name, v),
            None => self,
        }
    }

    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    pub fn wait(mut self, wait: Option<std::time::Duration>) -> Self {
        self.wait = wait;
        self
    }

    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.path_params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

//! One record of a register file as named text fields, the common ground of JSON Lines and
//! CSV: a JSON object is flattened to dotted names (`classification.type`), a CSV row is
//! already that, and every value is text until a field is read with its type. Reading takes
//! the field out, so what is left at the end is a field the format does not know.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::time::parse_time;
use crate::words::{Word, parse};

/// Longest key or register id.
pub const MAX_KEY: usize = 100;

/// The fields of one record and the problems found reading them.
#[derive(Debug, Clone, Default)]
pub struct Fields {
    map: BTreeMap<String, String>,
    problems: Vec<String>,
}

impl Fields {
    /// Fields from a JSON object, nested objects flattened with dots. Numbers and booleans
    /// become their text, so a JSON line and a CSV row with the same content read the same.
    pub fn from_json(value: Value) -> Result<Fields, String> {
        let Value::Object(map) = value else {
            return Err("a record is a JSON object".into());
        };
        let mut fields = Fields::default();
        for (k, v) in map {
            fields.flatten(k, v)?;
        }
        Ok(fields)
    }

    fn flatten(&mut self, name: String, value: Value) -> Result<(), String> {
        match value {
            Value::Null => Ok(()),
            Value::String(s) => {
                self.insert(name, s);
                Ok(())
            }
            Value::Bool(b) => {
                self.insert(name, b.to_string());
                Ok(())
            }
            Value::Number(n) => {
                self.insert(name, n.to_string());
                Ok(())
            }
            Value::Object(map) => {
                for (k, v) in map {
                    self.flatten(format!("{name}.{k}"), v)?;
                }
                Ok(())
            }
            Value::Array(_) => Err(format!("{name}: a list is not allowed here")),
        }
    }

    /// Adds a field; empty text is the same as absent, and a name starting with `#` is a
    /// comment the office keeps for itself.
    pub fn insert(&mut self, name: String, value: String) {
        if name.starts_with('#') || value.trim().is_empty() {
            return;
        }
        self.map.insert(name, value);
    }

    /// Records a problem with the record.
    pub fn problem(&mut self, message: impl Into<String>) {
        self.problems.push(message.into());
    }

    /// Whether any field is named `prefix.…`.
    pub fn has_group(&self, prefix: &str) -> bool {
        let dotted = format!("{prefix}.");
        self.map.keys().any(|k| k.starts_with(&dotted))
    }

    /// Takes an optional text field, trimmed.
    pub fn text(&mut self, name: &str) -> Option<String> {
        self.map.remove(name).map(|v| v.trim().to_string())
    }

    /// Takes a required text field.
    pub fn required(&mut self, name: &str) -> Option<String> {
        let v = self.text(name);
        if v.is_none() {
            self.problem(format!("{name}: required"));
        }
        v
    }

    /// Takes a key: a reference to another record of the file, or the record's own key.
    pub fn key(&mut self, name: &str, required: bool) -> Option<String> {
        let v = if required {
            self.required(name)
        } else {
            self.text(name)
        }?;
        if v.chars().count() > MAX_KEY || v.chars().any(char::is_control) {
            self.problem(format!(
                "{name}: at most {MAX_KEY} characters, no control characters"
            ));
            return None;
        }
        Some(v)
    }

    /// Takes a time (see [`parse_time`]).
    pub fn time(&mut self, name: &str, required: bool) -> Option<DateTime<Utc>> {
        let v = if required {
            self.required(name)
        } else {
            self.text(name)
        }?;
        parse_time(&v)
            .map_err(|e| self.problem(format!("{name}: {e}")))
            .ok()
    }

    /// Takes an enum value written as its word.
    pub fn word<T: Word>(&mut self, name: &str, required: bool) -> Option<T> {
        let v = if required {
            self.required(name)
        } else {
            self.text(name)
        }?;
        parse::<T>(&v)
            .map_err(|e| self.problem(format!("{name}: {e}")))
            .ok()
    }

    /// Takes a whole number that is not negative.
    pub fn count(&mut self, name: &str) -> Option<u32> {
        let v = self.text(name)?;
        let digits = v.replace(['.', ',', ' ', '_'], "");
        digits
            .parse::<u32>()
            .map_err(|_| self.problem(format!("{name}: {v:?} is not a whole number")))
            .ok()
    }

    /// Takes an amount of money in VND; `.`, `,` and spaces may group the thousands, as
    /// Vietnamese spreadsheets write 1.500.000.
    pub fn money(&mut self, name: &str) -> Option<i64> {
        let v = self.text(name)?;
        let digits = v.replace(['.', ',', ' ', '_'], "");
        digits.parse::<i64>().ok().filter(|n| *n >= 0).or_else(|| {
            self.problem(format!("{name}: {v:?} is not an amount in VND"));
            None
        })
    }

    /// Takes an area in m²; a lone comma is a decimal comma (`120,5`).
    pub fn area(&mut self, name: &str) -> Option<f64> {
        let v = self.text(name)?;
        let normalized = if v.contains('.') {
            v.replace(',', "")
        } else {
            v.replace(',', ".")
        };
        normalized
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n >= 0.0)
            .or_else(|| {
                self.problem(format!("{name}: {v:?} is not an area in m²"));
                None
            })
    }

    /// Takes a yes/no flag: true/false, yes/no, 1/0, x, có/không.
    pub fn flag(&mut self, name: &str) -> Option<bool> {
        let v = self.text(name)?;
        match v.to_lowercase().as_str() {
            "true" | "yes" | "y" | "1" | "x" | "có" | "co" => Some(true),
            "false" | "no" | "n" | "0" | "không" | "khong" => Some(false),
            _ => {
                self.problem(format!("{name}: {v:?} is not yes or no"));
                None
            }
        }
    }

    /// Ends reading: the problems found, fields the record type does not know among them.
    pub fn finish(mut self) -> Result<(), String> {
        let unknown: Vec<String> = std::mem::take(&mut self.map).into_keys().collect();
        if !unknown.is_empty() {
            self.problem(format!(
                "{}: not a field of this record type",
                unknown.join(", ")
            ));
        }
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(self.problems.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_and_text_read_the_same() {
        let mut a = Fields::from_json(json!({"persons": 3, "decision": {"complex": true},
            "money": 1500000, "land": 120.5, "#note": "x", "empty": ""}))
        .unwrap_or_else(|e| panic!("{e}"));
        let mut b = Fields::default();
        for (k, v) in [
            ("persons", "3"),
            ("decision.complex", "x"),
            ("money", "1.500.000"),
            ("land", "120,5"),
        ] {
            b.insert(k.into(), v.into());
        }
        for f in [&mut a, &mut b] {
            assert!(f.has_group("decision"));
            assert_eq!(f.count("persons"), Some(3));
            assert_eq!(f.flag("decision.complex"), Some(true));
            assert_eq!(f.money("money"), Some(1_500_000));
            assert_eq!(f.area("land"), Some(120.5));
        }
        assert_eq!(a.finish(), Ok(()));
        assert_eq!(b.finish(), Ok(()));
    }

    #[test]
    fn problems_are_collected() {
        let mut f = Fields::default();
        f.insert("persons".into(), "ba".into());
        f.insert("colour".into(), "red".into());
        assert_eq!(f.count("persons"), None);
        assert_eq!(f.required("visit_time"), None);
        assert_eq!(
            f.finish(),
            Err(
                "persons: \"ba\" is not a whole number; visit_time: required; \
                 colour: not a field of this record type"
                    .into()
            )
        );
        assert!(Fields::from_json(json!({"a": [1]})).is_err());
        assert!(Fields::from_json(json!([1])).is_err());
    }
}

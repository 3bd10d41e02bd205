//! A label set being relabeled, with the exact behaviour of Prometheus's `labels.Builder`.
//!
//! The order in which `labelmap`, `labeldrop` and `labelkeep` visit labels is observable
//! (two names mapped to one target: the last visited wins), so the builder keeps the same
//! three parts as Prometheus's: the untouched base set, the labels added or changed in the
//! order they were first set, and the names deleted. A visit sees base labels (in name
//! order) that were neither changed nor deleted, then the changed ones.

use strata_model::{Label, Labels};

/// A label set under change; see the module docs.
#[derive(Clone, Debug, Default)]
pub struct RelabelBuilder {
    base: Labels,
    add: Vec<Label>,
    del: Vec<String>,
}

impl RelabelBuilder {
    /// Starts from `base`.
    pub fn new(base: Labels) -> Self {
        Self {
            base,
            add: Vec::new(),
            del: Vec::new(),
        }
    }

    /// The current value of `name`, empty when absent.
    pub fn get(&self, name: &str) -> &str {
        if let Some(l) = self.add.iter().find(|l| l.name == name) {
            return &l.value;
        }
        if self.del.iter().any(|d| d == name) {
            return "";
        }
        self.base.get(name).unwrap_or("")
    }

    /// Sets `name` to `value`; an empty value deletes the label.
    pub fn set(&mut self, name: &str, value: &str) {
        if value.is_empty() {
            self.del(name);
            return;
        }
        match self.add.iter_mut().find(|l| l.name == name) {
            Some(l) => value.clone_into(&mut l.value),
            None => self.add.push(Label::new(name, value)),
        }
    }

    /// Deletes `name`.
    pub fn del(&mut self, name: &str) {
        self.add.retain(|l| l.name != name);
        if !self.del.iter().any(|d| d == name) {
            self.del.push(name.to_string());
        }
    }

    /// The current labels in Prometheus's visiting order (module docs), copied so the
    /// caller may change the builder while going through them.
    pub fn snapshot(&self) -> Vec<Label> {
        let mut out: Vec<Label> = self
            .base
            .iter()
            .filter(|l| !self.is_shadowed(&l.name))
            .cloned()
            .collect();
        out.extend(self.add.iter().cloned());
        out
    }

    fn is_shadowed(&self, name: &str) -> bool {
        self.del.iter().any(|d| d == name) || self.add.iter().any(|a| a.name == name)
    }

    /// The resulting label set.
    pub fn labels(&self) -> Labels {
        if self.add.is_empty() && self.del.is_empty() {
            return self.base.clone();
        }
        Labels::new(self.snapshot())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_del_get_and_visit_order() {
        let mut b = RelabelBuilder::new(Labels::from_pairs([("a", "1"), ("b", "2"), ("c", "3")]));
        b.set("a", "9");
        b.set("z", "0");
        b.del("b");
        assert_eq!(b.get("a"), "9");
        assert_eq!(b.get("b"), "");
        assert_eq!(b.get("c"), "3");
        let names: Vec<String> = b.snapshot().into_iter().map(|l| l.name).collect();
        assert_eq!(names, ["c", "a", "z"]);
        // Setting a deleted label brings it back; an empty value deletes.
        b.set("b", "5");
        b.set("c", "");
        assert_eq!(
            b.labels(),
            Labels::from_pairs([("a", "9"), ("b", "5"), ("z", "0")])
        );
    }
}

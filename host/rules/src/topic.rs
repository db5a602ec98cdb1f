//! MQTT topic filters: validation, matching, and an index of many rules.
//!
//! The index is a trie over topic levels, so the cost of routing one message
//! depends on the depth of the topic and on the wildcards present, not on the
//! number of rules; a topic that matches nothing costs one hash lookup per
//! level at most (and usually stops at the first level).

use std::collections::HashMap;
use std::hash::Hash;

/// Why a topic filter is not a valid MQTT filter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicFilterError {
    #[error("topic filter is empty")]
    Empty,
    #[error("topic filter is longer than 65535 bytes")]
    TooLong,
    #[error("topic filter contains a NUL character")]
    Nul,
    #[error("'#' must be a whole level and the last level of a topic filter")]
    BadMultiLevel,
    #[error("'+' must occupy a whole level of a topic filter")]
    BadSingleLevel,
}

/// Checks a filter against the MQTT 3.1.1/5 rules (4.7 Topic Names and Topic
/// Filters): non-empty, `#` alone and last, `+` alone in its level.
pub fn validate_filter(filter: &str) -> Result<(), TopicFilterError> {
    if filter.is_empty() {
        return Err(TopicFilterError::Empty);
    }
    if filter.len() > 65535 {
        return Err(TopicFilterError::TooLong);
    }
    if filter.contains('\0') {
        return Err(TopicFilterError::Nul);
    }
    let levels: Vec<&str> = filter.split('/').collect();
    let last = levels.len() - 1;
    for (i, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || i != last) {
            return Err(TopicFilterError::BadMultiLevel);
        }
        if level.contains('+') && *level != "+" {
            return Err(TopicFilterError::BadSingleLevel);
        }
    }
    Ok(())
}

/// Does `topic` match `filter` (MQTT semantics, including that wildcards at
/// the first level do not match topics starting with `$`)?
pub fn filter_matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut f = filter.split('/');
    let mut t = topic.split('/');
    loop {
        match (f.next(), t.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[derive(Debug)]
struct Node<Id> {
    children: HashMap<Box<str>, Node<Id>>,
    plus: Option<Box<Node<Id>>>,
    /// Rules whose filter ends with `#` at this node.
    hash: Vec<Id>,
    /// Rules whose filter ends exactly at this node.
    exact: Vec<Id>,
}

impl<Id> Default for Node<Id> {
    fn default() -> Self {
        Node {
            children: HashMap::new(),
            plus: None,
            hash: Vec::new(),
            exact: Vec::new(),
        }
    }
}

impl<Id> Node<Id> {
    fn is_empty(&self) -> bool {
        self.children.is_empty()
            && self.plus.is_none()
            && self.hash.is_empty()
            && self.exact.is_empty()
    }
}

/// Rules indexed by topic filter.
#[derive(Debug)]
pub struct RuleIndex<Id> {
    root: Node<Id>,
    filters: HashMap<Id, Box<str>>,
}

impl<Id> Default for RuleIndex<Id> {
    fn default() -> Self {
        RuleIndex {
            root: Node::default(),
            filters: HashMap::new(),
        }
    }
}

impl<Id: Clone + Eq + Hash> RuleIndex<Id> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.filters.len()
    }

    pub fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }

    /// Adds (or moves) rule `id` under `filter`.
    pub fn insert(&mut self, id: Id, filter: &str) -> Result<(), TopicFilterError> {
        validate_filter(filter)?;
        self.remove(&id);
        let mut node = &mut self.root;
        for level in filter.split('/') {
            match level {
                "#" => {
                    node.hash.push(id.clone());
                    self.filters.insert(id, filter.into());
                    return Ok(());
                }
                "+" => node = node.plus.get_or_insert_with(Box::default),
                l => node = node.children.entry(l.into()).or_default(),
            }
        }
        node.exact.push(id.clone());
        self.filters.insert(id, filter.into());
        Ok(())
    }

    /// Removes rule `id`; returns whether it was present.
    pub fn remove(&mut self, id: &Id) -> bool {
        let Some(filter) = self.filters.remove(id) else {
            return false;
        };
        let levels: Vec<&str> = filter.split('/').collect();
        remove_rec(&mut self.root, &levels, id);
        true
    }

    /// The filter rule `id` was inserted with.
    pub fn filter_of(&self, id: &Id) -> Option<&str> {
        self.filters.get(id).map(|f| &**f)
    }

    /// Ids of all rules whose filter matches `topic` (each at most once).
    pub fn matches(&self, topic: &str) -> Vec<Id> {
        let mut out = Vec::new();
        self.matches_into(topic, &mut out);
        out
    }

    /// Like [`RuleIndex::matches`], reusing `out` (cleared first) so the
    /// per-message hot path allocates nothing once the buffer has grown.
    pub fn matches_into(&self, topic: &str, out: &mut Vec<Id>) {
        out.clear();
        if self.filters.is_empty() {
            return;
        }
        let dollar = topic.starts_with('$');
        let mut levels = topic.split('/');
        collect(&self.root, &mut levels, dollar, out);
    }
}

fn collect<'t, Id: Clone>(
    node: &Node<Id>,
    levels: &mut (impl Iterator<Item = &'t str> + Clone),
    first_dollar: bool,
    out: &mut Vec<Id>,
) {
    // `#` also matches the parent level ("a/#" matches "a").
    if !first_dollar {
        out.extend(node.hash.iter().cloned());
    }
    let Some(level) = levels.next() else {
        out.extend(node.exact.iter().cloned());
        return;
    };
    if let Some(child) = node.children.get(level) {
        collect(child, &mut levels.clone(), false, out);
    }
    if !first_dollar {
        if let Some(plus) = &node.plus {
            collect(plus, &mut levels.clone(), false, out);
        }
    }
}

fn remove_rec<Id: Eq>(node: &mut Node<Id>, levels: &[&str], id: &Id) {
    let Some((first, rest)) = levels.split_first() else {
        node.exact.retain(|x| x != id);
        return;
    };
    match *first {
        "#" => node.hash.retain(|x| x != id),
        "+" => {
            if let Some(p) = node.plus.as_mut() {
                remove_rec(p, rest, id);
                if p.is_empty() {
                    node.plus = None;
                }
            }
        }
        l => {
            if let Some(c) = node.children.get_mut(l) {
                remove_rec(c, rest, id);
                if c.is_empty() {
                    node.children.remove(l);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert!(validate_filter("a/+/b/#").is_ok());
        assert!(validate_filter("#").is_ok());
        assert!(validate_filter("+").is_ok());
        assert!(validate_filter("/").is_ok());
        assert_eq!(validate_filter(""), Err(TopicFilterError::Empty));
        assert_eq!(
            validate_filter("a/#/b"),
            Err(TopicFilterError::BadMultiLevel)
        );
        assert_eq!(validate_filter("a#"), Err(TopicFilterError::BadMultiLevel));
        assert_eq!(
            validate_filter("a/b+"),
            Err(TopicFilterError::BadSingleLevel)
        );
    }

    #[test]
    fn matching_and_index_agree() {
        let filters = [
            "a/b", "a/+", "a/#", "#", "+/b", "+", "$SYS/#", "$SYS/+", "+/+", "a/b/c", "/", "+/",
        ];
        let topics = [
            "a/b", "a", "a/b/c", "b", "$SYS/x", "$SYS", "/", "x/b", "", "a/",
        ];
        let mut idx = RuleIndex::new();
        for (i, f) in filters.iter().enumerate() {
            idx.insert(i, f).unwrap();
        }
        for t in topics {
            let mut got = idx.matches(t);
            got.sort();
            let want: Vec<usize> = (0..filters.len())
                .filter(|&i| filter_matches(filters[i], t))
                .collect();
            assert_eq!(got, want, "topic {t:?}");
        }
        assert!(filter_matches("a/#", "a"));
        assert!(!filter_matches("#", "$SYS/x"));
        assert!(filter_matches("$SYS/#", "$SYS/x"));
        assert!(idx.remove(&2));
        assert!(!idx.matches("a/b/c").contains(&2));
        for i in 0..filters.len() {
            idx.remove(&i);
        }
        assert!(idx.root.is_empty());
    }
}

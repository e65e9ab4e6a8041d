//! ListObjectsV2 answers: one page of a bucket's sorted key index, as S3's XML.

use super::Object;
use super::dates::iso_date;

/// Where a listing page starts: at a key (a continuation token is the next key to return) or
/// after one (`start-after`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start<'a> {
    At(&'a str),
    After(&'a str),
}

/// The parameters of one ListObjectsV2 request.
#[derive(Debug)]
pub struct ListQuery<'a> {
    pub prefix: &'a str,
    pub delimiter: Option<&'a str>,
    pub start: Option<Start<'a>>,
    pub max_keys: usize,
}

/// One listing page: objects, common prefixes (with a delimiter) and the key the next page
/// starts at, if any.
#[derive(Debug, Default, PartialEq, Eq)]
struct Page<'a> {
    contents: Vec<&'a Object>,
    common_prefixes: Vec<&'a str>,
    next: Option<&'a str>,
}

/// The page of `objects` (sorted by key) that `query` asks for, found by binary search.
fn list_page<'a>(objects: &'a [Object], query: &ListQuery) -> Page<'a> {
    let prefix = query.prefix;
    let mut at = objects.partition_point(|o| o.key.as_str() < prefix);
    match query.start {
        Some(Start::At(key)) => at = at.max(objects.partition_point(|o| o.key.as_str() < key)),
        Some(Start::After(key)) => at = at.max(objects.partition_point(|o| o.key.as_str() <= key)),
        None => {}
    }
    let mut page = Page::default();
    while let Some(object) = objects.get(at).filter(|o| o.key.starts_with(prefix)) {
        if page.contents.len() + page.common_prefixes.len() == query.max_keys {
            page.next = Some(&object.key);
            break;
        }
        let rest = &object.key[prefix.len()..];
        match query
            .delimiter
            .and_then(|d| rest.find(d).map(|i| i + d.len()))
        {
            Some(end) => {
                let common = &object.key[..prefix.len() + end];
                page.common_prefixes.push(common);
                at += objects[at..].partition_point(|o| o.key.starts_with(common));
            }
            None => {
                page.contents.push(object);
                at += 1;
            }
        }
    }
    page
}

/// The ListObjectsV2 answer (`ListBucketResult`) for `query`.
pub fn list_xml(bucket: &str, objects: &[Object], query: &ListQuery) -> String {
    let page = list_page(objects, query);
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>{}</Name><Prefix>{}</Prefix><KeyCount>{}</KeyCount><MaxKeys>{}</MaxKeys><IsTruncated>{}</IsTruncated>",
        xml_escape(bucket),
        xml_escape(query.prefix),
        page.contents.len() + page.common_prefixes.len(),
        query.max_keys,
        page.next.is_some()
    );
    if let Some(delimiter) = query.delimiter {
        xml += &format!("<Delimiter>{}</Delimiter>", xml_escape(delimiter));
    }
    if let Some(Start::At(token)) = query.start {
        xml += &format!(
            "<ContinuationToken>{}</ContinuationToken>",
            xml_escape(token)
        );
    }
    if let Some(next) = page.next {
        xml += &format!(
            "<NextContinuationToken>{}</NextContinuationToken>",
            xml_escape(next)
        );
    }
    for object in &page.contents {
        xml += &format!(
            "<Contents><Key>{}</Key><LastModified>{}</LastModified><ETag>{}</ETag><Size>{}</Size><StorageClass>STANDARD</StorageClass></Contents>",
            xml_escape(&object.key),
            iso_date(object.mtime),
            xml_escape(&object.etag()),
            object.size
        );
    }
    for common in &page.common_prefixes {
        xml += &format!(
            "<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>",
            xml_escape(common)
        );
    }
    xml + "</ListBucketResult>"
}

pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn objects(keys: &[&str]) -> Vec<Object> {
        keys.iter()
            .map(|k| Object {
                key: k.to_string(),
                size: 1,
                mtime: (0, 0),
            })
            .collect()
    }

    fn keys<'a>(page: &Page<'a>) -> Vec<&'a str> {
        page.contents.iter().map(|o| o.key.as_str()).collect()
    }

    #[test]
    fn pages_follow_each_other_within_the_prefix() {
        let all = objects(&["a/1", "a/2", "a/3", "b/1"]);
        let mut query = ListQuery {
            prefix: "a/",
            delimiter: None,
            start: None,
            max_keys: 2,
        };
        let first = list_page(&all, &query);
        assert_eq!(
            (keys(&first), first.next),
            (vec!["a/1", "a/2"], Some("a/3"))
        );
        query.start = first.next.map(Start::At);
        let second = list_page(&all, &query);
        assert_eq!((keys(&second), second.next), (vec!["a/3"], None));
        query.start = Some(Start::After("a/1"));
        assert_eq!(keys(&list_page(&all, &query)), vec!["a/2", "a/3"]);
    }

    #[test]
    fn a_delimiter_groups_keys_into_common_prefixes() {
        let all = objects(&["a/1", "a/x/1", "a/x/2", "a/y/1", "a/z"]);
        let query = ListQuery {
            prefix: "a/",
            delimiter: Some("/"),
            start: None,
            max_keys: 3,
        };
        let page = list_page(&all, &query);
        assert_eq!(keys(&page), vec!["a/1"]);
        assert_eq!(page.common_prefixes, vec!["a/x/", "a/y/"]);
        assert_eq!(page.next, Some("a/z"));
    }
}

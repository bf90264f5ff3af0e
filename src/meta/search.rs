//! Searching an account's current files (SPEC §7, stowage's own): filters
//! on name, type, size, time and tag, keyset pagination on (sort key, path).

use crate::error::AppResult;
use async_trait::async_trait;

/// What a search sorts by.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SearchSort {
    Name,
    Size,
    LastModified,
}

/// A sort key value: a name, or a size or time.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum SortKey {
    Int(i64),
    Text(String),
}

/// One search (the filters all optional but the scope).
#[derive(Clone, Debug)]
pub struct SearchQuery {
    pub account_id: String,
    /// The folder searched ("/" the whole account).
    pub folder: String,
    pub recursive: bool,
    /// Only files whose parent folder is one of these (None: any).
    pub parents: Option<Vec<String>>,
    /// Lower-case substring of the file's name.
    pub name_contains: Option<String>,
    /// A MIME type, or its prefix when it ended in `/*` (given without `*`).
    pub mime: Option<(String, bool)>,
    pub min_size: Option<i64>,
    pub max_size: Option<i64>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub tag: Option<String>,
    pub sort: SearchSort,
    pub descending: bool,
    /// The last item of the previous page: its sort key and path.
    pub after: Option<(SortKey, String)>,
    pub limit: i64,
}

#[async_trait]
pub trait SearchStore: Send + Sync {
    /// One page of matches (up to `limit`) and the count of all matches.
    async fn search_files(&self, q: &SearchQuery) -> AppResult<(Vec<super::FileRow>, i64)>;
    /// The distinct parent folders of files in `folder`'s subtree.
    async fn file_parents(&self, account_id: &str, folder: &str) -> AppResult<Vec<String>>;
}

/// A bound parameter.
pub(super) enum Arg {
    Int(i64),
    Text(String),
}

/// The file's name: the path after its parent folder.
pub(super) const NAME: &str =
    "substr(f.path, length(f.parent) + CASE WHEN f.parent = '/' THEN 1 ELSE 2 END)";

/// `s` with LIKE's wildcards escaped (escape character `\`).
fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// Adds `a` to `args`; its placeholder.
fn arg(a: Arg, args: &mut Vec<Arg>) -> String {
    args.push(a);
    format!("${}", args.len())
}

/// The WHERE conditions of `q` (without the cursor) and their arguments.
pub(super) fn filters(q: &SearchQuery) -> (Vec<String>, Vec<Arg>) {
    let mut args = vec![Arg::Text(q.account_id.clone())];
    let mut w = vec!["f.account_id = $1".to_string()];
    if q.recursive {
        let (lo, hi) = super::subtree_range(&q.folder);
        let (lo, hi) = (arg(Arg::Text(lo), &mut args), arg(Arg::Text(hi), &mut args));
        w.push(format!("f.path >= {lo} AND f.path < {hi}"));
    } else {
        let p = arg(Arg::Text(q.folder.clone()), &mut args);
        w.push(format!("f.parent = {p}"));
    }
    if let Some(parents) = &q.parents {
        let list: Vec<String> = parents
            .iter()
            .map(|p| arg(Arg::Text(p.clone()), &mut args))
            .collect();
        w.push(format!("f.parent IN ({})", list.join(", ")));
    }
    if let Some(n) = &q.name_contains {
        let p = arg(Arg::Text(format!("%{}%", like_escape(n))), &mut args);
        w.push(format!("lower({NAME}) LIKE {p} ESCAPE '\\'"));
    }
    match &q.mime {
        Some((prefix, true)) => {
            let p = arg(Arg::Text(format!("{}%", like_escape(prefix))), &mut args);
            w.push(format!("v.mime LIKE {p} ESCAPE '\\'"));
        }
        Some((exact, false)) => {
            let p = arg(Arg::Text(exact.clone()), &mut args);
            w.push(format!("v.mime = {p}"));
        }
        None => {}
    }
    let ints = [
        (q.min_size, "v.size >="),
        (q.max_size, "v.size <="),
        (q.from, "v.created_at >="),
        (q.to, "v.created_at <="),
    ];
    for (value, cond) in ints {
        if let Some(v) = value {
            let p = arg(Arg::Int(v), &mut args);
            w.push(format!("{cond} {p}"));
        }
    }
    if let Some(tag) = &q.tag {
        // Tags are a JSON array of strings: the tag's JSON text, quotes included.
        let quoted = serde_json::to_string(tag).unwrap_or_default();
        let p = arg(Arg::Text(format!("%{}%", like_escape(&quoted))), &mut args);
        w.push(format!("v.tags LIKE {p} ESCAPE '\\'"));
    }
    (w, args)
}

/// The sort expression of `sort`.
pub(super) fn sort_expr(sort: SearchSort) -> String {
    match sort {
        SearchSort::Name => NAME.to_string(),
        SearchSort::Size => "v.size".to_string(),
        SearchSort::LastModified => "v.created_at".to_string(),
    }
}

/// The page query and the count query of `q`, with the page's arguments.
pub(super) fn statements(q: &SearchQuery) -> (String, String, Vec<Arg>, usize) {
    let (mut w, mut args) = filters(q);
    let count_args = args.len();
    let from = "FROM files f JOIN file_versions v ON v.version_id = f.version_id";
    // Without a filter on the version, the count need not join it (every
    // pointer names an existing version).
    let on_version = w.iter().any(|c| c.contains("v."));
    let count_from = if on_version { from } else { "FROM files f" };
    let count = format!("SELECT COUNT(*) {count_from} WHERE {}", w.join(" AND "));
    let key = sort_expr(q.sort);
    let (cmp, dir) = if q.descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    if let Some((k, path)) = &q.after {
        args.push(match k {
            SortKey::Int(i) => Arg::Int(*i),
            SortKey::Text(t) => Arg::Text(t.clone()),
        });
        let kp = args.len();
        args.push(Arg::Text(path.clone()));
        let pp = args.len();
        w.push(format!(
            "({key} {cmp} ${kp} OR ({key} = ${kp} AND f.path {cmp} ${pp}))"
        ));
    }
    args.push(Arg::Int(q.limit));
    let page = format!(
        "SELECT {} {from} WHERE {} ORDER BY {key} {dir}, f.path {dir} LIMIT ${}",
        super::sql::FILE_COLUMNS,
        w.join(" AND "),
        args.len()
    );
    (page, count, args, count_args)
}

macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for a in $args {
            query = match a {
                $crate::meta::search::Arg::Int(i) => query.bind(*i),
                $crate::meta::search::Arg::Text(t) => query.bind(t.clone()),
            };
        }
        query
    }};
}

macro_rules! impl_search {
    ($ty:ty) => {
        #[async_trait::async_trait]
        impl $crate::meta::SearchStore for $ty {
            async fn search_files(
                &self,
                q: &$crate::meta::SearchQuery,
            ) -> $crate::error::AppResult<(Vec<$crate::meta::FileRow>, i64)> {
                let (page, count, args, count_args) = $crate::meta::search::statements(q);
                // The page and the total are two scans: run them at once, on
                // two of the pool's connections.
                let rows = bind_args!(
                    sqlx::query_as::<_, $crate::meta::FileRow>(&page),
                    args.iter()
                )
                .fetch_all(&self.pool);
                let total = bind_args!(
                    sqlx::query_as::<_, (i64,)>(&count),
                    args.iter().take(count_args)
                )
                .fetch_one(&self.pool);
                let (rows, (total,)) = tokio::try_join!(rows, total)?;
                Ok((rows, total))
            }

            async fn file_parents(
                &self,
                account_id: &str,
                folder: &str,
            ) -> $crate::error::AppResult<Vec<String>> {
                let (lo, hi) = $crate::meta::subtree_range(folder);
                let rows: Vec<(String,)> = sqlx::query_as(
                    "SELECT DISTINCT parent FROM files WHERE account_id = $1 \
                     AND path >= $2 AND path < $3",
                )
                .bind(account_id)
                .bind(lo)
                .bind(hi)
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(|(p,)| p).collect())
            }
        }
    };
}

impl_search!(super::PgMeta);
impl_search!(super::SqliteMeta);

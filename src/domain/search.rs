//! Searching files (SPEC §7, stowage's own): `GET …/files/search`. Only what
//! the caller may list: `list` on the folder searched, and for a recursive
//! search, only files whose folder the caller may list (a key limited by its
//! rules sees its folders' files and the total counts only those).

use crate::auth::{Need, Principal};
use crate::domain::folders::normalize;
use crate::error::{AppError, AppResult};
use crate::meta::{FileRow, SearchQuery, SearchSort, SortKey};
use crate::state::AppState;
use base64::Engine;
use serde::Deserialize;

/// The query string of a search.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchParams {
    pub folder_path: Option<String>,
    pub recursive: Option<bool>,
    pub q: Option<String>,
    pub mime: Option<String>,
    pub min_size: Option<i64>,
    pub max_size: Option<i64>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub tag: Option<String>,
    pub sort: Option<String>,
    pub order: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
}

/// One page: the files, the cursor of the next page (None at the end), and
/// the count of every match.
pub struct SearchPage {
    pub items: Vec<FileRow>,
    pub cursor: Option<String>,
    pub total: i64,
}

fn bad(what: &str, suggestion: &str) -> AppError {
    AppError::invalid_request(what.to_string(), suggestion.to_string())
}

fn sort_of(p: &SearchParams) -> AppResult<(SearchSort, bool)> {
    let sort = match p.sort.as_deref().unwrap_or("name") {
        "name" => SearchSort::Name,
        "size" => SearchSort::Size,
        "lastModified" => SearchSort::LastModified,
        _ => return Err(bad("Unknown sort.", "Use sort=name, size or lastModified.")),
    };
    let descending = match p.order.as_deref().unwrap_or("asc") {
        "asc" => false,
        "desc" => true,
        _ => return Err(bad("Unknown order.", "Use order=asc or desc.")),
    };
    Ok((sort, descending))
}

/// The cursor carries the last item's sort key and path, and the sort it
/// belongs to (a cursor of another sort is refused).
fn encode_cursor(sort: &str, key: SortKey, path: &str) -> String {
    let raw = serde_json::to_vec(&(sort, key, path)).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn decode_cursor(sort: &str, c: &str) -> AppResult<(SortKey, String)> {
    let invalid = || {
        bad(
            "The cursor is not valid.",
            "Pass the cursor of the previous page, with the same sort and order.",
        )
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .map_err(|_| invalid())?;
    let (s, key, path): (String, SortKey, String) =
        serde_json::from_slice(&raw).map_err(|_| invalid())?;
    if s != sort {
        return Err(invalid());
    }
    Ok((key, path))
}

fn key_of(sort: SearchSort, f: &FileRow) -> SortKey {
    match sort {
        SearchSort::Name => SortKey::Text(crate::domain::paths::file_name(&f.path).to_string()),
        SearchSort::Size => SortKey::Int(f.size),
        SearchSort::LastModified => SortKey::Int(f.created_at),
    }
}

/// The folders whose files a recursive search may show; None: all of them.
async fn listable(
    state: &AppState,
    principal: &Principal,
    account: &str,
    folder: &str,
) -> AppResult<Option<Vec<String>>> {
    let parents = state.meta.file_parents(account, folder).await?;
    let allowed: Vec<String> = parents
        .iter()
        .filter(|p| principal.may(account, Need::list(p)))
        .cloned()
        .collect();
    Ok((allowed.len() != parents.len()).then_some(allowed))
}

pub async fn search(
    state: &AppState,
    principal: &Principal,
    account: &str,
    p: SearchParams,
) -> AppResult<SearchPage> {
    let folder = normalize(p.folder_path.as_deref().unwrap_or("/"))?;
    principal.require(account, Need::list(&folder))?;
    let limit = p.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(bad("limit is out of range.", "Use a limit from 1 to 1000."));
    }
    let (sort, descending) = sort_of(&p)?;
    let sort_name = format!("{}:{}", p.sort.as_deref().unwrap_or("name"), descending);
    let after = match p.cursor.as_deref() {
        Some(c) if !c.is_empty() => Some(decode_cursor(&sort_name, c)?),
        _ => None,
    };
    let recursive = p.recursive.unwrap_or(true);
    let parents = match recursive {
        true => listable(state, principal, account, &folder).await?,
        false => None,
    };
    if parents.as_ref().is_some_and(|p| p.is_empty()) {
        return Ok(SearchPage {
            items: Vec::new(),
            cursor: None,
            total: 0,
        });
    }
    let mime = p
        .mime
        .as_deref()
        .filter(|m| !m.is_empty())
        .map(|m| match m.strip_suffix('*') {
            Some(prefix) => (prefix.to_string(), true),
            None => (m.to_string(), false),
        });
    let q = SearchQuery {
        account_id: account.to_string(),
        folder,
        recursive,
        parents,
        name_contains: p.q.filter(|q| !q.is_empty()).map(|q| q.to_lowercase()),
        mime,
        min_size: p.min_size,
        max_size: p.max_size,
        from: p.from,
        to: p.to,
        tag: p.tag.filter(|t| !t.is_empty()),
        sort,
        descending,
        after,
        limit: limit + 1,
    };
    let (mut items, total) = state.meta.search_files(&q).await?;
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let cursor = match (more, items.last()) {
        (true, Some(last)) => Some(encode_cursor(&sort_name, key_of(sort, last), &last.path)),
        _ => None,
    };
    Ok(SearchPage {
        items,
        cursor,
        total,
    })
}

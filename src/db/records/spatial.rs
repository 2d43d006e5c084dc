//! The box search: records in a latitude/longitude box, newest first (the searches around a point
//! are in [`super::nearby`]).
//!
//! A plain box search costs in proportion to the records in the box, so a small box in a dense
//! city slowed down as the corpus grew. A box covering few cells of the spatial grid (migration
//! `record_grid`: cells of 0.01 and 0.1 degree, each a prefix of a newest-first index) is read
//! cell by cell instead: each cell walked newest first, the walks merged until the page is full,
//! which costs about the page plus one record per cell whatever the corpus.

use sqlx::{PgExecutor, Postgres, QueryBuilder};

use super::{Filter, RECORD_COLUMNS, RecordRow};

/// A latitude/longitude box (degrees), boundary included.
#[derive(Debug, Clone, Copy)]
pub struct Bbox {
    /// South edge.
    pub min_lat: f64,
    /// West edge.
    pub min_lng: f64,
    /// North edge.
    pub max_lat: f64,
    /// East edge.
    pub max_lng: f64,
}

impl Bbox {
    /// Whether `other` lies wholly inside this box.
    pub fn contains(&self, other: &Bbox) -> bool {
        self.min_lat <= other.min_lat
            && self.min_lng <= other.min_lng
            && self.max_lat >= other.max_lat
            && self.max_lng >= other.max_lng
    }
}

/// The box around the located records as PostgreSQL's statistics have it (from the last
/// `ANALYZE`, about 95% of the true extent); `None` before there are statistics.
pub async fn estimated_extent(db: impl PgExecutor<'_>) -> sqlx::Result<Option<Bbox>> {
    let row = sqlx::query!(
        r#"SELECT ST_YMin(e) AS "min_lat", ST_XMin(e) AS "min_lng", ST_YMax(e) AS "max_lat", ST_XMax(e) AS "max_lng"
           FROM (SELECT ST_EstimatedExtent('record', 'location')::box3d AS e) extent"#
    )
    .fetch_one(db)
    .await?;
    Ok(match (row.min_lat, row.min_lng, row.max_lat, row.max_lng) {
        (Some(min_lat), Some(min_lng), Some(max_lat), Some(max_lng)) => {
            Some(Bbox { min_lat, min_lng, max_lat, max_lng })
        }
        _ => None,
    })
}

/// Records inside `bbox`, newest first. `extent` is [`estimated_extent`] (possibly a little old):
/// a box holding it holds about every record, and walking the newest first finds a page at once,
/// where the grid would start a walk in each of its cells. It only chooses the statement; the
/// answer is the same either way.
#[tracing::instrument(skip_all)]
pub async fn in_bbox(
    db: impl PgExecutor<'_>,
    filter: &Filter,
    bbox: Bbox,
    extent: Option<Bbox>,
    skip: i64,
    limit: i64,
) -> sqlx::Result<Vec<RecordRow>> {
    let holds_all = extent.is_some_and(|extent| bbox.contains(&extent));
    if let Some(per_degree) = grid_level(filter, bbox, skip, limit).filter(|_| !holds_all) {
        let (mut qb, prepared) = in_bbox_grid(filter, bbox, per_degree, skip, limit);
        return qb.build_query_as().persistent(prepared).fetch_all(db).await;
    }
    // A box of latitude/longitude lines is planar in degrees, so it is tested on geometry (GiST
    // index `idx_record_location`); ST_Intersects keeps points on the boundary.
    let mut qb = QueryBuilder::<Postgres>::new(format!(
        "SELECT {RECORD_COLUMNS} FROM (SELECT r.* FROM record r \
         WHERE r.location IS NOT NULL AND ST_Intersects(r.location, ST_MakeEnvelope("
    ));
    push_envelope(&mut qb, bbox);
    qb.push(")");
    filter.push(&mut qb);
    qb.push(" ORDER BY r.created_at DESC, r.uid DESC LIMIT ").push_bind(limit);
    qb.push(" OFFSET ").push_bind(skip);
    // As in the list: response columns are computed for the page only.
    qb.push(") r ORDER BY r.created_at DESC, r.uid DESC");
    qb.build_query_as().persistent(false).fetch_all(db).await
}

/// Grid levels, in cells per degree, finest first; each has its index (`record_grid_<n>_idx`,
/// migration `record_grid`), on `record_grid_cell(location, n)`.
const GRID_LEVELS: [i32; 2] = [100, 10];

/// Most cells one box search reads.
const MAX_GRID_CELLS: i64 = 36;

/// Most rows one box search asks of the grid: `skip + limit` from each cell. PostgreSQL prices
/// each at about 60 of its cost units (half of them pass the box test, as it sees it, and the
/// test is priced high), so the statement stays near 60,000, under `jit_above_cost` (100,000 by
/// default): above it the statement is compiled before it runs, which takes longer (30 ms to
/// over half a second) than the search itself.
const MAX_GRID_ROWS: i64 = 1_000;

/// The grid level the box search reads, or `None` for the plain statement: the finest level at
/// which the box covers at most [`MAX_GRID_CELLS`] cells and the grid is asked for at most
/// [`MAX_GRID_ROWS`] rows. The cells are then named by [`grid_cells`], with the same arithmetic.
fn grid_level(filter: &Filter, bbox: Bbox, skip: i64, limit: i64) -> Option<i32> {
    // One owner's records are best walked through their own index (`record_user_created_idx`).
    if filter.visibility.owner().is_some() || filter.user_id.is_some() {
        return None;
    }
    let per_cell = skip.checked_add(limit)?;
    GRID_LEVELS.into_iter().find(|&per_degree| {
        let span = |low: f64, high: f64, offset: f64| {
            let n = cell_index(high, offset, per_degree) - cell_index(low, offset, per_degree) + 1.0;
            // Not a number, infinite or an inside-out box: no grid.
            if n.is_finite() && n >= 1.0 { n } else { f64::INFINITY }
        };
        let cells = span(bbox.min_lat, bbox.max_lat, 90.0) * span(bbox.min_lng, bbox.max_lng, 180.0);
        cells <= MAX_GRID_CELLS as f64 && (per_cell as f64) * cells <= MAX_GRID_ROWS as f64
    })
}

/// The row (latitude, `offset` 90) or column (longitude, `offset` 180) of the grid cell holding
/// `value` at `per_degree` cells per degree, as `record_grid_cell` computes it: the same IEEE
/// double arithmetic, so a point on a cell or box edge falls in the cell named here.
fn cell_index(value: f64, offset: f64, per_degree: i32) -> f64 {
    ((value + offset) * f64::from(per_degree)).floor()
}

/// The cells of the grid at `per_degree` cells per degree that `bbox` covers: the row and column
/// of each corner ([`cell_index`]), then every cell between. A box this small never reaches round
/// the world, so no cell is named twice.
fn grid_cells(bbox: Bbox, per_degree: i32) -> Vec<i64> {
    let index = |value: f64, offset: f64| cell_index(value, offset, per_degree) as i64;
    let row = 360 * i64::from(per_degree);
    let (rows, columns) = (
        index(bbox.min_lat, 90.0)..=index(bbox.max_lat, 90.0),
        index(bbox.min_lng, 180.0)..=index(bbox.max_lng, 180.0),
    );
    rows.flat_map(|y| columns.clone().map(move |x| y * row + x)).collect()
}

/// The box search through the grid at `per_degree` cells per degree: every cell the box covers
/// is walked newest first on its own prefix of the grid index (at most `skip + limit` records),
/// and the walks are merged (`UNION ALL` under one `ORDER BY`, which PostgreSQL runs as a Merge
/// Append) until the page is full. Every record of the box lies in exactly one of these cells,
/// so this is the page of the box, and it reads about `skip + limit` records plus one per cell
/// however dense the cells are (reading a page from each cell and sorting them read nine times
/// the page on a city).
///
/// Prepared: the plan is the same merge of index walks whatever the box, and planning the
/// branches took longer than running them. The page's limits are written into the statement:
/// bound, PostgreSQL prices the generic plan for an unknown limit (a tenth of the rows), which
/// made it dearer than the plans made with the values, so it went on planning every call (1,700
/// instead of 13,500 calls a second on a million sparse records). Only the first page is prepared
/// (a statement per page would crowd out the others), and not with a category: one with few
/// records could be better read through its own index, so that statement is planned with its values.
fn in_bbox_grid(
    filter: &Filter,
    bbox: Bbox,
    per_degree: i32,
    skip: i64,
    limit: i64,
) -> (QueryBuilder<'_, Postgres>, bool) {
    let mut qb = QueryBuilder::<Postgres>::new(format!("SELECT {RECORD_COLUMNS} FROM (SELECT c.* FROM ("));
    for (i, cell) in grid_cells(bbox, per_degree).into_iter().enumerate() {
        if i > 0 {
            qb.push(" UNION ALL ");
        }
        // The level is written into the statement, not bound: the planner matches the index on
        // `record_grid_cell(location, 100)` only against that very expression.
        qb.push(format!("(SELECT r.* FROM record r WHERE record_grid_cell(r.location, {per_degree}) = "));
        qb.push_bind(cell).push(" AND r.location IS NOT NULL");
        // The same test as the plain statement. PostgreSQL would estimate it from the whole table
        // (the box's share of all records, 1% for a small box in a city) where within the box's
        // cells it passes most records; with that estimate it reads and sorts every record of
        // each cell instead of walking the newest ones. Inside COALESCE (a no-op: the test of a
        // located record is never NULL) it gets the default estimate of one half.
        qb.push(" AND COALESCE(ST_Intersects(r.location, ST_MakeEnvelope(");
        push_envelope(&mut qb, bbox);
        qb.push("), false)");
        filter.push(&mut qb);
        qb.push(format!(" ORDER BY r.created_at DESC, r.uid DESC LIMIT {})", skip.saturating_add(limit)));
    }
    qb.push(format!(") c ORDER BY c.created_at DESC, c.uid DESC LIMIT {limit} OFFSET {skip}"));
    qb.push(") r ORDER BY r.created_at DESC, r.uid DESC");
    (qb, skip == 0 && filter.category_id.is_none())
}

/// The box as `ST_MakeEnvelope`'s arguments, in SRID 4326.
fn push_envelope(qb: &mut QueryBuilder<'_, Postgres>, bbox: Bbox) {
    qb.push_bind(bbox.min_lng)
        .push("::float8, ")
        .push_bind(bbox.min_lat)
        .push("::float8, ")
        .push_bind(bbox.max_lng)
        .push("::float8, ")
        .push_bind(bbox.max_lat)
        .push("::float8, 4326)");
}

//! The searches around a point: records within a radius, nearest first, and records by distance
//! from a point (the same search, over the whole earth when no distance is given).

use sqlx::{PgExecutor, Postgres, QueryBuilder};

use super::{Filter, RECORD_COLUMNS, RecordRow};
use crate::domain::Location;

/// A record with its distance from a point.
#[derive(Debug, sqlx::FromRow)]
pub struct Distant {
    /// The record.
    #[sqlx(flatten)]
    pub record: RecordRow,
    /// Metres from the point, on the WGS84 spheroid.
    pub distance_meters: f64,
}

/// The point as geography: `ST_MakePoint(lon, lat)` in SRID 4326.
fn push_point(qb: &mut QueryBuilder<'_, Postgres>, point: Location) {
    qb.push("ST_SetSRID(ST_MakePoint(")
        .push_bind(point.longitude)
        .push("::float8, ")
        .push_bind(point.latitude)
        .push("::float8), 4326)::geography");
}

/// Records within `radius` metres of `centre`, nearest first.
///
/// The index is walked in sphere distance (`<->`), and the answer is ordered by spheroid distance,
/// which differs by up to about half a percent: so the walk goes a sixteenth past the page, and the
/// page is taken from it only when the walk provably holds every record that can be on it (see
/// [`walk_holds_the_page`]); otherwise the walk goes four times as far, and past [`MAX_WALK`]
/// rows every record in the circle is measured.
#[tracing::instrument(skip_all)]
pub async fn nearby(
    db: impl PgExecutor<'_> + Copy,
    filter: &Filter,
    centre: Location,
    radius: f64,
    skip: i64,
    limit: i64,
) -> sqlx::Result<Vec<Distant>> {
    let wanted = skip.saturating_add(limit);
    let mut walk = wanted.saturating_add(wanted / 16).saturating_add(8);
    while walk <= MAX_WALK {
        // Prepared: the nearest-first walk of the spatial index is the best plan whatever the
        // centre and radius, so a generic plan is the same plan without the cost of planning.
        let rows: Vec<Walked> =
            match nearby_query(filter, centre, radius, skip, limit, Some(walk)).build_query_as().fetch_all(db).await {
                // PostGIS's geography nearest-first walk can fail its own order check near the
                // poles and the antimeridian; measuring every record in the circle is slower but right.
                Err(sqlx::Error::Database(e)) if e.message().contains("index returned tuples in wrong order") => break,
                rows => rows?,
            };
        if walk_holds_the_page(&rows, walk, radius, skip, limit) {
            return Ok(page_of(rows, radius));
        }
        walk = walk.saturating_mul(4);
    }
    let rows = nearby_query(filter, centre, radius, skip, limit, None)
        .build_query_as()
        .persistent(false)
        .fetch_all(db)
        .await?;
    Ok(page_of(rows, radius))
}

/// Most rows a nearest-first walk of `nearby` reads before it measures the whole circle instead.
const MAX_WALK: i64 = 20_000;

/// Sphere distance over spheroid distance, and the other way round, is at most about 1.0056
/// (along a meridian at the equator, and at the poles); rounded up.
const SPHERE_SPHEROID_RATIO: f64 = 1.01;

/// A row of the nearby statement: a record of the walk, within the radius or the walk's farthest
/// (which always comes when the page has room for it, so that a walk with no record on the page
/// still reports what it saw), with what the walk saw: how many rows it read, and the farthest of
/// them (spheroid distance), the same on every row.
#[derive(Debug, sqlx::FromRow)]
struct Walked {
    #[sqlx(flatten)]
    distant: Distant,
    walked: i64,
    walked_max: f64,
}

/// The records of the page, nearest first: those within the radius.
fn page_of(rows: Vec<Walked>, radius: f64) -> Vec<Distant> {
    rows.into_iter().filter(|r| r.distant.distance_meters <= radius).map(|r| r.distant).collect()
}

/// Whether the page taken from a walk of at most `walk` rows is the page of the whole circle.
///
/// No rows at all on the first page: the walk found nothing. A walk that read fewer rows than it
/// could read every record near enough. Otherwise let `d` be the spheroid distance of the page's
/// last record when the page is full (it is the `skip + limit`-th nearest record of the walk, so
/// the true one is no farther), or `radius` when it is not. Every record of the true page is at
/// most `d` away on the spheroid, so at most `d * ratio` on the sphere. The walk read every record
/// nearer on the sphere than its farthest, which is at least `walked_max / ratio` away on the
/// sphere; when that is farther still, the walk holds the whole page, ties included. Past the last
/// page (nothing comes back after a skip) nothing is proved, and the walk goes on.
fn walk_holds_the_page(rows: &[Walked], walk: i64, radius: f64, skip: i64, limit: i64) -> bool {
    let Some(first) = rows.first() else { return skip == 0 };
    if first.walked < walk {
        return true;
    }
    let page = rows.iter().filter(|r| r.distant.distance_meters <= radius);
    let d = match page.clone().next_back() {
        Some(last) if page.count() as i64 == limit => last.distant.distance_meters,
        _ => radius,
    };
    first.walked_max / SPHERE_SPHEROID_RATIO > d * SPHERE_SPHEROID_RATIO
}

/// The nearby statement. With `walk`, a nearest-first walk of the geography GiST index (`<->`) of
/// at most that many rows, bounded by a box around the circle (much faster than measuring and
/// sorting every record in the circle); without, every record within the radius. Of the records
/// read, those within `radius` metres (spheroid) and the farthest, ordered by spheroid distance
/// (then newest first), from `skip + 1` to `skip + limit`.
fn nearby_query<'a>(
    filter: &'a Filter,
    centre: Location,
    radius: f64,
    skip: i64,
    limit: i64,
    walk: Option<i64>,
) -> QueryBuilder<'a, Postgres> {
    let mut qb = QueryBuilder::<Postgres>::new(format!(
        "SELECT {RECORD_COLUMNS}, r.distance_meters, r.walked, r.walked_max FROM (SELECT w.*, count(*) OVER () AS walked, \
         max(w.distance_meters) OVER () AS walked_max FROM (SELECT r.*, ST_Distance(r.location::geography, "
    ));
    push_point(&mut qb, centre);
    if let Some(walk) = walk {
        // The box around the circle: `_ST_Expand` (PostGIS's own, used by `ST_DWithin` for its
        // index test) widens the point's box by the distance on the sphere, and the spheroid's
        // difference is covered. `ST_Buffer` on geography drew the circle through two map
        // projections at every call, which cost more than the rest of the walk.
        qb.push(") AS distance_meters FROM record r WHERE r.location::geography && _ST_Expand(");
        push_point(&mut qb, centre);
        qb.push(", ").push_bind(radius * SPHERE_SPHEROID_RATIO).push(")");
        filter.push(&mut qb);
        qb.push(" ORDER BY r.location::geography <-> ");
        push_point(&mut qb, centre);
        qb.push(" LIMIT ").push_bind(walk);
    } else {
        qb.push(
            ") AS distance_meters FROM record r WHERE r.location IS NOT NULL AND ST_DWithin(r.location::geography, ",
        );
        push_point(&mut qb, centre);
        qb.push(", ").push_bind(radius).push(")");
        filter.push(&mut qb);
    }
    qb.push(") w) r WHERE r.distance_meters <= ").push_bind(radius);
    qb.push(" OR r.distance_meters = r.walked_max");
    qb.push(" ORDER BY r.distance_meters, r.created_at DESC, r.uid DESC LIMIT ").push_bind(limit);
    qb.push(" OFFSET ").push_bind(skip);
    qb
}

/// More than any distance between two points on the spheroid (half a meridian, 20,004 km).
const FARTHER_THAN_ANYWHERE_M: f64 = 20_100_000.0;

/// Located records by distance from `centre` (spheroid), nearest first, optionally within
/// `max_distance` metres: the nearby search, whose circle is the whole earth when no distance is
/// given, so the page is ordered by the very distances it shows.
pub async fn by_distance(
    db: impl PgExecutor<'_> + Copy,
    filter: &Filter,
    centre: Location,
    max_distance: Option<f64>,
    skip: i64,
    limit: i64,
) -> sqlx::Result<Vec<Distant>> {
    nearby(db, filter, centre, max_distance.unwrap_or(FARTHER_THAN_ANYWHERE_M), skip, limit).await
}

-- A spatial grid for the box search. "The newest records in a box" has no index that answers it
-- directly: the newest-first walk filters out everything outside the box, the spatial index finds
-- every record in the box before sorting, and both cost in proportion to the records in the box,
-- so a small box in a dense city gets slower as the corpus grows. Here each record falls in one
-- cell of a regular latitude/longitude grid, and each cell is a prefix of a newest-first index:
-- the box search reads the newest page of each cell the box covers and merges them, a cost set by
-- the number of cells and the page, not by the corpus. Two levels, cells of 0.01 and 0.1 degree
-- (100 and 10 per degree), so that small and larger boxes both cover few cells.
--
-- The cell is row * (columns per row) + column, rows counted from the south pole and columns from
-- the antimeridian. The search computes the cells of a box from its corners with this same
-- expression, so a point on a cell or box edge always lands in a cell the search reads. The body
-- is SQL-standard (RETURN): it is resolved now, not by name at each call, so a restore that runs
-- with an empty search_path can still build the indexes, and the planner still inlines it.
CREATE FUNCTION record_grid_cell(location geometry, per_degree integer) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN floor((ST_Y(location) + 90) * per_degree)::bigint * (360 * per_degree)
        + floor((ST_X(location) + 180) * per_degree)::bigint;

CREATE INDEX record_grid_100_idx ON record (record_grid_cell(location, 100), created_at DESC, uid DESC)
    WHERE location IS NOT NULL;
CREATE INDEX record_grid_10_idx ON record (record_grid_cell(location, 10), created_at DESC, uid DESC)
    WHERE location IS NOT NULL;

-- title: The counting points with their ÅDT of the latest year counted
-- unit: vehicles/day
-- needs: traffic_points, traffic_hourly
-- Every counting point of `traffic_points` (name, WGS84 position), with the ÅDT of all
-- days (traffic_adt, DOMAIN.md §2.3) of the latest year any point has an ÅDT for, its
-- standard error and CI (with the finite-population correction) and the days it rests on;
-- NULL where the point has none that year. The report maps the points by this ÅDT and
-- names the traffic profiles' points by `name`.
WITH latest AS (
  SELECT max(year) AS year FROM traffic_adt WHERE adt IS NOT NULL
),
a AS (
  SELECT t.trp_id, t.year, t.adt, t.se, t.ci_lower, t.ci_upper, t.n_days, t.coverage_pct
  FROM traffic_adt t JOIN latest l ON t.year = l.year
  WHERE t.day_type = 'all'
)
SELECT p.trp_id, p.name, p.lon, p.lat, a.year, a.adt, a.se, a.ci_lower, a.ci_upper,
  a.n_days, a.coverage_pct
FROM traffic_points p LEFT JOIN a ON a.trp_id = p.trp_id
ORDER BY p.trp_id

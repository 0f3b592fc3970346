-- title: Mode share of trips
-- kind: ratio
-- unit: share of trips
-- needs: persons, households, trips
-- y = the person's trips by the mode, x = all the person's trips (DOMAIN.md §2.1). Every
-- mode is crossed with every domain and stratum: a mode nobody in a stratum used still
-- contributes to the variance through x.
WITH x AS (
  SELECT person_id, CAST(count(*) AS DOUBLE) AS x FROM trips GROUP BY person_id
),
ym AS (
  SELECT person_id, mode, CAST(count(*) AS DOUBLE) AS y FROM trips WHERE mode IS NOT NULL GROUP BY person_id, mode
),
base AS (
  SELECT d.breakdown, d.breakdown_value, d.stratum,
    count(*) AS n_d, sum(d.w) AS sw, sum(d.w * d.w) AS sw2,
    sum(d.w * COALESCE(x.x, 0)) AS sw_x,
    sum(d.w * d.w * COALESCE(x.x, 0) * COALESCE(x.x, 0)) AS sw2_xx
  FROM person_domains d LEFT JOIN x ON x.person_id = d.person_id
  GROUP BY d.breakdown, d.breakdown_value, d.stratum
),
keyed AS (
  SELECT d.breakdown, d.breakdown_value, d.stratum, ym.mode,
    sum(d.w * ym.y) AS sw_y,
    sum(d.w * d.w * ym.y * ym.y) AS sw2_yy,
    sum(d.w * d.w * x.x * ym.y) AS sw2_xy
  FROM person_domains d
  JOIN ym ON ym.person_id = d.person_id
  JOIN x ON x.person_id = d.person_id
  GROUP BY d.breakdown, d.breakdown_value, d.stratum, ym.mode
),
modes AS (SELECT DISTINCT mode FROM ym)
SELECT
  b.breakdown, b.breakdown_value, m.mode, b.stratum,
  b.n_d, b.sw, b.sw2,
  COALESCE(k.sw_y, 0) AS sw_y, b.sw_x,
  COALESCE(k.sw2_yy, 0) AS sw2_yy, COALESCE(k.sw2_xy, 0) AS sw2_xy, b.sw2_xx
FROM base b
CROSS JOIN modes m
LEFT JOIN keyed k
  ON k.breakdown = b.breakdown
  AND (k.breakdown_value IS NOT DISTINCT FROM b.breakdown_value)
  AND k.stratum = b.stratum
  AND k.mode = m.mode

-- The domains every per-person survey indicator is broken down by: one row per person and
-- breakdown. Persons without trips are here, so they count in every per-person indicator.
-- age_band follows the bands of the synthetic sample's strata and TØI's reports.
CREATE OR REPLACE VIEW person_domains AS
WITH p AS (
  SELECT
    p.person_id,
    COALESCE(p.stratum, '') AS stratum,
    p.weight AS w,
    h.home_zone_id,
    CASE
      WHEN p.age IS NULL THEN NULL
      WHEN p.age < 18 THEN '13-17'
      WHEN p.age < 30 THEN '18-29'
      WHEN p.age < 45 THEN '30-44'
      WHEN p.age < 67 THEN '45-66'
      ELSE '67+'
    END AS age_band,
    p.gender,
    p.employment,
    CASE
      WHEN p.travel_date IS NULL THEN NULL
      WHEN date_part('dow', p.travel_date) IN (0, 6) THEN 'weekend'
      ELSE 'weekday'
    END AS day_type
  FROM persons p
  LEFT JOIN households h ON h.household_id = p.household_id
)
SELECT person_id, stratum, w, 'all' AS breakdown, CAST(NULL AS VARCHAR) AS breakdown_value FROM p
UNION ALL SELECT person_id, stratum, w, 'home_zone', home_zone_id FROM p WHERE home_zone_id IS NOT NULL
UNION ALL SELECT person_id, stratum, w, 'age_band', age_band FROM p WHERE age_band IS NOT NULL
UNION ALL SELECT person_id, stratum, w, 'gender', gender FROM p WHERE gender IS NOT NULL
UNION ALL SELECT person_id, stratum, w, 'employment', employment FROM p WHERE employment IS NOT NULL
UNION ALL SELECT person_id, stratum, w, 'day_type', day_type FROM p WHERE day_type IS NOT NULL

-- One row per person: the survey design (stratum, weight) and the person-level domains every
-- survey indicator is broken down by. Persons without trips are here, so they count.
-- age_band follows the bands of the synthetic sample's strata and TØI's reports.
CREATE OR REPLACE VIEW person_frame AS
SELECT
  p.person_id,
  COALESCE(p.stratum, '') AS stratum,
  p.weight AS w,
  h.home_zone_id AS home_zone,
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

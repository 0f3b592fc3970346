-- One row per person: the survey design (stratum, weight) and the person-level domains every
-- survey indicator is broken down by. Persons without trips are here, so they count.
-- age_band follows the bands of the synthetic sample's strata and TØI's reports; day_type is
-- weekday, weekend or holiday (Norway's public holidays, day_type()).
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
  day_type(p.travel_date) AS day_type
FROM persons p
LEFT JOIN households h ON h.household_id = p.household_id

-- The domains of person_frame in long form: one row per person and breakdown.
CREATE OR REPLACE VIEW person_domains AS
SELECT person_id, stratum, w, 'all' AS breakdown, CAST(NULL AS VARCHAR) AS breakdown_value FROM person_frame
UNION ALL SELECT person_id, stratum, w, 'home_zone', home_zone FROM person_frame WHERE home_zone IS NOT NULL
UNION ALL SELECT person_id, stratum, w, 'age_band', age_band FROM person_frame WHERE age_band IS NOT NULL
UNION ALL SELECT person_id, stratum, w, 'gender', gender FROM person_frame WHERE gender IS NOT NULL
UNION ALL SELECT person_id, stratum, w, 'employment', employment FROM person_frame WHERE employment IS NOT NULL
UNION ALL SELECT person_id, stratum, w, 'day_type', day_type FROM person_frame WHERE day_type IS NOT NULL

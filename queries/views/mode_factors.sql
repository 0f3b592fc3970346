-- Grams of CO₂e per person-km of each survey mode, from the factor tables (docs/emissions.md):
-- - car_driver: the car fleet's g per vehicle-km (fleet_mix × emission_factors of the latest
--   fleet year), one vehicle-km per driver-km;
-- - taxi: the same per vehicle-km over the taxi occupancy;
-- - car_passenger: 0, the car's emissions are the driver's vehicle-km;
-- - walk, bike: 0;
-- - other modes: their latest g per person-km (fuel 'all'), e.g. bus, rail, plane.
-- A mode with no factor (motorcycle, other, ferry unless a factor is added) is absent, so its
-- trips add nothing; docs/emissions.md lists them.
CREATE OR REPLACE VIEW mode_factors AS
WITH fleet AS (
  SELECT sum(m.share_of_vkm * f.g_co2e_per_vkm) / sum(m.share_of_vkm) AS g_per_vkm, max(m.year) AS year
  FROM fleet_mix m
  JOIN emission_factors f ON f.year = m.year AND f.mode = m.mode AND f.fuel = m.fuel
  WHERE m.mode = 'car' AND m.year = (SELECT max(year) FROM fleet_mix WHERE mode = 'car')
  -- One group, but grouped: DataFusion 55 pushes a filter on this view's constant `mode`
  -- (e.g. WHERE mode = 'taxi') below an ungrouped aggregate, which then still returns a
  -- row of NULLs; with a GROUP BY an emptied input gives no row (tests/it/road.rs).
  GROUP BY m.mode
),
pkm AS (
  SELECT mode, g_co2e_per_pkm AS g, year FROM (
    SELECT mode, g_co2e_per_pkm, year,
      row_number() OVER (PARTITION BY mode ORDER BY year DESC) AS r
    FROM emission_factors
    WHERE fuel = 'all' AND g_co2e_per_pkm IS NOT NULL AND mode <> 'car'
  ) WHERE r = 1
),
taxi AS (
  SELECT persons_per_vehicle AS occupancy FROM occupancy WHERE mode = 'taxi' ORDER BY year DESC LIMIT 1
)
SELECT 'car_driver' AS mode, fleet.g_per_vkm AS g_per_pkm,
  'car fleet ' || CAST(fleet.year AS VARCHAR) || ', per vehicle-km' AS basis FROM fleet
UNION ALL SELECT 'taxi', fleet.g_per_vkm / taxi.occupancy,
  'car fleet ' || CAST(fleet.year AS VARCHAR) || ' over taxi occupancy' FROM fleet, taxi
-- The constant rows as VALUES, not `SELECT 'walk', 0.0, …` without FROM: on a Ballista
-- cluster, a UNION with such a row leaves the job waiting forever (its tasks report unequal
-- metrics; docs/cluster.md).
UNION ALL SELECT column1, column2, column3 FROM (VALUES
  ('car_passenger', 0.0, 'in the driver''s vehicle-km'),
  ('walk', 0.0, 'no direct emissions'),
  ('bike', 0.0, 'no direct emissions'))
UNION ALL SELECT mode, g, 'per person-km ' || CAST(year AS VARCHAR) FROM pkm

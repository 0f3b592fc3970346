-- title: Median trip length by mode
-- estimator: median
-- variance: bootstrap
-- unit: km
-- needs: persons, households, trips
-- One row per trip, y = its length: the weighted median of trip lengths by mode, each trip
-- weighted by its person's weight. A median has no closed-form SE here: it comes from the
-- Rao–Wu bootstrap over persons (or the survey's replicate weights).
SELECT person_id, mode, purpose, distance_km AS y
FROM trips
WHERE mode IS NOT NULL AND distance_km IS NOT NULL

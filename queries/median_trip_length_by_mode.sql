-- title: Median trip length by mode
-- estimator: median
-- unit: km
-- needs: persons, households, trips
-- One row per trip, y = its length: the weighted median of trip lengths by mode, each trip
-- weighted by its person's weight. SE and CI by Woodruff's method (the linearised SE of the
-- distribution function at the median, inverted); `--variance bootstrap` gives the Rao–Wu
-- bootstrap, and a survey's replicate weights are used when it ships them.
SELECT person_id, mode, purpose, distance_km AS y
FROM trips
WHERE mode IS NOT NULL AND distance_km IS NOT NULL

-- title: Share of car-driver trips that are short
-- estimator: ratio
-- unit: share of car-driver trips
-- needs: persons, households, trips
-- y = the person's car-driver trips shorter than the threshold, x = all the person's
-- car-driver trips; thresholds 2.5 and 5 km (cycling and walking distances).
SELECT person_id, purpose, '< 2.5 km' AS threshold, CASE WHEN distance_km < 2.5 THEN 1 ELSE 0 END AS y, 1 AS x
FROM trips WHERE mode = 'car_driver' AND distance_km IS NOT NULL
UNION ALL
SELECT person_id, purpose, '< 5 km', CASE WHEN distance_km < 5 THEN 1 ELSE 0 END, 1
FROM trips WHERE mode = 'car_driver' AND distance_km IS NOT NULL

-- title: Sustainable share of trips (walk, bike, public transport)
-- estimator: ratio
-- unit: share of trips
-- needs: persons, households, trips
-- y = the person's trips on foot, by bike, bus, tram, metro, train or ferry; x = all the
-- person's trips. Bærum's target (Klimastrategi 2030, mål 5) is in the `targets` table.
SELECT person_id, purpose, distance_band(distance_km) AS distance_band,
  CASE WHEN mode IN ('walk', 'bike', 'bus', 'tram', 'metro', 'rail', 'ferry') THEN 1 ELSE 0 END AS y,
  1 AS x
FROM trips
WHERE mode IS NOT NULL

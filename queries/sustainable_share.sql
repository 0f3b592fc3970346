-- title: Sustainable share of trips (walk, bike, public transport)
-- estimator: ratio
-- unit: share of trips
-- needs: persons, households, trips
-- y = the person's trips on foot, by bike, bus, tram, metro, train or ferry (the modes whose
-- `sustainable` is true in the look-up view `modes`); x = all the person's trips. Bærum's
-- target (Klimastrategi 2030, mål 5) is in the `targets` table.
SELECT t.person_id, t.purpose, distance_band(t.distance_km) AS distance_band,
  CASE WHEN m.sustainable THEN 1 ELSE 0 END AS y,
  1 AS x
FROM trips t LEFT JOIN modes m ON m.mode = t.mode
WHERE t.mode IS NOT NULL

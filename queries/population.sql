-- title: Persons the survey represents
-- estimator: total
-- unit: persons
-- needs: persons, households
-- Σ w over persons: the population the weights sum to, by each person-level breakdown. After
-- `mobility weight`, a calibrated margin (gender, home zone, an age band of the margins) is
-- met exactly and its SE is 0 (docs/methods.md, calibration).
SELECT person_id, 1.0 AS y
FROM persons

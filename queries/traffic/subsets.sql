-- title: Subsets of the traffic indices: all points
-- needs: traffic_hourly
-- The view traffic_index_subsets (trp_id, subset) that the traffic-index queries of
-- queries/traffic/ join: every counting point of traffic_hourly, in the subset `all points`.
-- `mobility run` creates it before each index when the data directory lacks zones or
-- traffic_points (else subsets_kommune.sql). The points' kind (vehicle or bicycle,
-- trp_kind(trp_id)) is chosen by each index query. Statens vegvesen's byindeks (DOMAIN.md
-- §2.4) uses its own selection of points: every index over these subsets is unofficial.
CREATE OR REPLACE VIEW traffic_index_subsets AS
SELECT DISTINCT trp_id, 'all points' AS subset FROM traffic_hourly

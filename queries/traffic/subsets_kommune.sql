-- title: Subsets of the traffic indices: all points and each municipality's points
-- needs: traffic_hourly, traffic_points, zones
-- The view traffic_index_subsets (trp_id, subset) that the traffic-index queries of
-- queries/traffic/ join: every counting point of traffic_hourly in `all points`, and each
-- point of traffic_points in `kommune <zone_id> <name>`, the zone of kind `kommune` holding its
-- coordinates (zone_of). `mobility run` creates it before each index when the data directory
-- has zones and traffic_points (else subsets.sql). The points' kind (vehicle or bicycle,
-- trp_kind(trp_id)) is chosen by each index query. Statens vegvesen's byindeks (DOMAIN.md
-- §2.4) uses its own selection of points: every index over these subsets is unofficial.
CREATE OR REPLACE VIEW traffic_index_subsets AS
SELECT DISTINCT trp_id, 'all points' AS subset FROM traffic_hourly
UNION ALL
SELECT p.trp_id, 'kommune ' || z.zone_id || COALESCE(' ' || z.name, '') AS subset
FROM traffic_points p JOIN zones z ON z.zone_id = zone_of(p.lon, p.lat, 'kommune')

-- Station attributes and aggregates as of $as_of: kind code, location, age, customers and companies there,
-- shipments originating there over the last $max_window days, and customers there who signed a contract
-- by $as_of (contract density uses only contracts signed on or before $as_of).
SELECT st.idx,
       coalesce(list_position($kinds, st.kind), 0) AS kind_code,
       coalesce(st.lat, 0) AS lat,
       coalesce(st.lon, 0) AS lon,
       greatest(coalesce(date_diff('day', st.opened_at, $as_of), 0), 0) AS age_days,
       coalesce(c.customers, 0) AS customers,
       coalesce(k.companies, 0) AS companies,
       coalesce(o.shipments_recent, 0) AS shipments_recent,
       coalesce(s.contracts, 0) AS contracts
FROM st
LEFT JOIN (SELECT station_id, count(*) AS customers FROM cu GROUP BY station_id) c ON c.station_id = st.station_id
LEFT JOIN (SELECT city, count(*) AS companies FROM co GROUP BY city) k ON k.city = st.city
LEFT JOIN (
    SELECT origin_station_id AS station_id, count(*) AS shipments_recent
    FROM asof_shipments($as_of)
    WHERE shipped_at >= CAST($as_of AS TIMESTAMP) + INTERVAL 1 DAY - to_days($max_window)
    GROUP BY origin_station_id
) o ON o.station_id = st.station_id
LEFT JOIN (SELECT station_id, count(*) AS contracts FROM signed GROUP BY station_id) s ON s.station_id = st.station_id

-- Cached transformation results count in account_usage.stored_bytes (issue
-- #28): from now on put_derived adds a result's size and every drop of one
-- subtracts it; this adds the results cached before. They never count in
-- `bytes` (what maxStorageBytes bounds).
-- Keep in step with the other backend's 0017_derived_usage.sql.
UPDATE account_usage SET stored_bytes = stored_bytes + (
    SELECT COALESCE(SUM(d.size), 0) FROM derived d WHERE d.account_id = account_usage.account_id
);

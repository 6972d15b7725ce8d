-- 001_core: the sitepulse schema, registered sites, daily visitor salts and
-- the batch ids that make a retried collect request safe.
--
-- Plain PostgreSQL 13+: gen_random_uuid() and sha256() are built in, so no
-- extension is needed. Every object is commented, because psql's \d+ is the
-- documentation a reporting user reads.

CREATE SCHEMA IF NOT EXISTS sitepulse;
COMMENT ON SCHEMA sitepulse IS
    'SitePulse real-time web analytics: sites, raw events (partitioned by day), rollups kept by triggers.';

-- A fresh random string usable in a URL path: 32 bytes hashed from two
-- random UUIDs (244 random bits), in unpadded base64url, so 43 characters.
CREATE FUNCTION sitepulse.random_token() RETURNS text
LANGUAGE sql VOLATILE PARALLEL SAFE
AS $$
    SELECT translate(rtrim(encode(sha256(convert_to(
               gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')),
           'base64'), '='), '+/', '-_')
$$;
COMMENT ON FUNCTION sitepulse.random_token() IS
    'A new random 43-character URL-safe token (base64url of 32 bytes derived from two random UUIDs).';

CREATE TABLE sitepulse.sites (
    id          int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key         text NOT NULL UNIQUE CHECK (key ~ '^[A-Za-z0-9_-]{1,64}$'),
    name        text,
    origins     text[] NOT NULL DEFAULT '{}',
    share_token text NOT NULL UNIQUE DEFAULT sitepulse.random_token(),
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE sitepulse.sites IS
    'Registered sites. Manage with sitepulse.add_site() and sitepulse.remove_site().';
COMMENT ON COLUMN sitepulse.sites.id IS 'Internal site id used by every other table.';
COMMENT ON COLUMN sitepulse.sites.key IS
    'Public site key sent by the snippet (data-site), 1-64 characters of [A-Za-z0-9_-].';
COMMENT ON COLUMN sitepulse.sites.name IS 'Human-readable site name.';
COMMENT ON COLUMN sitepulse.sites.origins IS
    'Page origins (scheme://host[:port]) allowed to send events; a request with another Origin is refused.';
COMMENT ON COLUMN sitepulse.sites.share_token IS
    'Secret token of the read-only share link for this site''s dashboard.';
COMMENT ON COLUMN sitepulse.sites.created_at IS 'When the site was registered.';

CREATE TABLE sitepulse.salts (
    day  date PRIMARY KEY,
    salt bytea NOT NULL CHECK (length(salt) = 16)
);
COMMENT ON TABLE sitepulse.salts IS
    'Daily secret salts for visitor hashes. Old salts are deleted by maintain(), so old visitors cannot be re-identified.';
COMMENT ON COLUMN sitepulse.salts.day IS 'UTC day the salt is used for.';
COMMENT ON COLUMN sitepulse.salts.salt IS '16 random bytes.';

CREATE TABLE sitepulse.batches (
    site_id     int NOT NULL REFERENCES sitepulse.sites (id) ON DELETE CASCADE,
    batch_id    text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, batch_id)
);
COMMENT ON TABLE sitepulse.batches IS
    'Batch ids already stored, per site, so a retried collect request is stored once. Kept for 2 days.';
COMMENT ON COLUMN sitepulse.batches.site_id IS 'Site the batch was sent for.';
COMMENT ON COLUMN sitepulse.batches.batch_id IS 'Client-chosen random batch id.';
COMMENT ON COLUMN sitepulse.batches.received_at IS 'When the batch was first stored.';

-- Today's salt, created by whichever caller asks first. The day is the UTC
-- date of now(), whatever the session's TimeZone. Two sessions racing on a
-- new day both insert with ON CONFLICT DO NOTHING: the loser waits for the
-- winner's commit, inserts nothing, and reads the winner's salt.
CREATE FUNCTION sitepulse.current_salt() RETURNS bytea
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_day  date := (now() AT TIME ZONE 'UTC')::date;
    v_salt bytea;
BEGIN
    SELECT s.salt INTO v_salt FROM sitepulse.salts s WHERE s.day = v_day;
    IF FOUND THEN
        RETURN v_salt;
    END IF;
    INSERT INTO sitepulse.salts (day, salt)
    VALUES (v_day, substring(sha256(convert_to(
                gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8'))
            FROM 1 FOR 16))
    ON CONFLICT (day) DO NOTHING
    RETURNING salt INTO v_salt;
    IF v_salt IS NULL THEN
        SELECT s.salt INTO STRICT v_salt FROM sitepulse.salts s WHERE s.day = v_day;
    END IF;
    RETURN v_salt;
END
$$;
COMMENT ON FUNCTION sitepulse.current_salt() IS
    'Today''s (UTC) 16-byte visitor salt, created on first call; safe when called concurrently.';

-- Registers a site, or updates the name and origins of an existing key, and
-- returns its id. Calling it again with the same arguments leaves the same
-- state, so install scripts can run it on every start. The upsert always
-- updates (rather than skipping identical rows) so that RETURNING yields the
-- id even when a concurrent call inserted the key first.
CREATE FUNCTION sitepulse.add_site(p_key text, p_name text, p_origins text[])
RETURNS int
LANGUAGE sql VOLATILE
AS $$
    INSERT INTO sitepulse.sites (key, name, origins)
    VALUES (p_key, p_name, coalesce(p_origins, '{}'))
    ON CONFLICT (key) DO UPDATE
        SET name = excluded.name, origins = excluded.origins
    RETURNING id
$$;
COMMENT ON FUNCTION sitepulse.add_site(text, text, text[]) IS
    'Registers site p_key with a name and allowed origins, or updates them if the key exists; returns the site id.';

-- Deletes a site and every row that belongs to it. Rather than a list that
-- each new migration would have to extend, it deletes from every table of
-- the schema that has a site_id column (partitioned parents cover their
-- partitions). Returns false when no such site exists.
CREATE FUNCTION sitepulse.remove_site(p_key text) RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_id  int;
    v_rel regclass;
BEGIN
    SELECT id INTO v_id FROM sitepulse.sites WHERE key = p_key FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    FOR v_rel IN
        SELECT c.oid::regclass
          FROM pg_class c
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'site_id' AND NOT a.attisdropped
         WHERE c.relnamespace = 'sitepulse'::regnamespace
           AND c.relkind IN ('r', 'p')
           AND NOT c.relispartition
           AND c.oid <> 'sitepulse.sites'::regclass
         ORDER BY c.relname
    LOOP
        EXECUTE format('DELETE FROM %s WHERE site_id = $1', v_rel) USING v_id;
    END LOOP;
    DELETE FROM sitepulse.sites WHERE id = v_id;
    RETURN true;
END
$$;
COMMENT ON FUNCTION sitepulse.remove_site(text) IS
    'Deletes site p_key and all its events, rollups and state; returns false if the key is unknown.';

-- 0002_releases: published model releases and the store objects they use.
--
-- One row per release of a model variant, written by `tailorctl publish`
-- in one transaction with its objects. The envelope is the signed DSSE
-- envelope exactly as served; etag is the lowercase hex BLAKE2b-256 of
-- those bytes. Times are Unix seconds, as in the manifest.
CREATE TABLE releases (
    id          INTEGER PRIMARY KEY,
    model       TEXT NOT NULL,
    variant     TEXT NOT NULL,
    version     INTEGER NOT NULL CHECK (version >= 1),
    etag        TEXT NOT NULL,
    file_name   TEXT NOT NULL,
    file_size   INTEGER NOT NULL CHECK (file_size >= 0),
    stored_size INTEGER NOT NULL CHECK (stored_size >= 0),
    shard_count INTEGER NOT NULL CHECK (shard_count >= 0),
    format      TEXT NOT NULL,
    key_id      TEXT NOT NULL,
    created     INTEGER NOT NULL,
    expires     INTEGER NOT NULL,
    envelope    BLOB NOT NULL,      -- last: large, read only when served
    UNIQUE (model, variant, version)
);

-- Every object some release names, by id (lowercase hex BLAKE2b-256 of
-- its bytes, as in the store) with its size in bytes.
CREATE TABLE objects (
    id   TEXT PRIMARY KEY,
    size INTEGER NOT NULL CHECK (size > 0)
) WITHOUT ROWID;

-- Which objects each release uses; an object no release uses can be
-- garbage-collected.
CREATE TABLE release_objects (
    release_id INTEGER NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    object_id  TEXT NOT NULL REFERENCES objects (id),
    PRIMARY KEY (release_id, object_id)
) WITHOUT ROWID;

CREATE INDEX release_objects_by_object ON release_objects (object_id);

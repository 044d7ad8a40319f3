-- Facts about the schema itself. `schema_written_by` names the viban version that last
-- applied migrations, so an older binary can say which version a database needs.
CREATE TABLE viban_meta (
    key        text PRIMARY KEY,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

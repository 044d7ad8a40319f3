DROP TABLE viban_meta;

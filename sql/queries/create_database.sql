-- create_database: the database named in the settings, when it is not `default`.
-- Parameters: {database:Identifier}.
-- Not a migration: migrations run inside this database, so it has to exist first.
CREATE DATABASE IF NOT EXISTS {database:Identifier}

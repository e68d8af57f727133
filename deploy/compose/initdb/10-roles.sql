-- The roles and databases, made once by the postgres image's entrypoint when the data volume is new
-- (it runs this file with psql as POSTGRES_USER). Each password is read from its secret file, so no
-- password is written here. A volume that already holds data skips this: see README.md.
--
--   mediaops      owns the mediaops database and its schema; DATABASE_ADMIN_URL, used by `migrate` only
--   mediaops_app  what the worker and the API connect as (DATABASE_URL); migration 0008 grants it
--                 exactly what they need, nothing else
--   temporal      owns the temporal and temporal_visibility databases (the schema job creates them)

\set ON_ERROR_STOP on
\set owner_password `cat /run/secrets/mediaops_owner_password`
\set app_password `cat /run/secrets/mediaops_app_password`
\set temporal_password `cat /run/secrets/temporal_db_password`

CREATE ROLE mediaops LOGIN PASSWORD :'owner_password';
CREATE ROLE mediaops_app LOGIN PASSWORD :'app_password';
CREATE DATABASE mediaops OWNER mediaops;
REVOKE ALL ON DATABASE mediaops FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE mediaops TO mediaops_app;

CREATE ROLE temporal LOGIN CREATEDB PASSWORD :'temporal_password';

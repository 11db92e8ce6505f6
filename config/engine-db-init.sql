-- Databases of the engine's own PostgreSQL in docker-compose.yml: the audit trail, and one per environment of the
-- demo service for its schema migrations (DATABASE_URL_HELLO_STAGING, DATABASE_URL_HELLO_PRODUCTION).
CREATE DATABASE audit;
CREATE DATABASE hello_staging;
CREATE DATABASE hello_production;

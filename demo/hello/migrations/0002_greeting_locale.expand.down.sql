ALTER TABLE greetings DROP COLUMN locale;

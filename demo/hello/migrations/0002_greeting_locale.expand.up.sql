-- Greetings per locale, for hello@1.2.0.
ALTER TABLE greetings ADD COLUMN locale text;

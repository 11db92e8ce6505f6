-- The table of greetings hello serves (expand: nothing running needs it gone).
CREATE TABLE greetings (
  id serial PRIMARY KEY,
  text text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

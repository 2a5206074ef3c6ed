-- Setup for "What could possibly go wrong?": the users table of the talk, run hidden
-- before the first slide. Ids come from the identity in insert order: 1, 2, 3.
CREATE TABLE users (
    id         integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    first_name text  NOT NULL,
    last_name  text  NOT NULL,
    data       jsonb NOT NULL DEFAULT '{}'
);

INSERT INTO users (first_name, last_name) VALUES
    ('David', 'McKeone'),
    ('Kurt',  'Neufeld'),
    ('Mike',  'Warren');

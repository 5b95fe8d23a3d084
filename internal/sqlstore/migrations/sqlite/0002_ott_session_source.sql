-- Which kind of web session issued a one-time token, and that source's
-- reference to it, so that the exchange can check the session again
-- whatever its kind (this service's own browser session, or the AlgaPSA
-- web app's). Existing rows were all issued by own sessions.
ALTER TABLE one_time_tokens ADD COLUMN session_source TEXT NOT NULL DEFAULT 'own';
ALTER TABLE one_time_tokens ADD COLUMN session_ref TEXT NOT NULL DEFAULT '';

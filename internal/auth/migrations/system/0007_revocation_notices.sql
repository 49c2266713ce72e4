-- Triggers that announce revocations on the channel vanta_auth_revocations
-- (auth.NoticeChannel): a revoked access token, a session (refresh family)
-- revoked, and any change to a user's status, GOD flag or
-- tokens_valid_after. Being triggers, they also fire for changes made by
-- hand in SQL; being NOTIFY, they are delivered only if the change commits.
CREATE OR REPLACE FUNCTION auth.notify_token_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('vanta_auth_revocations', 'token ' || NEW.jti || ' ' || floor(extract(epoch FROM NEW.expires_at))::bigint);
	RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER revoked_tokens_notify AFTER INSERT ON auth.revoked_tokens
	FOR EACH ROW EXECUTE FUNCTION auth.notify_token_revoked();

CREATE OR REPLACE FUNCTION auth.notify_session_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	-- Identical payloads in one transaction are delivered once.
	PERFORM pg_notify('vanta_auth_revocations', 'session ' || NEW.family);
	RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER refresh_tokens_notify AFTER UPDATE OF revoked_at ON auth.refresh_tokens
	FOR EACH ROW WHEN (NEW.revoked_at IS NOT NULL AND OLD.revoked_at IS NULL)
	EXECUTE FUNCTION auth.notify_session_revoked();

CREATE OR REPLACE FUNCTION auth.notify_user_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('vanta_auth_revocations', 'user ' || OLD.id);
	RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER users_notify AFTER UPDATE ON auth.users
	FOR EACH ROW WHEN ((OLD.status, OLD.is_god, OLD.tokens_valid_after) IS DISTINCT FROM (NEW.status, NEW.is_god, NEW.tokens_valid_after))
	EXECUTE FUNCTION auth.notify_user_changed();
CREATE OR REPLACE TRIGGER users_notify_delete AFTER DELETE ON auth.users
	FOR EACH ROW EXECUTE FUNCTION auth.notify_user_changed();

ALTER FUNCTION auth.notify_token_revoked() OWNER TO vanta_owner;
ALTER FUNCTION auth.notify_session_revoked() OWNER TO vanta_owner;
ALTER FUNCTION auth.notify_user_changed() OWNER TO vanta_owner;

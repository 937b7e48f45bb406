-- Every refresh inserts a token and updates the one it replaces; no query
-- reads refresh tokens by session or by environment, so those two indexes
-- only cost writes. (Deleting an environment, which nothing does yet,
-- would scan the table for its cascade.)
DROP INDEX refresh_tokens_session;
DROP INDEX refresh_tokens_environment;

-- Email features per environment (issue 6): verification of password
-- sign-ups, magic codes, sign-up by magic code, and the sender. Existing
-- environments get the features on, as new ones do.
ALTER TABLE environments ADD COLUMN email_verification INTEGER NOT NULL DEFAULT 1 CHECK (email_verification IN (0, 1));
ALTER TABLE environments ADD COLUMN magic_auth INTEGER NOT NULL DEFAULT 1 CHECK (magic_auth IN (0, 1));
ALTER TABLE environments ADD COLUMN magic_sign_up INTEGER NOT NULL DEFAULT 1 CHECK (magic_sign_up IN (0, 1));
ALTER TABLE environments ADD COLUMN sender_name TEXT NOT NULL DEFAULT '';
ALTER TABLE environments ADD COLUMN sender_address TEXT NOT NULL DEFAULT '';

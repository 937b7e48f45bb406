-- Email features per environment (issue 6): verification of password
-- sign-ups, magic codes, sign-up by magic code, and the sender. Existing
-- environments get the features on, as new ones do.
ALTER TABLE environments
    ADD COLUMN email_verification boolean NOT NULL DEFAULT true,
    ADD COLUMN magic_auth boolean NOT NULL DEFAULT true,
    ADD COLUMN magic_sign_up boolean NOT NULL DEFAULT true,
    ADD COLUMN sender_name text NOT NULL DEFAULT '',
    ADD COLUMN sender_address text NOT NULL DEFAULT '';

-- Access tokens issued before this instant are refused: set on password change or reset and on
-- deactivation, so those take effect at once instead of when the token expires.
ALTER TABLE "user" ADD COLUMN tokens_valid_after timestamptz;

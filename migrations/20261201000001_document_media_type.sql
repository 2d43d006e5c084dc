-- The production service's fifth media type: documents (PDF, plain text, office files).
-- Expand-only: an enum value is added, nothing is changed or removed. While a deployment rolls,
-- a replica of the previous release can still serve everything except a `document` record
-- (which only this release writes).
ALTER TYPE mediatype ADD VALUE IF NOT EXISTS 'document';

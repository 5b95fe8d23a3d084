-- Families started for a refresh token that AlgaPSA issued (SPEC §8.5):
-- 'pending' from their creation (the exactly-once point of the adoption)
-- until AlgaPSA's row is claimed, then 'adopted'; '' for every other
-- family. A presentation of the adopted token waits while it is pending,
-- so no answer hands out a family whose claim may still fail.
ALTER TABLE token_families ADD COLUMN adoption TEXT NOT NULL DEFAULT '';

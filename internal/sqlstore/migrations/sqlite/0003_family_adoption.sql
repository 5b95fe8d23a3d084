-- Families started for a refresh token that AlgaPSA issued (SPEC §8.5):
-- 'pending' from their creation (the exactly-once point of the adoption)
-- until AlgaPSA's row is claimed, then 'adopted'; '' for every other
-- family. A pending family is never deleted: any presentation of the
-- adopted token settles it by asking AlgaPSA whether the claim committed
-- (re-claim, or read the row), and only a settled family is answered.
ALTER TABLE token_families ADD COLUMN adoption TEXT NOT NULL DEFAULT '';

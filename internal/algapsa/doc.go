// Package algapsa is the adapter over AlgaPSA's own PostgreSQL database, used
// in appliance mode (SPEC §8): it reads AlgaPSA's users, tenants and web
// sessions, mints and deactivates the API keys that serve as the phone's
// access tokens, and takes over refresh tokens that AlgaPSA's built-in
// mobile endpoints issued.
//
// Rules it keeps:
//   - It never creates, alters or migrates anything in AlgaPSA's database:
//     it only reads and writes rows, with the privileges SPEC §8.1 lists
//     (MissingPrivileges reports what is lacking, with the GRANT that fixes
//     it). Serialising the mints of one family uses a transaction-scoped
//     advisory lock, which creates no object.
//   - Of the API keys, it touches only those it created (purpose
//     mobile_session and metadata.issuer = "alga-mobile-auth"), except the
//     one key that comes with an AlgaPSA refresh token it adopts or revokes.
//   - Times in AlgaPSA's database are AlgaPSA's: every expiry is computed
//     and compared with the database's now(), as AlgaPSA's own API-key
//     check does, so the two never disagree about whether a key has expired.
//   - Identifiers that come from outside (cookie claims, token metadata)
//     are checked to be UUIDs before they reach a uuid column, so a bad one
//     is "not found", never a database error.
package algapsa

// Package license decides whether mobile sign-in is available (SPEC §5):
// the edition (Community or Enterprise), the offline license (a compact
// ES256 JWS from Nine Minds, verified against the operator's public keys),
// the 15-day trial, and the tier order essentials < solo < pro.
//
// Nothing here is cached across time: a [Gate] re-evaluates the license and
// the trial against its clock on every call, so a license that expires while
// the service runs stops granting access at once, without a restart.
//
// The package never panics on bad input and never fails hard on a bad
// license: a license that does not verify counts as no license, and the
// [Reason] says why, for the check command and the startup log.
package license

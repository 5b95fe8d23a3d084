// Package e2e holds black-box tests of the whole service: the real app
// wiring on loopback, driven over HTTP, by headless Chromium, and through
// a real nginx. It has no non-test code besides this comment.
package e2e

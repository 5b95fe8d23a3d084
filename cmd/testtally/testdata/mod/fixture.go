// Package fixture is testtally's test input: one test of each outcome.
package fixture

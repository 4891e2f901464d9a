// Package testutil builds an in-memory x/auth + x/bank + x/bct + x/market stack for keeper
// tests, with small but real (bank-backed) stand-ins for x/claims' deposits and
// x/validators' bonds, so that every coin movement of a market's verdict is observable.
package testutil

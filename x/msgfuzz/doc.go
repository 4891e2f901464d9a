// Package msgfuzz fuzzes every Msg of the buildchain modules (x/claims, x/validators, x/market,
// x/bct): random field values go through ValidateBasic and, when it passes, through the real msg
// servers of the whole module stack (x/market/testutil.Full), followed by the end blockers; no
// input may panic or break an invariant. The fuzz target is in msgfuzz_test.go; seeds live in
// testdata/fuzz.
package msgfuzz

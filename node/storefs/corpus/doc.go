// Package corpus writes the deterministic test corpus of
// node/storefs/testdata/kubo-cids/gen-corpus.py (a faithful Go port), whose
// kubo root CIDs are recorded in cids.tsv, plus the benchmark tree.
package corpus

// Package cli holds the x/claims tx commands written by hand, the ones that keep a secret:
// a claim is blind (x/claims/README.md §Blind rounds), so `submit` and `commit` draw a salt
// and store what opens their commitment (internal/saltfile) before broadcasting, and
// `reveal-claim` and `reveal` open it from that store once the claim is REVEALING. autocli
// adds the module's other commands.
package cli

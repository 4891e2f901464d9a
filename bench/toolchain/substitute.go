package main

import (
	"context"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
)

// substitute measures the figure every toolchain shares: a store that lacks toolchain name
// (CID tc, in from's store) gets it from from over libp2p/bitswap on loopback, against a
// store that imports it itself; each then runs build, the first build that needs it (build
// prepares its other inputs untimed and returns the time of the build alone). The fetched
// toolchain is the same store path, recorded for @name@ as `bootstrap --toolchain` would; its
// references are found by scanning it at that first build, which is part of the figure.
func substitute(ctx context.Context, c *config, name string, tc cid.Cid, from *node, build func(n *node) (time.Duration, error)) error {
	fetching, err := c.newPeer(ctx, name+"-fetch", from)
	if err != nil {
		return err
	}
	defer fetching.close()
	start := time.Now()
	_, release, err := fetching.rt.Fetch(ctx, tc, nil)
	if err != nil {
		return fmt.Errorf("fetch the %s toolchain from the peer: %w", name, err)
	}
	defer release()
	fetched := time.Since(start)
	if err := fetching.b.RecordToolchain(name, tc); err != nil {
		return err
	}
	fetchedBuild, err := build(fetching)
	if err != nil {
		return err
	}

	importing, err := c.newNode(name+"-import", false)
	if err != nil {
		return err
	}
	defer importing.close()
	got, imported, err := importing.importToolchain(ctx, name)
	if err != nil {
		return err
	}
	if !got.Equals(tc) {
		return fmt.Errorf("the %s toolchain imported as %s here, %s before", name, got, tc)
	}
	importedBuild, err := build(importing)
	if err != nil {
		return err
	}
	ratio(name+" toolchain from a peer", fetched, "imported locally", imported, "")
	ratio("  then the first build", fetched+fetchedBuild, "imported, then the same build", imported+importedBuild, "")
	return nil
}

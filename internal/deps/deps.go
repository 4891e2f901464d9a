//go:build buildchaindeps

// Package deps pins, in go.mod, the modules the project is built from before
// every package that uses them exists (the usual tools.go pattern). The build
// tag keeps it out of every binary.
package deps

import (
	_ "cosmossdk.io/client/v2/autocli"
	_ "cosmossdk.io/collections"
	_ "cosmossdk.io/store"
	_ "cosmossdk.io/x/upgrade"
	_ "github.com/cometbft/cometbft/node"
	_ "github.com/cosmos/cosmos-sdk/x/staking"
	_ "github.com/hanwen/go-fuse/v2/fs"
	_ "github.com/ipfs/boxo/bitswap"
	_ "github.com/ipfs/boxo/ipld/unixfs/importer"
	_ "github.com/ipfs/go-cid"
	_ "github.com/ipld/go-car/v2"
	_ "github.com/libp2p/go-libp2p"
	_ "github.com/libp2p/go-libp2p-kad-dht"
	_ "github.com/libp2p/go-libp2p-pubsub"
	_ "github.com/oasisprotocol/curve25519-voi/primitives/ed25519/extra/ecvrf"
	_ "github.com/spf13/cobra"
	_ "github.com/stretchr/testify/require"
)

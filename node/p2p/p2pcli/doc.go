// Package p2pcli holds the cobra commands of the network layer that need no
// store (`store fetch` is node/nodecli's, over node/runtime), built from
// functions the caller supplies (where the node's key lives), so the
// commands stay free of any knowledge of the home directory layout.
package p2pcli

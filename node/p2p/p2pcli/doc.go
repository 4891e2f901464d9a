// Package p2pcli holds the cobra commands of the network layer, built from
// functions the caller supplies (opening the store, reading the node's
// configuration), so the binary wires them once and the commands stay free
// of any knowledge of the home directory layout.
package p2pcli

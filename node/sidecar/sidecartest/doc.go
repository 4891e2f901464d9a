// Package sidecartest runs the node side of buildchain for end-to-end tests
// and benchmarks against a real localnet (testutil/localnet): peers with
// their own store (real FUSE view), builder (real sandbox) and libp2p node on
// loopback, build validators registered on chain with their sidecars running
// in-process (so a test can stop one mid-build and restart it), and a
// publisher. Test binaries using it must call sandbox.Init() in TestMain.
package sidecartest

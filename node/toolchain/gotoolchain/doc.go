// Package gotoolchain is the `go` toolchain of node/toolchain: the Go distribution from the Go
// module proxy's toolchain module golang.org/toolchain@v0.0.1-go{VERSION}.{GOOS}-{GOARCH} (the
// same zip the go command downloads for GOTOOLCHAIN switching), not the machine's GOROOT, which
// may carry local edits (its go.env, patched sources).
//
// The zip is taken from the file given with --source, else from the module cache's download
// directory ($GOMODCACHE/cache/download, where `go mod download` leaves it; `make deps` puts the
// default there), else from GOPROXY (the Go module proxy protocol, GET {proxy}/{module}/@v/{version}.zip).
// Whatever its source it is checked like any module download: a valid module zip (golang.org/x/mod/zip
// checks: names, sizes, one prefix) whose dirhash (h1:) equals the pinned line in go.lock.
//
// The import is then: strip the zip prefix; drop what builds never read (any testdata
// directory, *_test.go, and the top-level test/, api/, doc/, misc/, which toolchain zips leave
// out already), unless trim=false; make bin/, pkg/tool/ and lib/**/go_*_*_exec executable as the
// go command does after downloading a toolchain (zips carry no modes); refuse unless every ELF
// executable is static (a dynamic one would need the host's libc in the sandbox); add the tree
// with canonical modes. Nothing is added before all checks pass. The same zip gives the same
// CID on any machine, from any path.
//
// Derivations use it as GOROOT-less /ipfs/store/{cid}/bin/go (the go command finds its root from
// its own path) with the hermetic environment of BuildEnv.
package gotoolchain

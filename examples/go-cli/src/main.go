// Command go-cli is the Go example of buildchain (examples/go-cli): it prints byte counts and
// numbers for people, with the vendored third-party module github.com/dustin/go-humanize.
//
//	go-cli 1536 82854982   # 1.5 kB (1,536 bytes) / 83 MB (82,854,982 bytes)
package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/dustin/go-humanize"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go-cli BYTES...")
		os.Exit(2)
	}
	for _, a := range os.Args[1:] {
		n, err := strconv.ParseUint(a, 10, 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "go-cli: %q is not a byte count\n", a)
			os.Exit(1)
		}
		fmt.Printf("%s (%s bytes)\n", humanize.Bytes(n), humanize.Comma(int64(n)))
	}
}

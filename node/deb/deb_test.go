package deb

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
	"github.com/ulikunitz/xz"
)

type member struct {
	name, link string
	typ        byte
	mode       int64
	data       string
}

// testMembers look like a Debian library package before usrmerge: files under /lib and
// /usr, an absolute symlink into /lib, a relative one, a hard link.
var testMembers = []member{
	{name: "./", typ: tar.TypeDir, mode: 0o755},
	{name: "./usr/bin/", typ: tar.TypeDir, mode: 0o755},
	{name: "./usr/bin/tool", typ: tar.TypeReg, mode: 0o4755, data: "\x7fELF tool"},
	{name: "./usr/bin/tool-again", typ: tar.TypeLink, link: "./usr/bin/tool"},
	{name: "./lib/x86_64-linux-gnu/", typ: tar.TypeDir, mode: 0o755},
	{name: "./lib/x86_64-linux-gnu/libfoo.so.1.2", typ: tar.TypeReg, mode: 0o644, data: "libfoo"},
	{name: "./lib/x86_64-linux-gnu/libfoo.so.1", typ: tar.TypeSymlink, link: "libfoo.so.1.2"},
	{name: "./usr/lib/x86_64-linux-gnu/libfoo.so", typ: tar.TypeSymlink, link: "/lib/x86_64-linux-gnu/libfoo.so.1"},
	{name: "./lib64/ld.so", typ: tar.TypeSymlink, link: "/lib/x86_64-linux-gnu/libfoo.so.1.2"},
}

func tarOf(t *testing.T, ms []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range ms {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: m.name, Linkname: m.link, Typeflag: m.typ, Mode: m.mode, Size: int64(len(m.data))}))
		_, err := tw.Write([]byte(m.data))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return buf.Bytes()
}

func compress(t *testing.T, kind string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch kind {
	case ".xz":
		w, err := xz.NewWriter(&buf)
		require.NoError(t, err)
		_, err = w.Write(data)
		require.NoError(t, err)
		require.NoError(t, w.Close())
	case ".zst":
		w, err := zstd.NewWriter(&buf)
		require.NoError(t, err)
		_, err = w.Write(data)
		require.NoError(t, err)
		require.NoError(t, w.Close())
	case ".gz":
		w := gzip.NewWriter(&buf)
		_, err := w.Write(data)
		require.NoError(t, err)
		require.NoError(t, w.Close())
	default:
		return data
	}
	return buf.Bytes()
}

// debOf builds a .deb: an ar archive of debian-binary, control.tar.gz and data.tar{kind}.
func debOf(t *testing.T, kind string, ms []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	buf.WriteString(arMagic)
	add := func(name string, data []byte) {
		fmt.Fprintf(&buf, "%-16s%-12s%-6s%-6s%-8s%-10d`\n", name, "0", "0", "0", "100644", len(data))
		buf.Write(data)
		if len(data)%2 == 1 {
			buf.WriteByte('\n')
		}
	}
	add("debian-binary", []byte("2.0\n"))
	add("control.tar.gz", compress(t, ".gz", tarOf(t, []member{{name: "./control", typ: tar.TypeReg, mode: 0o644, data: "Package: foo\n"}})))
	add("data.tar"+kind, compress(t, kind, tarOf(t, ms)))
	return buf.Bytes()
}

func writeDeb(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "foo_1.0_amd64.deb")
	require.NoError(t, os.WriteFile(p, data, 0o644))
	return p
}

func TestExtract(t *testing.T) {
	for _, kind := range []string{".xz", ".zst", ".gz", ""} {
		t.Run("data.tar"+kind, func(t *testing.T) {
			dst := t.TempDir()
			require.NoError(t, Extract(writeDeb(t, debOf(t, kind, testMembers)), dst))
			require.NoError(t, MergeLinks(dst))
			got, err := os.ReadFile(filepath.Join(dst, "usr/lib/x86_64-linux-gnu/libfoo.so.1.2"))
			require.NoError(t, err)
			require.Equal(t, "libfoo", string(got))
			fi, err := os.Stat(filepath.Join(dst, "usr/bin/tool"))
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o755), fi.Mode(), "setuid dropped")
			again, err := os.ReadFile(filepath.Join(dst, "usr/bin/tool-again"))
			require.NoError(t, err)
			require.Equal(t, "\x7fELF tool", string(again), "hard link copied")
			for link, want := range map[string]string{
				"usr/lib/x86_64-linux-gnu/libfoo.so":   "libfoo.so.1",
				"usr/lib/x86_64-linux-gnu/libfoo.so.1": "libfoo.so.1.2",
				"usr/lib64/ld.so":                      "../lib/x86_64-linux-gnu/libfoo.so.1.2",
				"lib":                                  "usr/lib",
				"lib64":                                "usr/lib64",
				"bin":                                  "usr/bin",
			} {
				got, err := os.Readlink(filepath.Join(dst, link))
				require.NoError(t, err, link)
				require.Equal(t, want, got, link)
			}
			// Paths as packages and linker scripts name them resolve through the merged links.
			got, err = os.ReadFile(filepath.Join(dst, "lib64/ld.so"))
			require.NoError(t, err)
			require.Equal(t, "libfoo", string(got))
			_, err = os.Lstat(filepath.Join(dst, "sbin"))
			require.True(t, os.IsNotExist(err), "no link for a merged directory no package uses")
		})
	}
}

func TestExtractBadInput(t *testing.T) {
	good := debOf(t, ".xz", testMembers)
	cases := map[string]struct {
		data []byte
		want error
	}{
		"truncated in the data": {good[:len(good)-200], ErrTruncated},
		"truncated in a header": {good[:len(arMagic)+30], ErrTruncated},
		"empty":                 {nil, ErrTruncated},
		"not an ar archive":     {[]byte("PK\x03\x04 a zip, not a deb........"), ErrFormat},
		"no data member": {func() []byte {
			var b bytes.Buffer
			b.WriteString(arMagic)
			fmt.Fprintf(&b, "%-16s%-12s%-6s%-6s%-8s%-10d`\n", "debian-binary", "0", "0", "0", "100644", 4)
			b.WriteString("2.0\n")
			return b.Bytes()
		}(), ErrFormat},
		"escaping symlink": {debOf(t, ".gz", []member{{name: "./usr/x", typ: tar.TypeSymlink, link: "../../../etc"}}), ErrFormat},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dst := t.TempDir()
			err := Extract(writeDeb(t, tc.data), dst)
			require.ErrorIs(t, err, tc.want)
			require.Contains(t, err.Error(), "foo_1.0_amd64.deb")
		})
	}
	// Two packages with different content at one path conflict, as in dpkg.
	dst := t.TempDir()
	other := debOf(t, ".gz", []member{{name: "./usr/bin/tool", typ: tar.TypeReg, mode: 0o755, data: "other"}})
	err := ExtractAll([]string{writeDeb(t, good), writeDeb(t, other)}, dst)
	require.ErrorIs(t, err, ErrConflict)
	// The same file from two packages does not.
	require.NoError(t, ExtractAll([]string{writeDeb(t, good), writeDeb(t, good)}, t.TempDir()))
}

func sum(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

func TestLockAndCache(t *testing.T) {
	data := debOf(t, ".xz", testMembers)
	lockText := fmt.Sprintf("# comment\n\nfoo 1:1.0-1 amd64 %d %s\n", len(data), sum(data))
	lock, err := ParseLock([]byte(lockText))
	require.NoError(t, err)
	pkgs, err := lock.Select([]string{"foo"})
	require.NoError(t, err)
	require.Equal(t, "foo_1%3a1.0-1_amd64.deb", pkgs[0].Filename())
	_, err = lock.Select([]string{"bar"})
	require.ErrorIs(t, err, ErrNotLocked)
	require.Equal(t, lockText[len("# comment\n\n"):], string(Format("", pkgs))[len("# \n"):])

	for name, bad := range map[string]string{
		"fields":  "foo 1.0 amd64 12\n",
		"sha256":  "foo 1.0 amd64 12 abc\n",
		"size":    "foo 1.0 amd64 -1 " + sum(nil) + "\n",
		"name":    "Foo 1.0 amd64 12 " + sum(nil) + "\n",
		"twice":   "foo 1.0 amd64 12 " + sum(nil) + "\nfoo 1.0 amd64 12 " + sum(nil) + "\n",
		"version": "foo 1.0/x amd64 12 " + sum(nil) + "\n",
	} {
		_, err := ParseLock([]byte(bad))
		require.ErrorIs(t, err, ErrLock, name)
	}

	// A download that matches the lock lands in the cache; one that does not is refused and
	// leaves nothing behind, nor does a fetch killed while copying a package in (its
	// temporary file, no longer locked by a live writer, is removed by the next fetch).
	serve := data
	downloads := 0
	c := &Cache{Dir: t.TempDir(), Download: func(_ context.Context, p Package, dir string) error {
		downloads++
		return os.WriteFile(filepath.Join(dir, p.Filename()), serve, 0o644)
	}}
	require.NoError(t, os.WriteFile(filepath.Join(c.Dir, "."+pkgs[0].Filename()+".tmp-123"), data[:10], 0o644))
	serve = append([]byte(nil), data...)
	serve[100] ^= 1
	_, err = c.Fetch(context.Background(), pkgs)
	require.ErrorIs(t, err, ErrChecksum)
	require.Contains(t, err.Error(), "foo=1:1.0-1")
	ents, _ := os.ReadDir(c.Dir)
	require.Empty(t, ents)
	serve = data
	paths, err := c.Fetch(context.Background(), pkgs)
	require.NoError(t, err)
	require.Equal(t, []string{c.Path(pkgs[0])}, paths)
	_, err = c.Fetch(context.Background(), pkgs)
	require.NoError(t, err)
	require.Equal(t, 2, downloads, "a verified .deb is not downloaded again")
	// A cached file changed later is an error, not silently replaced.
	require.NoError(t, os.WriteFile(paths[0], data[:len(data)-1], 0o644))
	_, err = c.Fetch(context.Background(), pkgs)
	require.ErrorIs(t, err, ErrChecksum)
	require.Contains(t, err.Error(), "remove it to download it again")
}

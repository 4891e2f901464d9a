// Package atomicfile is the one way buildchain writes a state file: the data
// goes to a temporary file in the same directory, the file is fsynced, moved
// into place, and the directory is fsynced, so a reader or a crash sees the
// old content or the new, never a torn file, and a write that returned nil
// survives a power cut (the pattern of CometBFT's tempfile.WriteFileAtomic).
//
// WriteFile replaces an existing file; Writer does the same for content
// streamed in pieces (Commit places it, Abort drops it); Create never does and fails with
// fs.ErrExist instead, for files whose loss costs more than a failed start
// (keys, the salt of a broadcast commit), so two processes racing to create
// one end up sharing the first writer's content.
//
// A writer killed between creating its temporary file and moving it into
// place leaves the temporary file behind (".<name>.tmp-<random>" beside the
// file). Each writer holds an flock on its temporary file until it is in
// place, and the kernel drops the lock when the writer dies: RemoveStale,
// called by whoever opens the file, removes exactly the temporary files that
// no live writer holds.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// WriteFile writes data to path atomically and durably with mode perm,
// replacing any file already there. The directory must exist.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return writeAll(path, data, perm, os.Rename)
}

// Create writes data to path atomically and durably with mode perm, creating
// the parent directories (0700) first; it fails with an error wrapping
// fs.ErrExist if path exists, and never changes an existing file.
func Create(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("write %s: %w", path, fs.ErrExist)
	}
	// A hard link, unlike a rename, fails when the target exists.
	return writeAll(path, data, perm, os.Link)
}

func writeAll(path string, data []byte, perm os.FileMode, place func(tmp, path string) error) error {
	w, err := NewWriter(path, perm)
	if err != nil {
		return err
	}
	defer w.Abort()
	if _, err := w.Write(data); err != nil {
		return err
	}
	return w.commit(place)
}

// tempPattern is the name of path's temporary files, for os.CreateTemp and
// os.MkdirTemp: hidden, beside path, named after it.
func tempPattern(path string) string { return "." + filepath.Base(path) + ".tmp-*" }

// Writer streams a file that appears at its path only when complete: what is
// written goes to a locked temporary file beside path (so RemoveStale spares
// it while the writer lives); Commit fsyncs it, renames it over path and
// fsyncs the directory, Abort removes it. For data too large to hold in
// memory (exports, caches, downloads), where WriteFile would need a buffer.
// A Writer is not safe for concurrent use.
type Writer struct {
	f    *os.File
	path string
	perm os.FileMode
	err  error // the first write error; Commit refuses to place a file after one
	done bool  // committed or aborted
}

// NewWriter opens a temporary file for path, whose directory must exist; the
// file gets mode perm when committed. Call Commit to place it, and Abort
// (deferred: a no-op after Commit) on every other way out.
func NewWriter(path string, perm os.FileMode) (*Writer, error) {
	dir := filepath.Dir(path)
	f, err := createLocked(func() (string, error) {
		f, err := os.CreateTemp(dir, tempPattern(path))
		if err != nil {
			return "", err
		}
		return f.Name(), f.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return &Writer{f: f, path: path, perm: perm}, nil
}

// Write appends p to the temporary file.
func (w *Writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("write %s: %w", w.path, os.ErrClosed)
	}
	n, err := w.f.Write(p)
	if err != nil && w.err == nil {
		w.err = fmt.Errorf("write %s: %w", w.path, err)
	}
	if err != nil {
		return n, w.err
	}
	return n, nil
}

// Commit makes what was written the content of path, replacing any file
// there, and durable; on an error nothing changed at path and the temporary
// file is gone.
func (w *Writer) Commit() error { return w.commit(os.Rename) }

func (w *Writer) commit(place func(tmp, path string) error) error {
	if w.done {
		return fmt.Errorf("commit %s: %w", w.path, os.ErrClosed)
	}
	// After a rename the temp name is gone; after a link it is a second name
	// of the file: removing it is right in every case. The lock is held (f
	// open) until the file is in place, so RemoveStale never takes it.
	defer w.Abort()
	if w.err != nil {
		return w.err
	}
	if err := w.f.Chmod(w.perm); err != nil {
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", w.path, err)
	}
	if err := place(w.f.Name(), w.path); err != nil {
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	return SyncDir(filepath.Dir(w.path))
}

// Abort drops what was written: the temporary file is closed and removed,
// and path is left as it was. After Commit (or a second Abort) it does
// nothing, so it can be deferred right after NewWriter.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	os.Remove(w.f.Name())
	w.f.Close()
}

// createLocked makes a temporary file or directory with create (which
// returns its name), opens it and takes its flock, and returns it open. A
// RemoveStale that locked the new name before this writer did has removed it
// (it holds the lock while removing): then the name no longer leads to the
// opened file, and createLocked makes another. Where the file system has no
// flock the temporary file is not locked, and RemoveStale leaves it alone.
func createLocked(create func() (string, error)) (*os.File, error) {
	for {
		name, err := create()
		if err != nil {
			return nil, err
		}
		f, err := os.OpenFile(name, os.O_RDWR, 0)
		if errors.Is(err, syscall.EISDIR) {
			f, err = os.Open(name)
		}
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed before we opened it
		}
		if err != nil {
			os.Remove(name)
			return nil, err
		}
		_ = flock(f, syscall.LOCK_EX)
		opened, err1 := f.Stat()
		named, err2 := os.Lstat(name)
		if err1 == nil && err2 == nil && os.SameFile(opened, named) {
			return f, nil
		}
		f.Close()
		if err1 != nil {
			return nil, err1
		}
	}
}

// flock is syscall.Flock on f, retried on EINTR.
func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// RemoveStale removes the temporary files (and the temporary directories of
// Symlink) that writers of path killed mid-write left beside it, and returns
// how many it removed. A temporary file whose writer is alive is locked and
// stays. Openers of a state file call it (node/sidecar's OpenState).
func RemoveStale(path string) (int, error) {
	return removeStale(filepath.Join(filepath.Dir(path), tempPattern(path)))
}

// RemoveStaleIn is RemoveStale for every file written into dir (a cache of many files, each
// written once): it removes the temporary files of dir's dead writers.
func RemoveStaleIn(dir string) (int, error) {
	return removeStale(filepath.Join(dir, tempPattern("*")))
}

func removeStale(pattern string) (int, error) {
	names, err := filepath.Glob(pattern)
	if err != nil {
		return 0, fmt.Errorf("stale temp files %s: %w", pattern, err)
	}
	removed := 0
	for _, name := range names {
		f, err := os.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue // its writer finished meanwhile
		}
		if err != nil {
			return removed, fmt.Errorf("stale temp file %s: %w", name, err)
		}
		// Not locked: its writer is gone. Removed while we hold the lock, so
		// a writer that made the name just now sees it vanish (createLocked).
		if flock(f, syscall.LOCK_EX|syscall.LOCK_NB) == nil {
			if err := os.RemoveAll(name); err != nil {
				f.Close()
				return removed, fmt.Errorf("stale temp file %s: %w", name, err)
			}
			removed++
		}
		f.Close()
	}
	return removed, nil
}

// SyncDir fsyncs a directory, making the renames and links in it durable.
// File systems that cannot sync a directory (EINVAL) are not an error.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !isUnsupported(err) {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

func isUnsupported(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP)
}

// Symlink points the symbolic link path at target atomically and durably,
// replacing a link already there (a new link under a temporary name in the
// same directory, renamed over path, then the directory fsynced): readers
// see the old target or the new one, never no link.
func Symlink(target, path string) error {
	dir := filepath.Dir(path)
	d, err := createLocked(func() (string, error) { return os.MkdirTemp(dir, tempPattern(path)) })
	if err != nil {
		return fmt.Errorf("link %s: %w", path, err)
	}
	tmpDir := d.Name()
	defer os.RemoveAll(tmpDir)
	defer d.Close()
	tmp := filepath.Join(tmpDir, "link")
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("link %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("link %s: %w", path, err)
	}
	return SyncDir(dir)
}

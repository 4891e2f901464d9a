// Package atomicfile is the one way buildchain writes a state file: the data
// goes to a temporary file in the same directory, the file is fsynced, moved
// into place, and the directory is fsynced, so a reader or a crash sees the
// old content or the new, never a torn file, and a write that returned nil
// survives a power cut (the pattern of CometBFT's tempfile.WriteFileAtomic).
//
// WriteFile replaces an existing file; Create never does and fails with
// fs.ErrExist instead, for files whose loss costs more than a failed start
// (keys, the salt of a broadcast commit), so two processes racing to create
// one end up sharing the first writer's content.
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
	return write(path, data, perm, os.Rename)
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
	return write(path, data, perm, os.Link)
}

func write(path string, data []byte, perm os.FileMode, place func(tmp, path string) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	// After a rename the temp name is gone; after a link it is a second name
	// of the file: removing it is right in every case.
	defer os.Remove(tmp)
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := place(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return SyncDir(dir)
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
	tmpDir, err := os.MkdirTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("link %s: %w", path, err)
	}
	defer os.RemoveAll(tmpDir)
	tmp := filepath.Join(tmpDir, "link")
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("link %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("link %s: %w", path, err)
	}
	return SyncDir(dir)
}

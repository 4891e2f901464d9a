package storefs

import (
	"golang.org/x/sys/unix"
)

// markTopDir sets the "top of directory hierarchy" attribute (chattr +T,
// FS_TOPDIR_FL) on the store root, best effort: a filesystem without it
// (tmpfs, overlay, ...) or a root owned by someone else just keeps the
// default. On ext4 it makes the Orlov allocator treat the directories made
// under the root (blocks/, tmp/) as top-level ones and place them, and so
// the inodes of their files, in a lightly used block group instead of their
// parent's. That matters on this repo's journal-less ext4 VM, where
// creating a file scans the recently deleted inodes of its group (see
// node/storefs/NOTES.md "Blocks and durability"): in the parent's group
// those come from builds and tests working beside the store. Only
// directories created after the flag is set move, so Open sets it before it
// creates blocks/ and tmp/ (an existing store keeps its placement).
func markTopDir(dir string) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err != nil || flags&fsTopdirFL != 0 {
		return
	}
	_ = unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(flags|fsTopdirFL))
}

// fsTopdirFL is FS_TOPDIR_FL of linux/fs.h (not in x/sys/unix).
const fsTopdirFL = 0x00020000

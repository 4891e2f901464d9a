// Package storecli owns the `buildchaind store` command tree (add, cat, ls,
// get, pin add|rm|ls, gc, verify, mount, export, import, stat) over
// storefs. It works without a chain: the store is a local cache.
package storecli

// Package progress shows how far one long operation has come (add, fetch, verify, install,
// build): one display for every command, so they all look and behave alike.
//
// On a terminal a Bar redraws one line in place (drawn by github.com/schollz/progressbar, at
// most ten times a second). Anywhere else (a pipe, a log file, CI) it prints plain lines, each
// ending in a newline: the first update, then at most one line per Options.Interval, and the
// final state, so a log reads "fetching x: 1/2 blocks" and "fetching x: 3/3 blocks" on lines of
// their own instead of carriage-return redraws glued together.
//
// Contract: New returns a Bar for one operation; Set (or Update, or the Func adapter for
// callbacks of the form func(done, total int)) reports progress from any goroutine; Finish
// marks success and Stop ends the display where it is (on an error). Either must be called
// once the operation ends; later calls do nothing. A nil *Bar is valid and shows nothing, so
// quiet modes pass nil instead of testing at every call.
package progress

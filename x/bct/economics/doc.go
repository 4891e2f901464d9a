// Package economics holds the pure, deterministic arithmetic of the BCT token
// (docs/ARCHITECTURE.md §Economics): the per-claim build-time average u_a with outlier clipping, the
// efficiency moving average, the per-period mint, the split of a mint between
// the development fund and validators in proportion to rewardable build time,
// and the split of a slash between exposers and the burn.
//
// It owns no state: the x/bct keeper calls these functions and stores the
// results. Everything is math.Int / math.LegacyDec (no floats), every split
// conserves its input exactly, and every tie is broken by a caller-supplied
// order (addresses), so results never depend on map iteration order.
package economics
